# Private to pybuf: what pybuf._ops (the Python entry points, above
# pybuf.buffer) and pybuf._tuning share with pybuf.kernels beyond the
# public C API of kernels.pxd.  Not an ABI: it changes with pybuf.  Only
# types, constants and inline functions live here (they compile into each
# module that cimports this file); the kernels' own loops and the state of
# _simd.c reach them through the table of function pointers
# ``KernelsImpl``, which pybuf.kernels fills once and hands over as the
# capsule ``pybuf.kernels._impl``.
from pybuf._types cimport *
# Reduction: from _types (kernels.pxd re-exports it; cimporting it from
# there would declare it after this table in the generated C)
from pybuf._simd cimport PYBUF_PARTS, pybuf_simd_table


cdef enum:
    # Items per staging block (byte-swapped or unaligned operands, mixed
    # types): small enough for the stack and L1, large enough that the
    # per-block dispatch is noise.
    CHUNK = 512
    # Below this many bytes of work the GIL is kept: releasing and taking
    # it back costs more than the loop.
    NOGIL_BYTES = 32768
    # Side of the square tiles of a transposing copy, in bytes of one row:
    # a tile of 32 x 32 float64 (8 KiB each side) sits in L1.
    TILE_BYTES = 256
    # Block that a streamed line is produced into (in L1) before it is
    # written out with non-temporal stores.
    STAGE_BYTES = 8192


cdef enum:
    # what a streamed line does (see _stream_line)
    LINE_COPY = 0
    LINE_BSWAP = 1
    LINE_CONVERT = 2


cdef extern from "Python.h":
    ctypedef struct PyThreadState:
        pass
    PyThreadState *PyEval_SaveThread() nogil
    void PyEval_RestoreThread(PyThreadState *) nogil


cdef inline PyThreadState *_unlock(bint release) noexcept:
    """Release the GIL when there is enough work to pay for it; the code
    up to the matching _relock touches no Python object."""
    return PyEval_SaveThread() if release else NULL


cdef inline void _relock(PyThreadState *ts) noexcept:
    if ts != NULL:
        PyEval_RestoreThread(ts)


cdef inline bint _is_float(int t) noexcept nogil:
    return t == TYPE_FLOAT32 or t == TYPE_FLOAT64


cdef inline bint _is_complex(int t) noexcept nogil:
    return t == TYPE_COMPLEX64 or t == TYPE_COMPLEX128


cdef inline bint _is_unsigned(int t) noexcept nogil:
    return t == TYPE_BOOL or t == TYPE_UINT8 or t == TYPE_UINT16 \
        or t == TYPE_UINT32 or t == TYPE_UINT64


cdef struct Loop:
    # Up to two operands (0: the destination or only operand, 1: the
    # source) over the same shape, after normalisation.  ndim == 0 means
    # there is nothing to do (some dimension is 0).
    int ndim
    char *p0
    char *p1
    Py_ssize_t shape[MAX_NDIM]
    Py_ssize_t s0[MAX_NDIM]
    Py_ssize_t s1[MAX_NDIM]


cdef struct Side:
    # How to read (or write) one operand's items: a real type, its size,
    # and whether the bytes need swapping or the items are unaligned.
    int type
    Py_ssize_t size
    bint swapped
    bint direct        # native and aligned: typed loops may touch it
    int storage        # TYPE_FLOAT16 / TYPE_LONGDOUBLE items computed as
                       # ``type`` (float32 / float64), else 0


cdef inline Py_ssize_t _abs(Py_ssize_t x) noexcept nogil:
    return -x if x < 0 else x


cdef inline bint _advance(Loop *L, int nouter, Py_ssize_t *idx) noexcept nogil:
    """Move p0/p1 to the next line of the first ``nouter`` dimensions
    (odometer order); False once every line was visited."""
    cdef int k = nouter - 1
    while k >= 0:
        idx[k] += 1
        L.p0 += L.s0[k]
        L.p1 += L.s1[k]
        if idx[k] < L.shape[k]:
            return True
        L.p0 -= L.s0[k] * L.shape[k]
        L.p1 -= L.s1[k] * L.shape[k]
        idx[k] = 0
        k -= 1
    return False


cdef inline int _common_type(int a, int b) noexcept nogil:
    """The type both operands of dot are converted to when they differ."""
    if _is_float(a) or _is_float(b):
        return TYPE_FLOAT64
    if _is_unsigned(a) and _is_unsigned(b):
        return TYPE_UINT64
    if (a == TYPE_UINT64 or b == TYPE_UINT64):
        return TYPE_FLOAT64                # numpy: uint64 with int64 -> f8
    return TYPE_INT64


cdef inline int _nparts(Py_ssize_t nbytes) noexcept nogil:
    """How many parts two-thread work on ``nbytes`` is cut into: 4 below
    1 MiB (data in the two L2 caches: fewer hand-offs; measured, warm
    ``dot`` of 256 KiB 1.08x numpy's time with 4 parts, 0.99x with 8),
    else PYBUF_PARTS, so that a slower thread does fewer of them."""
    return 4 if nbytes < (1 << 20) else PYBUF_PARTS


cdef inline Py_ssize_t _part(Py_ssize_t n, int i, int k) noexcept nogil:
    """Where part i of n items starts when cut into k parts (a multiple of
    8 items, so that two parts rarely share a cache line)."""
    return n if i == k else (n // k * i) & ~(<Py_ssize_t>7)

ctypedef struct KernelsImpl:
    # the thresholds (read at each call; pybuf._tuning sets them)
    Py_ssize_t *stream_bytes
    Py_ssize_t *parallel_bytes
    void (*loop_init)(Loop *L, int ndim, const Py_ssize_t *shape,
                      char *p0, const Py_ssize_t *s0, Py_ssize_t is0,
                      char *p1, const Py_ssize_t *s1, Py_ssize_t is1,
                      bint flip) noexcept nogil
    void (*copy_loop)(Loop *L, Py_ssize_t isz) noexcept nogil
    void (*fill_loop)(Loop *L, const char *item, Py_ssize_t isz) noexcept nogil
    void (*bswap_line)(char *d, Py_ssize_t ds, const char *s, Py_ssize_t ss,
                       Py_ssize_t n, Py_ssize_t isz, Py_ssize_t unit) noexcept nogil
    void (*bswap_loop)(Loop *L, Py_ssize_t isz, Py_ssize_t unit) noexcept nogil
    const char *(*stage_in)(const char *s, Py_ssize_t ss, Side *side,
                            Py_ssize_t n, int want, char *tmp, char *tmp2,
                            Py_ssize_t *stride) noexcept nogil
    void (*narrow_line)(Side *side, const double *s, char *d, Py_ssize_t ds,
                        Py_ssize_t n) noexcept nogil
    void (*reduce_line)(int t, const char *p, Py_ssize_t s, Py_ssize_t n,
                        int op, Reduction *acc) noexcept nogil
    bint (*equal_line)(int t, const char *a, Py_ssize_t sa, const char *b,
                       Py_ssize_t sb, Py_ssize_t n) noexcept nogil
    bint (*equal_staged)(const char *a, Py_ssize_t s0, Side *sa,
                         const char *b, Py_ssize_t s1, Side *sb,
                         Py_ssize_t n, int t) noexcept nogil
    # for pybuf._tuning, the state of _simd.c: the SIMD path in use
    # (pybuf_simd), the paths of this build, the worker thread, the caches
    const pybuf_simd_table **simd
    int (*simd_select)(const char *name) noexcept nogil
    const char *(*simd_path_name)(int k) noexcept nogil
    bint (*simd_path_supported)(int k) noexcept nogil
    size_t (*cache_size)(int level) noexcept nogil
    int (*worker_enable)(int mode) noexcept nogil
    bint (*worker_running)() noexcept nogil
