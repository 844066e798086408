"""The Buffer exporter against CPython's reference exporter.

For every layout below we build a pybuf Buffer and a ``_testbuffer.ndarray``
with the same structure (shape, strides, offset into the same items, format,
writability, suboffsets), then make every request a consumer can make —
15 requests x {0, WRITABLE, FORMAT, WRITABLE|FORMAT} — of both, and require
the same outcome: the same BufferError, or the same Py_buffer (ndim, shape,
strides, suboffsets, format, itemsize, len, readonly, contiguity, bytes).
"""
import itertools
import struct
import sys

import pytest

import pybuf
from conftest import TESTBUFFER_MISSING, requires_testbuffer

tb = pytest.importorskip("_testbuffer", reason=TESTBUFFER_MISSING)
pytestmark = requires_testbuffer

REQUESTS = {
    name: getattr(tb, name) for name in [
        "PyBUF_SIMPLE", "PyBUF_ND", "PyBUF_STRIDES", "PyBUF_C_CONTIGUOUS",
        "PyBUF_F_CONTIGUOUS", "PyBUF_ANY_CONTIGUOUS", "PyBUF_INDIRECT",
        "PyBUF_CONTIG", "PyBUF_CONTIG_RO", "PyBUF_STRIDED", "PyBUF_STRIDED_RO",
        "PyBUF_RECORDS", "PyBUF_RECORDS_RO", "PyBUF_FULL", "PyBUF_FULL_RO"]
}
MODIFIERS = {"": 0, "|WRITABLE": tb.PyBUF_WRITABLE, "|FORMAT": tb.PyBUF_FORMAT,
             "|WRITABLE|FORMAT": tb.PyBUF_WRITABLE | tb.PyBUF_FORMAT}
FLAGS = [(r + m, rv | mv) for (r, rv), (m, mv)
         in itertools.product(REQUESTS.items(), MODIFIERS.items())]
assert len(FLAGS) == 60

FORMATS = ["B", "i", "d", "<h", "3s"]

# (root shape, view): the view is applied to a C-contiguous owner of that
# shape; None means the owner itself.
LAYOUTS = {
    "c-2d": ((3, 4), lambda b: b),
    "f-2d": ((4, 3), lambda b: b.T),
    "1d": ((7,), lambda b: b),
    "step": ((12,), lambda b: b[1::3]),
    "negative": ((12,), lambda b: b[::-2]),
    "2d-steps": ((4, 6), lambda b: b[::2, 1::2]),
    "2d-negative": ((4, 6), lambda b: b[::-1, ::-3]),
    "row": ((4, 6), lambda b: b[2]),
    "column": ((4, 6), lambda b: b[:, 3]),
    "len1-dims": ((1, 5, 1), lambda b: b),
    "len1-strided": ((6, 4), lambda b: b[2:3, ::2]),
    "len1-negative": ((3, 1, 4), lambda b: b[::-1, :, 1:2]),
    "3d-transposed": ((2, 3, 4), lambda b: b.transpose(1, 2, 0)),
    "0d": ((1,), lambda b: b.reshape(())),
    "0d-index": ((2, 3), lambda b: b[1, 2, ...]),
    "zero-size": ((4, 6), lambda b: b[2:2]),
    "zero-size-strided": ((4, 6), lambda b: b[:, 5:1:2]),
}


def _items(fmt, n):
    if fmt == "3s":
        return [bytes([65 + i % 26]) * 3 for i in range(n)]
    if fmt == "d":
        return [i + 0.5 for i in range(n)]
    return [i % 100 for i in range(n)]


def _pair(layout, fmt, readonly):
    """A pybuf view and the _testbuffer.ndarray with the same structure."""
    shape, make_view = LAYOUTS[layout]
    n = 1
    for d in shape:
        n *= d
    root = pybuf.Buffer(n, fmt)
    items = _items(fmt, n)
    for i, v in enumerate(items):
        root[i] = v
    view = make_view(root.reshape(shape))
    if readonly:
        view = view.toreadonly()
    flags = 0 if readonly else tb.ND_WRITABLE
    if view.ndim == 0:      # _testbuffer takes no offset for a scalar
        return view, tb.ndarray(view.tolist(), shape=[], format=fmt, flags=flags)
    nd = tb.ndarray(items, shape=list(view.shape), strides=list(view.strides),
                    offset=view.address - root.address, format=fmt, flags=flags)
    return view, nd


def probe(exporter, flags):
    try:
        c = tb.ndarray(exporter, getbuf=flags)
    except BufferError:
        return "BufferError"
    return dict(ndim=c.ndim, shape=c.shape, strides=c.strides,
                suboffsets=c.suboffsets, format=c.format, itemsize=c.itemsize,
                nbytes=c.nbytes, readonly=c.readonly,
                c_contiguous=c.c_contiguous, f_contiguous=c.f_contiguous,
                contiguous=c.contiguous, obj_is_exporter=c.obj is exporter,
                data=c.tobytes())


@pytest.mark.parametrize("readonly", [False, True], ids=["writable", "readonly"])
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_every_request_matches_cpython(layout, fmt, readonly):
    view, nd = _pair(layout, fmt, readonly)
    assert view.shape == tuple(nd.shape) and view.strides == tuple(nd.strides)
    assert view.tolist() == nd.tolist()
    for name, flags in FLAGS:
        ours, theirs = probe(view, flags), probe(nd, flags)
        assert ours == theirs, f"{layout} {fmt} {name}"
    assert view.exports == 0


PIL_SHAPES = [[3, 4], [2, 3, 4], [5]]


@pytest.mark.parametrize("shape", PIL_SHAPES)
@pytest.mark.parametrize("readonly", [False, True], ids=["writable", "readonly"])
def test_suboffsets_match_cpython(shape, readonly):
    n = 1
    for d in shape:
        n *= d
    flags = tb.ND_PIL | (0 if readonly else tb.ND_WRITABLE)
    nd = tb.ndarray(list(range(n)), shape=shape, format="i", flags=flags)
    view = pybuf.asbuffer(nd)
    assert view.suboffsets == tuple(nd.suboffsets)
    assert view.tolist() == nd.tolist()
    for name, fl in FLAGS:
        ours, theirs = probe(view, fl), probe(nd, fl)
        if isinstance(theirs, dict):
            theirs["obj_is_exporter"] = True   # theirs is nd, ours is view
        assert ours == theirs, name


def test_request_fields_are_null_when_not_asked():
    b = pybuf.Buffer((2, 3), "d")
    simple = tb.ndarray(b, getbuf=tb.PyBUF_SIMPLE)
    assert (simple.ndim, simple.shape, simple.strides, simple.format) == (1, (), (), "")
    assert simple.itemsize == 8 and simple.nbytes == 48      # itemsize kept
    nd = tb.ndarray(b, getbuf=tb.PyBUF_ND)
    assert (nd.shape, nd.strides) == ((2, 3), ())
    full = tb.ndarray(b, getbuf=tb.PyBUF_FULL_RO)
    assert (full.shape, full.strides, full.format) == ((2, 3), (24, 8), "d")


def test_requests_that_cannot_be_met():
    b = pybuf.Buffer((4, 6), "i")
    ro = b.toreadonly()
    with pytest.raises(BufferError, match="read-only"):
        tb.ndarray(ro, getbuf=tb.PyBUF_WRITABLE)
    strided = b[:, ::2]
    for flags in (tb.PyBUF_SIMPLE, tb.PyBUF_ND, tb.PyBUF_C_CONTIGUOUS,
                  tb.PyBUF_F_CONTIGUOUS, tb.PyBUF_ANY_CONTIGUOUS, tb.PyBUF_CONTIG):
        with pytest.raises(BufferError):
            tb.ndarray(strided, getbuf=flags)
    with pytest.raises(BufferError, match="PyBUF_ND"):
        tb.ndarray(b, getbuf=tb.PyBUF_FORMAT)
    with pytest.raises(BufferError, match="Fortran"):
        tb.ndarray(b, getbuf=tb.PyBUF_F_CONTIGUOUS)
    # Failed requests leave no export behind; the two views hold one each.
    assert ro.exports == 0 and strided.exports == 0 and b.exports == 2
    del ro, strided
    assert b.exports == 0


@pytest.mark.parametrize("flags", [0x100, 0x200, 0x2, 0x10, 0x20, 0x80 | 0x8,
                                   0x1000, -1])
def test_invalid_flags_are_refused(flags):
    b = pybuf.Buffer(4)
    if hasattr(b, "__buffer__"):               # Python 3.12+
        with pytest.raises(BufferError, match="invalid buffer request flags"):
            b.__buffer__(flags)
    if flags >= 0:
        # CPython 3.13+ itself refuses a bare PyBUF_READ/PyBUF_WRITE in
        # PyObject_GetBuffer (SystemError) before the exporter is asked.
        cpython_refuses = sys.version_info >= (3, 13) and flags in (0x100, 0x200)
        with pytest.raises(SystemError if cpython_refuses else BufferError):
            tb.ndarray(b, getbuf=flags)
    assert b.exports == 0


def test_len_is_product_of_shape_times_itemsize():
    b = pybuf.Buffer((3, 5), "q")[::2, 1:4]
    m = memoryview(b)
    assert m.nbytes == 2 * 3 * struct.calcsize("q") == b.nbytes
    assert m.obj is b
