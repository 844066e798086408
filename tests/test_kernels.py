"""The kernels against numpy: formats x layouts x producers, seeded."""
import math
import mmap
import subprocess
import sys
import zlib

import pytest

import pybuf

np = pytest.importorskip("numpy", reason="needs numpy: pip install numpy")

from conftest import producers  # noqa: E402
from cybuild import build_extension  # noqa: E402

REAL = ["?", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f4", "f8"]
COMPLEX = ["c8", "c16"]
INTS = [t for t in REAL if t[0] in "iu"]
FLOATS = ["f4", "f8"]
# native codes numpy does not spell itself, reached through memoryview.cast
NATIVE_CODES = ["b", "B", "h", "H", "i", "I", "l", "L", "q", "Q", "n", "N",
                "f", "d", "?"]

LAYOUTS = ["C", "F", "steps", "negative", "broadcast", "0d", "empty",
           "3d-transposed", "1d"]
WRITABLE_LAYOUTS = [lay for lay in LAYOUTS if lay != "broadcast"]


def values(rng, dtype, shape, *, small=False):
    """Random items of ``dtype`` (``small``: 0..100, in range of every
    type, for conversions)."""
    dtype = np.dtype(dtype)
    if small:
        v = rng.integers(0, 101, size=shape)
        if dtype.kind == "b":
            return (v % 2).astype(dtype)
        if dtype.kind in "fc":
            return (v + 0.25).astype(dtype)
        return v.astype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, dtype=dtype,
                            endpoint=True)
    if dtype.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
                ).astype(dtype)
    return (rng.standard_normal(shape) * 100).astype(dtype)


def make(layout, dtype, rng, *, small=False):
    """A numpy array of ``layout``: (array, base it views)."""
    if layout == "C":
        base = values(rng, dtype, (5, 7), small=small)
        return base, base
    if layout == "F":
        base = np.asfortranarray(values(rng, dtype, (6, 5), small=small))
        return base, base
    if layout == "steps":
        base = values(rng, dtype, (9, 12), small=small)
        return base[1::2, ::3], base
    if layout == "negative":
        base = values(rng, dtype, (6, 8), small=small)
        return base[::-1, ::-2], base
    if layout == "broadcast":
        base = values(rng, dtype, (7,), small=small)
        return np.broadcast_to(base, (4, 7)), base
    if layout == "0d":
        base = values(rng, dtype, (), small=small)
        base = np.array(base)
        return base, base
    if layout == "empty":
        base = values(rng, dtype, (0, 3), small=small)
        return base, base
    if layout == "3d-transposed":
        base = values(rng, dtype, (3, 4, 5), small=small)
        return base.transpose(2, 0, 1)[:, ::-1], base
    if layout == "1d":
        base = values(rng, dtype, (37,), small=small)
        return base, base
    raise AssertionError(layout)


def as_np(obj, dtype):
    """A numpy view of any exporter (for comparing results)."""
    return np.asarray(memoryview(obj)).view(dtype) if not isinstance(obj, np.ndarray) \
        else obj


@pytest.fixture
def rng(request):
    """A generator seeded by the test's name: the same data on every run
    (``hash()`` of a str changes from run to run)."""
    return np.random.default_rng(zlib.crc32(request.node.name.encode()))


# --------------------------------------------------------------------------
# reductions

def numpy_sum(a):
    if a.dtype.kind == "b" or a.dtype.kind == "i":
        return int(a.sum(dtype=np.int64))
    if a.dtype.kind == "u":
        return int(a.sum(dtype=np.uint64))
    if a.dtype.kind == "c":
        return complex(a.sum(dtype=np.complex128))
    return float(a.sum(dtype=np.float64))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", REAL + COMPLEX)
def test_sum(dtype, layout, rng):
    a, _ = make(layout, dtype, rng)
    expect = numpy_sum(a)
    for name, obj, _ in producers(a):
        got = pybuf.sum(obj)
        assert type(got) is type(expect), name
        if a.dtype.kind in "fc":
            assert got == pytest.approx(expect, rel=1e-9, abs=1e-9), name
        else:
            assert got == expect, name


@pytest.mark.parametrize("op", ["min", "max"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", REAL)
def test_min_max(op, dtype, layout, rng):
    a, _ = make(layout, dtype, rng)
    fn = getattr(pybuf, op)
    for name, obj, _ in producers(a):
        if a.size == 0:
            with pytest.raises(ValueError, match="empty"):
                fn(obj)
            continue
        expect = getattr(a, op)().item()
        got = fn(obj)
        assert got == expect and type(got) is type(expect), name


@pytest.mark.parametrize("op", ["min", "max"])
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("n", [1, 5, 8, 33, 1000])
def test_min_max_nan(op, dtype, n, rng):
    fn = getattr(pybuf, op)
    for pos in {0, n // 2, n - 1}:
        a = values(rng, dtype, (n,))
        a[pos] = np.nan
        assert np.isnan(fn(a)), pos
        assert np.isnan(fn(a[::-1])), pos
    a = values(rng, dtype, (n,))
    a[0] = -np.inf
    a[-1] = np.inf
    assert fn(a) == getattr(a, op)()


def test_sum_overflow_wraps_like_numpy():
    a = np.full(4, np.iinfo(np.int64).max, dtype=np.int64)
    assert pybuf.sum(a) == int(a.sum())
    u = np.full(3, np.iinfo(np.uint64).max, dtype=np.uint64)
    assert pybuf.sum(u) == int(u.sum())


@pytest.mark.parametrize("code", NATIVE_CODES)
def test_native_codes(code, rng):
    a = rng.integers(0, 100, size=24).astype(np.uint8)
    m = memoryview(bytearray(a.tobytes() * 8)).cast(code)
    n = np.asarray(m)
    assert pybuf.sum(m) == numpy_sum(n)
    assert pybuf.min(m) == n.min() and pybuf.max(m) == n.max()
    assert pybuf.equal(m, n)


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("dtype", ["i2", "u4", "i8", "f4", "f8", "c16"])
def test_reductions_any_byte_order(order, dtype, rng):
    a = values(rng, dtype, (50,))
    b = a.astype(order + dtype)
    assert pybuf.sum(b) == pytest.approx(numpy_sum(a))
    assert pybuf.sum(b[::-3]) == pytest.approx(numpy_sum(a[::-3]))
    if dtype[0] != "c":
        assert pybuf.min(b) == a.min() and pybuf.max(b[::2]) == a[::2].max()


@pytest.mark.parametrize("dtype", ["i4", "f8", "c8"])
def test_reductions_unaligned(dtype, rng):
    a = values(rng, dtype, (40,))
    raw = bytearray(a.nbytes + 1)
    u = np.frombuffer(raw, dtype=dtype, offset=1)
    u[...] = a
    assert not u.flags.aligned
    assert pybuf.sum(u) == pytest.approx(numpy_sum(a))
    assert pybuf.equal(u, a)
    if dtype[0] != "c":
        assert pybuf.min(u) == a.min()
        if dtype == "f8":
            assert pybuf.dot(u, a) == pytest.approx(float(np.dot(a, a)))
        else:
            assert pybuf.dot(u, a) == int(np.dot(a.astype("i8"), a.astype("i8")))


def test_large_reductions(rng):
    a = rng.standard_normal(1 << 20)
    # Against the exactly rounded sum; rounding error scales with the sum
    # of magnitudes (the sum itself may cancel to near zero).
    scale = float(np.abs(a).sum())
    assert abs(pybuf.sum(a) - math.fsum(a)) <= 1e-14 * scale
    assert pybuf.min(a) == a.min() and pybuf.max(a) == a.max()
    a[123457] = np.nan
    assert np.isnan(pybuf.max(a)) and np.isnan(pybuf.min(a))
    i = rng.integers(-1000, 1000, size=1 << 20).astype(np.int16)
    assert pybuf.sum(i) == int(i.sum(dtype=np.int64))


# --------------------------------------------------------------------------
# fill

@pytest.mark.parametrize("layout", WRITABLE_LAYOUTS)
@pytest.mark.parametrize("dtype", REAL + COMPLEX)
def test_fill(dtype, layout, rng):
    value = {"b": True, "c": 2.5 - 1j, "f": -1.5}.get(np.dtype(dtype).kind, 7)
    for prod in range(3):
        a, base = make(layout, dtype, rng)
        expect_base = base.copy()
        np.asarray(a, order="K")  # no-op; keep a a view of base
        expect = a.copy()
        expect[...] = value
        obj = producers(a)[prod][1]
        pybuf.fill(obj, value)
        np.testing.assert_array_equal(a, expect)
        # memory outside the view is untouched
        mask = np.ones(base.shape, bool)
        if base.size:
            mask_view = make_mask(layout, base)
            mask &= ~mask_view
        np.testing.assert_array_equal(base[mask], expect_base[mask])


def make_mask(layout, base):
    m = np.zeros(base.shape, bool)
    sel = {"C": np.s_[...], "F": np.s_[...], "0d": np.s_[...],
           "1d": np.s_[...], "empty": np.s_[...],
           "steps": np.s_[1::2, ::3], "negative": np.s_[::-1, ::-2],
           "3d-transposed": np.s_[...]}[layout]
    m[sel] = True
    return m


@pytest.mark.parametrize("nbytes", [5 << 20, (5 << 20) + 3])
@pytest.mark.parametrize("dtype", ["u1", "i2", "f8", "c16", "V3"])
def test_fill_large_streaming(nbytes, dtype, rng):
    raw = np.zeros(nbytes + 64, np.uint8)
    for offset in (0, 1, 8):
        itemsize = np.dtype(dtype).itemsize
        n = nbytes // itemsize
        view = raw[offset:offset + n * itemsize].view(dtype)
        if dtype == "V3":
            # 3-byte opaque items ("3s"; numpy's V3 exports as padding)
            view = pybuf.asbuffer(view.view(np.uint8), writable=True).cast("3s")
            pybuf.fill(view, b"xyz")
            expect = np.frombuffer(b"xyz" * n, np.uint8)
        else:
            value = 3
            pybuf.fill(view, value)
            expect = np.full(n, value, dtype).view(np.uint8)
        got = raw[offset:offset + n * itemsize]
        np.testing.assert_array_equal(got, expect)
        raw[...] = 0


def test_fill_values():
    a = np.zeros(4, np.uint8)
    with pytest.raises(ValueError, match="out of range"):
        pybuf.fill(a, 256)
    with pytest.raises(ValueError, match="out of range"):
        pybuf.fill(a, -1)
    with pytest.raises(TypeError):
        pybuf.fill(a, 1.5)
    with pytest.raises(TypeError):
        pybuf.fill(np.zeros(3), "x")
    b = np.zeros(3, ">i4")
    pybuf.fill(b, -2)
    assert b.tolist() == [-2, -2, -2]
    z = np.zeros(3, ">c16")
    pybuf.fill(z, 1 + 2j)
    assert z.tolist() == [1 + 2j] * 3
    f = np.zeros(3, bool)
    pybuf.fill(f, 5)
    assert f.all()


# --------------------------------------------------------------------------
# copyto, astype

@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dst_dtype", REAL + COMPLEX)
@pytest.mark.parametrize("src_dtype", REAL + COMPLEX)
def test_copyto_convert(src_dtype, dst_dtype, layout, rng):
    src, _ = make(layout, src_dtype, rng, small=True)
    with np.errstate(all="ignore"):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expect = src.astype(dst_dtype, casting="unsafe")
    dst = np.zeros(src.shape, dst_dtype, order="F" if layout == "C" else "C")
    pybuf.copyto(dst, src)
    np.testing.assert_array_equal(dst, expect)


DST_VIEWS = {
    "C": (lambda shape: shape, lambda b, shape: b),
    "steps": (lambda shape: (2 * shape[0] + 1, 3 * shape[1] + 1),
              lambda b, shape: b[1::2, 1::3][:shape[0], :shape[1]]),
    "negative": (lambda shape: (2 * shape[0], 3 * shape[1]),
                 lambda b, shape: b[::-2, ::-3]),
}


@pytest.mark.parametrize("dst_layout", ["C", "F", "steps", "negative"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", ["?", "u1", "i2", "f4", "f8", "c16"])
def test_copyto_layouts_producers(dtype, layout, dst_layout, rng):
    src, _ = make(layout, dtype, rng)
    shape = src.shape
    if len(shape) != 2:
        dst_layout = "C"
    for name, obj, _ in producers(src):
        if dst_layout == "F":
            base = np.zeros(shape, dtype, order="F")
            dst = base
            expect_base = np.array(src, order="F")
        else:
            base_shape, view = DST_VIEWS[dst_layout]
            base = np.array(values(rng, dtype, base_shape(shape)))
            dst = view(base, shape)
            expect_base = base.copy()
            view(expect_base, shape)[...] = src
        assert dst.shape == shape
        target = pybuf.asbuffer(dst, writable=True) if name == "Buffer" else dst
        pybuf.copyto(target, obj)
        np.testing.assert_array_equal(dst, src, err_msg=name)
        np.testing.assert_array_equal(base, expect_base, err_msg=name)


def test_copyto_opaque(rng):
    dt = np.dtype([("a", "<i4"), ("b", "u1"), ("c", ">f8")])
    src = np.zeros((6, 5), dt)
    src["a"] = rng.integers(0, 100, (6, 5))
    src["c"] = rng.standard_normal((6, 5))
    for s in (src, src.T, src[::-2, 1::2]):
        dst = np.zeros(s.shape, dt)
        pybuf.copyto(dst, s)
        np.testing.assert_array_equal(dst, s)
        assert pybuf.equal(dst, s)
    v = np.frombuffer(rng.bytes(3 * 40), "V3").reshape(8, 5)
    out = np.zeros((5, 8), "V3")
    pybuf.copyto(out, v.T)
    assert out.tobytes() == np.ascontiguousarray(v.T).tobytes()


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("src_dtype", ["i2", "u4", "i8", "f4", "f8", "c8", "c16"])
@pytest.mark.parametrize("dst_dtype", ["u1", "i4", "f8", "c16"])
def test_copyto_byte_orders(order, src_dtype, dst_dtype, rng):
    a = values(rng, src_dtype, (4, 9), small=True)
    for src in (a.astype(">" + src_dtype), a.astype("<" + src_dtype)):
        with np.errstate(all="ignore"):
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expect = a.astype(dst_dtype)
        dst = np.zeros(a.shape, order + dst_dtype)
        pybuf.copyto(dst, src[:, ::-1][:, ::-1])
        np.testing.assert_array_equal(dst, expect)
        dst2 = np.zeros(a.shape, order + dst_dtype)[:, ::2]
        pybuf.copyto(dst2, src[:, ::2])
        np.testing.assert_array_equal(dst2, expect[:, ::2])


def test_copyto_standard_sizes():
    # '<l' and '=l' are 4-byte ints in struct's standard sizes
    src = memoryview(bytearray(np.arange(6, dtype="<i4").tobytes())).cast("B")
    b = pybuf.asbuffer(src).cast("<l")
    assert b.itemsize == 4
    dst = np.zeros(6, "f8")
    pybuf.copyto(dst, b)
    assert dst.tolist() == [0, 1, 2, 3, 4, 5]
    assert pybuf.sum(pybuf.asbuffer(src).cast(">q")) == sum(
        int.from_bytes(np.arange(6, dtype="<i4").tobytes()[i:i + 8], "big", signed=True)
        for i in range(0, 24, 8))


def _format_engine_knows(fmt):
    # pybuf.formats is completed by another issue; until then ascontiguous
    # and astype cannot create Buffers of some formats.
    try:
        pybuf.calcsize(fmt)
        return True
    except (ValueError, NotImplementedError):
        return False


@pytest.mark.parametrize("shape,axes", [((64, 48), (1, 0)), ((100, 70), (1, 0)),
                                        ((33, 65), (1, 0)),
                                        ((9, 40, 50), (2, 0, 1)),
                                        ((40, 9, 50), (2, 1, 0))])
@pytest.mark.parametrize("dtype", ["u1", "i2", "f4", "f8", "c16"])
def test_transposing_copy(shape, axes, dtype, rng):
    a = values(rng, dtype, shape)
    t = a.transpose(axes)
    if dtype == "c16" and not _format_engine_knows("Zd"):
        t = t.view("V16")              # opaque items: same bytes moved
        a = a.view("V16")
    def check(got, expect):
        if expect.dtype.kind == "V":
            assert got.tobytes() == np.ascontiguousarray(expect).tobytes()
        else:
            np.testing.assert_array_equal(np.asarray(got), expect)

    out = pybuf.ascontiguous(t)
    assert out.c_contiguous and out.shape == t.shape
    check(out, t)
    f = pybuf.ascontiguous(a, "F")
    assert f.f_contiguous
    assert f.tobytes("F") == a.tobytes("F")
    b = pybuf.copy(t)
    check(b, t)
    assert pybuf.asbuffer(t).tobytes() == t.tobytes()
    dst = np.zeros(t.shape, t.dtype)[..., ::-1]
    pybuf.copyto(dst, t[..., ::-1])
    check(dst, t[..., ::-1])


@pytest.mark.parametrize("nbytes", [(5 << 20) + 24, 8 << 20])
def test_copyto_large_streaming(nbytes, rng):
    src_raw = rng.integers(0, 256, size=nbytes + 16, dtype=np.uint8)
    dst_raw = np.zeros(nbytes + 16, np.uint8)
    for so, do in ((0, 0), (1, 3), (8, 0), (0, 15)):
        src = src_raw[so:so + nbytes]
        dst = dst_raw[do:do + nbytes]
        pybuf.copyto(dst, src)
        np.testing.assert_array_equal(dst, src)
        assert dst_raw[:do].sum() == 0 or do == 0
        dst_raw[...] = 0
    a = rng.standard_normal(nbytes // 8)
    b = pybuf.copy(a)
    np.testing.assert_array_equal(np.asarray(b), a)
    c = pybuf.astype(a, "f")
    np.testing.assert_array_equal(np.asarray(c), a.astype("f4"))


@pytest.fixture
def always_stream():
    # every destination takes the non-temporal-store paths
    from pybuf import _tuning
    old = _tuning._set_stream_threshold(0)
    yield
    _tuning._set_stream_threshold(old)


@pytest.mark.usefixtures("always_stream")
def test_streaming_paths_small(rng):
    _streaming_body(rng)


def _streaming_body(rng):
    for n in (1, 3, 17, 1000, 3000):
        a = values(rng, "f8", (n,))
        out = np.zeros(n)
        pybuf.copyto(out, a)                                 # contiguous
        np.testing.assert_array_equal(out, a)
        out2 = np.zeros((n + 1) // 2)
        pybuf.copyto(out2, a[::2])                           # gather
        np.testing.assert_array_equal(out2, a[::2])
        f = np.zeros(n, ">f4")
        pybuf.copyto(f, a)                                   # convert + swap
        np.testing.assert_array_equal(f, a.astype(">f4"))
        pybuf.byteswap(a, out=out)                           # byteswap copy
        np.testing.assert_array_equal(out, a.byteswap())
        pybuf.fill(out[1:], 2.5)
        assert (out[1:] == 2.5).all()
        i8 = values(rng, "u1", (n,))
        pybuf.fill(i8[1:], 7)
        assert (i8[1:] == 7).all()
    m = values(rng, "f8", (70, 45))
    t = pybuf.ascontiguous(m.T)                              # transpose
    np.testing.assert_array_equal(np.asarray(t), m.T)


@pytest.fixture
def always_parallel():
    # every contiguous kernel takes the two-thread path
    from pybuf import _tuning
    old = _tuning._set_parallel_threshold(0)
    yield
    _tuning._set_parallel_threshold(old)


@pytest.mark.usefixtures("always_parallel")
@pytest.mark.parametrize("dtype", ["?", "u1", "i2", "i8", "u8", "f4", "f8", "c16"])
def test_two_thread_paths(dtype, rng):
    for n in (1, 2, 7, 1001):
        a = values(rng, dtype, (n,))
        assert pybuf.sum(a) == pytest.approx(numpy_sum(a), rel=1e-12)
        if dtype[0] != "c":
            assert pybuf.min(a) == a.min() and pybuf.max(a) == a.max()
            a2 = values(rng, dtype, (n,), small=True)
            b2 = values(rng, dtype, (n,), small=True)
            kind = "f8" if dtype[0] == "f" else "i8"
            expect = np.dot(a2.astype(kind), b2.astype(kind)).item()
            if dtype == "?":
                expect = bool(np.dot(a2, b2))
            assert pybuf.dot(a2, b2) == pytest.approx(expect, rel=1e-12)
        out = np.zeros_like(a)
        pybuf.copyto(out, a)
        np.testing.assert_array_equal(out, a)
        pybuf.fill(out, a[0].item())
        assert (out == a[0]).all()
    f = values(rng, "f8", (999,))
    f[998] = np.nan
    assert np.isnan(pybuf.min(f)) and np.isnan(pybuf.max(f))


@pytest.mark.usefixtures("always_stream", "always_parallel")
def test_streaming_two_thread_paths_small(rng):
    _streaming_body(rng)


def test_copyto_overlap():
    for dtype in ("i4", "f8", "c16"):
        a = np.arange(40).astype(dtype)
        b = a.copy()
        pybuf.copyto(a[1:], a[:-1])
        np.copyto(b[1:], b[:-1])
        np.testing.assert_array_equal(a, b)
        pybuf.copyto(a[:-3], a[3:])
        np.copyto(b[:-3], b[3:])
        np.testing.assert_array_equal(a, b)
        pybuf.copyto(a, a[::-1])
        np.copyto(b, b[::-1].copy())
        np.testing.assert_array_equal(a, b)
        m = a.reshape(5, 8)
        pybuf.copyto(m[:, :5], m.T[:5, :5].T)
        n = b.reshape(5, 8)
        n[:, :5] = n.T[:5, :5].T.copy()
        np.testing.assert_array_equal(a, b)
    # converting overlap: int8 items read as uint8 from the same memory
    raw = np.arange(-20, 20, dtype=np.int8)
    expect = raw[::-1].astype(np.int16)[::2]
    wide = raw.view(np.int16)
    pybuf.copyto(wide, raw[::-1][::2])
    np.testing.assert_array_equal(wide, expect)
    # Buffer.__setitem__ keeps memmove semantics too
    buf = pybuf.copy(np.arange(10, dtype="i4"))
    buf[1:] = buf[:-1]
    assert buf.tolist() == [0, 0, 1, 2, 3, 4, 5, 6, 7, 8]
    pybuf.copyto(buf, buf)
    assert buf.tolist() == [0, 0, 1, 2, 3, 4, 5, 6, 7, 8]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("fmt,dtype", [("d", "f8"), ("f", "f4"), ("b", "i1"),
                                       ("H", "u2"), ("q", "i8"), ("?", "?"),
                                       ("<i", "<i4"), (">d", ">f8")])
@pytest.mark.parametrize("src_dtype", ["f8", "i4", "u1", "?"])
def test_astype(src_dtype, fmt, dtype, layout, rng):
    src, _ = make(layout, src_dtype, rng, small=True)
    for name, obj, _ in producers(src)[:3]:
        out = pybuf.astype(obj, fmt)
        assert isinstance(out, pybuf.Buffer)
        assert out.format == fmt and out.shape == src.shape and out.c_contiguous
        np.testing.assert_array_equal(np.asarray(out), src.astype(dtype),
                                      err_msg=name)


def test_ascontiguous_view_or_copy(rng):
    a = values(rng, "f8", (6, 4))
    v = pybuf.ascontiguous(a)
    assert v.address == a.ctypes.data and v.base is a
    f = pybuf.ascontiguous(a, order="F")
    assert f.address != a.ctypes.data and f.f_contiguous
    np.testing.assert_array_equal(np.asarray(f), a)
    s = pybuf.ascontiguous(a[::2, ::-1])
    np.testing.assert_array_equal(np.asarray(s), a[::2, ::-1])
    opaque = pybuf.Buffer((4, 5), "2h")
    opaque[1, 2] = (1, 2)
    t = pybuf.ascontiguous(opaque.T)
    assert t.format == "2h" and t.c_contiguous
    assert t.tolist() == opaque.T.tolist()
    with pytest.raises(ValueError, match="order"):
        pybuf.ascontiguous(a, "K")


# --------------------------------------------------------------------------
# dot

@pytest.mark.parametrize("b_dtype", REAL + COMPLEX)
@pytest.mark.parametrize("a_dtype", REAL + COMPLEX)
def test_dot(a_dtype, b_dtype, rng):
    a = values(rng, a_dtype, (101,), small=True)
    b = values(rng, b_dtype, (202,), small=True)[::-2]
    got = pybuf.dot(a, b)
    kinds = a.dtype.kind + b.dtype.kind
    if "c" in kinds:
        expect = complex(np.dot(a.astype("c16"), b.astype("c16")))
    elif "f" in kinds or set(kinds) == {"u", "i"} and "u8" in (a_dtype, b_dtype):
        expect = float(np.dot(a.astype("f8"), b.astype("f8")))
    elif kinds == "bb":
        expect = bool(np.dot(a, b))
    else:
        expect = int(np.dot(a.astype("i8"), b.astype("i8")))
    assert got == pytest.approx(expect, rel=1e-12)
    assert type(got) is type(expect)


def test_dot_producers_and_errors(rng):
    a = values(rng, "f8", (64,))
    b = values(rng, "f8", (64,))
    expect = float(np.dot(a, b))
    for (_, pa, _), (_, pb, _) in zip(producers(a), producers(b)):
        assert pybuf.dot(pa, pb) == pytest.approx(expect, rel=1e-12)
    assert pybuf.dot(np.zeros(0), np.zeros(0)) == 0.0
    big = rng.standard_normal(1 << 18)
    assert pybuf.dot(big, big[::-1]) == pytest.approx(np.dot(big, big[::-1]))
    with pytest.raises(ValueError, match="same length"):
        pybuf.dot(a, b[:-1])
    with pytest.raises(ValueError, match="1-d"):
        pybuf.dot(a.reshape(8, 8), b.reshape(8, 8))
    with pytest.raises(ValueError, match="numeric"):
        pybuf.dot(np.zeros(3, "V2"), np.zeros(3, "V2"))


# --------------------------------------------------------------------------
# byteswap

@pytest.mark.parametrize("layout", WRITABLE_LAYOUTS)
@pytest.mark.parametrize("dtype", ["u1", "i2", "u4", "i8", "f4", "f8", "c8", "c16"])
def test_byteswap(dtype, layout, rng):
    a, base = make(layout, dtype, rng)
    expect = a.byteswap()
    before = base.copy()
    out = np.zeros(a.shape, dtype)
    assert pybuf.byteswap(a, out=out) is out
    np.testing.assert_array_equal(out, expect)
    np.testing.assert_array_equal(base, before)
    r = pybuf.byteswap(pybuf.asbuffer(a, writable=True))
    np.testing.assert_array_equal(a, expect)
    assert isinstance(r, pybuf.Buffer)
    pybuf.byteswap(memoryview(a))
    np.testing.assert_array_equal(a, expect.byteswap())
    ro = np.array(a)
    ro.flags.writeable = False
    with pytest.raises(BufferError):
        pybuf.byteswap(ro)


def test_byteswap_overlap_and_opaque():
    a = np.arange(10, dtype="u4")
    b = a.copy()
    pybuf.byteswap(a[:-1], out=a[1:])
    b[1:] = b[:-1].byteswap()
    np.testing.assert_array_equal(a, b)
    v = np.frombuffer(bytearray(b"abcdefghi"), "V3").copy()
    pybuf.byteswap(v)
    assert v.tobytes() == b"cbafedihg"
    with pytest.raises(ValueError, match="itemsize"):
        pybuf.byteswap(np.zeros(3, "u4"), out=np.zeros(3, "u2"))


# --------------------------------------------------------------------------
# equal

@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", REAL + COMPLEX)
def test_equal(dtype, layout, rng):
    a, _ = make(layout, dtype, rng)
    c = np.array(a, order="F")
    for name, obj, _ in producers(a):
        assert pybuf.equal(obj, c) is True, name
        assert pybuf.equal(c, obj) is True, name
    if a.size:
        d = c.copy()
        flat = d.reshape(-1, order="A")
        idx = a.size // 2
        flat[idx] = np.zeros((), dtype) if flat[idx] != 0 else np.ones((), dtype)
        assert pybuf.equal(a, d) is False
    assert pybuf.equal(a, np.zeros((2, 3, 4), dtype)) is False


def test_equal_semantics():
    assert pybuf.equal(np.arange(5), np.arange(5.0))
    assert pybuf.equal(np.arange(5, dtype="u1"), np.arange(5, dtype=">i8"))
    assert not pybuf.equal(np.array([np.nan]), np.array([np.nan]))
    assert pybuf.equal(np.array([-0.0]), np.array([0.0]))
    assert pybuf.equal(np.array([1 + 0j, 2]), np.array([1, 2], "i2"))
    assert not pybuf.equal(np.array([1 + 1j, 2]), np.array([1, 2], "i2"))
    assert not pybuf.equal(np.array([2 ** 64 - 1], "u8"), np.array([-1], "i8"))
    assert pybuf.equal(np.array([True, False]), np.array([1, 0], "i4"))
    assert not pybuf.equal(np.zeros(3), np.zeros(4))
    assert not pybuf.equal(np.zeros((3, 1)), np.zeros(3))
    assert pybuf.equal(np.zeros((0, 3)), np.zeros((0, 3), "i4"))
    s = np.zeros(4, "i4,f8")
    t = s.copy()
    assert pybuf.equal(s, t)
    t[2] = (1, 2.0)
    assert not pybuf.equal(s, t)
    assert not pybuf.equal(s, np.zeros(4, "f8"))
    assert pybuf.equal(b"abc", bytearray(b"abc"))


@pytest.mark.parametrize("fa, fb", [(">f8", ">f8"), (">f4", ">f8"), (">i8", ">i8"),
                                    ("<f8", ">f8"), (">f8", "<i4")])
def test_both_operands_staged(fa, fb):
    # Both sides go through staging blocks (byte-swapped or converted):
    # each needs its own scratch, or the second overwrites the first.
    rng = np.random.default_rng(7)
    x = (rng.integers(-50, 50, 1500)).astype(fa)
    y = (rng.integers(-50, 50, 1500)).astype(fb)
    assert pybuf.equal(x, y) is bool(np.array_equal(x, y)) is False
    assert pybuf.equal(x, x.astype(fb)) is True
    assert pybuf.dot(x, y) == pytest.approx(float(np.dot(x.astype("f8"), y.astype("f8"))))


# --------------------------------------------------------------------------
# errors

def test_errors():
    ro = np.zeros(4)
    ro.flags.writeable = False
    for fn, args in [(pybuf.fill, (ro, 1.0)), (pybuf.copyto, (ro, np.ones(4))),
                     (pybuf.copyto, (b"abcd", b"efgh")),
                     (pybuf.fill, (pybuf.asbuffer(b"ab"), 1))]:
        with pytest.raises(BufferError):
            fn(*args)
        assert not ro.any()
    with pytest.raises(ValueError, match=r"\(4,\).*\(5,\)|\(5,\).*\(4,\)"):
        pybuf.copyto(np.zeros(4), np.zeros(5))
    with pytest.raises(ValueError, match="'2x'.*'d'"):
        pybuf.copyto(np.zeros(3), np.zeros(3, "V2"))
    with pytest.raises(ValueError, match="formats differ"):
        pybuf.copyto(np.zeros(3, "V8"), np.zeros(3, "V2,V6"))
    for fn in (pybuf.sum, pybuf.min, pybuf.max):
        with pytest.raises(TypeError):
            fn(3)
        with pytest.raises(ValueError, match="numeric"):
            fn(np.zeros(3, "V4"))
    with pytest.raises(ValueError, match="real"):
        pybuf.min(np.zeros(3, "c16"))
    with pytest.raises(TypeError):
        pybuf.copyto(np.zeros(3), [1, 2, 3])
    with pytest.raises(TypeError):
        pybuf.equal(None, b"")


def test_readonly_sources_work():
    ro = np.arange(6.0)
    ro.flags.writeable = False
    dst = np.zeros(6)
    pybuf.copyto(dst, ro)
    assert pybuf.sum(ro) == 15.0 and pybuf.equal(dst, ro)
    assert pybuf.sum(b"\x01\x02") == 3
    out = pybuf.astype(ro, "i")
    assert out.tolist() == [0, 1, 2, 3, 4, 5]


def test_max_ndim(rng):
    shape = (1,) * 30 + (2,) * 6 + (1,) * 28
    a = values(rng, "f8", shape)
    t = a.transpose(tuple(range(63, -1, -1)))
    assert pybuf.sum(t) == pytest.approx(a.sum())
    out = pybuf.ascontiguous(t)
    np.testing.assert_array_equal(np.asarray(out), t)
    b = np.zeros(shape, "f4")
    pybuf.copyto(b, a)
    np.testing.assert_array_equal(b, a.astype("f4"))


# --------------------------------------------------------------------------
# Buffer methods wired to the kernels

def test_buffer_methods_use_kernels(rng):
    a = values(rng, "f8", (20, 30))
    b = pybuf.copy(a.T)
    assert b.c_contiguous
    np.testing.assert_array_equal(np.asarray(b), a.T)
    assert b.tobytes("F") == a.T.tobytes("F")
    c = b.copy("F")
    np.testing.assert_array_equal(np.asarray(c), a.T)
    b.fill(2.5)
    assert pybuf.sum(b) == 2.5 * a.size
    b[...] = np.arange(a.size, dtype="i2").reshape(b.shape)    # converted
    np.testing.assert_array_equal(np.asarray(b), np.arange(a.size).reshape(b.shape))
    b[:, ::2] = np.ones((30, 10), bool)
    assert b[0, 0] == 1.0 and b[0, 1] == 1.0 and b[0, 2] == 1.0
    assert b == np.asarray(b).astype("i8")
    assert not (b == np.asarray(b) + 1)
    with pytest.raises(ValueError, match="shape"):
        b[...] = np.zeros((2, 2))


def test_cimport_kernels(tmp_path):
    mod = build_extension(tmp_path, "kernel_consumer", """
        from pybuf cimport kernels
        from pybuf._types cimport TYPE_FLOAT64, TYPE_INT32

        def total(double[::1] x):
            return kernels.sum_float64(&x[0], sizeof(double), x.shape[0])

        def kind(bytes fmt, Py_ssize_t itemsize):
            cdef bint swapped
            cdef int t = kernels.format_type(fmt, itemsize, &swapped)
            return t, bool(swapped)

        def to_int32(double[::1] x, int[::1] out):
            cdef Py_ssize_t shape = x.shape[0]
            cdef Py_ssize_t ss = sizeof(double), ds = sizeof(int)
            with nogil:
                kernels.cast_items(1, &shape, <char *>&x[0], &ss, TYPE_FLOAT64,
                                   <char *>&out[0], &ds, TYPE_INT32)
    """)
    x = np.arange(10.0)
    assert mod.total(x) == 45.0
    assert mod.kind(b"d", 8) == (11, False)
    assert mod.kind(b">i", 4)[1] == (sys.byteorder == "little")
    out = np.zeros(10, np.intc)
    mod.to_int32(x + 0.5, out)
    assert out.tolist() == list(range(10))


def test_cimport_staged_kernels(tmp_path):
    """convert_items, equal_items and dot_items (kernels.pxd) against numpy,
    on byte-swapped, unaligned and storage-only (float16) items."""
    mod = build_extension(tmp_path, "staged_consumer", """
        from libc.string cimport memset
        from pybuf cimport kernels

        cdef int kind(object a, bint *swapped):
            return kernels.format_type(memoryview(a).format.encode(),
                                       a.itemsize, swapped)

        def convert(src, dst):
            cdef const unsigned char[:] s = src.view("u1").reshape(-1)
            cdef unsigned char[:] d = dst.view("u1").reshape(-1)
            cdef bint ssw, dsw
            cdef int st = kind(src, &ssw), dt = kind(dst, &dsw)
            cdef Py_ssize_t n = src.shape[0]
            cdef Py_ssize_t ss = src.strides[0], ds = dst.strides[0]
            with nogil:
                kernels.convert_items(1, &n, <const char *>&s[0], &ss, st, ssw,
                                      <char *>&d[0], &ds, dt, dsw)

        def equal(a, b):
            cdef const unsigned char[:] x = a.view("u1").reshape(-1)
            cdef const unsigned char[:] y = b.view("u1").reshape(-1)
            cdef bint asw, bsw
            cdef int at = kind(a, &asw), bt = kind(b, &bsw)
            cdef Py_ssize_t n = a.shape[0], sa = a.strides[0], sb = b.strides[0]
            return kernels.equal_items(1, &n, <const char *>&x[0], &sa, at, asw,
                                       <const char *>&y[0], &sb, bt, bsw)

        def dot(a, b):
            cdef const unsigned char[:] x = a.view("u1").reshape(-1)
            cdef const unsigned char[:] y = b.view("u1").reshape(-1)
            cdef bint asw, bsw
            cdef int at = kind(a, &asw), bt = kind(b, &bsw)
            cdef kernels.Reduction acc
            memset(&acc, 0, sizeof(acc))
            t = kernels.dot_items(a.shape[0], <const char *>&x[0], a.strides[0],
                                  at, asw, <const char *>&y[0], b.strides[0],
                                  bt, bsw, &acc)
            return t, acc.f, acc.i, acc.u
    """)

    def unaligned(a):
        raw = np.zeros(a.nbytes + 1, np.uint8)[1:]
        out = raw.view(a.dtype)
        out[...] = a
        return out

    x = np.linspace(-3, 5, 2000)
    for src in (x.astype(">f8"), unaligned(x.astype("<f4")), x.astype("e"),
                x.astype(">i2")):
        for dt in ("<f8", ">f4", "e", "<i4", "u1"):
            dst = np.zeros(len(x), dt)
            mod.convert(src, dst)
            # a negative float to an unsigned type is undefined in C (numpy
            # and pybuf give what the compiler and CPU give): in range only
            ok = slice(None) if dt != "u1" or src.dtype.kind == "i" else x >= 0
            np.testing.assert_array_equal(dst[ok], src[ok].astype(dt))
    a = np.arange(-500, 500)
    assert mod.equal(a.astype(">i4"), unaligned(a.astype("<i8")))
    assert mod.equal(a.astype("e"), a.astype(">f8")[::-1][::-1])
    b = a.astype(">i4")
    b[700] += 1
    assert not mod.equal(b, a.astype("<i8"))
    assert not mod.equal(np.array([np.nan]), np.array([np.nan]))
    f = x.astype(">f4")
    t, total, _, _ = mod.dot(f, x.astype("<i2"))
    assert t == 11 and total == pytest.approx(
        np.dot(f.astype("f8"), x.astype("i2").astype("f8")), rel=1e-12)
    t, _, total, _ = mod.dot(a.astype(">i2"), a.astype("i8"))
    assert t == 8 and total == int(np.dot(a, a))


# --------------------------------------------------------------------------
# no access past the end (the streaming paths prefetch ahead; prefetches
# never fault, loads and stores would)

GUARD_SCRIPT = r"""
import ctypes, mmap, sys
import numpy as np
import pybuf
from pybuf import _tuning

PAGE = mmap.PAGESIZE
libc = ctypes.CDLL(None, use_errno=True)
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
maps = []

def before_guard(nbytes, dtype):
    # an array whose last byte is the last one before an inaccessible page
    pages = -(-nbytes // PAGE) + 1
    mm = mmap.mmap(-1, (pages + 1) * PAGE)
    maps.append(mm)
    base = np.frombuffer(mm, np.uint8)
    guard = base.ctypes.data + pages * PAGE
    assert libc.mprotect(guard, PAGE, 0) == 0, ctypes.get_errno()   # PROT_NONE
    return np.frombuffer(mm, dtype, nbytes // np.dtype(dtype).itemsize,
                         pages * PAGE - nbytes)

checked = 0
for stream, parallel in ((1 << 40, 1 << 40), (0, 1 << 40), (0, 0)):
    _tuning._set_stream_threshold(stream)
    _tuning._set_parallel_threshold(parallel)
    for n in (1, 2, 7, 8, 9, 63, 64, 65, 1000, 4099):
        a = before_guard(8 * n, "f8")
        a[:] = np.arange(n) - n // 3          # integers: every sum is exact
        b = before_guard(8 * n, "f8")
        b[:] = 1.5
        out = before_guard(8 * n, "f8")
        assert pybuf.sum(a) == np.sum(a)
        assert pybuf.min(a) == a.min() and pybuf.max(a) == a.max()
        assert pybuf.dot(a, b) == np.dot(a, b)
        pybuf.copyto(out, a)
        assert (out == a).all()
        pybuf.byteswap(a, out=out)
        assert (out == a.byteswap()).all()
        pybuf.fill(out, 2.0)
        assert (out == 2.0).all()
        f4 = before_guard(4 * n, "f4")
        pybuf.copyto(f4, a)
        assert (f4 == a.astype("f4")).all()
        checked += 1
print("checked", checked)
"""


def test_kernels_stay_inside_their_memory():
    # A load or store past the end would hit a PROT_NONE page and kill the
    # child; run it in a subprocess so that a crash fails only this test.
    proc = subprocess.run([sys.executable, "-c", GUARD_SCRIPT],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    assert proc.stdout.split() == ["checked", "30"]
