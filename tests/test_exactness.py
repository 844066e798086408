"""Exact items for every exporter, in both seats (issue 12).

Oracles: CPython's own buffer tests (``test.test_buffer``: its random
formats, items and structures over ``_testbuffer.ndarray``), memoryview,
the struct module, ctypes and numpy (its dtypes, its PEP 3118 reader and
exporter).  pybuf sits in the consumer's seat (``asbuffer`` of the
reference exporter) and in the exporter's seat (the reference consumer
reads a pybuf Buffer).
"""
import array
import ctypes
import math
import pickle
import random
import struct
import sys
import warnings

import pytest

import pybuf
from pybuf import Format

from conftest import PEER_TEST_MODULES, requires_testbuffer
from test_formats import _np_reader

try:
    import test.test_buffer as tb           # CPython's own buffer tests
except ImportError:                         # not every Python ships them
    tb = None

requires_test_buffer = pytest.mark.skipif(
    tb is None or getattr(tb, "ndarray", None) is None,
    reason="this interpreter ships no test.test_buffer (or no _testbuffer); "
           "CPython's buffer-test structures cannot be run")


def _np():
    return pytest.importorskip("numpy", reason="needs numpy: pip install numpy")


def _same(x, y):
    """Equal values, NaN equal to NaN, numpy containers as tuples."""
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(x, np.ndarray):
            x = x.tolist()
        if isinstance(y, np.ndarray):
            y = y.tolist()
        if isinstance(y, np.generic):
            y = y.item()
        if isinstance(y, np.floating):          # a long double stays one
            y = float(y)
        elif isinstance(y, np.complexfloating):
            y = complex(y)
    if isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)):
        return len(x) == len(y) and all(_same(a, b) for a, b in zip(x, y))
    if isinstance(x, float) and isinstance(y, float) and math.isnan(x):
        return math.isnan(y)
    if isinstance(x, complex) and isinstance(y, complex):
        return _same(x.real, y.real) and _same(x.imag, y.imag)
    if isinstance(x, bytes) and isinstance(y, bytes):
        # the one explained difference: 's' reads as struct reads it, NUL
        # padding kept; numpy's 'S' strips trailing NULs
        return x == y or x.rstrip(b"\0") == y
    return type(x) is type(y) and x == y or (
        isinstance(x, (int, float)) and not isinstance(x, bool)
        and isinstance(y, (int, float)) and not isinstance(y, bool) and x == y)


# --------------------------------------------------------------------------
# ctypes: read exactly as numpy reads it

class _Pad(ctypes.Structure):
    _fields_ = [("a", ctypes.c_short), ("b", ctypes.c_double)]


class _IntDouble(ctypes.Structure):
    _fields_ = [("a", ctypes.c_int), ("b", ctypes.c_double)]


class _Big(ctypes.BigEndianStructure):
    _fields_ = [("a", ctypes.c_short), ("b", ctypes.c_double), ("c", ctypes.c_uint)]


class _Little(ctypes.LittleEndianStructure):
    _fields_ = [("a", ctypes.c_char), ("b", ctypes.c_float), ("c", ctypes.c_longlong)]


class _Nested(ctypes.Structure):
    _fields_ = [("a", ctypes.c_long), ("b", ctypes.c_char), ("c", ctypes.c_float),
                ("d", ctypes.c_int * 3), ("e", _Pad * 2), ("f", ctypes.c_char),
                ("g", ctypes.c_bool), ("h", (ctypes.c_short * 2) * 3)]


def _ctypes_objects():
    pad = _Pad(3, 7.5)
    return [
        ("short,double", pad),
        ("int,double", _IntDouble(-4, 2.25)),
        ("big-endian", _Big(7, 1.5, 4000000000)),
        ("little-endian", _Little(b"q", 0.5, -(2 ** 40))),
        ("nested arrays", _Nested(5, b"x", 2.5, (1, 2, 3), (_Pad(1, 2.0), _Pad(3, 4.0)),
                                  b"y", True, ((1, 2), (3, 4), (5, -6)))),
        ("array of structures", (_Pad * 3)(_Pad(1, 2.0), _Pad(-3, 4.5), _Pad(5, 6.25))),
        ("array of big-endian", (_Big * 2)(_Big(1, 2.0, 3), _Big(4, 5.0, 6))),
        ("2-d array of structures", ((_IntDouble * 2) * 2)()),
        ("c_double array", (ctypes.c_double * 4)(1, 2, 3, 4)),
        ("c_long", ctypes.c_long(-12)),
    ]


def _numpy_reads(np, obj):
    with warnings.catch_warnings():
        # numpy warns that ctypes' format and itemsize disagree, then reads
        # the ctypes type itself: that reading is the oracle
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(obj)


def _leaves(np, dt, base=0, shape=()):
    """(name path, offset, scalar dtype, sub-array shape) of every value of
    ``dt`` and its itemsize: the layout, whatever nesting of sub-array
    dtypes spells it (numpy reads ctypes' ``c_short * 2 * 3`` as nested
    sub-arrays, its own PEP 3118 reader as one (3, 2) sub-array)."""
    out = [dt.itemsize]
    if dt.subdtype is not None:
        sub, sh = dt.subdtype
        return [dt.itemsize] + _leaves(np, sub, base, shape + sh)[1:]
    if dt.names:
        for name in dt.names:
            fdt, off = dt.fields[name][:2]
            out += [(name,) + t[0:1] + t[1:] if isinstance(t, tuple) else t
                    for t in _leaves(np, fdt, base + off, shape)[1:]]
        return out
    return out + [(base, dt.str, shape)]


@pytest.mark.parametrize("name,obj", _ctypes_objects(), ids=[n for n, _ in _ctypes_objects()])
def test_ctypes_round_trips_as_numpy_reads_them(name, obj):
    np = _np()
    ref = _numpy_reads(np, obj)
    b = pybuf.asbuffer(obj)
    assert b.itemsize == ref.itemsize and b.shape == ref.shape[:b.ndim]
    assert _same(b.tolist(), ref.tolist())
    got = np.asarray(b)
    assert _leaves(np, got.dtype) == _leaves(np, ref.dtype) and got.shape == ref.shape
    assert got.tobytes() == ref.tobytes()
    c = pybuf.copy(obj)
    assert _same(c.tolist(), ref.tolist())
    assert _leaves(np, np.asarray(c).dtype) == _leaves(np, ref.dtype)
    assert np.asarray(c).tobytes() == ref.tobytes()
    assert c == obj and b == obj and pybuf.equal(c, obj) and pybuf.equal(obj, np.asarray(c))
    # pybuf's export shares ctypes' memory, shape and itemsize
    m = memoryview(b)
    assert (m.itemsize, m.shape, m.tobytes()) == (
        memoryview(obj).itemsize, memoryview(obj).shape, memoryview(obj).tobytes())


def test_ctypes_writes_land_where_numpy_reads_them():
    np = _np()
    obj = (_Big * 2)()
    b = pybuf.asbuffer(obj, writable=True)
    b[1] = (-2, 6.5, 123)
    assert (obj[1].a, obj[1].b, obj[1].c) == (-2, 6.5, 123)
    assert _numpy_reads(np, obj)[1].tolist() == (-2, 6.5, 123)
    n = _Nested()
    bn = pybuf.asbuffer(n, writable=True)
    item = (9, b"z", 1.25, (7, 8, 9), ((1, 0.5), (2, 0.25)), b"w", True,
            ((1, 2), (3, 4), (5, 6)))
    bn[()] = item
    assert (n.a, n.b, n.c, list(n.d), n.e[1].b, n.f, n.g, n.h[2][1]) == \
        (9, b"z", 1.25, [7, 8, 9], 0.25, b"w", True, 6)
    assert bn[()] == item


def test_foreign_format_describes_the_itemsize():
    # .format is the exporter's string where pybuf reads it as written,
    # else the reading spelled out, as exported
    b = pybuf.asbuffer(_Pad(1, 2.0))
    exported = memoryview(_Pad()).format     # this CPython's ctypes decides
    as_written = pybuf.parse_format(exported)
    offsets = [_Pad.a.offset, _Pad.b.offset]
    assert b.format == memoryview(b).format
    if (as_written.itemsize != ctypes.sizeof(_Pad)
            or [fd.offset for fd in as_written.fields] != offsets):
        assert b.format != exported          # <= 3.13: the reading spelled out
    # 3.14+ writes the padding out: the string as written reads right, and
    # .format is one spelling of that reading
    f = pybuf.parse_format(b.format)
    assert f.itemsize == ctypes.sizeof(_Pad)
    assert [fd.offset for fd in f.fields] == offsets
    assert pybuf.asbuffer(array.array("d", [1.0])).format == "d"
    for protocol in (4, 5):                     # read again from .format
        assert pickle.loads(pickle.dumps(b, protocol=protocol)).tolist() == (1, 2.0)
    assert b.cast("B").nbytes == b.nbytes and pybuf.describe(b).itemsize == b.itemsize


# --------------------------------------------------------------------------
# The exporter's itemsize chooses the reading

@pytest.mark.parametrize("fmt,itemsize,offsets", [
    ("di", 12, [0, 8]),                     # struct, memoryview, _testbuffer
    ("di", 16, [0, 8]),                     # C, numpy, pybuf
    ("T{<h:a:<d:b:}", 10, [0, 2]),          # standard sizes, packed
    ("T{<h:a:<d:b:}", 16, [0, 8]),          # ctypes: aligned fields
    ("T{>i:a:>d:b:}", 16, [0, 8]),
    ("T{i:a:xxxxd:b:}", 24, [0, 8]),        # numpy: offsets, itemsize 24
    ("hhd", 12, [0, 2, 4]) if struct.calcsize("hhd") == 12 else ("hhd", 16, [0, 2, 8]),
])
def test_itemsize_chooses_the_reading(fmt, itemsize, offsets):
    f = Format._reading(fmt, itemsize)
    assert f.itemsize == itemsize
    assert [fd.offset for fd in f.fields] == offsets
    # the spelled-out reading reads the same everywhere
    assert Format._reading(str(f), itemsize) == f


def test_no_reading_is_opaque():
    assert Format._reading("d", 12) is None
    assert Format._reading("hd", 11) is None


# --------------------------------------------------------------------------
# CPython's test_buffer structures, both seats

def _seeded(k):
    # test_buffer draws from the random module's shared generator
    random.seed(12000 + k)


def _structures():
    """(format, items, shape, strides, offset) from test_buffer's generators:
    every mode and format character plus random compound formats, over
    random valid structures (strides, offsets, negative steps)."""
    out = []
    for k in range(4):
        _seeded(k)
        for fmt, items, _ in tb.iter_format(5):
            out.append((fmt, items, [5], None, 0))
        for _ in range(6):
            fmt, items, _ = tb.struct_items(4, "ndarray")
            out.append((fmt, items, [4], None, 0))
    for k in range(40):
        _seeded(100 + k)
        fmt, _, _ = tb.randitems(1)
        char = fmt.lstrip("@<>=!123")
        if len(fmt) != 1:
            continue                        # randitems_from_structure: native only
        t = tb.rand_structure(struct.calcsize(char), True, maxdim=3, maxshape=5)
        items = tb.randitems_from_structure(char, t)
        memlen, itemsize, ndim, shape, strides, offset = t
        out.append((char, items, list(shape), list(strides), offset))
    return out


def _nd(fmt, items, shape, strides, offset):
    kw = dict(shape=shape, format=fmt, flags=tb.ND_WRITABLE)
    if strides is not None:
        kw.update(strides=strides, offset=offset)
    return tb.ndarray(items, **kw)


@requires_testbuffer
@requires_test_buffer
def test_test_buffer_structures_pybuf_as_consumer():
    count = 0
    for fmt, items, shape, strides, offset in _structures():
        nd = _nd(fmt, items, shape, strides, offset)
        ref = nd.tolist()
        b = pybuf.asbuffer(nd)
        ctx = (fmt, shape, strides)
        assert pybuf.parse_format(b.format).itemsize == b.itemsize, ctx
        assert pickle.loads(pickle.dumps(b)).tolist() == ref, ctx
        assert b.itemsize == nd.itemsize and b.shape == nd.shape, ctx
        assert b.strides == nd.strides, ctx
        assert b.tolist() == ref, ctx
        assert pybuf.copy(nd).tolist() == ref, ctx
        mv = memoryview(nd)
        expect = mv == nd
        assert (b == nd) == expect and (nd == b) == expect, ctx
        assert (mv == b) == expect and (b == mv) == expect, ctx
        assert (b == pybuf.copy(nd)) == expect, ctx
        if b.size and b.ndim:
            w = pybuf.asbuffer(nd, writable=True)
            last = tuple(n - 1 for n in b.shape)
            first = tuple(0 for _ in b.shape)
            w[first] = w[last]
            got = nd.tolist()
            for _ in range(b.ndim):
                got = got[0]
            assert got == b[last], ctx
        if b.ndim:
            # test_buffer's multislices: reading, and assigning across two
            # exporters, as its own list model says
            nd = _nd(fmt, items, shape, strides, offset)
            src = _nd(fmt, items[::-1] if isinstance(items, list) else items,
                      shape, strides, offset)
            ls, rs = tb.randslice_from_shape(b.ndim, b.shape)
            assert pybuf.asbuffer(nd)[ls].tolist() == nd[ls].tolist(), ctx
            want = tb.multislice_assign(nd.tolist(), src.tolist(), ls, rs)
            w = pybuf.asbuffer(nd, writable=True)
            w[ls] = pybuf.asbuffer(src)[rs]
            assert nd.tolist() == want, ctx
        count += 1
    assert count > 100


@requires_testbuffer
@requires_test_buffer
def test_test_buffer_structures_pybuf_as_exporter():
    np = sys.modules.get("numpy")
    count = 0
    for fmt, items, shape, strides, offset in _structures():
        nd = _nd(fmt, items, shape, strides, offset)
        ref = nd.tolist()
        mine = pybuf.Buffer(tuple(shape), fmt)
        mine[...] = pybuf.asbuffer(nd)
        ctx = (fmt, shape)
        assert mine.tolist() == ref, ctx
        # CPython's consumers read pybuf's export
        assert tb.ndarray(mine, getbuf=tb.PyBUF_FULL_RO).tolist() == ref, ctx
        assert (memoryview(mine) == nd) == (memoryview(nd) == nd), ctx
        # the export is canonical: numpy reads it, unless its own PEP 3118
        # reader refuses the format ('P', 'n', 'N' have no numpy code)
        if np is not None:
            exported = memoryview(mine).format
            try:
                got = np.asarray(mine)
            except ValueError:
                with pytest.raises(ValueError):
                    _np_reader(np)(exported)
            else:
                assert got.nbytes == mine.nbytes, ctx
                assert got.tobytes() == mine.tobytes(), ctx
        count += 1
    assert count > 100


@requires_testbuffer
@requires_test_buffer
def test_test_buffer_casts_match_memoryview():
    for k in range(3):
        _seeded(200 + k)
        for fmt, items, _ in tb.iter_format(6):
            if len(pybuf.parse_format(fmt).fields) > 1 or not tb.is_memoryview_format(fmt):
                continue
            nd = tb.ndarray(items, shape=[6], format=fmt)
            b = pybuf.asbuffer(nd).cast("B")
            assert b.tolist() == memoryview(nd).cast("B").tolist()


# --------------------------------------------------------------------------
# numpy's dtype corpus, both seats

def _dtypes(np):
    al = np.dtype([("a", "i1"), ("b", "<f8"), ("c", "<u2")], align=True)
    return [
        "?", "i1", "u1", "<i2", ">i2", "<u4", ">i4", "<i8", ">u8", "<f2", ">f2",
        "<f4", ">f4", "<f8", ">f8", "<c8", ">c16", "g", "G", "S5", "<U3", ">U2", "V4",
        [("a", "<i4"), ("b", "<f8")],
        [("a", ">i2"), ("b", ">f4"), ("c", "S3")],
        al,
        {"names": ["a", "b"], "formats": ["<i4", "<f8"], "offsets": [0, 8], "itemsize": 24},
        {"names": ["a", "b"], "formats": ["<i4", "u1"], "offsets": [0, 8], "itemsize": 12},
        [("a", "b"), ("n", "V3"), ("o", "?")],
        [("m", "<f4", (2, 3)), ("s", [("x", "<i2"), ("y", ">f8")], (2,))],
        [("nested", al), ("tail", "<i8")],
    ]


def _fill(np, a, rng):
    """Random values, no NaN, no NUL at the end of a string."""
    if a.dtype.names:
        for name in a.dtype.names:
            _fill(np, a[name], rng)
        return
    if a.dtype.subdtype is not None:
        return
    k = a.dtype.kind
    if k == "b":
        a[...] = rng.integers(0, 2, a.shape).astype(bool)
    elif k in "iu":
        info = np.iinfo(a.dtype)
        a[...] = rng.integers(info.min, info.max, a.shape, endpoint=True, dtype=a.dtype.newbyteorder("="))
    elif k == "f":
        a[...] = rng.standard_normal(a.shape) * 100
    elif k == "c":
        a[...] = rng.standard_normal(a.shape) + 1j * rng.standard_normal(a.shape)
    elif k == "S":
        a[...] = b"x" * a.dtype.itemsize
    elif k == "U":
        a[...] = "\u00e9" * (a.dtype.itemsize // 4)
    elif k == "V":
        for idx in np.ndindex(a.shape):
            a[idx] = rng.integers(0, 256, a.dtype.itemsize, dtype=np.uint8).tobytes()


def _corpus(np):
    rng = np.random.default_rng(12)
    for spec in _dtypes(np):
        dt = np.dtype(spec)
        a = np.zeros(7, dt)
        raw = a.view(np.uint8)
        raw[...] = rng.integers(0, 256, raw.shape)      # padding bytes too
        _fill(np, a, rng)
        yield dt, a
        yield dt, a[::-2]                                # strided


def _np_own(np, a):
    """numpy's reading of its own export of ``a`` (``a`` where it has none)."""
    try:
        return np.asarray(memoryview(a))
    except (ValueError, RuntimeError):
        return a


def _np_list(np, a):
    if a.dtype == np.dtype("g"):
        return [float(x) for x in a]
    if a.dtype == np.dtype("G"):
        return [complex(x) for x in a]
    return a.tolist()


def test_numpy_dtypes_pybuf_as_consumer():
    np = _np()
    for dt, a in _corpus(np):
        b = pybuf.asbuffer(a)
        assert b.itemsize == dt.itemsize and b.strides == a.strides, dt
        assert _same(b.tolist(), _np_list(np, a)), dt
        assert pybuf.parse_format(b.format).itemsize == b.itemsize, dt
        c = pybuf.copy(a)
        assert _same(c.tolist(), _np_list(np, a)), dt
        assert pybuf.equal(a, c) and pybuf.equal(c, a), dt
        assert b == a and c == b, dt


def test_numpy_dtypes_pybuf_as_exporter():
    np = _np()
    for dt, a in _corpus(np):
        c = pybuf.copy(a)
        got = np.asarray(c)
        # numpy reads pybuf's export as it reads its own (its own 'V4'
        # export, "4x", comes back as an empty struct of 4 bytes), and
        # where numpy cannot read its own export (a struct with trailing
        # padding: its format leaves the padding out) pybuf's is the dtype
        # (where numpy's export of a nested aligned struct moves the inner
        # struct's end padding out of it: the same layout, as _leaves says)
        own = _np_own(np, a)
        assert _leaves(np, got.dtype) == _leaves(np, own.dtype), dt
        assert got.dtype == own.dtype or own is a, dt
        if a.flags.c_contiguous:
            # (numpy's own copy of a strided struct array drops padding)
            assert got.tobytes() == a.tobytes(), dt
        assert _same(_np_list(np, got), _np_list(np, own)), dt
        new = pybuf.Buffer(a.shape, str(Format.from_dtype(dt)))
        assert np.asarray(new).dtype.itemsize == dt.itemsize
        new[...] = c
        assert _same(new.tolist(), _np_list(np, a)), dt
        assert pybuf.equal(new, a), dt


# --------------------------------------------------------------------------
# == is exact, as memoryview's; the result does not depend on the seat

_PAIRS = [
    (array.array("q", [2 ** 53 + 1]), array.array("d", [2.0 ** 53])),
    (array.array("q", [2 ** 53]), array.array("d", [2.0 ** 53])),
    (array.array("Q", [2 ** 64 - 1]), array.array("d", [2.0 ** 64])),
    (array.array("Q", [2 ** 63]), array.array("q", [-2 ** 63])),
    (array.array("q", [-1, 5]), array.array("Q", [2 ** 64 - 1, 5])),
    (array.array("f", [0.1]), array.array("d", [0.1])),
    (array.array("f", [0.5]), array.array("d", [0.5])),
    (array.array("d", [float("nan")]), array.array("d", [float("nan")])),
    (array.array("d", [-0.0]), array.array("i", [0])),
    (array.array("b", [-1]), array.array("B", [255])),
    (array.array("i", [7, 8]), array.array("q", [7, 8])),
    (array.array("i", [2 ** 31 - 1]), array.array("f", [2.0 ** 31])),
]


@pytest.mark.parametrize("x,y", _PAIRS)
def test_eq_is_memoryviews(x, y):
    want = memoryview(x) == memoryview(y)
    assert (pybuf.asbuffer(x) == y) is want
    assert (x == pybuf.asbuffer(y)) is want
    assert (pybuf.asbuffer(x) == pybuf.asbuffer(y)) is want
    assert (memoryview(x) == pybuf.asbuffer(y)) is want
    assert (pybuf.copy(y) == memoryview(x)) is want


# --------------------------------------------------------------------------
# equal compares fields, never padding; named x fields are values

def test_equal_ignores_padding():
    np = _np()
    dt = np.dtype({"names": ["a", "b"], "formats": ["<i4", "<f8"], "offsets": [0, 8],
                   "itemsize": 24})
    a = np.zeros(5, dt)
    b = np.zeros(5, dt)
    a["a"] = b["a"] = np.arange(5)
    a["b"] = b["b"] = np.linspace(0, 1, 5)
    raw = a.view(np.uint8).reshape(5, 24)
    raw[:, 4:8] = 0xAB
    raw[:, 16:] = 0xCD
    assert (a == b).all()
    assert pybuf.equal(a, b) and pybuf.equal(b, a) and pybuf.asbuffer(a) == b
    assert pybuf.equal(a[::2], pybuf.copy(b[::2]))
    b["b"][3] = 2.0
    assert not pybuf.equal(a, b) and not (pybuf.asbuffer(a) == b)
    # ctypes' padding too
    x = (_Pad * 2)(_Pad(1, 2.0), _Pad(3, 4.0))
    y = (_Pad * 2)(_Pad(1, 2.0), _Pad(3, 4.0))
    ctypes.memset(ctypes.addressof(y) + 2, 0x55, 6)
    assert pybuf.equal(x, y)
    # a named x field is a value: it counts
    v = np.zeros(2, [("a", "b"), ("n", "V3"), ("o", "?")])
    w = v.copy()
    w["n"][1] = b"abc"
    assert not pybuf.equal(v, w)


def test_named_x_fields_are_bytes():
    np = _np()
    a = np.zeros(2, [("a", "b"), ("n", "V3"), ("o", "?")])
    a["n"][0] = b"xyz"
    b = pybuf.asbuffer(a)
    assert b.format == "T{b:a:3x:n:?:o:}"
    assert b.tolist() == a.tolist() == [(0, b"xyz", False), (0, b"\0\0\0", False)]
    f = pybuf.parse_format(b.format)
    assert [fd.name for fd in f.fields] == ["a", "n", "o"]
    assert f.unpack(f.pack((1, b"ab", True))) == (1, b"ab\0", True)
    c = pybuf.copy(a)
    c[1] = (5, b"qrs", True)
    assert np.asarray(c)[1].tolist() == (5, b"qrs", True)
    with pytest.raises(ValueError):
        c[1] = (5, b"qrst", True)
    # an unnamed x is padding: no value
    assert pybuf.parse_format("b3x?").unpack(bytes(5)) == (0, False)


# --------------------------------------------------------------------------
# exception types as memoryview's

def test_exception_types_as_memoryview():
    b = pybuf.Buffer(4, "c")
    m = memoryview(bytearray(4)).cast("c")
    for target in (b, m):
        with pytest.raises(TypeError):
            del target[0]
        with pytest.raises(TypeError):
            target[0] = bytearray(b"a")
    d = pybuf.Buffer(2, "d")
    md = memoryview(bytearray(16)).cast("d")
    for target in (d, md):
        for big in (2 ** 1024, -2 ** 1024):
            with pytest.raises(ValueError):
                target[0] = big
    assert d.tolist() == [0.0, 0.0]
    s = pybuf.Buffer(2, "<d")               # through the format engine
    with pytest.raises(ValueError):
        s[0] = 2 ** 1024
    for fmt in ("d", ">d", "e", "g", "f"):  # and the fill kernel
        with pytest.raises(ValueError):
            pybuf.fill(pybuf.Buffer(2, fmt), 2 ** 1024)
    t = pybuf.Buffer(2, "T{c:a:i:b:}")
    with pytest.raises(TypeError):
        t[0] = (bytearray(b"a"), 1)


# --------------------------------------------------------------------------
# the export is the canonical spelling

def test_export_is_canonical():
    np = _np()
    b = pybuf.Buffer(3, "i i")
    assert b.format == memoryview(b).format == "ii"   # what is exported
    for given in ("@i", "=d", "! 2h", "1d", "<q", "i i", "T{@i:a:}"):
        c = pybuf.Buffer(2, given)
        assert c.format == memoryview(c).format == str(pybuf.parse_format(given))
        assert pybuf.parse_format(c.format) == pybuf.parse_format(given)
    assert np.asarray(b).dtype == np.dtype("i,i")
    assert pybuf.equal(b, pybuf.Buffer(3, "ii"))
    assert memoryview(pybuf.Buffer(2, "! 2h")).format == ">2h"
    assert memoryview(pybuf.Buffer(2, "@d")).format == "d"


# --------------------------------------------------------------------------
# every kernel accepts every numeric format

_NUMERIC = ["?", "b", "B", "h", "H", "i", "I", "l", "L", "q", "Q", "n", "N",
            "e", "f", "d", "g", "Zf", "Zd", "Zg",
            "<e", ">e", "^g", ">d", "<Zf", ">Zd", ">i", "<H", "!q"]


def _values(fmt, n=9):
    code = fmt.lstrip("@=<>!^")
    if code == "?":
        return [bool(i % 3) for i in range(n)]
    if code in "BHILQN":
        return list(range(n))
    if code in "bhilqn":
        return [i - 3 for i in range(n)]
    if code[0] == "Z":
        return [complex(i * 1.5 - 3, i) for i in range(n)]
    return [i * 1.5 - 3 for i in range(n)]


def _made(fmt, values):
    b = pybuf.Buffer(len(values), fmt)
    for i, v in enumerate(values):
        b[i] = v
    assert b.tolist() == values
    return b


@pytest.mark.parametrize("fmt", _NUMERIC)
def test_every_kernel_accepts_every_numeric_format(fmt):
    vals = _values(fmt)
    b = _made(fmt, vals)
    cplx = fmt.lstrip("@=<>!^").startswith("Z")
    assert pybuf.sum(b) == pytest.approx(sum(vals))
    if cplx:
        for kernel in (pybuf.min, pybuf.max):       # no order on complex
            with pytest.raises(ValueError):
                kernel(b)
    else:
        assert pybuf.min(b) == min(vals) and pybuf.max(b) == max(vals)
    if fmt == "?":
        assert pybuf.dot(b, b) is any(vals)         # bools: a bool, as numpy
    else:
        assert pybuf.dot(b, b) == pytest.approx(sum(v * v for v in vals))
    wide = "Zd" if cplx else "d"
    assert pybuf.astype(b, wide).tolist() == [complex(v) if cplx else float(v) for v in vals]
    back = pybuf.astype(pybuf.astype(b, wide), fmt)
    assert back.tolist() == vals and pybuf.equal(back, b) and back == b
    dst = pybuf.Buffer(len(vals), fmt)
    pybuf.copyto(dst, _made(wide, [complex(v) if cplx else float(v) for v in vals]))
    assert dst.tolist() == vals
    pybuf.fill(dst, vals[1])
    assert dst.tolist() == [vals[1]] * len(vals)
    assert pybuf.equal(b, pybuf.copy(b)) and not pybuf.equal(b, dst)
    assert pybuf.equal(b[::2], pybuf.ascontiguous(b[::2]))
    swapped = pybuf.byteswap(pybuf.copy(b))
    assert pybuf.byteswap(swapped).tolist() == vals


@pytest.mark.parametrize("dtype", ["<f2", ">f2", "g", "G", "<f4", ">c8"])
def test_storage_float_kernels_match_numpy(dtype):
    np = _np()
    rng = np.random.default_rng(7)
    x = rng.standard_normal(3000) * np.logspace(-8, 5, 3000)
    x[:4] = [np.inf, -np.inf, np.nan, -0.0]
    if np.dtype(dtype).kind == "c":
        with np.errstate(invalid="ignore"):
            x = x + 1j * np.where(np.isfinite(x[::-1]), x[::-1], 0.0)
    with np.errstate(over="ignore", invalid="ignore"):
        ref = x.astype(dtype)
    got = pybuf.astype(x, memoryview(ref).format)
    g = np.asarray(got)
    assert g.dtype == ref.dtype
    # one rounding, to nearest even: bit for bit numpy's (NaN payloads too)
    if ref.dtype.kind == "f" and ref.dtype.itemsize == 2:
        assert np.array_equal(g.view("u2"), ref.view("u2"))
    else:
        assert np.array_equal(g, ref, equal_nan=True)
    widened = pybuf.astype(ref, "Zd" if ref.dtype.kind == "c" else "d")
    assert np.array_equal(np.asarray(widened), ref.astype("D" if ref.dtype.kind == "c" else "d"),
                          equal_nan=True)
    finite = ref[np.isfinite(ref)]
    assert pybuf.sum(finite) == pytest.approx(complex(finite.astype("D").sum()), rel=1e-6)
    b = ref.copy()
    pybuf.byteswap(b)
    assert b.tobytes() == ref.byteswap().tobytes()


def test_every_half_converts_exactly():
    np = _np()
    h = np.arange(1 << 16, dtype=np.uint16).view(np.float16)
    assert np.array_equal(np.asarray(pybuf.astype(h, "f")).view("u4"), h.astype("f4").view("u4"))
    d = h.astype("f8")
    with np.errstate(invalid="ignore", over="ignore"):
        mids = (d[:-1] + d[1:]) / 2                  # every tie
        x = np.concatenate([d, mids, np.nextafter(mids, np.inf), np.nextafter(mids, -np.inf)])
        want = x.astype("f2")
    assert np.array_equal(np.asarray(pybuf.astype(x, "e")).view("u2"), want.view("u2"))


def test_byteswap_struct_items_per_field_as_numpy():
    np = _np()
    # (packed: numpy's export of an array of aligned structs nested in a
    # struct leaves out the inner end padding, so that its text describes
    # another layout than its dtype -- a numpy bug; aligned fields are
    # covered by ctypes' below and by the padded struct here)
    inner = np.dtype({"names": ["x", "y"], "formats": [">i4", "u1"], "offsets": [0, 4],
                      "itemsize": 5})
    dt = np.dtype([("a", "<i2"), ("b", "<f8", (2,)), ("c", "S3"), ("d", "<c8"),
                   ("e", "<U2"), ("s", inner, (2,)), ("v", "V3"), ("g", "?"),
                   ("h", ">u8"), ("p", {"names": ["q"], "formats": ["<i4"], "offsets": [4],
                                         "itemsize": 12})])
    a = np.zeros(5, dt)
    a.view("u1")[...] = np.arange(a.nbytes) % 251
    ref = a.byteswap()
    b = a.copy()
    assert pybuf.byteswap(b) is b
    assert b.tobytes() == ref.tobytes()
    out = np.zeros_like(a)
    pybuf.byteswap(a, out=out)
    # numpy's own byteswap leaves padding undefined: compare the fields
    assert pybuf.equal(out, ref) and (out == ref).all()
    c = a.copy()
    view = c[::-2]
    pybuf.byteswap(view)
    assert view.tobytes() == a[::-2].byteswap().tobytes()
    # ctypes' structures too
    x = (_Big * 2)(_Big(1, 2.0, 3), _Big(4, 5.0, 6))
    pybuf.byteswap(x)
    assert [(s.a, s.b) for s in x] == [(256, struct.unpack(">d", struct.pack("<d", 2.0))[0]),
                                       (1024, struct.unpack(">d", struct.pack("<d", 5.0))[0])]


# --------------------------------------------------------------------------
# numpy's own TestNewBufferProtocol round trips, through pybuf

def _numpy_buffer_tests(np):
    for mod in PEER_TEST_MODULES:
        try:
            # the marks numpy's module uses are registered (conftest)
            return __import__(mod, fromlist=["TestNewBufferProtocol"]).TestNewBufferProtocol
        except (ImportError, AttributeError):
            pass
    pytest.skip("this numpy ships no tests (numpy/_core/tests/test_multiarray.py): "
                "its TestNewBufferProtocol cannot be run through pybuf")


@pytest.mark.parametrize("method", ["test_roundtrip", "test_roundtrip_half",
                                    "test_roundtrip_single_types", "test_roundtrip_scalar"])
def test_numpy_new_buffer_protocol_through_pybuf(method):
    np = _np()
    from numpy.testing import assert_array_equal
    base = _numpy_buffer_tests(np)
    seen = []

    class ThroughPybuf(base):
        def _check_roundtrip(self, obj):
            # numpy's check, with pybuf in both seats: the consumer of
            # numpy's export (asbuffer) and the exporter numpy reads (the
            # view, and a copy pybuf owns)
            obj = np.asarray(obj)
            if obj.dtype.hasobject:
                return      # explained: pybuf never reads nor copies 'O' items
            for x in (pybuf.asbuffer(obj), pybuf.copy(obj)):
                y = np.asarray(x)
                y2 = np.array(x)
                assert not y.flags.owndata and y2.flags.owndata
                assert y.dtype == obj.dtype and y2.dtype == obj.dtype
                assert y.shape == obj.shape and y2.shape == obj.shape
                assert_array_equal(obj, y)
                assert_array_equal(obj, y2)
                assert _same(x.tolist(), obj.tolist())
            seen.append(obj.dtype)

    getattr(ThroughPybuf(), method)()
    assert seen


@pytest.mark.parametrize("dtype", ["u1", "i2", ">i4", "<u8", "f4", ">f8", "e", "c8",
                                   ">c16", "?", "V3", "S5", "i4,f8", "u1,(2,3)i2",
                                   [("a", "<i2"), ("b", ">f8")]])
def test_format_is_what_is_exported(producers, dtype):
    """``b.format == memoryview(b).format`` for a Buffer over every producer
    of the suite (and a Buffer made from its format), whatever spelling
    the producer used."""
    np = _np()
    a = np.zeros(6, dtype=dtype)
    try:
        memoryview(a)
    except (ValueError, BufferError, NotImplementedError):
        pytest.skip(f"numpy exports no buffer of {dtype}")
    for name, obj, _ in producers(a):
        b = pybuf.asbuffer(obj)
        assert b.format == memoryview(b).format, (name, dtype)
        c = pybuf.Buffer(2, b.format)
        assert c.format == memoryview(c).format == b.format, (name, dtype)
