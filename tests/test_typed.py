"""pybuf.typed: the kernels over Cython typed memoryviews, from an
out-of-tree extension compiled against the installed pybuf.  Each function
must give what the Python API gives (the same kernels) and what numpy
gives where the Python API's result is exact."""
import math

import pytest

import pybuf
from cybuild import build_extension

np = pytest.importorskip("numpy", reason="needs numpy: pip install numpy")
pytest.importorskip("Cython", reason="compiling a consumer needs Cython: "
                    "pip install Cython")

# (code in the wrapper names, Cython type, numpy dtype)
TYPES = [("i8", "int8_t", "i1"), ("u8", "uint8_t", "u1"),
         ("i16", "int16_t", "i2"), ("u16", "uint16_t", "u2"),
         ("i32", "int32_t", "i4"), ("u32", "uint32_t", "u4"),
         ("i64", "int64_t", "i8"), ("u64", "uint64_t", "u8"),
         ("f32", "float", "f4"), ("f64", "double", "f8")]
# every type in 1 and 2 dimensions; two types up to the limit (4)
COMBOS = [(t, d) for t in TYPES for d in (1, 2)] + \
         [(t, d) for t in TYPES if t[0] in ("i16", "f64") for d in (3, 4)]


def _wrappers():
    lines = ["from libc.stdint cimport *",
             "from pybuf cimport typed",
             "from pybuf._types cimport Reduction",
             "MAX_TYPED_NDIM = typed.MAX_TYPED_NDIM"]
    for (code, ctype, _), d in COMBOS:
        dims = ", ".join([":"] * d)
        cdims = ", ".join([":"] * (d - 1) + ["::1"])
        n = f"{code}_{d}"
        lines.append(f"""
def sum_{n}(const {ctype}[{dims}] x):
    cdef double r
    with nogil:
        r = typed.sum(x)
    return r

def sumc_{n}(const {ctype}[{cdims}] x):
    return typed.sum(x)

def reduction_{n}(const {ctype}[{dims}] x, int op):
    cdef Reduction r
    with nogil:
        r = typed.reduction(x, op)
    return r.i, r.u, r.f, r.nan, r.count

def min_{n}(const {ctype}[{dims}] x):
    return typed.min(x)

def max_{n}(const {ctype}[{dims}] x):
    return typed.max(x)

def equal_{n}(const {ctype}[{dims}] a, const {ctype}[{dims}] b):
    return typed.equal(a, b)

def fill_{n}({ctype}[{dims}] x, double value):
    with nogil:
        typed.fill(x, value)

def byteswap_{n}({ctype}[{dims}] x):
    typed.byteswap(x)

def copy_{n}(const {ctype}[{dims}] s, {ctype}[{dims}] d):
    return typed.copy(s, typed.out(d))

def copyc_{n}(const {ctype}[{cdims}] s, {ctype}[{cdims}] d):
    return typed.copy(s, typed.out(d))

def convert_{n}_f64(const {ctype}[{dims}] s, double[{dims}] d):
    return typed.convert(s, typed.out(d))

def convert_{n}_i32(const {ctype}[{dims}] s, int32_t[{dims}] d):
    return typed.convert(s, typed.out(d))

def convert_f32_{n}(const float[{dims}] s, {ctype}[{dims}] d):
    cdef int r
    with nogil:
        r = typed.convert(s, typed.out(d))
    return r""")
        if d == 1:
            lines.append(f"""
def dot_{n}(const {ctype}[:] a, const {ctype}[:] b):
    cdef double r
    with nogil:
        r = typed.dot(a, b)
    return r""")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def ext(tmp_path_factory):
    return build_extension(tmp_path_factory.mktemp("typed"), "typed_user",
                           _wrappers())


def _data(dtype, shape, rng):
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return rng.standard_normal(shape).astype(dt)
    info = np.iinfo(dt)
    return rng.integers(info.min, info.max, size=shape, dtype=dt,
                        endpoint=True)


def _views(dtype, d, rng):
    """Arrays of d dimensions: contiguous, sliced with negative and
    non-unit strides, with an empty axis, and big enough to be split
    between two threads (1-d)."""
    shape = (5, 4, 3, 2)[:d]
    base = _data(dtype, tuple(2 * s + 1 for s in shape), rng)
    out = [_data(dtype, shape, rng),
           base[tuple(slice(None, None, -2) for _ in shape)],
           _data(dtype, (0,) + shape[1:], rng)]
    if d == 1:
        out.append(_data(dtype, (300_001,), rng))
    return out


def _fn(ext, name, code, d):
    return getattr(ext, f"{name}_{code}_{d}")


@pytest.mark.parametrize("t, d", COMBOS, ids=lambda x: str(x[0]) if isinstance(x, tuple) else str(x))
def test_reductions_match_the_python_api(ext, t, d):
    code, _, dtype = t
    rng = np.random.default_rng(d)
    for x in _views(dtype, d, rng):
        got = _fn(ext, "sum", code, d)(x)
        expect = pybuf.sum(x)
        assert got == float(expect)
        if np.dtype(dtype).kind != "f":
            # exact: integers wrap around in 64 bits, as numpy's
            wide = "u8" if np.dtype(dtype).kind == "u" else "i8"
            assert _fn(ext, "reduction", code, d)(x, 0)[
                1 if wide == "u8" else 0] == int(x.sum(dtype=wide))
        else:
            assert math.isclose(got, float(x.sum(dtype="f8")), rel_tol=1e-9,
                                abs_tol=1e-9 * x.size)
        if x.size:
            assert _fn(ext, "min", code, d)(x) == float(pybuf.min(x)) == float(x.min())
            assert _fn(ext, "max", code, d)(x) == float(pybuf.max(x)) == float(x.max())
        else:
            assert math.isnan(_fn(ext, "min", code, d)(x))
            assert math.isnan(_fn(ext, "max", code, d)(x))
            assert _fn(ext, "reduction", code, d)(x, 1)[4] == 0     # count
        if x.flags.c_contiguous:
            assert _fn(ext, "sumc", code, d)(x) == got


@pytest.mark.parametrize("code, ctype, dtype", TYPES, ids=[t[0] for t in TYPES])
def test_dot_matches_the_python_api(ext, code, ctype, dtype):
    rng = np.random.default_rng(7)
    for n in (0, 1, 17, 300_001):
        a, b = _data(dtype, (2 * n,), rng)[::2], _data(dtype, (n,), rng)[::-1]
        got = getattr(ext, f"dot_{code}_1")(a, b)
        assert got == float(pybuf.dot(a, b))
    assert math.isnan(getattr(ext, f"dot_{code}_1")(a, a[:-1]))


def test_nan_and_signed_zero_follow_the_python_api(ext):
    x = np.array([1.0, np.nan, -3.0])
    assert math.isnan(ext.min_f64_1(x)) and math.isnan(ext.max_f64_1(x))
    r = ext.reduction_f64_1(x, 1)
    assert r[3] and r[4] == 3                       # .nan, .count
    z = np.array([0.0, -0.0])
    assert ext.equal_f64_1(z, z[::-1])
    assert not ext.equal_f64_1(x, x)                 # NaN != NaN


@pytest.mark.parametrize("t, d", COMBOS, ids=lambda x: str(x[0]) if isinstance(x, tuple) else str(x))
def test_writers_match_numpy(ext, t, d):
    code, _, dtype = t
    rng = np.random.default_rng(10 + d)
    for x in _views(dtype, d, rng):
        y = x.copy()
        assert _fn(ext, "equal", code, d)(x, y) == pybuf.equal(x, y) == True
        if x.size:
            first = (0,) * d
            y[first] = y[first] + 1 if y.dtype.kind == "f" else y[first] ^ 1
            assert not _fn(ext, "equal", code, d)(x, y)
        # fill: in-range values convert exactly as numpy's cast
        z = np.zeros_like(x)
        _fn(ext, "fill", code, d)(z, 7.0)
        assert np.array_equal(z, np.full_like(x, 7))
        # byteswap in place
        w = x.copy()
        _fn(ext, "byteswap", code, d)(w)
        assert w.tobytes() == x.byteswap().tobytes()     # bits: a swapped float may be NaN
        # copy into a strided destination of the same type
        dst = np.zeros(tuple(2 * s for s in x.shape), dtype)[tuple(
            slice(None, None, 2) for _ in x.shape)]
        assert _fn(ext, "copy", code, d)(x, dst) == 0
        assert np.array_equal(dst, x)
        # convert to float64 and int32, and from float32
        f = np.empty(x.shape, "f8")
        assert getattr(ext, f"convert_{code}_{d}_f64")(x, f) == 0
        assert np.array_equal(f, x.astype("f8"))
        i = np.empty(x.shape, "i4")
        small = (x % 100).astype(dtype) if x.dtype.kind != "f" else np.round(x * 10)
        assert getattr(ext, f"convert_{code}_{d}_i32")(small, i) == 0
        assert np.array_equal(i, small.astype("i4"))
        src = (np.abs(_data("f4", x.shape, rng)) * 50).astype("f4")
        back = np.empty(x.shape, dtype)
        assert getattr(ext, f"convert_f32_{code}_{d}")(src, back) == 0
        assert np.array_equal(back, src.astype(dtype))
        buf = pybuf.empty(x.shape, np.dtype(dtype).char)
        pybuf.copyto(buf, src)
        assert np.array_equal(np.asarray(buf), back)


def test_copy_refuses_other_shapes_and_types_without_writing(ext):
    x = np.arange(6.0).reshape(2, 3)
    d = np.full((3, 2), -1.0)
    assert ext.copy_f64_2(x, d) == -1
    assert (d == -1).all()
    d32 = np.full((2, 3), -1, "i4")
    assert ext.convert_f64_2_i32(x, d32) == 0          # convert converts
    assert ext.convert_f64_2_i32(x, np.empty((2, 2), "i4")) == -1


@pytest.mark.parametrize("copy", ["copy", "copyc"])
def test_copy_between_overlapping_views_reads_before_writing(ext, copy):
    a = np.arange(20.0)
    b = a.copy()
    assert getattr(ext, f"{copy}_f64_1")(a[:15], a[5:]) == 0
    b[5:] = b[:15].copy()
    assert np.array_equal(a, b)
    if copy == "copy":
        a = np.arange(20.0)
        assert ext.copy_f64_1(a, a[::-1]) == 0             # reversed onto itself
        assert np.array_equal(a, np.arange(20.0)[::-1])
        assert ext.copy_f64_1(a, a) == 0                   # onto itself
        assert np.array_equal(a, np.arange(20.0)[::-1])
        m = np.arange(12.0).reshape(3, 4)
        assert ext.convert_f64_2_f64(m, m.T.copy().T) == 0
        t = np.arange(16.0).reshape(4, 4)
        assert ext.convert_f64_2_f64(t, t.T) == 0          # transposed onto itself
        assert np.array_equal(t, np.arange(16.0).reshape(4, 4).T)


def test_any_exporter_read_only_inputs_and_refused_outputs(ext):
    b = pybuf.full((3, 4), 2.0, "d")
    assert ext.sum_f64_2(b) == 24.0
    assert ext.sum_f64_2(b.toreadonly()) == 24.0
    assert ext.sum_i32_1(np.frombuffer(bytes(range(8)), "i4")) == \
        float(np.frombuffer(bytes(range(8)), "i4").sum())
    ro = np.zeros(3)
    ro.flags.writeable = False
    with pytest.raises((BufferError, ValueError)):
        ext.fill_f64_1(ro, 1.0)                     # a writable view of read-only memory
    with pytest.raises((BufferError, ValueError)):
        ext.copy_f64_1(np.ones(3), ro)
    assert (ro == 0).all()
    with pytest.raises(ValueError):
        ext.sum_f64_1(np.zeros(3, "f4"))             # format checked by Cython
    assert b.exports == 0


def test_the_dimension_limit_is_stated(ext):
    assert ext.MAX_TYPED_NDIM == 4
