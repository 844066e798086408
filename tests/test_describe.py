"""describe(): checked against memoryview and numpy, which read the same
Py_buffer fields, over producers x layouts x formats; bad input."""
import array
import dataclasses
import gc
import mmap
import sys

import pytest

import pybuf
from pybuf.describe import REQUESTS, format_meaning

from conftest import _testbuffer, requires_testbuffer

np = pytest.importorskip("numpy", reason="needs numpy: pip install numpy")
byte_bounds = getattr(np.lib, "array_utils", np).byte_bounds if hasattr(
    np.lib, "array_utils") else np.byte_bounds

DTYPES = ["i1", "u2", "<i4", ">i4", "<f8", ">f8", "c16", "?", "e",
          np.dtype([("x", "<i4"), ("y", "<f8")]),
          np.dtype([("x", ">i2"), ("y", "f8")], align=True)]

LAYOUTS = {
    "C": lambda a: a,
    "F": lambda a: np.asfortranarray(a),
    "steps": lambda a: a[::2, ::3],
    "negative": lambda a: a[::-1, ::-2],
    "transposed": lambda a: a.T,
    "column": lambda a: a[:, 1],
    "zero-size": lambda a: a[:0],
    "0-d": lambda a: a[1, 1, ...],
    "broadcast": lambda a: np.broadcast_to(a[0], (3,) + a.shape[1:]),
    "length-1": lambda a: a[1:2, :1],
}


def _base(dtype):
    return np.zeros((4, 6), dtype)


def check_against_memoryview(info, obj):
    with memoryview(obj) as m:
        assert info.format == m.format
        assert info.itemsize == m.itemsize
        assert info.ndim == m.ndim
        assert info.shape == (m.shape if m.ndim else ())
        assert info.strides == (m.strides if m.ndim else ())
        assert info.readonly == m.readonly
        assert info.nbytes == m.nbytes
        assert info.c_contiguous == m.c_contiguous
        assert info.f_contiguous == m.f_contiguous
        assert (info.suboffsets or ()) == m.suboffsets


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_numpy(dtype, layout):
    a = LAYOUTS[layout](_base(dtype))
    info = pybuf.describe(a)
    assert info.exporter == "numpy.ndarray"
    assert info.request == "PyBUF_FULL_RO"
    check_against_memoryview(info, a)
    assert info.address == a.__array_interface__["data"][0]
    assert info.suboffsets is None
    if a.size:
        lo, hi = byte_bounds(a)
        assert info.span == hi - lo
        assert info.offset == info.address - lo
    else:
        assert info.span == 0
    assert info.size == a.size


def test_numpy_span_and_offset_of_negative_strides():
    a = np.arange(12, dtype="<i4").reshape(3, 4)[::2, ::-1]
    info = pybuf.describe(a)
    assert info.strides == (32, -4)
    assert (info.span, info.offset, info.nbytes) == (48, 12, 32)
    text = str(info)
    assert "16 bytes of gaps" in text and "first element is at +12" in text
    # Memory map: in address order the first row holds row 0 reversed, then
    # a gap where the skipped row lies, then row 1 reversed.
    rows = [line.split() for line in text.splitlines() if line.startswith("  +")]
    assert rows[0] == ["+0", "0,3", "0,2", "0,1", "0,0", ".", ".", ".", "."]
    assert rows[1] == ["+32", "1,3", "1,2", "1,1", "1,0"]
    assert "+12 +8 +4 +0 +44 +40 +36 +32" in text


@pytest.mark.parametrize("fmt, meaning", [
    ("<i", "little-endian int32"),
    (">d", "big-endian float64"),
    ("!H", "big-endian uint16"),
    ("B", "uint8"),
    ("?", "bool"),
    ("Zd", "native complex128"),
    ("e", "native float16"),
    ("3s", "3-byte bytes"),
    ("2xh", "native int16 + 2 pad bytes"),
    ("4x", "4 pad bytes"),
    ("Zf", "native complex64"),
    ("^q", "native unaligned int64"),
    ("T{<i:x:d:y:}", "struct {little-endian int32 x, little-endian float64 y}"),
    ("T{>i:x:xxxx@d:y:}", "struct {big-endian int32 x, 4 pad bytes, native float64 y}"),
    ("(2,3)<f", "(2,3) array of little-endian float32"),
    ("lh", "struct {native int64, native int16}"),
    (None, "unsigned bytes (no format: 'B' implied)"),
])
def test_format_meaning(fmt, meaning):
    if fmt == "lh" and np.dtype("l").itemsize != 8:
        meaning = meaning.replace("int64", f"int{8 * np.dtype('l').itemsize}")
    assert format_meaning(fmt, 1) == meaning


def test_format_meaning_falls_back():
    assert format_meaning("&&", 3) == "3-byte items"


@pytest.mark.parametrize("make", [
    lambda: b"hello world",
    lambda: bytearray(b"hello world"),
    lambda: memoryview(b"hello world")[::-2],
    lambda: memoryview(bytearray(24)).cast("i", (2, 3)),
    lambda: array.array("d", [1.0, 2.0, 3.0]),
], ids=["bytes", "bytearray", "memoryview-negative", "memoryview-2d", "array"])
def test_builtin_exporters(make):
    obj = make()
    info = pybuf.describe(obj)
    check_against_memoryview(info, obj)
    assert info.request == "PyBUF_FULL_RO"


def test_mmap():
    with mmap.mmap(-1, 4096) as m:
        info = pybuf.describe(m)
        assert info.exporter == "mmap.mmap"
        assert (info.shape, info.readonly, info.span) == ((4096,), False, 4096)
    # describe released its buffer, or the map could not be closed
    assert m.closed


@pytest.mark.parametrize("make", [
    lambda: pybuf.zeros((3, 4), "<i"),
    lambda: pybuf.zeros((3, 4), "d", order="F")[1:, ::-2],
    lambda: pybuf.zeros(5, "h").toreadonly(),
    lambda: pybuf.zeros((), "d"),
    lambda: pybuf.zeros((0, 3), "i"),
    lambda: pybuf.asbuffer(b"abc"),
], ids=["C", "F-view", "readonly", "0-d", "empty", "asbuffer"])
def test_pybuf_buffers(make):
    b = make()
    info = pybuf.describe(b)
    assert info.exporter == "pybuf.Buffer"
    check_against_memoryview(info, b)
    assert info.address == b.address
    assert b.exports == 0          # describe released what it acquired


@requires_testbuffer
def test_testbuffer_suboffsets():
    nd = _testbuffer.ndarray(list(range(12)), shape=[3, 4], format="i",
                             flags=_testbuffer.ND_PIL)
    info = pybuf.describe(nd)
    assert info.suboffsets is not None and info.suboffsets[0] >= 0
    check_against_memoryview(info, nd)
    assert info.span is None and not info.c_contiguous
    assert "indirect" in str(info)
    with pytest.raises(BufferError, match="refused PyBUF_STRIDED_RO"):
        pybuf.describe(nd, request="STRIDED_RO")


@requires_testbuffer
def test_fallback_records_which_request_succeeded():
    # A re-export made with PyBUF_ND has no strides to give: PyBUF_FULL_RO
    # and PyBUF_RECORDS_RO fail, PyBUF_ND | PyBUF_FORMAT succeeds.
    base = np.arange(12, dtype="i").reshape(3, 4)
    nd = _testbuffer.ndarray(base, getbuf=REQUESTS["PyBUF_ND"])
    info = pybuf.describe(nd)
    assert info.request == "PyBUF_ND | PyBUF_FORMAT"
    assert info.shape == (3, 4) and info.strides == (16, 4)


def test_explicit_request():
    b = pybuf.zeros((2, 3), "<i")
    simple = pybuf.describe(b, request="PyBUF_SIMPLE")
    # Without PyBUF_ND a consumer must read the memory as len bytes.
    assert (simple.format, simple.ndim, simple.shape) == (None, 1, (24,))
    assert (simple.flags, simple.itemsize, simple.strides) == (0, 1, (1,))
    assert pybuf.describe(b, request=REQUESTS["PyBUF_ND"]).request == "PyBUF_ND"
    with pytest.raises(BufferError, match="refused PyBUF_C_CONTIGUOUS"):
        pybuf.describe(b[:, ::2], request="c_contiguous")
    with pytest.raises(BufferError):
        pybuf.describe(b.toreadonly(), request="WRITABLE")
    with pytest.raises(ValueError, match="unknown buffer request"):
        pybuf.describe(b, request="PyBUF_EVERYTHING")
    with pytest.raises(TypeError):
        pybuf.describe(b, request=1.5)


def test_info_is_frozen_and_renders():
    info = pybuf.describe(pybuf.zeros((2, 2), "d"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.ndim = 3
    text = str(info)
    for field in ("exporter", "format", "itemsize", "shape", "strides",
                  "suboffsets", "readonly", "nbytes", "contiguous",
                  "address", "span", "memory map"):
        assert field in text
    html = info._repr_html_()
    assert html.startswith("<div") and "<table" in html and "0,1" in html


def test_large_buffer_has_no_map():
    assert "memory map" not in str(pybuf.describe(bytearray(1 << 20)))


def test_zero_stride_cells_are_marked():
    text = str(pybuf.describe(np.broadcast_to(np.arange(3.0), (2, 3))))
    assert "0,0*" in text and "shared by several elements" in text


# --- bad input -----------------------------------------------------------

@pytest.mark.parametrize("obj", [3, "text", None, [1, 2], object()])
def test_not_an_exporter(obj):
    with pytest.raises(TypeError, match="exports a buffer"):
        pybuf.describe(obj)


def test_released_memoryview():
    m = memoryview(b"abc")
    m.release()
    with pytest.raises(ValueError, match="released"):
        pybuf.describe(m)


def test_released_buffer():
    b = pybuf.zeros(4)
    b.release()
    with pytest.raises(ValueError, match="released"):
        pybuf.describe(b)


class RaisingExporter:
    def __buffer__(self, flags):
        raise RuntimeError("no buffer today")


def test_buffer_dunder_raising():
    if sys.version_info >= (3, 12):
        with pytest.raises(RuntimeError, match="no buffer today"):
            pybuf.describe(RaisingExporter())
    else:   # before 3.12 a Python class cannot export a buffer at all
        with pytest.raises(TypeError, match="exports a buffer"):
            pybuf.describe(RaisingExporter())


@requires_testbuffer
def test_testbuffer_getbuf_failure():
    nd = _testbuffer.ndarray([1, 2, 3], shape=[3], format="i",
                             flags=_testbuffer.ND_GETBUF_FAIL)
    with pytest.raises(BufferError, match="refused every buffer request"):
        pybuf.describe(nd)


def test_describe_releases_its_buffer():
    ba = bytearray(16)
    pybuf.describe(ba)
    ba.extend(b"more")           # would raise BufferError if still exported
    b = pybuf.zeros(8)
    for name in REQUESTS:
        try:
            pybuf.describe(b, request=name)
        except BufferError:
            pass
    gc.collect()
    assert b.exports == 0
    b.resize(16)
