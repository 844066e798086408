"""pybuf.typed against the pointer API it wraps: what a Cython author pays
for passing typed memoryviews (``typed.sum(x)``) instead of pointers,
shapes, strides and TypeIds (``kernels.reduce_items(...)``).

Both sides run in one extension compiled at the start of the suite (it
needs Cython, setuptools and a C compiler), each call looping ``reps``
times without the GIL so that Python's call overhead is the same small
share on both sides.  Warm (same operands again and again) at 4 KiB ..
1 MiB, cold at 16 MiB.  Target: within 5% of the pointer API (ratio
<= 1.05) from 4 KiB on.

Run: ``python -m pybuf.bench.bench_typed [--quick]``
"""
import sys
import tempfile

try:
    import numpy as np
except ImportError:  # pragma: no cover - the suites need numpy
    np = None

from pybuf.bench.common import compare, format_table, note

SUITE = "typed"
MiB = 1 << 20
TARGET = "<= 1.05"

# Each operation twice: through pybuf.typed, and through the C API of
# pybuf/kernels.pxd with the pointer, shape, strides and TypeId spelled out.
SOURCE = """
# cython: boundscheck=False, wraparound=False, initializedcheck=False
from libc.string cimport memset
from pybuf cimport kernels, typed
from pybuf._types cimport Reduction, REDUCE_SUM, TYPE_FLOAT32, TYPE_FLOAT64


def typed_sum(const double[:] x, Py_ssize_t reps):
    cdef double s = 0
    cdef Py_ssize_t k
    with nogil:
        for k in range(reps):
            s += typed.sum(x)
    return s


def pointer_sum(const double[:] x, Py_ssize_t reps):
    cdef Reduction r
    cdef double s = 0
    cdef Py_ssize_t k
    with nogil:
        for k in range(reps):
            memset(&r, 0, sizeof(r))
            kernels.reduce_items(REDUCE_SUM, 1, &x.shape[0],
                                 <const char *>&x[0], &x.strides[0],
                                 TYPE_FLOAT64, &r)
            s += r.f
    return s


def typed_sum2(const double[:, :] x, Py_ssize_t reps):
    cdef double s = 0
    cdef Py_ssize_t k
    with nogil:
        for k in range(reps):
            s += typed.sum(x)
    return s


def pointer_sum2(const double[:, :] x, Py_ssize_t reps):
    cdef Reduction r
    cdef double s = 0
    cdef Py_ssize_t k
    with nogil:
        for k in range(reps):
            memset(&r, 0, sizeof(r))
            kernels.reduce_items(REDUCE_SUM, 2, &x.shape[0],
                                 <const char *>&x[0, 0], &x.strides[0],
                                 TYPE_FLOAT64, &r)
            s += r.f
    return s


def typed_dot(const double[:] a, const double[:] b, Py_ssize_t reps):
    cdef double s = 0
    cdef Py_ssize_t k
    with nogil:
        for k in range(reps):
            s += typed.dot(a, b)
    return s


def pointer_dot(const double[:] a, const double[:] b, Py_ssize_t reps):
    cdef Reduction r
    cdef double s = 0
    cdef Py_ssize_t k
    with nogil:
        for k in range(reps):
            memset(&r, 0, sizeof(r))
            kernels.dot_items(a.shape[0], <const char *>&a[0], a.strides[0],
                              TYPE_FLOAT64, False, <const char *>&b[0],
                              b.strides[0], TYPE_FLOAT64, False, &r)
            s += r.f
    return s


def typed_fill(double[:] x, Py_ssize_t reps):
    cdef Py_ssize_t k
    with nogil:
        for k in range(reps):
            typed.fill(x, 1.5)


def pointer_fill(double[:] x, Py_ssize_t reps):
    cdef Py_ssize_t k
    cdef double v = 1.5
    with nogil:
        for k in range(reps):
            kernels.fill_items(1, &x.shape[0], <char *>&x[0], &x.strides[0],
                               <const char *>&v, 8)


def typed_copy(const double[:] s, double[:] d, Py_ssize_t reps):
    cdef Py_ssize_t k
    with nogil:
        for k in range(reps):
            typed.copy(s, typed.out(d))


def pointer_copy(const double[:] s, double[:] d, Py_ssize_t reps):
    cdef Py_ssize_t k
    with nogil:
        for k in range(reps):
            kernels.copy_items(1, &s.shape[0], <const char *>&s[0],
                               &s.strides[0], NULL, <char *>&d[0],
                               &d.strides[0], 8)


def typed_convert(const double[:] s, float[:] d, Py_ssize_t reps):
    cdef Py_ssize_t k
    with nogil:
        for k in range(reps):
            typed.convert(s, typed.out(d))


def pointer_convert(const double[:] s, float[:] d, Py_ssize_t reps):
    cdef Py_ssize_t k
    with nogil:
        for k in range(reps):
            kernels.convert_items(1, &s.shape[0], <const char *>&s[0],
                                  &s.strides[0], TYPE_FLOAT64, False,
                                  <char *>&d[0], &d.strides[0], TYPE_FLOAT32,
                                  False)
"""


def build():
    """The extension of SOURCE, or None (with a note) where it cannot be
    compiled here."""
    from pybuf.bench import cython_build
    try:
        import Cython  # noqa: F401
        import setuptools  # noqa: F401
    except ImportError as exc:
        note(f"bench_typed: skipped, compiling its extension needs {exc.name}: "
             f"pip install Cython setuptools")
        return None
    folder = tempfile.mkdtemp(prefix="pybuf-bench-typed-")
    return cython_build.build_extension(folder, "pybuf_bench_typed", SOURCE)


def cases(ext, nbytes):
    """(name, typed call, pointer call) for operands of ``nbytes``; each
    call loops enough times to last about 64 KiB of work."""
    n = nbytes // 8
    rng = np.random.default_rng(5)
    a = rng.standard_normal(n)
    b = rng.standard_normal(n)
    a2 = a.reshape(-1, 64)
    out = np.empty(n)
    f4 = np.empty(n, np.float32)
    reps = max(1, (64 * 1024) // nbytes)
    return [
        ("sum", lambda: ext.typed_sum(a, reps), lambda: ext.pointer_sum(a, reps)),
        ("sum 2-d", lambda: ext.typed_sum2(a2, reps),
         lambda: ext.pointer_sum2(a2, reps)),
        ("dot", lambda: ext.typed_dot(a, b, reps),
         lambda: ext.pointer_dot(a, b, reps)),
        ("fill", lambda: ext.typed_fill(out, reps),
         lambda: ext.pointer_fill(out, reps)),
        ("copy", lambda: ext.typed_copy(a, out, reps),
         lambda: ext.pointer_copy(a, out, reps)),
        ("convert f8->f4", lambda: ext.typed_convert(a, f4, reps),
         lambda: ext.pointer_convert(a, f4, reps)),
    ]


def label(nbytes):
    return f"{nbytes // 1024} KiB" if nbytes < MiB else f"{nbytes // MiB} MiB"


def run(quick=False):
    ext = build()
    if ext is None:
        return []
    rows = []
    warm_sizes = (4 * 1024,) if quick else (4 * 1024, 64 * 1024, MiB)
    repeat = 3 if quick else 9
    for nbytes in warm_sizes:
        for name, typed_fn, pointer_fn in cases(ext, nbytes):
            rows.append(compare(SUITE, f"typed.{name} warm {label(nbytes)}",
                                typed_fn, "pointer API", pointer_fn,
                                repeat=repeat, target=TARGET))
    if not quick:
        for name, typed_fn, pointer_fn in cases(ext, 16 * MiB):
            rows.append(compare(SUITE, f"typed.{name} cold {label(16 * MiB)}",
                                typed_fn, "pointer API", pointer_fn,
                                repeat=repeat, cold=True, target=TARGET))
    return rows


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv)))
