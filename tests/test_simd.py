"""The dispatched SIMD kernels, on every path this CPU runs, against numpy.

pybuf.kernels takes the widest SIMD path at import, and pybuf._tuning
applies ``PYBUF_SIMD`` when pybuf is imported; its ``_set_simd_path``
switches the path for these tests.  Each kernel with a
per-path version (sum, min, max, dot, f8<->f4 conversion, byteswap, equal,
fill) is checked on every path, at sizes around the vector widths, the
unroll and the block, at unaligned starts, with NaN, infinities and -0.0,
and with the non-temporal (prefetching) variant.  The whole suite runs on
one path with ``PYBUF_SIMD=<path> python -m pytest``.
"""
import math
import os
import subprocess
import sys
import zlib

import pytest

import pybuf
from pybuf import _tuning

np = pytest.importorskip("numpy", reason="needs numpy: pip install numpy")

PATHS = _tuning._simd_paths()
# around the widths (2..16 items per vector, 8 vectors unrolled), and the
# block of 4096 items
SIZES = [1, 2, 3, 7, 8, 15, 16, 17, 31, 33, 63, 64, 65, 127, 129, 255, 257,
         511, 513, 1023, 4095, 4096, 4097, 8192 + 129, 20011]


@pytest.fixture(params=PATHS)
def path(request):
    old = _tuning._set_simd_path(request.param)
    assert _tuning._simd_path() == request.param
    yield request.param
    _tuning._set_simd_path(old)


@pytest.fixture(params=["cached", "streaming"])
def stream(request):
    """Reductions prefetch with the non-temporal hint above the streaming
    threshold: run both variants."""
    old = _tuning._set_stream_threshold(0 if request.param == "streaming"
                                        else 1 << 60)
    yield request.param
    _tuning._set_stream_threshold(old)


def rng_for(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def unaligned(a, offset):
    """A copy of a whose data starts ``offset`` items past an aligned
    address (so SIMD loads are unaligned)."""
    base = np.empty(a.size + offset, a.dtype)
    out = base[offset:]
    out[...] = a
    return out


def sum_bound(a):
    """|error| allowed for a float sum: a few n * eps of the sum of
    magnitudes (any summation order is within n * eps)."""
    return 4 * len(a) * np.finfo(np.float64).eps * float(np.abs(a).astype("f8").sum()) + 1e-300


@pytest.mark.parametrize("dtype", ["f4", "f8"])
@pytest.mark.parametrize("offset", [0, 1])
@pytest.mark.parametrize("op", ["sum", "dot"])
def test_sum_dot(path, stream, dtype, offset, op):
    """Within n * eps of math.fsum of the terms (float32 products are
    exact in float64)."""
    rng = rng_for(op, path, dtype, offset)
    for n in SIZES:
        a = unaligned(rng.standard_normal(n).astype(dtype), offset)
        b = rng.standard_normal(n).astype(dtype)
        if op == "sum":
            got, terms = pybuf.sum(a), a.astype("f8")
        else:
            got, terms = pybuf.dot(a, b), a.astype("f8") * b.astype("f8")
        assert abs(got - math.fsum(terms.tolist())) <= sum_bound(terms), (path, n)


@pytest.mark.parametrize("dtype", ["f4", "f8"])
@pytest.mark.parametrize("offset", [0, 1])
@pytest.mark.parametrize("op", ["min", "max"])
def test_min_max(path, stream, dtype, offset, op):
    rng = rng_for("minmax", path, dtype, offset, op)
    fn, ref = getattr(pybuf, op), getattr(np, op)
    for n in SIZES:
        a = unaligned(rng.standard_normal(n).astype(dtype), offset)
        # the extreme at each position class: first, in the vector body,
        # in the tail
        for where in {0, n // 2, n - 1}:
            b = a.copy()
            b[where] = -1e30 if op == "min" else 1e30
            assert fn(b) == ref(b), (path, n, where)


@pytest.mark.parametrize("dtype", ["f4", "f8"])
@pytest.mark.parametrize("op", ["min", "max"])
def test_min_max_nan_anywhere(path, stream, dtype, op):
    """A NaN anywhere gives NaN: first item, every lane of a vector, each
    accumulator, the tail, and past a block of 4096."""
    fn = getattr(pybuf, op)
    for n in (5, 64, 100, 4096 + 77, 9000):
        a = np.arange(n, dtype=dtype)
        positions = {0, 1, n - 1, n // 2, min(n - 1, 4095), min(n - 1, 4096)}
        positions |= set(range(0, min(n, 70)))
        for where in sorted(positions):
            b = a.copy()
            b[where] = np.nan
            assert math.isnan(fn(b)), (path, n, where)


@pytest.mark.parametrize("dtype", ["f4", "f8"])
def test_min_max_special_values(path, dtype):
    for n in (3, 40, 300):
        a = np.full(n, 5, dtype)
        a[0] = -np.inf
        a[n - 1] = np.inf
        assert pybuf.min(a) == -np.inf and pybuf.max(a) == np.inf
        z = np.zeros(n, dtype)
        z[n - 1] = -0.0
        assert pybuf.min(z) == 0 and pybuf.max(z) == 0


@pytest.mark.parametrize("pair", [("f8", "f4"), ("f4", "f8")])
def test_convert(path, pair):
    src_t, dst_t = pair
    rng = rng_for("convert", path, pair)
    for n in SIZES:
        a = (rng.standard_normal(n) * 1e3).astype(src_t)
        a[::7] = np.inf
        a[::11] = np.nan
        out = np.empty(n, dst_t)
        pybuf.copyto(out, a)
        np.testing.assert_array_equal(out, a.astype(dst_t))


@pytest.mark.parametrize("dtype", ["u2", "u4", "f4", "i8", "f8", "c8"])
@pytest.mark.parametrize("offset", [0, 1])
def test_every_other_item(path, stream, dtype, offset):
    """copyto(out, a[::2]): 4- and 8-byte items take the two-loads-and-a-
    permute kernel when aligned, the others (and unaligned ones) the
    strided loop."""
    rng = rng_for("take2", path, dtype, offset)
    for n in SIZES:
        raw = np.empty(2 * n * np.dtype(dtype).itemsize + 8, np.uint8)
        a = raw[offset:offset + 2 * n * np.dtype(dtype).itemsize].view(dtype)
        a[...] = rng.integers(0, 1000, 2 * n).astype(dtype)
        out = np.empty(n, dtype)
        pybuf.copyto(out, a[::2])
        np.testing.assert_array_equal(out, a[::2])


@pytest.mark.parametrize("dtype", ["u2", "u4", "u8", "f4", "f8", "c16"])
@pytest.mark.parametrize("inplace", [False, True])
def test_byteswap(path, dtype, inplace):
    rng = rng_for("bswap", path, dtype, inplace)
    for n in SIZES:
        a = rng.integers(0, 256, n * np.dtype(dtype).itemsize,
                         dtype=np.uint8).view(dtype)
        want = a.byteswap()
        if inplace:
            b = a.copy()
            pybuf.byteswap(b, out=b)
        else:
            b = np.empty_like(a)
            pybuf.byteswap(a, out=b)
        assert b.tobytes() == want.tobytes(), (path, n)


@pytest.mark.parametrize("dtype", ["f4", "f8"])
def test_equal(path, dtype):
    rng = rng_for("equal", path, dtype)
    for n in SIZES:
        a = rng.standard_normal(n).astype(dtype)
        assert pybuf.equal(a, a.copy())
        for where in {0, n // 2, n - 1}:
            b = a.copy()
            b[where] = np.nextafter(b[where], np.inf)
            assert not pybuf.equal(a, b), (path, n, where)
            c = a.copy()
            c[where] = np.nan
            assert not pybuf.equal(c, c.copy()), (path, n, where)
        z, nz = np.zeros(n, dtype), np.zeros(n, dtype)
        nz[n - 1] = -0.0
        assert pybuf.equal(z, nz)


@pytest.mark.parametrize("dtype", ["u2", "u4", "f8", "c8"])
@pytest.mark.parametrize("offset", [0, 1, 3])
def test_fill(path, dtype, offset):
    """Items whose bytes differ (not a memset), at unaligned addresses."""
    item = np.dtype(dtype).itemsize
    value = {"u2": 0x1234, "u4": 0x12345678, "f8": 1.5, "c8": 1.5 - 2j}[dtype]
    for n in SIZES:
        raw = bytearray(n * item + offset + 8)
        target = np.ndarray((n,), dtype, buffer=raw, offset=offset)
        pybuf.fill(target, value)
        assert (target == np.asarray(value, dtype)).all(), (path, n)
        assert raw[:offset] == bytes(offset)
        assert raw[offset + n * item:] == bytes(8)


def _exact_results(dtype):
    """What the order-independent kernels give on the path in use: min and
    max (of distinct values, so no tie between 0.0 and -0.0 decides), f8
    <-> f4 conversion, byteswap, every other item, equal, fill; as bytes."""
    out = []
    other = "f4" if dtype == "f8" else "f8"
    for n in SIZES:
        rng = rng_for("exact", dtype, n)
        a = rng.permutation(np.arange(1, n + 1)).astype(dtype) * 0.75 - n / 3
        a[a == 0] = 0.5
        specials = [("plain", a)]
        for value in (-0.0, np.inf, -np.inf):
            b = a.copy()
            b[rng.integers(n)] = value
            specials.append((repr(value), b))
        for name, x in specials:
            for op in (pybuf.min, pybuf.max):
                out.append((name, op.__name__, np.array(op(x), dtype).tobytes()))
            d = np.empty(n, other)
            pybuf.copyto(d, x)
            out.append((name, "convert", d.tobytes()))
            out.append((name, "byteswap", pybuf.byteswap(x).tobytes()))
            e = np.empty((n + 1) // 2, dtype)
            pybuf.copyto(e, x[::2])
            out.append((name, "take2", e.tobytes()))
            y = x.copy()
            out.append((name, "equal", pybuf.equal(x, y)))
            y[n // 2] = np.nan
            out.append((name, "unequal", pybuf.equal(x, y)))
        f = np.empty(n, dtype)
        pybuf.fill(f, -0.0)
        out.append(("", "fill", f.tobytes()))
    return out


@pytest.mark.parametrize("dtype", ["f4", "f8"])
def test_paths_agree_bit_for_bit(dtype):
    """Every path gives the baseline path's bits (the plain-C path on all
    but x86) wherever the result does not depend on the order of the
    operations: the same rules for NaN, infinities and -0.0 everywhere."""
    old = _tuning._simd_path()
    try:
        _tuning._set_simd_path(PATHS[0])
        want = _exact_results(dtype)
        for p in PATHS[1:]:
            _tuning._set_simd_path(p)
            got = _exact_results(dtype)
            assert got == want, p
    finally:
        _tuning._set_simd_path(old)


def test_paths_and_cache_info():
    assert PATHS[0] in ("sse2", "generic")
    assert _tuning._simd_path() == PATHS[-1] or os.environ.get("PYBUF_SIMD")
    assert set(PATHS) <= set(_tuning._simd_paths(False))
    info = _tuning._cache_info()
    if hasattr(os, "sysconf") and "SC_LEVEL2_CACHE_SIZE" in os.sysconf_names:
        l2 = os.sysconf("SC_LEVEL2_CACHE_SIZE")
        if l2 > 0:
            assert info["l2"] == l2
    if info["last_level"]:
        assert info["stream_bytes"] >= 2 * info["l2"]
        assert info["stream_bytes"] >= info["last_level"] // 8
    else:
        assert info["stream_bytes"] == 4 << 20


def _linux_x86_flags():
    """The CPU flags Linux reports (it hides what the OS does not save),
    or None off Linux x86."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


def test_paths_match_the_cpu():
    """The paths of this build that the CPU runs, as the build detects them
    (__builtin_cpu_supports, or CPUID and XGETBV as MSVC builds do and
    -DPYBUF_USE_CPUID forces), are those Linux's CPU flags allow."""
    built = _tuning._simd_paths(False)
    flags = _linux_x86_flags()
    if flags is None or "sse2" not in built:
        pytest.skip("needs Linux on x86")
    needs = {"sse2": set(), "avx2": {"avx2", "fma"},
             "avx512": {"avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl"}}
    assert PATHS == [p for p in built if needs[p] <= flags]


def test_set_simd_path_refuses_unknown():
    before = _tuning._simd_path()
    with pytest.raises(ValueError, match="names no SIMD path"):
        _tuning._set_simd_path("avx9000")
    assert _tuning._simd_path() == before


def run_child(code, **env):
    e = dict(os.environ)
    e.pop("PYBUF_SIMD", None)
    e.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True, env=e, timeout=120)


@pytest.mark.parametrize("want", PATHS)
def test_environment_forces_path(want):
    p = run_child("import pybuf, pybuf._tuning as t; print(t._simd_path())",
                  PYBUF_SIMD=want)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == want


def test_environment_default_is_widest():
    p = run_child("import pybuf._tuning as t; print(t._simd_path())")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == PATHS[-1]


def test_environment_unknown_path_fails_import():
    p = run_child("import pybuf", PYBUF_SIMD="avx9000")
    assert p.returncode != 0
    assert "RuntimeError" in p.stderr and "PYBUF_SIMD='avx9000'" in p.stderr


def test_environment_unsupported_path_fails_import():
    missing = [k for k in _tuning._simd_paths(False) if k not in PATHS]
    if not missing:
        pytest.skip("this CPU runs every path of the build")
    p = run_child("import pybuf", PYBUF_SIMD=missing[0])
    assert p.returncode != 0
    assert "RuntimeError" in p.stderr and "cannot run that SIMD path" in p.stderr


@pytest.mark.parametrize("want", PATHS)
def test_info_reports_path(want):
    p = run_child("import sys; from pybuf.cli import main; "
                  "sys.exit(main(['info']))", PYBUF_SIMD=want)
    assert p.returncode == 0, p.stderr
    line = [ln for ln in p.stdout.splitlines() if ln.startswith("kernel SIMD path:")]
    assert len(line) == 1, p.stdout
    assert line[0].split()[3] == want
    assert f"PYBUF_SIMD={want}" in line[0]


GENERIC_CHECK = r"""
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "_simd.h"
#define CHECK(c) do { if (!(c)) { printf("FAIL %s n=%d\n", #c, n); return 1; } } while (0)
int main(void) {
    static double a[9000], b[9000], d[9000];
    static float f[9000], g[9000];
    static uint64_t u[9000], v[9000];
    int n, i, nan;
    if (pybuf_simd_select("generic") != 0) return 2;
    if (pybuf_simd_select("sse2") != -1) return 3;
    for (n = 1; n < 9000; n = n * 3 + 1) {
        double s = 0, p = 0, lo = 1e300, hi = -1e300;
        for (i = 0; i < n; i++) {
            a[i] = (i * 7919 % 1000) - 500.25; b[i] = (i % 13) - 6.5;
            s += a[i]; p += a[i] * b[i];
            lo = a[i] < lo ? a[i] : lo; hi = a[i] > hi ? a[i] : hi;
            f[i] = (float)a[i]; u[i] = (uint64_t)i * 0x0102030405060708ull;
        }
        CHECK(fabs(pybuf_simd->sum_f64(a, n, 0) - s) <= 1e-9 * n * 500);
        CHECK(fabs(pybuf_simd->dot_f64(a, b, n, 1) - p) <= 1e-9 * n * 5000);
        CHECK(pybuf_simd->min_f64(a, n, &nan, 0) == lo && !nan);
        CHECK(pybuf_simd->max_f64(a, n, &nan, 0) == hi && !nan);
        a[n / 2] = NAN;
        pybuf_simd->min_f64(a, n, &nan, 0); CHECK(nan);
        pybuf_simd->cvt_f32_f64(d, f, n);
        for (i = 0; i < n; i++) CHECK(d[i] == (double)f[i]);
        pybuf_simd->cvt_f64_f32(g, d, n);
        CHECK(memcmp(f, g, n * sizeof(float)) == 0);
        CHECK(pybuf_simd->equal_f32(f, g, n) && !pybuf_simd->equal_f64(a, a, n));
        pybuf_simd->bswap64(v, u, n);
        for (i = 0; i < n; i++) CHECK(v[i] == __builtin_bswap64(u[i]));
        pybuf_simd->take2_u64(v, u, n / 2);
        for (i = 0; i < n / 2; i++) CHECK(v[i] == u[2 * i]);
        pybuf_simd->fill((char *)v, n * 8, (const char *)&u[3], 8);
        for (i = 0; i < n; i++) CHECK(v[i] == u[3]);
    }
    printf("ok %s\n", pybuf_simd->name);
    return 0;
}
"""


def test_generic_path_in_c(tmp_path):
    """The plain-C path (what non-x86 machines run), built on this machine
    with PYBUF_GENERIC_ONLY and checked by a small C program."""
    import shutil
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "pybuf")
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None or not os.path.exists(os.path.join(src, "_simd.c")):
        pytest.skip("needs a C compiler and the source tree")
    (tmp_path / "check.c").write_text(GENERIC_CHECK)
    exe = tmp_path / "check"
    build = subprocess.run([cc, "-O2", "-DPYBUF_GENERIC_ONLY", f"-I{src}",
                            str(tmp_path / "check.c"), os.path.join(src, "_simd.c"),
                            "-o", str(exe), "-lm", "-pthread"],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip() == "ok generic"
