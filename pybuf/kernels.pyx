"""GIL-free kernels over strided memory, and their Python entry points.

Every kernel here is a ``cdef ... noexcept nogil`` function over a data
pointer, a shape and strides in bytes, so that any buffer exporter can be
handed to it once acquired.  The Python entry points (:func:`fill`,
:func:`copyto`, :func:`astype`, :func:`ascontiguous`, :func:`sum`,
:func:`min`, :func:`max`, :func:`dot`, :func:`byteswap`, :func:`equal`)
acquire each argument once with ``PyObject_GetBuffer``, read its format once,
and release the GIL around the loop when there is enough work to pay for it.

How a loop runs
---------------
The dimensions of the operands are first *normalised* (``_loop_init``):
length-1 dimensions are dropped, dimensions are sorted so that the one with
the smallest destination stride is innermost, and neighbours that are
contiguous with respect to each other in every operand are merged.  A
C- or F-contiguous array of any ndim so becomes one line, and the inner
loop of a strided one runs along its smallest stride.  Each line is then
handed to a kernel specialised (through the fused types of
``pybuf/_types.pxd``) for the item type: the format is read once per call
and the type dispatched once per line, never per item.

Operands whose items are byte-swapped or not aligned to their size go
through small aligned staging blocks (``CHUNK`` items) so that the typed
loops only ever see native, aligned items.  Complex items are handled as
real items with one more dimension of length 2 (real, imaginary).

Large work
----------
Destinations larger than the share of the last-level cache a process can
count on (an eighth of it, at least twice the L2; read from sysconf or
/sys, see ``_cache_info``) are written with non-temporal (streaming)
stores, produced block by block in L1 when the items are gathered,
converted or swapped on the way, and reductions of that size prefetch with
the non-temporal hint.  Smaller data may be in cache: ordinary loads and
stores.  One-dimensional work larger than a core's L2 is shared with a
persistent worker thread (``_parallel_bytes``).  ``_set_stream_threshold``
and ``_set_parallel_threshold`` tune both sizes, ``_set_worker`` turns the
worker off (benchmarks, tests).

SIMD paths
----------
The float reductions and dot products, f8 <-> f4 conversions, byteswaps,
float equality, fills and every-other-item copies exist once per SIMD path
(``pybuf/_simd_isa.h``, compiled by ``pybuf/_simd.c``): SSE2 (the x86-64
baseline), AVX2 with FMA, and AVX-512 (F, BW, DQ, VL).  The widest path the
CPU runs is chosen once, at import; the environment variable
``PYBUF_SIMD`` (``sse2``, ``avx2``, ``avx512``) forces one, and ``python
-m pybuf info`` names the path in use.  The build uses no ``-march``
flag: the wider paths are compiled with function target attributes, so
the wheel stays portable.

Not thread-safe with respect to the memory: like numpy, a kernel reads and
writes the memory while other threads may too.
"""
cimport cython
from cpython.buffer cimport (PyObject_GetBuffer, PyBuffer_Release,
                             PyBuffer_IsContiguous, PyBUF_RECORDS_RO)
from cpython.float cimport PyFloat_AsDouble
from cpython.number cimport PyIndex_Check, PyNumber_Index
from libc.stdint cimport uintptr_t
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy, memmove, memset, memcmp

from pybuf._types cimport *

# The format grammar (a leaf: it imports no other pybuf module).
from pybuf.formats import Format, parse_format

cdef extern from "_floatconv.h":
    Py_ssize_t PYBUF_LD_VALUE_BYTES
    uint16_t pybuf_double_to_half(double x) nogil
    void pybuf_half_to_float_line(const char *s, Py_ssize_t ss, int swapped,
                                  float *d, Py_ssize_t n) nogil
    void pybuf_double_to_half_line(const double *s, char *d, Py_ssize_t ds,
                                   int swapped, Py_ssize_t n) nogil
    void pybuf_ld_to_double_line(const char *s, Py_ssize_t ss, double *d,
                                 Py_ssize_t n) nogil
    void pybuf_double_to_ld_line(const double *s, char *d, Py_ssize_t ds,
                                 Py_ssize_t n) nogil

cdef extern from "_simd.h":
    # C in pybuf/_simd.c; the SIMD kernels (pybuf_simd, one table per
    # path) in pybuf/_simd_isa.h.
    uint16_t pybuf_bswap16(uint16_t) nogil
    uint32_t pybuf_bswap32(uint32_t) nogil
    uint64_t pybuf_bswap64(uint64_t) nogil
    void pybuf_stream_copy(char *dst, const char *src, size_t n) nogil
    void pybuf_stream_copy_nf(char *dst, const char *src, size_t n) nogil
    void pybuf_sfence() nogil
    void pybuf_prefetch(const void *p) nogil
    ctypedef void (*pybuf_task)(void *) noexcept nogil
    enum: PYBUF_PARTS
    void pybuf_run_parts(pybuf_task task, void *args, size_t argsize,
                         Py_ssize_t nparts, bint large) nogil
    int pybuf_worker_enable(int on) nogil
    bint pybuf_worker_running() nogil
    void pybuf_stream_fill(char *dst, size_t n, const char *item,
                           size_t itemsize) nogil
    bint pybuf_little_endian() nogil
    ctypedef struct pybuf_simd_table:
        const char *name
        double (*sum_f64)(const double *p, Py_ssize_t n, bint nta) noexcept nogil
        double (*sum_f32)(const float *p, Py_ssize_t n, bint nta) noexcept nogil
        double (*min_f64)(const double *p, Py_ssize_t n, int *nan, bint nta) noexcept nogil
        double (*max_f64)(const double *p, Py_ssize_t n, int *nan, bint nta) noexcept nogil
        float (*min_f32)(const float *p, Py_ssize_t n, int *nan, bint nta) noexcept nogil
        float (*max_f32)(const float *p, Py_ssize_t n, int *nan, bint nta) noexcept nogil
        double (*dot_f64)(const double *a, const double *b, Py_ssize_t n,
                          bint nta) noexcept nogil
        double (*dot_f32)(const float *a, const float *b, Py_ssize_t n,
                          bint nta) noexcept nogil
        void (*cvt_f64_f32)(float *d, const double *s, Py_ssize_t n) noexcept nogil
        void (*cvt_f32_f64)(double *d, const float *s, Py_ssize_t n) noexcept nogil
        void (*bswap16)(uint16_t *d, const uint16_t *s, Py_ssize_t n) noexcept nogil
        void (*bswap32)(uint32_t *d, const uint32_t *s, Py_ssize_t n) noexcept nogil
        void (*bswap64)(uint64_t *d, const uint64_t *s, Py_ssize_t n) noexcept nogil
        void (*take2_u32)(uint32_t *d, const uint32_t *s, Py_ssize_t n) noexcept nogil
        void (*take2_u64)(uint64_t *d, const uint64_t *s, Py_ssize_t n) noexcept nogil
        bint (*equal_f64)(const double *a, const double *b, Py_ssize_t n) noexcept nogil
        bint (*equal_f32)(const float *a, const float *b, Py_ssize_t n) noexcept nogil
        void (*fill)(char *d, size_t nbytes, const char *item,
                     size_t isz) noexcept nogil
    const pybuf_simd_table *pybuf_simd
    enum: PYBUF_SIMD_NPATHS
    const char *pybuf_simd_path_name(int k) nogil
    bint pybuf_simd_path_supported(int k) nogil
    int pybuf_simd_select(const char *name) nogil
    size_t pybuf_cache_size(int level) nogil
    size_t pybuf_default_stream_bytes() nogil


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

cdef bint LITTLE = pybuf_little_endian()

# Copies, fills and conversions whose destination has at least this many
# bytes write it with non-temporal stores, and reductions of that many
# bytes prefetch with the non-temporal hint.  Derived from the cache sizes
# of this machine (pybuf_default_stream_bytes in _simd.c): smaller data
# may well be in cache, where ordinary stores and loads are cheaper.
cdef Py_ssize_t _stream_bytes = <Py_ssize_t>pybuf_default_stream_bytes()


def _init_simd():
    """Fill the kernel table once, at import: the path named by the
    environment variable ``PYBUF_SIMD``, else the widest this CPU runs.
    A bad name fails the import with RuntimeError (as numpy does for CPU
    features it cannot enable), not ImportError, which would read as
    "not built"."""
    import os
    want = os.environ.get("PYBUF_SIMD", "")
    _select_simd(want, "PYBUF_SIMD", RuntimeError)


cdef _select_simd(str want, str what, type error):
    cdef int rc = pybuf_simd_select(want.encode("ascii", "replace"))
    if rc == -1:
        raise error(f"{what}={want!r} names no SIMD path of this build; "
                    f"choose one of {', '.join(_simd_paths(False))}")
    if rc == -2:
        raise error(f"{what}={want!r}: this CPU cannot run that SIMD path; "
                    f"it runs {', '.join(_simd_paths())}")


def _simd_path():
    """The name of the SIMD path the kernels use (``sse2``, ``avx2``,
    ``avx512``; ``generic`` off x86)."""
    return pybuf_simd.name.decode("ascii")


def _simd_paths(supported=True):
    """The SIMD paths of this build, narrowest first; with ``supported``
    only those this CPU runs."""
    cdef int k
    return [pybuf_simd_path_name(k).decode("ascii")
            for k in range(PYBUF_SIMD_NPATHS)
            if pybuf_simd_path_name(k) != NULL
            and (not supported or pybuf_simd_path_supported(k))]


def _set_simd_path(name):
    """Switch the kernels to SIMD path ``name`` ('' : the widest) and
    return the previous one (tests and benchmarks; not while another
    thread runs a kernel).  ValueError for a path this CPU cannot run."""
    old = _simd_path()
    _select_simd(name, "path", ValueError)
    return old


def _simd_describe():
    """One line for ``python -m pybuf info``: the SIMD path in use, those
    this CPU runs, and how it was chosen."""
    import os
    how = (f"forced by PYBUF_SIMD={os.environ['PYBUF_SIMD']}"
           if os.environ.get("PYBUF_SIMD") else "the widest this CPU runs")
    return (f"{_simd_path()} ({how}; available: {', '.join(_simd_paths())}; "
            f"streaming from {_stream_bytes >> 10} KiB)")


def _cache_info():
    """Cache sizes in bytes as the kernels see them (0: unknown) and the
    streaming threshold derived from them."""
    return {"l1d": pybuf_cache_size(1), "l2": pybuf_cache_size(2),
            "l3": pybuf_cache_size(3), "last_level": pybuf_cache_size(0),
            "stream_bytes": _stream_bytes}


_init_simd()


# Work on at least this many bytes (of the main operand) is cut into parts
# that the calling thread and a persistent worker thread share (pybuf_run_parts
# in _simd.c): contiguous copies, fills, conversions, strided copies,
# byteswaps, reductions and dot products.  Handing parts to the worker costs
# about a microsecond while it spins (milliseconds after it slept: the caller
# then does most parts itself), so two cores pay as soon as the data no
# longer fits one core's L2: from L3 two cores read nearly twice as fast as
# one, and from memory faster too.  Unknown L2: 1 MiB.
cdef Py_ssize_t _parallel_bytes = <Py_ssize_t>pybuf_cache_size(2) or (1 << 20)


def _set_parallel_threshold(nbytes):
    """Set the size from which kernels use two threads (for benchmarks
    and tests; a huge value turns threads off); returns the previous
    value."""
    global _parallel_bytes
    old = _parallel_bytes
    _parallel_bytes = nbytes
    return old


def _set_worker(mode):
    """How two-thread work uses the persistent worker thread: 0 not at all
    (every part on the calling thread; stops the worker), 1 while another
    core is free (the default), 2 always.  Returns the previous mode
    (tests, benchmarks)."""
    if mode not in (0, 1, 2):
        raise ValueError(f"worker mode must be 0, 1 or 2, not {mode!r}")
    return pybuf_worker_enable(mode)


def _worker_running():
    """Whether this process has started the worker thread."""
    return pybuf_worker_running()


def _set_stream_threshold(nbytes):
    """Set the destination size from which non-temporal stores are used
    (for benchmarks); returns the previous value."""
    global _stream_bytes
    old = _stream_bytes
    _stream_bytes = nbytes
    return old


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


# --------------------------------------------------------------------------
# Types

cdef Py_ssize_t _type_size(int t) noexcept nogil:
    if t == TYPE_BOOL or t == TYPE_INT8 or t == TYPE_UINT8:
        return 1
    if t == TYPE_INT16 or t == TYPE_UINT16:
        return 2
    if t == TYPE_INT32 or t == TYPE_UINT32 or t == TYPE_FLOAT32:
        return 4
    if t == TYPE_INT64 or t == TYPE_UINT64 or t == TYPE_FLOAT64 \
            or t == TYPE_COMPLEX64:
        return 8
    if t == TYPE_COMPLEX128:
        return 16
    if t == TYPE_FLOAT16:
        return 2
    if t == TYPE_LONGDOUBLE:
        return sizeof(long double)
    if t == TYPE_CLONGDOUBLE:
        return 2 * sizeof(long double)
    return 0


cdef inline bint _is_float(int t) noexcept nogil:
    return t == TYPE_FLOAT32 or t == TYPE_FLOAT64


cdef inline bint _is_complex(int t) noexcept nogil:
    return t == TYPE_COMPLEX64 or t == TYPE_COMPLEX128


cdef inline bint _is_unsigned(int t) noexcept nogil:
    return t == TYPE_BOOL or t == TYPE_UINT8 or t == TYPE_UINT16 \
        or t == TYPE_UINT32 or t == TYPE_UINT64


cdef int _int_type(bint signed, Py_ssize_t size) noexcept nogil:
    if size == 1:
        return TYPE_INT8 if signed else TYPE_UINT8
    if size == 2:
        return TYPE_INT16 if signed else TYPE_UINT16
    if size == 4:
        return TYPE_INT32 if signed else TYPE_UINT32
    if size == 8:
        return TYPE_INT64 if signed else TYPE_UINT64
    return TYPE_OPAQUE


cdef inline bint _is_space(char c) noexcept nogil:
    return c == b' ' or (b'\t' <= c <= b'\r')      # as pybuf.formats skips


cdef int format_type(const char *fmt, Py_ssize_t itemsize,
                     bint *swapped) noexcept nogil:
    """The TypeId of a one-item format string (``None`` means ``"B"``),
    read as pybuf.formats reads it: whitespace around the item and a count
    of 1 change nothing (``" i"``, ``"=1i"``).

    Native formats (no prefix, ``@`` or ``^``) use the C sizes of this
    platform; ``=``, ``<``, ``>`` and ``!`` use the standard sizes of the
    struct module, and ``swapped[0]`` tells whether their byte order is not
    the native one.  Anything that is not a single numeric code (``b B h H i
    I l L q Q n N e f d ?``, ``Zf``, ``Zd``; native ``g`` and ``Zg``) or
    whose size disagrees with ``itemsize`` is TYPE_OPAQUE.  ``e``, ``g``
    and ``Zg`` are storage-only types (TYPE_FLOAT16, TYPE_LONGDOUBLE,
    TYPE_CLONGDOUBLE): the kernels compute with them as float32/float64.
    """
    cdef bint native = True
    cdef bint big = False
    cdef char c
    cdef int t
    cdef const char *rest
    swapped[0] = False
    if fmt == NULL:
        return TYPE_UINT8 if itemsize == 1 else TYPE_OPAQUE
    c = fmt[0]
    if c == b'@' or c == b'^':
        fmt += 1
    elif c == b'=':
        native = False
        big = not LITTLE
        fmt += 1
    elif c == b'<':
        native = False
        fmt += 1
    elif c == b'>' or c == b'!':
        native = False
        big = True
        fmt += 1
    else:
        big = not LITTLE
    # the grammar of pybuf.formats: whitespace before the item and after
    # it, and a count of 1 is no count (" i", "1i", "=1i ")
    while _is_space(fmt[0]):
        fmt += 1
    if fmt[0] == b'1' and not (b'0' <= fmt[1] <= b'9'):
        fmt += 1
    c = fmt[0]
    if c == 0:
        return TYPE_OPAQUE
    rest = fmt + (2 if c == b'Z' and fmt[1] != 0 else 1)
    while _is_space(rest[0]):
        rest += 1
    if rest[0] != 0:
        return TYPE_OPAQUE
    if c == b'Z':
        if fmt[1] == b'f':
            t = TYPE_COMPLEX64
        elif fmt[1] == b'd':
            t = TYPE_COMPLEX128
        elif fmt[1] == b'g' and native:
            t = TYPE_CLONGDOUBLE
        else:
            return TYPE_OPAQUE
    else:
        if c == b'?':
            t = TYPE_BOOL
        elif c == b'b' or c == b'B':
            t = _int_type(c == b'b', 1)
        elif c == b'h' or c == b'H':
            t = _int_type(c == b'h', sizeof(short) if native else 2)
        elif c == b'i' or c == b'I':
            t = _int_type(c == b'i', sizeof(int) if native else 4)
        elif c == b'l' or c == b'L':
            t = _int_type(c == b'l', sizeof(long) if native else 4)
        elif c == b'q' or c == b'Q':
            t = _int_type(c == b'q', sizeof(long long) if native else 8)
        elif (c == b'n' or c == b'N') and native:
            t = _int_type(c == b'n', sizeof(Py_ssize_t))
        elif c == b'f' and sizeof(float) == 4:
            t = TYPE_FLOAT32
        elif c == b'd' and sizeof(double) == 8:
            t = TYPE_FLOAT64
        elif c == b'e':
            t = TYPE_FLOAT16
        elif c == b'g' and native:
            t = TYPE_LONGDOUBLE
        else:
            return TYPE_OPAQUE
    if _type_size(t) != itemsize:
        return TYPE_OPAQUE
    swapped[0] = itemsize > 1 and big == LITTLE
    return t


# --------------------------------------------------------------------------
# Normalised loops

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


cdef void _loop_init(Loop *L, int ndim, const Py_ssize_t *shape,
                     char *p0, const Py_ssize_t *s0, Py_ssize_t is0,
                     char *p1, const Py_ssize_t *s1, Py_ssize_t is1,
                     bint flip) noexcept nogil:
    """Normalise: drop length-1 dimensions, (``flip``) make operand 0's
    strides positive by walking both operands backwards together -- only
    when the visiting order does not matter --, sort by decreasing
    |operand 0 stride| (stable) and merge dimensions that are contiguous in
    both operands.  ``s1`` may be NULL (one operand).  A 0-d or one-item
    operand becomes one line of one item with stride ``is0`` / ``is1``."""
    cdef int i, j, k = 0, m
    cdef Py_ssize_t n, a, b
    L.p0 = p0
    L.p1 = p1
    for i in range(ndim):
        n = shape[i]
        if n == 0:
            L.ndim = 0
            return
        if n == 1:
            continue
        a = s0[i]
        b = s1[i] if s1 != NULL else 0
        if flip and a < 0:
            L.p0 += (n - 1) * a
            a = -a
            L.p1 += (n - 1) * b
            b = -b
        j = k
        while j > 0 and _abs(L.s0[j - 1]) < _abs(a):
            L.shape[j] = L.shape[j - 1]
            L.s0[j] = L.s0[j - 1]
            L.s1[j] = L.s1[j - 1]
            j -= 1
        L.shape[j] = n
        L.s0[j] = a
        L.s1[j] = b
        k += 1
    if k == 0:
        L.ndim = 1
        L.shape[0] = 1
        L.s0[0] = is0
        L.s1[0] = is1
        return
    m = 0
    for j in range(1, k):
        if L.s0[m] == L.s0[j] * L.shape[j] and L.s1[m] == L.s1[j] * L.shape[j]:
            L.shape[m] *= L.shape[j]
            L.s0[m] = L.s0[j]
            L.s1[m] = L.s1[j]
        else:
            m += 1
            L.shape[m] = L.shape[j]
            L.s0[m] = L.s0[j]
            L.s1[m] = L.s1[j]
    L.ndim = m + 1


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


# --------------------------------------------------------------------------
# Moving items: copy, fill, byteswap, transpose

cdef inline void _copy_bytes(char *dst, const char *src, Py_ssize_t n) noexcept nogil:
    """Non-overlapping contiguous copy; streaming stores when large."""
    if n >= _stream_bytes:
        pybuf_stream_copy(dst, src, <size_t>n)
    else:
        memcpy(dst, src, <size_t>n)


cdef Py_ssize_t _loop_items(Loop *L) noexcept nogil:
    cdef Py_ssize_t n = 1
    cdef int i
    if L.ndim == 0:
        return 0
    for i in range(L.ndim):
        n *= L.shape[i]
    return n


cdef struct CopyTask:
    char *d
    const char *s
    Py_ssize_t n
    Py_ssize_t isz
    const char *item      # fill: the item (s unused)
    Py_ssize_t whole      # bytes of the whole job


cdef void _copy_task(void *arg) noexcept nogil:
    cdef CopyTask *t = <CopyTask *>arg
    _copy_bytes(t.d, t.s, t.n * t.isz)


cdef inline Py_ssize_t _part(Py_ssize_t n, int i) noexcept nogil:
    """Where part i of n items starts when cut into PYBUF_PARTS (a multiple
    of 8 items, so that two parts rarely share a cache line)."""
    return n if i == PYBUF_PARTS else (n // PYBUF_PARTS * i) & ~(<Py_ssize_t>7)


cdef void _split_contig(pybuf_task task, char *d, const char *s, Py_ssize_t n,
                        Py_ssize_t isz, const char *item) noexcept nogil:
    """Run a contiguous copy/fill of n items in parts on two threads."""
    cdef CopyTask t[PYBUF_PARTS]
    cdef Py_ssize_t lo
    cdef int i
    for i in range(PYBUF_PARTS):
        lo = _part(n, i)
        t[i].d = d + lo * isz; t[i].s = s + lo * isz if s != NULL else NULL
        t[i].n = _part(n, i + 1) - lo; t[i].isz = isz; t[i].item = item
        t[i].whole = n * isz
    pybuf_run_parts(task, t, sizeof(CopyTask), PYBUF_PARTS, n * isz >= _stream_bytes)


cdef enum:
    # what a streamed line does (see _stream_line)
    LINE_COPY = 0
    LINE_BSWAP = 1
    LINE_CONVERT = 2


cdef void _stream_line(int kind, char *d, const char *s, Py_ssize_t ss,
                       Py_ssize_t n, Py_ssize_t isz, Py_ssize_t unit,
                       Side *dside, Side *sside) noexcept nogil:
    """Produce a contiguous destination line block by block in L1 and
    write each block out with non-temporal stores (the caller fences).
    Saves the read-for-ownership of every destination line: a large
    gather, conversion or byteswap then moves 2/3 of the bytes."""
    cdef double tmp[1024]              # STAGE_BYTES bytes, 8-aligned
    cdef Py_ssize_t per = STAGE_BYTES // isz, off = 0, c
    while off < n:
        c = per if n - off > per else n - off
        if kind == LINE_COPY:
            _copy_line(<char *>tmp, isz, s + off * ss, ss, c, isz)
        elif kind == LINE_BSWAP:
            _bswap_line(<char *>tmp, isz, s + off * ss, ss, c, isz, unit)
        else:
            _convert_line(<char *>tmp, isz, dside, s + off * ss, ss, sside, c)
        pybuf_stream_copy_nf(d + off * isz, <char *>tmp, <size_t>(c * isz))
        off += c


cdef struct LineTask:
    int kind
    char *d
    const char *s
    Py_ssize_t ss
    Py_ssize_t n
    Py_ssize_t isz
    Py_ssize_t unit
    Side *dside
    Side *sside
    bint stream            # through _stream_line


cdef void _line_task(void *arg) noexcept nogil:
    cdef LineTask *t = <LineTask *>arg
    if t.stream:
        _stream_line(t.kind, t.d, t.s, t.ss, t.n, t.isz, t.unit, t.dside, t.sside)
        pybuf_sfence()                     # each thread fences its own stores
    elif t.kind == LINE_COPY:
        _copy_line(t.d, t.isz, t.s, t.ss, t.n, t.isz)
    elif t.kind == LINE_BSWAP:
        _bswap_line(t.d, t.isz, t.s, t.ss, t.n, t.isz, t.unit)
    else:
        _convert_line(t.d, t.isz, t.dside, t.s, t.ss, t.sside, t.n)


cdef bint _split_line(int kind, Loop *L, Py_ssize_t isz, Py_ssize_t unit,
                      Side *dside, Side *sside, bint stream) noexcept nogil:
    """Do a loop that is one long line with a contiguous destination in
    parts on two threads (with streaming stores when ``stream``); False,
    doing nothing, for other loops and lines below _parallel_bytes."""
    cdef LineTask t[PYBUF_PARTS]
    cdef Py_ssize_t n = L.shape[0], lo
    cdef int i
    if L.ndim != 1 or L.s0[0] != isz or n * isz < _parallel_bytes:
        return False
    for i in range(PYBUF_PARTS):
        lo = _part(n, i)
        t[i].kind = kind; t[i].isz = isz; t[i].unit = unit; t[i].stream = stream
        t[i].dside = dside; t[i].sside = sside; t[i].ss = L.s1[0]
        t[i].d = L.p0 + lo * isz; t[i].s = L.p1 + lo * L.s1[0]
        t[i].n = _part(n, i + 1) - lo
    pybuf_run_parts(_line_task, t, sizeof(LineTask), PYBUF_PARTS,
                    n * isz >= _stream_bytes)
    return True


cdef void _stream_lines_loop(int kind, Loop *L, Py_ssize_t isz, Py_ssize_t unit,
                             Side *dside, Side *sside) noexcept nogil:
    """Every line of a loop whose destination lines are contiguous, through
    _stream_line; one long line is split between two threads."""
    cdef Py_ssize_t idx[MAX_NDIM]
    cdef int last = L.ndim - 1
    cdef Py_ssize_t n = L.shape[last]
    memset(idx, 0, sizeof(idx))
    if _split_line(kind, L, isz, unit, dside, sside, True):
        return
    while True:
        _stream_line(kind, L.p0, L.p1, L.s1[last], n, isz, unit, dside, sside)
        if not _advance(L, last, idx):
            break
    pybuf_sfence()


cdef void _move_typed(word_t *d, Py_ssize_t ds, const word_t *s, Py_ssize_t ss,
                      Py_ssize_t n) noexcept nogil:
    # memcpy of a constant size is one (possibly unaligned) load or store.
    cdef Py_ssize_t i
    cdef word_t x
    cdef char *dp = <char *>d
    cdef const char *sp = <const char *>s
    for i in range(n):
        memcpy(&x, sp + i * ss, sizeof(word_t))
        memcpy(dp + i * ds, &x, sizeof(word_t))


cdef void _copy_line(char *d, Py_ssize_t ds, const char *s, Py_ssize_t ss,
                     Py_ssize_t n, Py_ssize_t isz) noexcept nogil:
    """Copy n items of isz bytes from a strided line to another."""
    cdef Py_ssize_t i
    if ds == isz and ss == isz:
        _copy_bytes(d, s, n * isz)
    elif ds == isz and ss == 2 * isz and (isz == 8 or isz == 4) and \
            (<uintptr_t>d | <uintptr_t>s) % isz == 0:
        if isz == 8:
            pybuf_simd.take2_u64(<uint64_t *>d, <const uint64_t *>s, n)
        else:
            pybuf_simd.take2_u32(<uint32_t *>d, <const uint32_t *>s, n)
    elif isz == 8:
        _move_typed(<uint64_t *>d, ds, <const uint64_t *>s, ss, n)
    elif isz == 4:
        _move_typed(<uint32_t *>d, ds, <const uint32_t *>s, ss, n)
    elif isz == 2:
        _move_typed(<uint16_t *>d, ds, <const uint16_t *>s, ss, n)
    elif isz == 1:
        _move_typed(<uint8_t *>d, ds, <const uint8_t *>s, ss, n)
    elif isz == 16:
        _move_typed(<uint64_t *>d, ds, <const uint64_t *>s, ss, n)
        _move_typed(<uint64_t *>(d + 8), ds, <const uint64_t *>(s + 8), ss, n)
    else:
        for i in range(n):
            memcpy(d + i * ds, s + i * ss, <size_t>isz)


cdef void _transpose_typed(word_t *d, Py_ssize_t da, Py_ssize_t db,
                           const word_t *s, Py_ssize_t sa, Py_ssize_t sb,
                           Py_ssize_t na, Py_ssize_t nb, bint stream) noexcept nogil:
    """Tiled copy of an na x nb block: axis b is the destination's
    contiguous axis, axis a the source's.

    Each T x T tile is read along the source's rows into a small
    contiguous block (transposing it there, in L1), then written along the
    destination's rows -- with non-temporal stores when ``stream``.  The
    block matters: rows of a power-of-two stride all fall into the same
    cache sets, so a tile copied directly between two such arrays evicts
    its own lines (32 x 32 float64 direct: 2.3x numpy; through the block
    several times faster).
    """
    cdef word_t buf[4096]                  # T * T words (at most 32 KiB)
    cdef Py_ssize_t T = 32 if sizeof(word_t) == 8 else 64
    cdef Py_ssize_t a0, b0, a1, b1, a, b, w, k
    cdef char *dp
    cdef const char *sp
    # Tiles run along the source's rows (a0 inner), so that each of the T
    # source rows is read as one sequential stream; the next tile's lines
    # are prefetched while this one is copied.
    b0 = 0
    while b0 < nb:
        b1 = b0 + T if b0 + T < nb else nb
        w = b1 - b0
        a0 = 0
        while a0 < na:
            a1 = a0 + T if a0 + T < na else na
            for b in range(b0, b1):
                sp = <const char *>s + b * sb
                if a1 < na and sa == sizeof(word_t):
                    for k in range(0, T * sizeof(word_t), 64):
                        pybuf_prefetch(sp + a1 * sa + k)
                for a in range(a0, a1):
                    memcpy(&buf[(a - a0) * T + (b - b0)], sp + a * sa, sizeof(word_t))
            for a in range(a0, a1):
                dp = <char *>d + a * da + b0 * db
                if db == sizeof(word_t):
                    if stream:
                        pybuf_stream_copy_nf(dp, <char *>&buf[(a - a0) * T],
                                             <size_t>w * sizeof(word_t))
                    else:
                        memcpy(dp, &buf[(a - a0) * T], <size_t>w * sizeof(word_t))
                else:
                    for b in range(w):
                        memcpy(dp + b * db, &buf[(a - a0) * T + b], sizeof(word_t))
            a0 = a1
        b0 = b1


cdef bint _transpose_block(char *d, Py_ssize_t da, Py_ssize_t db,
                           const char *s, Py_ssize_t sa, Py_ssize_t sb,
                           Py_ssize_t na, Py_ssize_t nb,
                           Py_ssize_t isz, bint stream) noexcept nogil:
    if isz == 8:
        _transpose_typed(<uint64_t *>d, da, db, <const uint64_t *>s, sa, sb, na, nb, stream)
    elif isz == 4:
        _transpose_typed(<uint32_t *>d, da, db, <const uint32_t *>s, sa, sb, na, nb, stream)
    elif isz == 2:
        _transpose_typed(<uint16_t *>d, da, db, <const uint16_t *>s, sa, sb, na, nb, stream)
    elif isz == 1:
        _transpose_typed(<uint8_t *>d, da, db, <const uint8_t *>s, sa, sb, na, nb, stream)
    else:
        return False
    return True


cdef void _copy_loop(Loop *L, Py_ssize_t isz) noexcept nogil:
    """Copy operand 1 into operand 0 (normalised, no overlap)."""
    cdef Py_ssize_t idx[MAX_NDIM]
    cdef int nd = L.ndim, last = nd - 1, k, j
    cdef Py_ssize_t n, t0, t1
    cdef bint stream
    if nd == 0:
        return
    if nd == 1 and L.s0[0] == isz and L.s1[0] == isz \
            and L.shape[0] * isz >= _parallel_bytes:
        _split_contig(_copy_task, L.p0, L.p1, L.shape[0], isz, NULL)
        return
    memset(idx, 0, sizeof(idx))
    # Transposing copy: the source's smallest stride is on another axis
    # than the destination's.  Bring that axis next to the innermost one
    # and copy the pair in tiles.
    if nd >= 2 and L.shape[last] >= 8:
        k = last
        for j in range(last):
            if _abs(L.s1[j]) < _abs(L.s1[k]):
                k = j
        if k != last and L.shape[k] >= 8 and _abs(L.s1[last]) > TILE_BYTES \
                and (isz == 1 or isz == 2 or isz == 4 or isz == 8):
            n = L.shape[k]; t0 = L.s0[k]; t1 = L.s1[k]
            for j in range(k, last - 1):
                L.shape[j] = L.shape[j + 1]
                L.s0[j] = L.s0[j + 1]
                L.s1[j] = L.s1[j + 1]
            L.shape[last - 1] = n; L.s0[last - 1] = t0; L.s1[last - 1] = t1
            stream = _loop_items(L) * isz >= _stream_bytes
            while True:
                _transpose_block(L.p0, L.s0[last - 1], L.s0[last],
                                 L.p1, L.s1[last - 1], L.s1[last],
                                 L.shape[last - 1], L.shape[last], isz, stream)
                if not _advance(L, last - 1, idx):
                    break
            if stream:
                pybuf_sfence()
            return
    if _loop_items(L) * isz >= _stream_bytes and L.s0[last] == isz \
            and L.s1[last] != isz and isz <= STAGE_BYTES:
        _stream_lines_loop(LINE_COPY, L, isz, isz, NULL, NULL)
        return
    if isz <= STAGE_BYTES and _split_line(LINE_COPY, L, isz, isz, NULL, NULL, False):
        return
    while True:
        _copy_line(L.p0, L.s0[last], L.p1, L.s1[last], L.shape[last], isz)
        if not _advance(L, last, idx):
            return


cdef void _fill_contig(char *d, Py_ssize_t nbytes, const char *item,
                       Py_ssize_t isz, Py_ssize_t whole) noexcept nogil:
    """Fill nbytes, part of a fill of ``whole`` bytes (which decides on
    streaming stores)."""
    cdef Py_ssize_t i, done
    cdef bint same = True
    for i in range(1, isz):
        same = same and item[i] == item[0]
    if whole >= _stream_bytes and 16 % isz == 0:
        pybuf_stream_fill(d, <size_t>nbytes, item, <size_t>isz)
    elif same:
        memset(d, item[0], <size_t>nbytes)
    elif isz == 8 or isz == 4 or isz == 2:
        pybuf_simd.fill(d, <size_t>nbytes, item, <size_t>isz)
    else:
        # Doubling: each memcpy copies everything written so far.
        memcpy(d, item, <size_t>isz)
        done = isz
        while done < nbytes:
            i = done if done < nbytes - done else nbytes - done
            memcpy(d + done, d, <size_t>i)
            done += i


cdef void _fill_task(void *arg) noexcept nogil:
    cdef CopyTask *t = <CopyTask *>arg
    _fill_contig(t.d, t.n * t.isz, t.item, t.isz, t.whole)


cdef void _fill_loop(Loop *L, const char *item, Py_ssize_t isz) noexcept nogil:
    cdef Py_ssize_t idx[MAX_NDIM]
    cdef int last = L.ndim - 1
    cdef Py_ssize_t i, n, s
    if L.ndim == 0:
        return
    memset(idx, 0, sizeof(idx))
    n = L.shape[last]
    s = L.s0[last]
    if L.ndim == 1 and s == isz and _parallel_bytes <= n * isz < _stream_bytes:
        # (streaming stores from one core already saturate the writes)
        _split_contig(_fill_task, L.p0, NULL, n, isz, item)
        return
    while True:
        if s == isz:
            _fill_contig(L.p0, n * isz, item, isz, n * isz)
        else:
            for i in range(n):
                memcpy(L.p0 + i * s, item, <size_t>isz)
        if not _advance(L, last, idx):
            return


cdef inline word_t _bswap(word_t x) noexcept nogil:
    if word_t is uint16_t:
        return pybuf_bswap16(x)
    elif word_t is uint32_t:
        return pybuf_bswap32(x)
    elif word_t is uint64_t:
        return pybuf_bswap64(x)
    else:
        return x


cdef void _bswap_typed(word_t *d, Py_ssize_t ds, const word_t *s,
                       Py_ssize_t ss, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef word_t x
    cdef char *dp = <char *>d
    cdef const char *sp = <const char *>s
    if ds == sizeof(word_t) and ss == sizeof(word_t) and \
            (<uintptr_t>d | <uintptr_t>s) % sizeof(word_t) == 0:
        if word_t is uint64_t:
            pybuf_simd.bswap64(d, s, n)
        elif word_t is uint32_t:
            pybuf_simd.bswap32(d, s, n)
        elif word_t is uint16_t:
            pybuf_simd.bswap16(d, s, n)
    elif ds == sizeof(word_t) and ss == sizeof(word_t):
        for i in range(n):
            memcpy(&x, sp + i * sizeof(word_t), sizeof(word_t))
            x = _bswap(x)
            memcpy(dp + i * sizeof(word_t), &x, sizeof(word_t))
    else:
        for i in range(n):
            memcpy(&x, sp + i * ss, sizeof(word_t))
            x = _bswap(x)
            memcpy(dp + i * ds, &x, sizeof(word_t))


cdef void _bswap_line(char *d, Py_ssize_t ds, const char *s, Py_ssize_t ss,
                      Py_ssize_t n, Py_ssize_t isz, Py_ssize_t unit) noexcept nogil:
    """Reverse each ``unit``-byte word of n items of ``isz`` bytes.  d may
    equal s (in place)."""
    cdef Py_ssize_t i, w, j, off
    cdef unsigned char tmp[64]
    cdef unsigned char *big
    if unit == isz and isz in (2, 4, 8):
        if isz == 8:
            _bswap_typed(<uint64_t *>d, ds, <const uint64_t *>s, ss, n)
        elif isz == 4:
            _bswap_typed(<uint32_t *>d, ds, <const uint32_t *>s, ss, n)
        else:
            _bswap_typed(<uint16_t *>d, ds, <const uint16_t *>s, ss, n)
        return
    if unit * 2 == isz and unit in (2, 4, 8):
        # e.g. complex: each half separately
        _bswap_line(d, ds, s, ss, n, unit, unit)
        _bswap_line(d + unit, ds, s + unit, ss, n, unit, unit)
        return
    if unit <= 1:
        if d != s:
            _copy_line(d, ds, s, ss, n, isz)
        return
    for i in range(n):
        for off in range(0, isz // unit):
            off *= unit
            if unit <= 64:
                for j in range(unit):
                    tmp[j] = (<const unsigned char *>s)[i * ss + off + unit - 1 - j]
                memcpy(d + i * ds + off, tmp, <size_t>unit)
            else:
                big = <unsigned char *>(d + i * ds + off)
                if d != s:
                    memcpy(big, s + i * ss + off, <size_t>unit)
                for j in range(unit // 2):
                    w = big[j]
                    big[j] = big[unit - 1 - j]
                    big[unit - 1 - j] = <unsigned char>w


cdef void _bswap_loop(Loop *L, Py_ssize_t isz, Py_ssize_t unit) noexcept nogil:
    cdef Py_ssize_t idx[MAX_NDIM]
    cdef int last = L.ndim - 1
    if L.ndim == 0:
        return
    memset(idx, 0, sizeof(idx))
    if _loop_items(L) * isz >= _stream_bytes and L.s0[last] == isz \
            and L.p0 != L.p1 and isz <= STAGE_BYTES:
        _stream_lines_loop(LINE_BSWAP, L, isz, unit, NULL, NULL)
        return
    while True:
        _bswap_line(L.p0, L.s0[last], L.p1, L.s1[last], L.shape[last], isz, unit)
        if not _advance(L, last, idx):
            return


# --------------------------------------------------------------------------
# Typed line kernels (fused over the real item types)

cdef void _cast_typed(const src_t *s, Py_ssize_t ss, real_t *d, Py_ssize_t ds,
                      Py_ssize_t n) noexcept nogil:
    """d[i] = (real_t) s[i]: C's conversion, which is numpy's unsafe cast
    for values in range (and ``!= 0`` for bool)."""
    cdef Py_ssize_t i
    cdef const char *sp = <const char *>s
    cdef char *dp = <char *>d
    if src_t is bool_t:
        # Any nonzero byte is True (as numpy reads bools); a _Bool load of
        # a byte other than 0 or 1 would be undefined.
        for i in range(n):
            (<real_t *>(dp + i * ds))[0] = <real_t>((<const uint8_t *>(sp + i * ss))[0] != 0)
    elif ss == sizeof(src_t) and ds == sizeof(real_t):
        if src_t is float64_t and real_t is float32_t:
            pybuf_simd.cvt_f64_f32(d, s, n)
        elif src_t is float32_t and real_t is float64_t:
            pybuf_simd.cvt_f32_f64(d, s, n)
        else:
            for i in range(n):
                d[i] = <real_t>s[i]
    else:
        for i in range(n):
            (<real_t *>(dp + i * ds))[0] = <real_t>(<const src_t *>(sp + i * ss))[0]


cdef void _cast_from(const src_t *s, Py_ssize_t ss, int dt, char *d,
                     Py_ssize_t ds, Py_ssize_t n) noexcept nogil:
    if dt == TYPE_FLOAT64:
        _cast_typed(s, ss, <float64_t *>d, ds, n)
    elif dt == TYPE_FLOAT32:
        _cast_typed(s, ss, <float32_t *>d, ds, n)
    elif dt == TYPE_INT64:
        _cast_typed(s, ss, <int64_t *>d, ds, n)
    elif dt == TYPE_UINT64:
        _cast_typed(s, ss, <uint64_t *>d, ds, n)
    elif dt == TYPE_INT32:
        _cast_typed(s, ss, <int32_t *>d, ds, n)
    elif dt == TYPE_UINT32:
        _cast_typed(s, ss, <uint32_t *>d, ds, n)
    elif dt == TYPE_INT16:
        _cast_typed(s, ss, <int16_t *>d, ds, n)
    elif dt == TYPE_UINT16:
        _cast_typed(s, ss, <uint16_t *>d, ds, n)
    elif dt == TYPE_INT8:
        _cast_typed(s, ss, <int8_t *>d, ds, n)
    elif dt == TYPE_UINT8:
        _cast_typed(s, ss, <uint8_t *>d, ds, n)
    elif dt == TYPE_BOOL:
        _cast_typed(s, ss, <bool_t *>d, ds, n)


cdef void _cast_line(int st, const char *s, Py_ssize_t ss, int dt, char *d,
                     Py_ssize_t ds, Py_ssize_t n) noexcept nogil:
    """Convert a line of n real items (native, aligned)."""
    if st == TYPE_FLOAT64:
        _cast_from(<const float64_t *>s, ss, dt, d, ds, n)
    elif st == TYPE_FLOAT32:
        _cast_from(<const float32_t *>s, ss, dt, d, ds, n)
    elif st == TYPE_INT64:
        _cast_from(<const int64_t *>s, ss, dt, d, ds, n)
    elif st == TYPE_UINT64:
        _cast_from(<const uint64_t *>s, ss, dt, d, ds, n)
    elif st == TYPE_INT32:
        _cast_from(<const int32_t *>s, ss, dt, d, ds, n)
    elif st == TYPE_UINT32:
        _cast_from(<const uint32_t *>s, ss, dt, d, ds, n)
    elif st == TYPE_INT16:
        _cast_from(<const int16_t *>s, ss, dt, d, ds, n)
    elif st == TYPE_UINT16:
        _cast_from(<const uint16_t *>s, ss, dt, d, ds, n)
    elif st == TYPE_INT8:
        _cast_from(<const int8_t *>s, ss, dt, d, ds, n)
    elif st == TYPE_UINT8:
        _cast_from(<const uint8_t *>s, ss, dt, d, ds, n)
    elif st == TYPE_BOOL:
        _cast_from(<const bool_t *>s, ss, dt, d, ds, n)


cdef void _sum_typed(const real_t *p, Py_ssize_t s, Py_ssize_t n,
                     Reduction *acc) noexcept nogil:
    """acc += sum(p[i]); floats in float64 with eight partial sums (they
    break the dependency chain of one accumulator and let the compiler use
    both SIMD lanes), integers in 64 bits (signed, or unsigned for unsigned
    types), as numpy does."""
    cdef Py_ssize_t i = 0
    cdef const char *c = <const char *>p
    cdef double f0 = 0, f1 = 0, f2 = 0, f3 = 0, f4 = 0, f5 = 0, f6 = 0, f7 = 0
    cdef uint64_t u0 = 0
    if real_t is float64_t:
        if s == sizeof(real_t):
            acc.f += pybuf_simd.sum_f64(p, n, n * 8 >= _stream_bytes)
            acc.count += n
            return
    if real_t is float32_t:
        if s == sizeof(real_t):
            acc.f += pybuf_simd.sum_f32(p, n, n * 4 >= _stream_bytes)
            acc.count += n
            return
    if real_t is float32_t or real_t is float64_t:
        if s == sizeof(real_t):
            while i + 8 <= n:
                f0 += p[i]; f1 += p[i + 1]; f2 += p[i + 2]; f3 += p[i + 3]
                f4 += p[i + 4]; f5 += p[i + 5]; f6 += p[i + 6]; f7 += p[i + 7]
                i += 8
        else:
            while i + 4 <= n:
                f0 += (<const real_t *>(c + i * s))[0]
                f1 += (<const real_t *>(c + (i + 1) * s))[0]
                f2 += (<const real_t *>(c + (i + 2) * s))[0]
                f3 += (<const real_t *>(c + (i + 3) * s))[0]
                i += 4
        while i < n:
            f0 += (<const real_t *>(c + i * s))[0]
            i += 1
        acc.f += ((f0 + f1) + (f2 + f3)) + ((f4 + f5) + (f6 + f7))
    elif real_t is uint8_t or real_t is uint16_t or real_t is uint32_t \
            or real_t is uint64_t:
        if s == sizeof(real_t):
            for i in range(n):
                u0 += p[i]
        else:
            for i in range(n):
                u0 += (<const real_t *>(c + i * s))[0]
        acc.u += u0
    else:
        # signed: added as uint64 (two's complement wraps as numpy's int64
        # sum does; signed overflow would be undefined behaviour)
        if s == sizeof(real_t):
            for i in range(n):
                u0 += <uint64_t><int64_t>p[i]
        else:
            for i in range(n):
                u0 += <uint64_t><int64_t>(<const real_t *>(c + i * s))[0]
        acc.i = <int64_t>(<uint64_t>acc.i + u0)
    acc.count += n


cdef void _minmax_typed(const real_t *p, Py_ssize_t s, Py_ssize_t n,
                        bint want_max, Reduction *acc) noexcept nogil:
    """Fold min (or max) of n items into acc.  NaNs are counted apart (the
    comparisons skip them), so the selection loops stay branch-free and
    vectorisable; four running values break the dependency chain."""
    cdef Py_ssize_t i = 4
    cdef const char *c = <const char *>p
    cdef real_t m0, m1, m2, m3, x0, x1, x2, x3
    cdef bint nan = False
    cdef int cnan = 0
    cdef bint nta
    if n <= 0:
        return
    if real_t is float64_t and s == sizeof(real_t):
        nta = n * 8 >= _stream_bytes
        m0 = (pybuf_simd.max_f64(p, n, &cnan, nta) if want_max
              else pybuf_simd.min_f64(p, n, &cnan, nta))
        nan = cnan
    elif real_t is float32_t and s == sizeof(real_t):
        nta = n * 4 >= _stream_bytes
        m0 = (pybuf_simd.max_f32(p, n, &cnan, nta) if want_max
              else pybuf_simd.min_f32(p, n, &cnan, nta))
        nan = cnan
    elif s != sizeof(real_t) or n < 8:
        m0 = p[0]
        if real_t is float32_t or real_t is float64_t:
            nan = m0 != m0
        for i in range(1, n):
            x0 = (<const real_t *>(c + i * s))[0]
            if real_t is float32_t or real_t is float64_t:
                nan = nan | (x0 != x0)
            if want_max:
                m0 = x0 if x0 > m0 else m0
            else:
                m0 = x0 if x0 < m0 else m0
    else:
        m0 = p[0]; m1 = p[1]; m2 = p[2]; m3 = p[3]
        if real_t is float32_t or real_t is float64_t:
            # NaN seeds would stick: x < NaN is always false.
            nan = (m0 != m0) | (m1 != m1) | (m2 != m2) | (m3 != m3)
            if nan:
                m0 = m1 = m2 = m3 = 0
        if want_max:
            while i + 4 <= n:
                x0 = p[i]; x1 = p[i + 1]; x2 = p[i + 2]; x3 = p[i + 3]
                if real_t is float32_t or real_t is float64_t:
                    nan = nan | (x0 != x0) | (x1 != x1) | (x2 != x2) | (x3 != x3)
                m0 = x0 if x0 > m0 else m0
                m1 = x1 if x1 > m1 else m1
                m2 = x2 if x2 > m2 else m2
                m3 = x3 if x3 > m3 else m3
                i += 4
            while i < n:
                x0 = p[i]
                if real_t is float32_t or real_t is float64_t:
                    nan = nan | (x0 != x0)
                m0 = x0 if x0 > m0 else m0
                i += 1
            m0 = m1 if m1 > m0 else m0
            m2 = m3 if m3 > m2 else m2
            m0 = m2 if m2 > m0 else m0
        else:
            while i + 4 <= n:
                x0 = p[i]; x1 = p[i + 1]; x2 = p[i + 2]; x3 = p[i + 3]
                if real_t is float32_t or real_t is float64_t:
                    nan = nan | (x0 != x0) | (x1 != x1) | (x2 != x2) | (x3 != x3)
                m0 = x0 if x0 < m0 else m0
                m1 = x1 if x1 < m1 else m1
                m2 = x2 if x2 < m2 else m2
                m3 = x3 if x3 < m3 else m3
                i += 4
            while i < n:
                x0 = p[i]
                if real_t is float32_t or real_t is float64_t:
                    nan = nan | (x0 != x0)
                m0 = x0 if x0 < m0 else m0
                i += 1
            m0 = m1 if m1 < m0 else m0
            m2 = m3 if m3 < m2 else m2
            m0 = m2 if m2 < m0 else m0
    if real_t is float32_t or real_t is float64_t:
        if nan:
            acc.nan = True
        elif acc.count == 0 or (want_max and m0 > acc.f) or \
                (not want_max and m0 < acc.f):
            acc.f = m0
    elif real_t is uint8_t or real_t is uint16_t or real_t is uint32_t \
            or real_t is uint64_t or real_t is bool_t:
        if acc.count == 0 or (want_max and <uint64_t>m0 > acc.u) or \
                (not want_max and <uint64_t>m0 < acc.u):
            acc.u = m0
    else:
        if acc.count == 0 or (want_max and <int64_t>m0 > acc.i) or \
                (not want_max and <int64_t>m0 < acc.i):
            acc.i = m0
    acc.count += n


cdef void _reduce_typed(const real_t *p, Py_ssize_t s, Py_ssize_t n, int op,
                        Reduction *acc) noexcept nogil:
    if op == REDUCE_SUM:
        _sum_typed(p, s, n, acc)
    else:
        _minmax_typed(p, s, n, op == REDUCE_MAX, acc)


cdef void _reduce_line(int t, const char *p, Py_ssize_t s, Py_ssize_t n,
                       int op, Reduction *acc) noexcept nogil:
    if t == TYPE_FLOAT64:
        _reduce_typed(<const float64_t *>p, s, n, op, acc)
    elif t == TYPE_FLOAT32:
        _reduce_typed(<const float32_t *>p, s, n, op, acc)
    elif t == TYPE_INT64:
        _reduce_typed(<const int64_t *>p, s, n, op, acc)
    elif t == TYPE_UINT64:
        _reduce_typed(<const uint64_t *>p, s, n, op, acc)
    elif t == TYPE_INT32:
        _reduce_typed(<const int32_t *>p, s, n, op, acc)
    elif t == TYPE_UINT32:
        _reduce_typed(<const uint32_t *>p, s, n, op, acc)
    elif t == TYPE_INT16:
        _reduce_typed(<const int16_t *>p, s, n, op, acc)
    elif t == TYPE_UINT16:
        _reduce_typed(<const uint16_t *>p, s, n, op, acc)
    elif t == TYPE_INT8:
        _reduce_typed(<const int8_t *>p, s, n, op, acc)
    elif t == TYPE_UINT8:
        _reduce_typed(<const uint8_t *>p, s, n, op, acc)
    elif t == TYPE_BOOL:
        _reduce_bool(<const uint8_t *>p, s, n, op, acc)


cdef void _reduce_bool(const uint8_t *p, Py_ssize_t s, Py_ssize_t n, int op,
                       Reduction *acc) noexcept nogil:
    """Bools as numpy reads them: any nonzero byte is True.  Sums count
    in int64; min is all(), max is any()."""
    cdef Py_ssize_t i, count = 0
    cdef uint64_t v
    for i in range(n):
        count += p[i * s] != 0
    if op == REDUCE_SUM:
        acc.i += count
    else:
        v = (count == n) if op == REDUCE_MIN else (count > 0)
        if acc.count == 0 or (op == REDUCE_MIN and v < acc.u) or \
                (op == REDUCE_MAX and v > acc.u):
            acc.u = v
    acc.count += n


cdef bint _equal_typed(const real_t *a, Py_ssize_t sa, const real_t *b,
                       Py_ssize_t sb, Py_ssize_t n) noexcept nogil:
    """all(a[i] == b[i]) with C's ==: NaN never equals, -0.0 == 0.0."""
    cdef Py_ssize_t i
    cdef const char *ap = <const char *>a
    cdef const char *bp = <const char *>b
    cdef bint ok = True
    cdef Py_ssize_t start, stop
    if sa == sizeof(real_t) and sb == sizeof(real_t):
        if not (real_t is float32_t or real_t is float64_t or real_t is bool_t):
            return memcmp(a, b, <size_t>n * sizeof(real_t)) == 0
        if real_t is float64_t:
            return pybuf_simd.equal_f64(a, b, n)
        if real_t is float32_t:
            return pybuf_simd.equal_f32(a, b, n)
        # Blocks of 256 without an early exit inside vectorise.
        start = 0
        while start < n:
            stop = start + 256 if start + 256 < n else n
            for i in range(start, stop):
                ok = ok & (a[i] == b[i])
            if not ok:
                return False
            start = stop
        return True
    for i in range(n):
        if (<const real_t *>(ap + i * sa))[0] != (<const real_t *>(bp + i * sb))[0]:
            return False
    return True


cdef bint _equal_line(int t, const char *a, Py_ssize_t sa, const char *b,
                      Py_ssize_t sb, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    if t == TYPE_FLOAT64:
        return _equal_typed(<const float64_t *>a, sa, <const float64_t *>b, sb, n)
    elif t == TYPE_FLOAT32:
        return _equal_typed(<const float32_t *>a, sa, <const float32_t *>b, sb, n)
    elif t == TYPE_INT64 or t == TYPE_UINT64:
        return _equal_typed(<const uint64_t *>a, sa, <const uint64_t *>b, sb, n)
    elif t == TYPE_INT32 or t == TYPE_UINT32:
        return _equal_typed(<const uint32_t *>a, sa, <const uint32_t *>b, sb, n)
    elif t == TYPE_INT16 or t == TYPE_UINT16:
        return _equal_typed(<const uint16_t *>a, sa, <const uint16_t *>b, sb, n)
    elif t == TYPE_BOOL:
        for i in range(n):
            if ((<const uint8_t *>a)[i * sa] != 0) != ((<const uint8_t *>b)[i * sb] != 0):
                return False
        return True
    else:
        return _equal_typed(<const uint8_t *>a, sa, <const uint8_t *>b, sb, n)


cdef void _dot_typed(const real_t *a, Py_ssize_t sa, const real_t *b,
                     Py_ssize_t sb, Py_ssize_t n, Reduction *acc) noexcept nogil:
    """acc += sum(a[i] * b[i]), accumulated like _sum_typed."""
    cdef Py_ssize_t i = 0
    cdef const char *ap = <const char *>a
    cdef const char *bp = <const char *>b
    cdef double f0 = 0, f1 = 0, f2 = 0, f3 = 0, f4 = 0, f5 = 0, f6 = 0, f7 = 0
    cdef uint64_t u0 = 0
    if real_t is float64_t:
        if sa == sizeof(real_t) and sb == sizeof(real_t):
            acc.f += pybuf_simd.dot_f64(a, b, n, n * 8 >= _stream_bytes)
            acc.count += n
            return
    if real_t is float32_t:
        if sa == sizeof(real_t) and sb == sizeof(real_t):
            acc.f += pybuf_simd.dot_f32(a, b, n, n * 4 >= _stream_bytes)
            acc.count += n
            return
    if real_t is float32_t or real_t is float64_t:
        if sa == sizeof(real_t) and sb == sizeof(real_t):
            while i + 8 <= n:
                f0 += <double>a[i] * b[i]
                f1 += <double>a[i + 1] * b[i + 1]
                f2 += <double>a[i + 2] * b[i + 2]
                f3 += <double>a[i + 3] * b[i + 3]
                f4 += <double>a[i + 4] * b[i + 4]
                f5 += <double>a[i + 5] * b[i + 5]
                f6 += <double>a[i + 6] * b[i + 6]
                f7 += <double>a[i + 7] * b[i + 7]
                i += 8
        while i < n:
            f0 += <double>(<const real_t *>(ap + i * sa))[0] * \
                (<const real_t *>(bp + i * sb))[0]
            i += 1
        acc.f += ((f0 + f1) + (f2 + f3)) + ((f4 + f5) + (f6 + f7))
    elif real_t is uint8_t or real_t is uint16_t or real_t is uint32_t \
            or real_t is uint64_t or real_t is bool_t:
        for i in range(n):
            u0 += <uint64_t>(<const real_t *>(ap + i * sa))[0] * \
                <uint64_t>(<const real_t *>(bp + i * sb))[0]
        acc.u += u0
    else:
        # signed: multiplied and added as uint64 (wraps, no UB), as _sum_typed
        for i in range(n):
            u0 += <uint64_t><int64_t>(<const real_t *>(ap + i * sa))[0] * \
                <uint64_t><int64_t>(<const real_t *>(bp + i * sb))[0]
        acc.i = <int64_t>(<uint64_t>acc.i + u0)
    acc.count += n


cdef void _dot_line(int t, const char *a, Py_ssize_t sa, const char *b,
                    Py_ssize_t sb, Py_ssize_t n, Reduction *acc) noexcept nogil:
    cdef Py_ssize_t i
    if t == TYPE_FLOAT64:
        _dot_typed(<const float64_t *>a, sa, <const float64_t *>b, sb, n, acc)
    elif t == TYPE_FLOAT32:
        _dot_typed(<const float32_t *>a, sa, <const float32_t *>b, sb, n, acc)
    elif t == TYPE_INT64:
        _dot_typed(<const int64_t *>a, sa, <const int64_t *>b, sb, n, acc)
    elif t == TYPE_UINT64:
        _dot_typed(<const uint64_t *>a, sa, <const uint64_t *>b, sb, n, acc)
    elif t == TYPE_INT32:
        _dot_typed(<const int32_t *>a, sa, <const int32_t *>b, sb, n, acc)
    elif t == TYPE_UINT32:
        _dot_typed(<const uint32_t *>a, sa, <const uint32_t *>b, sb, n, acc)
    elif t == TYPE_INT16:
        _dot_typed(<const int16_t *>a, sa, <const int16_t *>b, sb, n, acc)
    elif t == TYPE_UINT16:
        _dot_typed(<const uint16_t *>a, sa, <const uint16_t *>b, sb, n, acc)
    elif t == TYPE_INT8:
        _dot_typed(<const int8_t *>a, sa, <const int8_t *>b, sb, n, acc)
    elif t == TYPE_UINT8:
        _dot_typed(<const uint8_t *>a, sa, <const uint8_t *>b, sb, n, acc)
    elif t == TYPE_BOOL:
        for i in range(n):
            acc.u += ((<const uint8_t *>a)[i * sa] != 0) & ((<const uint8_t *>b)[i * sb] != 0)
        acc.count += n


# --------------------------------------------------------------------------
# Staging: byte-swapped, unaligned or mixed-type operands

cdef const char *_stage_in(const char *s, Py_ssize_t ss, Side *side,
                           Py_ssize_t n, int want, char *tmp, char *tmp2,
                           Py_ssize_t *stride) noexcept nogil:
    """n items of a line as native items of type ``want``: the line itself
    when it already is, else converted into ``tmp`` (contiguous).  ``tmp2``
    is scratch.  Both hold CHUNK items of 8 bytes."""
    cdef Py_ssize_t i
    cdef Py_ssize_t wsize = _type_size(want)
    if side.storage:
        # widen to the compute type (float32 / float64) in tmp2
        if side.storage == TYPE_FLOAT16:
            pybuf_half_to_float_line(s, ss, side.swapped, <float *>tmp2, n)
        else:
            pybuf_ld_to_double_line(s, ss, <double *>tmp2, n)
        if side.type == want:
            stride[0] = _type_size(want)
            return tmp2
        _cast_line(side.type, tmp2, _type_size(side.type), want, tmp, wsize, n)
        stride[0] = wsize
        return tmp
    if side.direct:
        if side.type == want:
            stride[0] = ss
            return s
        _cast_line(side.type, s, ss, want, tmp, wsize, n)
        stride[0] = wsize
        return tmp
    if side.swapped:
        _bswap_line(tmp2, side.size, s, ss, n, side.size, side.size)
    else:
        _copy_line(tmp2, side.size, s, ss, n, side.size)
    stride[0] = wsize
    if side.type == want:
        return tmp2
    _cast_line(side.type, tmp2, side.size, want, tmp, wsize, n)
    return tmp


cdef void _narrow_line(Side *side, const double *s, char *d, Py_ssize_t ds,
                       Py_ssize_t n) noexcept nogil:
    """Store n float64 values as items of a storage-only type."""
    if side.storage == TYPE_FLOAT16:
        pybuf_double_to_half_line(s, d, ds, side.swapped, n)
    else:
        pybuf_double_to_ld_line(s, d, ds, n)


cdef void _convert_line(char *d, Py_ssize_t ds, Side *dside,
                        const char *s, Py_ssize_t ss, Side *sside,
                        Py_ssize_t n) noexcept nogil:
    """Convert a line of real items, any byte order and alignment."""
    cdef double tmp[CHUNK]
    cdef double tmp2[CHUNK]
    cdef double out[CHUNK]
    cdef Py_ssize_t off, c, stride
    cdef const char *p
    if dside.direct and sside.direct:
        _cast_line(sside.type, s, ss, dside.type, d, ds, n)
        return
    for off in range(0, n, 512):      # 512 == CHUNK (range needs a literal step)
        c = CHUNK if n - off > CHUNK else n - off
        p = _stage_in(s + off * ss, ss, sside, c, sside.type,
                      <char *>tmp, <char *>tmp2, &stride)
        if dside.storage:
            # through float64, rounded once into the storage format
            _cast_line(sside.type, p, stride, TYPE_FLOAT64, <char *>out, 8, c)
            _narrow_line(dside, <const double *>out, d + off * ds, ds, c)
        elif dside.direct:
            _cast_line(sside.type, p, stride, dside.type, d + off * ds, ds, c)
        else:
            _cast_line(sside.type, p, stride, dside.type, <char *>out,
                       dside.size, c)
            if dside.swapped:
                _bswap_line(d + off * ds, ds, <char *>out, dside.size, c,
                            dside.size, dside.size)
            else:
                _copy_line(d + off * ds, ds, <char *>out, dside.size, c,
                           dside.size)


# --------------------------------------------------------------------------
# The C API (kernels.pxd)

cdef void copy_items(int ndim, const Py_ssize_t *shape,
                     const char *src, const Py_ssize_t *src_strides,
                     const Py_ssize_t *src_suboffsets,
                     char *dst, const Py_ssize_t *dst_strides,
                     Py_ssize_t itemsize) noexcept nogil:
    """Copy the items of a strided (optionally indirect) source to a
    strided destination of the same shape.

    Preconditions: source and destination do not overlap (the caller
    stages through a temporary when they may); ``ndim >= 0``; for
    ``ndim == 0`` one item is copied.  A direct source takes the
    normalised fast path (contiguous runs, streaming stores, tiled
    transposes); an indirect one (suboffsets) is walked dimension by
    dimension.
    """
    cdef Py_ssize_t i
    cdef const char *p
    cdef Loop L
    cdef bint indirect = False
    if src_suboffsets != NULL:
        for i in range(ndim):
            indirect = indirect or src_suboffsets[i] >= 0
    if not indirect:
        _loop_init(&L, ndim, shape, dst, dst_strides, itemsize,
                   <char *>src, src_strides, itemsize, True)
        _copy_loop(&L, itemsize)
        return
    if ndim == 0:
        memcpy(dst, src, <size_t>itemsize)
        return
    for i in range(shape[0]):
        p = src + i * src_strides[0]
        if src_suboffsets[0] >= 0:
            p = (<const char **>p)[0] + src_suboffsets[0]
        if ndim == 1:
            memcpy(dst + i * dst_strides[0], p, <size_t>itemsize)
        else:
            copy_items(ndim - 1, shape + 1, p, src_strides + 1,
                       src_suboffsets + 1, dst + i * dst_strides[0],
                       dst_strides + 1, itemsize)


cdef void fill_items(int ndim, const Py_ssize_t *shape,
                     char *dst, const Py_ssize_t *dst_strides,
                     const char *item, Py_ssize_t itemsize) noexcept nogil:
    """Set every item of a strided destination to the ``itemsize`` bytes
    at ``item`` (which must not lie inside the destination).  Contiguous
    runs are filled with wide stores, streaming ones when large."""
    cdef Loop L
    _loop_init(&L, ndim, shape, dst, dst_strides, itemsize, NULL, NULL, 0, True)
    _fill_loop(&L, item, itemsize)


cdef void cast_items(int ndim, const Py_ssize_t *shape,
                     const char *src, const Py_ssize_t *src_strides,
                     int src_type,
                     char *dst, const Py_ssize_t *dst_strides,
                     int dst_type) noexcept nogil:
    """dst[idx] = (dst type) src[idx]: numpy's ``casting="unsafe"`` for
    values in range.  Preconditions: see kernels.pxd."""
    cdef Loop L
    cdef Py_ssize_t idx[MAX_NDIM]
    cdef int last
    _loop_init(&L, ndim, shape, dst, dst_strides, _type_size(dst_type),
               <char *>src, src_strides, _type_size(src_type), True)
    if L.ndim == 0:
        return
    last = L.ndim - 1
    memset(idx, 0, sizeof(idx))
    while True:
        _cast_line(src_type, L.p1, L.s1[last], dst_type, L.p0, L.s0[last],
                   L.shape[last])
        if not _advance(&L, last, idx):
            return


cdef void reduce_items(int op, int ndim, const Py_ssize_t *shape,
                       const char *data, const Py_ssize_t *strides,
                       int type, Reduction *out) noexcept nogil:
    """out <- op(out, every item): sum, min or max.  Preconditions: see
    kernels.pxd; for min/max the caller checks ``out.count`` (0: empty)
    and ``out.nan``."""
    cdef Loop L
    cdef Py_ssize_t idx[MAX_NDIM]
    cdef int last
    _loop_init(&L, ndim, shape, <char *>data, strides, _type_size(type),
               NULL, NULL, 0, True)
    if L.ndim == 0:
        return
    last = L.ndim - 1
    memset(idx, 0, sizeof(idx))
    while True:
        _reduce_line(type, L.p0, L.s0[last], L.shape[last], op, out)
        if not _advance(&L, last, idx):
            return


cdef void byteswap_items(int ndim, const Py_ssize_t *shape,
                         const char *src, const Py_ssize_t *src_strides,
                         char *dst, const Py_ssize_t *dst_strides,
                         Py_ssize_t itemsize, Py_ssize_t unit) noexcept nogil:
    """dst[idx] = src[idx] with the bytes of each ``unit``-byte word
    reversed.  dst may be src (same strides); otherwise no overlap."""
    cdef Loop L
    _loop_init(&L, ndim, shape, dst, dst_strides, itemsize,
               <char *>src, src_strides, itemsize, True)
    _bswap_loop(&L, itemsize, unit)


cdef double sum_float64(const double *p, Py_ssize_t stride,
                        Py_ssize_t n) noexcept nogil:
    """sum(p[i]) for i < n, stride in bytes."""
    cdef Reduction acc
    memset(&acc, 0, sizeof(acc))
    _sum_typed(p, stride, n, &acc)
    return acc.f


cdef double dot_float64(const double *a, Py_ssize_t sa, const double *b,
                        Py_ssize_t sb, Py_ssize_t n) noexcept nogil:
    """sum(a[i] * b[i]) for i < n, strides in bytes."""
    cdef Reduction acc
    memset(&acc, 0, sizeof(acc))
    _dot_typed(a, sa, b, sb, n, &acc)
    return acc.f


cdef void _side_of(int type, bint swapped, const char *data, int ndim,
                   const Py_ssize_t *shape, const Py_ssize_t *strides,
                   Side *side) noexcept nogil:
    """How the staged kernels read items of a TypeId at ``data``: storage-
    only types computed as float32/float64; direct when native and
    aligned (as _side does for an acquired operand)."""
    cdef int i
    cdef Py_ssize_t size = _type_size(type)
    side.size = size
    side.swapped = swapped and size > 1
    side.type = type
    side.storage = 0
    if type == TYPE_FLOAT16:
        side.type, side.storage = TYPE_FLOAT32, TYPE_FLOAT16
    elif type == TYPE_LONGDOUBLE:
        side.type, side.storage = TYPE_FLOAT64, TYPE_LONGDOUBLE
    side.direct = size > 0 and not side.swapped and not side.storage and \
        (<uintptr_t>data) % <uintptr_t>size == 0
    for i in range(ndim):
        if side.direct and shape[i] > 1 and strides[i] % size:
            side.direct = False


cdef void convert_items(int ndim, const Py_ssize_t *shape,
                        const char *src, const Py_ssize_t *src_strides,
                        int src_type, bint src_swapped,
                        char *dst, const Py_ssize_t *dst_strides,
                        int dst_type, bint dst_swapped) noexcept nogil:
    """cast_items for items of any byte order and alignment, and for the
    storage-only types float16 and long double (rounded once)."""
    cdef Loop L
    cdef Side ds, ss
    cdef Py_ssize_t idx[MAX_NDIM]
    cdef int last
    _side_of(dst_type, dst_swapped, dst, ndim, shape, dst_strides, &ds)
    _side_of(src_type, src_swapped, src, ndim, shape, src_strides, &ss)
    _loop_init(&L, ndim, shape, dst, dst_strides, ds.size, <char *>src,
               src_strides, ss.size, True)
    if L.ndim == 0:
        return
    last = L.ndim - 1
    memset(idx, 0, sizeof(idx))
    while True:
        _convert_line(L.p0, L.s0[last], &ds, L.p1, L.s1[last], &ss,
                      L.shape[last])
        if not _advance(&L, last, idx):
            break


cdef bint equal_items(int ndim, const Py_ssize_t *shape,
                      const char *a, const Py_ssize_t *a_strides,
                      int a_type, bint a_swapped,
                      const char *b, const Py_ssize_t *b_strides,
                      int b_type, bint b_swapped) noexcept nogil:
    """all(a[idx] == b[idx]) by value, as pybuf.equal compares."""
    cdef Loop L
    cdef Side sa, sb
    cdef Py_ssize_t idx[MAX_NDIM]
    cdef int last, t
    cdef bint ok = True
    _side_of(a_type, a_swapped, a, ndim, shape, a_strides, &sa)
    _side_of(b_type, b_swapped, b, ndim, shape, b_strides, &sb)
    _loop_init(&L, ndim, shape, <char *>a, a_strides, sa.size, <char *>b,
               b_strides, sb.size, True)
    if L.ndim == 0:
        return True
    last = L.ndim - 1
    memset(idx, 0, sizeof(idx))
    t = sa.type if sa.type == sb.type else _common_type(sa.type, sb.type)
    while ok:
        if sa.type == sb.type and sa.direct and sb.direct:
            ok = _equal_line(t, L.p0, L.s0[last], L.p1, L.s1[last], L.shape[last])
        else:
            ok = _equal_staged(L.p0, L.s0[last], &sa, L.p1, L.s1[last], &sb,
                               L.shape[last], t)
        if not _advance(&L, last, idx):
            break
    return ok


cdef int dot_items(Py_ssize_t n, const char *a, Py_ssize_t a_stride,
                   int a_type, bint a_swapped,
                   const char *b, Py_ssize_t b_stride,
                   int b_type, bint b_swapped, Reduction *out) noexcept nogil:
    """out += sum(a[i] * b[i]) in the type dot() uses; returns that type."""
    cdef Side sa, sb
    cdef double ta[CHUNK]
    cdef double tb[CHUNK]
    cdef double ta2[CHUNK]
    cdef double tb2[CHUNK]
    cdef Py_ssize_t off, c, stride_a, stride_b
    cdef const char *pa
    cdef const char *pb
    cdef int t
    _side_of(a_type, a_swapped, a, 1, &n, &a_stride, &sa)
    _side_of(b_type, b_swapped, b, 1, &n, &b_stride, &sb)
    t = sa.type if sa.type == sb.type else _common_type(sa.type, sb.type)
    if sa.type == sb.type and sa.direct and sb.direct:
        _dot_line(t, a, a_stride, b, b_stride, n, out)
        return t
    for off in range(0, n, 512):      # 512 == CHUNK (range needs a literal step)
        c = CHUNK if n - off > CHUNK else n - off
        pa = _stage_in(a + off * a_stride, a_stride, &sa, c, t, <char *>ta,
                       <char *>ta2, &stride_a)
        pb = _stage_in(b + off * b_stride, b_stride, &sb, c, t, <char *>tb,
                       <char *>tb2, &stride_b)
        _dot_line(t, pa, stride_a, pb, stride_b, c, out)
    return t


# --------------------------------------------------------------------------
# Python entry points

cdef struct Operand:
    # An acquired argument, as the kernels see it.
    char *data
    int ndim
    int type
    bint swapped
    bint aligned
    Py_ssize_t itemsize
    Py_ssize_t nbytes
    Py_ssize_t shape[MAX_NDIM]
    Py_ssize_t strides[MAX_NDIM]
    int storage        # as Side.storage


cdef int _acquire(object obj, Py_buffer *view, bint writable,
                  str role) except -1:
    """Get obj's buffer (strides and format, no suboffsets).  A read-only
    one raises BufferError when ``writable``."""
    PyObject_GetBuffer(obj, view, PyBUF_RECORDS_RO)
    if writable and view.readonly:
        PyBuffer_Release(view)
        raise BufferError(f"{role} is read-only: cannot write to a read-only "
                          f"{type(obj).__name__}")
    return 0


cdef bint _has_objects(const char *fmt) noexcept nogil:
    """Does a format hold ``O`` items (PyObject pointers)?  Field names,
    between colons, are skipped."""
    cdef bint in_name = False
    if fmt == NULL:
        return False
    while fmt[0]:
        if fmt[0] == b':':
            in_name = not in_name
        elif fmt[0] == b'O' and not in_name:
            return True
        fmt += 1
    return False


cdef int _operand(Py_buffer *v, Operand *op) except -1:
    cdef int i
    cdef Py_ssize_t unit, n = 1
    if v.ndim < 0 or v.ndim > MAX_NDIM or v.itemsize <= 0:
        raise BufferError(f"exporter gave ndim {v.ndim} and itemsize {v.itemsize}")
    if _has_objects(v.format):
        # A GIL-free kernel cannot own references: it would copy, compare
        # or overwrite PyObject pointers behind their owners' backs.
        raise TypeError(f"items of format {_fmt_name(v)} are PyObject "
                        f"pointers: pybuf's kernels do not take them")
    op.data = <char *>v.buf
    op.ndim = v.ndim
    op.itemsize = v.itemsize
    for i in range(v.ndim):
        op.shape[i] = v.shape[i] if v.shape != NULL else v.len // v.itemsize
    if v.strides != NULL:
        for i in range(v.ndim):
            op.strides[i] = v.strides[i]
    else:
        _c_strides(op.ndim, op.shape, op.itemsize, op.strides)
    for i in range(v.ndim):
        n *= op.shape[i]
    op.nbytes = n * v.itemsize
    op.type = format_type(v.format, v.itemsize, &op.swapped)
    op.storage = 0
    if op.type == TYPE_FLOAT16:
        op.type, op.storage = TYPE_FLOAT32, TYPE_FLOAT16
    elif op.type == TYPE_LONGDOUBLE:
        op.type, op.storage = TYPE_FLOAT64, TYPE_LONGDOUBLE
    elif op.type == TYPE_CLONGDOUBLE:
        op.type, op.storage = TYPE_COMPLEX128, TYPE_LONGDOUBLE
    unit = v.itemsize // 2 if _is_complex(op.type) else v.itemsize
    op.aligned = unit == 0 or (<uintptr_t>op.data) % <uintptr_t>unit == 0
    for i in range(v.ndim):
        if op.shape[i] > 1 and op.strides[i] % unit:
            op.aligned = False
    return 0


cdef void _c_strides(int ndim, const Py_ssize_t *shape, Py_ssize_t itemsize,
                     Py_ssize_t *out) noexcept nogil:
    cdef int i
    cdef Py_ssize_t s = itemsize
    for i in range(ndim - 1, -1, -1):
        out[i] = s
        s *= shape[i] if shape[i] > 0 else 1


cdef int _split_complex(Operand *op) except -1:
    """View complex items as pairs of reals: one more dimension of 2."""
    if not _is_complex(op.type):
        return 0
    if op.ndim == MAX_NDIM:
        raise ValueError(f"complex items of a {MAX_NDIM}-d buffer are not supported")
    op.type = TYPE_FLOAT32 if op.type == TYPE_COMPLEX64 else TYPE_FLOAT64
    op.itemsize //= 2
    op.shape[op.ndim] = 2
    op.strides[op.ndim] = op.itemsize
    op.ndim += 1
    return 0


cdef void _side(Operand *op, Side *side) noexcept nogil:
    side.type = op.type
    side.size = op.itemsize
    side.swapped = op.swapped
    side.storage = op.storage
    side.direct = op.aligned and not op.swapped and not op.storage


cdef str _fmt_str(Py_buffer *v):
    return "B" if v.format == NULL else (<bytes>v.format).decode("ascii", "replace")


cdef str _fmt_name(Py_buffer *v):
    return "'B'" if v.format == NULL else repr((<bytes>v.format).decode("ascii", "replace"))


cdef str _describe(Py_buffer *v, str role):
    shape = tuple([v.shape[i] for i in range(v.ndim)]) if v.shape != NULL \
        else ((v.len // v.itemsize,) if v.ndim == 1 else ())
    return f"{role} (format {_fmt_name(v)}, shape {shape})"


cdef bint _same_shape(Operand *a, Operand *b) noexcept:
    cdef int i
    if a.ndim != b.ndim:
        return False
    for i in range(a.ndim):
        if a.shape[i] != b.shape[i]:
            return False
    return True


cdef bint _overlap(Operand *a, Operand *b) noexcept:
    """Do the byte ranges two operands span intersect?"""
    cdef char *lo[2]
    cdef char *hi[2]
    cdef Operand *ops[2]
    cdef int k, i
    cdef Py_ssize_t span
    ops[0] = a
    ops[1] = b
    for k in range(2):
        lo[k] = hi[k] = ops[k].data
        for i in range(ops[k].ndim):
            if ops[k].shape[i] == 0:
                return False
            span = (ops[k].shape[i] - 1) * ops[k].strides[i]
            if span < 0:
                lo[k] += span
            else:
                hi[k] += span
        hi[k] += ops[k].itemsize
    return lo[0] < hi[1] and lo[1] < hi[0]


cdef bint _same_items(Py_buffer *a, Operand *oa, Py_buffer *b, Operand *ob):
    """Do two operands store items identically (same bytes mean the same
    value)?"""
    if oa.itemsize != ob.itemsize:
        return False
    if oa.type != TYPE_OPAQUE or ob.type != TYPE_OPAQUE:
        return oa.type == ob.type and oa.swapped == ob.swapped and \
            oa.storage == ob.storage
    fa = b"B" if a.format == NULL else <bytes>a.format
    fb = b"B" if b.format == NULL else <bytes>b.format
    if fa.lstrip(b"@") == fb.lstrip(b"@"):
        return True
    # "i i" and "ii", "T{<h:a:<d:b:}" from ctypes and "T{<h:a:6xd:b:}":
    # the same items when their readings are
    ra = _reading(a)
    rb = _reading(b)
    if ra is None or rb is None:
        return False
    return ra._storage_key() == rb._storage_key()


cdef object _reading(Py_buffer *v):
    """The Format the itemsize of ``v`` reads its format as, or None."""
    try:
        return Format._reading(_fmt_str(v), v.itemsize)
    except (ValueError, NotImplementedError):
        return None


cdef bytearray _items_bytes(Operand *op):
    """The items of an operand, C-contiguous, in a new bytearray."""
    cdef Py_ssize_t strides[MAX_NDIM]
    cdef bytearray out = bytearray(op.nbytes)
    _c_strides(op.ndim, op.shape, op.itemsize, strides)
    if op.nbytes:
        copy_items(op.ndim, op.shape, op.data, op.strides, NULL,
                   <char *>out, strides, op.itemsize)
    return out


cdef object _equal_fields(Operand *oa, Operand *ob, Py_buffer *av):
    """equal() for items with padding bytes: compare the item bytes that
    hold values, never the padding.  None when the items have no padding."""
    f = _reading(av)
    if f is None:
        return None
    pad = f._padding()
    if not pad:
        return None
    cdef object x, y                   # (untyped: Cython's bytearray slicing
    x = _items_bytes(oa)               # refuses extended-slice stores)
    y = _items_bytes(ob)
    n = len(x) // av.itemsize
    zeros = bytes(n)
    for k in pad:                      # one C-speed strided store per byte
        x[k::av.itemsize] = zeros
        y[k::av.itemsize] = zeros
    return x == y


cdef object _module_empty = None
cdef object _module_asbuffer = None


cdef object _new_buffer(tuple shape, str fmt, str order):
    # Lazy: pybuf.buffer cimports this module, so it cannot be imported
    # while this one initialises.
    global _module_empty, _module_asbuffer
    if _module_empty is None:
        from pybuf.buffer import empty as e, asbuffer as a
        _module_empty = e
        _module_asbuffer = a
    return _module_empty(shape, fmt, order=order)


cdef char *_stage_copy(Operand *s, Operand *staged) except NULL:
    """A C-contiguous copy of s's items in new memory (returned, for the
    caller to free), described by ``staged``."""
    cdef PyThreadState *_ts
    cdef char *tmp = <char *>malloc(<size_t>s.nbytes if s.nbytes > 0 else 1)
    if tmp == NULL:
        raise MemoryError()
    memcpy(staged, s, sizeof(Operand))
    staged.data = tmp
    _c_strides(s.ndim, s.shape, s.itemsize, staged.strides)
    staged.aligned = True                  # malloc aligns for any type
    _ts = _unlock(s.nbytes >= NOGIL_BYTES)
    copy_items(s.ndim, s.shape, s.data, s.strides, NULL, tmp,
               staged.strides, s.itemsize)
    _relock(_ts)
    return tmp


cdef int _copy_operands(Operand *d, Operand *s, Py_buffer *dv,
                        Py_buffer *sv) except -1:
    """copyto's body, arguments acquired and shapes checked."""
    cdef PyThreadState *_ts
    cdef Operand staged
    cdef Loop L
    cdef Side ds, ss
    cdef Py_ssize_t idx[MAX_NDIM]
    cdef int last, i
    cdef bint same = _same_items(dv, d, sv, s)
    cdef bint big = d.nbytes >= NOGIL_BYTES
    cdef char *tmp = NULL
    if not same and (d.type == TYPE_OPAQUE or s.type == TYPE_OPAQUE):
        raise ValueError(f"cannot copy items of {_describe(sv, 'source')} to "
                         f"{_describe(dv, 'destination')}: formats differ and "
                         f"are not both numeric")
    if d.nbytes == 0:
        return 0
    if _overlap(d, s):
        if same and d.data == s.data and \
                memcmp(d.strides, s.strides, d.ndim * sizeof(Py_ssize_t)) == 0:
            return 0                       # copying onto itself
        # memmove semantics: read everything before writing anything.
        tmp = _stage_copy(s, &staged)
        s = &staged
    try:
        if same:
            _loop_init(&L, d.ndim, d.shape, d.data, d.strides, d.itemsize,
                       s.data, s.strides, s.itemsize, True)
            if big:
                with nogil:
                    _copy_loop(&L, d.itemsize)
            else:
                _copy_loop(&L, d.itemsize)
            return 0
        if _is_complex(d.type) and not _is_complex(s.type):
            # real -> complex: imaginary parts 0, real parts converted.
            _split_complex(d)
            d.ndim -= 1
            _zero_imag(d)
        elif _is_complex(s.type) and not _is_complex(d.type):
            _split_complex(s)
            s.ndim -= 1                    # complex -> real: real parts
        else:
            _split_complex(d)
            _split_complex(s)
        _side(d, &ds)
        _side(s, &ss)
        _loop_init(&L, d.ndim, d.shape, d.data, d.strides, d.itemsize,
                   s.data, s.strides, s.itemsize, True)
        if L.ndim == 0:
            return 0
        last = L.ndim - 1
        memset(idx, 0, sizeof(idx))
        if ds.type == ss.type and ds.size == ss.size and ds.swapped != ss.swapped \
                and ds.storage == ss.storage:
            _ts = _unlock(big)
            _bswap_loop(&L, ds.size, ds.size)
            _relock(_ts)
            return 0
        _ts = _unlock(big)
        if _loop_items(&L) * ds.size >= _stream_bytes and L.s0[last] == ds.size:
            _stream_lines_loop(LINE_CONVERT, &L, ds.size, ds.size, &ds, &ss)
        elif not _split_line(LINE_CONVERT, &L, ds.size, ds.size, &ds, &ss, False):
            while True:
                _convert_line(L.p0, L.s0[last], &ds, L.p1, L.s1[last], &ss,
                              L.shape[last])
                if not _advance(&L, last, idx):
                    break
        _relock(_ts)
    finally:
        free(tmp)
    return 0


cdef void _zero_imag(Operand *d) noexcept nogil:
    """Zero the imaginary parts of a complex destination described as its
    real parts (d.ndim dimensions, items of d.itemsize bytes)."""
    cdef char zero[8]
    memset(zero, 0, sizeof(zero))
    fill_items(d.ndim, d.shape, d.data + d.itemsize, d.strides, zero, d.itemsize)


def copyto(dst, src):
    """copyto(dst, src)

    Copy the items of ``src`` into ``dst``: ``dst[idx] = src[idx]`` for
    every index, converting numeric items as numpy's
    ``dst[...] = src`` (``casting="unsafe"``) does for values in range.

    Parameters
    ----------
    dst : buffer exporter
        Writable destination.
    src : buffer exporter
        Same shape as ``dst``.  Any strides (negative, zero); it may
        overlap ``dst``: the result is as if ``src`` were copied to a
        temporary first (memmove semantics).

    Raises
    ------
    BufferError
        ``dst`` is read-only.
    ValueError
        The shapes differ, or the formats differ and are not both numeric
        (``b B h H i I l L q Q n N e f d ?`` in any byte order, ``Zf``,
        ``Zd``; native ``g``, ``Zg``).  Other formats are copied as opaque
        items when both formats are the same.

    Notes
    -----
    ``e`` (float16) items convert through float32 and ``g``/``Zg`` (long
    double) through float64, rounded once into the destination; ``g`` to
    ``g`` copies exactly.

    Contiguous copies larger than the caches use non-temporal stores; a
    copy whose source and destination run along different axes (a
    transpose) goes through 32 x 32 tiles.

    Examples
    --------
    >>> import pybuf, array
    >>> a = array.array("d", [0.0, 0.0, 0.0])
    >>> pybuf.copyto(a, array.array("i", [1, 2, 3]))
    >>> a.tolist()
    [1.0, 2.0, 3.0]
    """
    cdef Py_buffer dv, sv
    cdef Operand d, s
    _acquire(dst, &dv, True, "destination")
    try:
        _acquire(src, &sv, False, "source")
        try:
            _operand(&dv, &d)
            _operand(&sv, &s)
            if not _same_shape(&d, &s):
                raise ValueError(f"shape mismatch: {_describe(&sv, 'source')} "
                                 f"cannot be copied to {_describe(&dv, 'destination')}")
            _copy_operands(&d, &s, &dv, &sv)
        finally:
            PyBuffer_Release(&sv)
    finally:
        PyBuffer_Release(&dv)


cdef int _pack(object value, Operand *op, Py_buffer *v, char *item) except -1:
    """Store ``value`` as one item of op's type at ``item``."""
    cdef int t = op.type
    cdef double d
    cdef float f
    cdef int64_t q
    cdef uint64_t u
    cdef Py_ssize_t size = op.itemsize
    cdef bint signed
    cdef object bits
    if t == TYPE_OPAQUE:
        data = parse_format(_fmt_str(v)).pack(value)
        if len(data) != size:
            raise ValueError(f"packed item is {len(data)} bytes, not {size}")
        memcpy(item, <const char *><bytes>data, <size_t>size)
        return 0
    if isinstance(value, (str, bytes, bytearray)):
        raise TypeError(f"cannot store a {type(value).__name__} in items of "
                        f"format {_fmt_name(v)}")
    if op.storage:
        return _pack_storage(value, op, item)
    if _is_complex(t):
        z = complex(value)
        if t == TYPE_COMPLEX128:
            d = z.real; memcpy(item, &d, 8)
            d = z.imag; memcpy(item + 8, &d, 8)
        else:
            f = <float>z.real; memcpy(item, &f, 4)
            f = <float>z.imag; memcpy(item + 4, &f, 4)
    elif _is_float(t):
        d = _as_double(value)
        if t == TYPE_FLOAT64:
            memcpy(item, &d, 8)
        else:
            f = <float>d
            memcpy(item, &f, 4)
    elif t == TYPE_BOOL:
        item[0] = 1 if value else 0
    else:
        if not PyIndex_Check(value):
            raise TypeError(f"an integer is required for items of format "
                            f"{_fmt_name(v)}, not {type(value).__name__}")
        value = PyNumber_Index(value)
        signed = not _is_unsigned(t)
        bits = 8 * size                    # Python ints: no C overflow
        if signed:
            lo = -(1 << (bits - 1))
            hi = (1 << (bits - 1)) - 1
        else:
            lo = 0
            hi = (1 << bits) - 1
        if value < lo or value > hi:
            raise ValueError(f"{value} is out of range for items of format "
                             f"{_fmt_name(v)}")
        if signed:
            q = value
            u = <uint64_t>q
        else:
            u = value
        if size == 1:
            (<uint8_t *>item)[0] = <uint8_t>u
        elif size == 2:
            (<uint16_t *>item)[0] = <uint16_t>u
        elif size == 4:
            (<uint32_t *>item)[0] = <uint32_t>u
        else:
            memcpy(item, &u, 8)
    if op.swapped:
        _bswap_line(item, size, item, size, 1, size,
                    size // 2 if _is_complex(t) else size)
    return 0


cdef double _as_double(object value) except? -1:
    try:
        return PyFloat_AsDouble(value)
    except OverflowError:
        # memoryview's error for a value no double holds (2**1024)
        raise ValueError(f"{type(value).__name__} value out of range of a "
                         f"C double") from None


cdef int _pack_storage(object value, Operand *op, char *item) except -1:
    """_pack for 'e', 'g', 'Zg': the value as a double (a complex as two),
    rounded once into the storage format."""
    cdef double parts[2]
    cdef Py_ssize_t k = 1, i, unit
    cdef Side side
    if _is_complex(op.type):
        z = complex(value)
        parts[0] = z.real
        parts[1] = z.imag
        k = 2
    else:
        parts[0] = _as_double(value)
    _side(op, &side)
    unit = op.itemsize // k
    for i in range(k):
        _narrow_line(&side, &parts[i], item + i * unit, unit, 1)
    return 0


def fill(dst, value):
    """fill(dst, value)

    Set every item of ``dst`` to ``value``: ``dst[idx] = value``.

    Parameters
    ----------
    dst : buffer exporter
        Writable, any strides.
    value : scalar
        Converted once to ``dst``'s item type: an int for integer formats
        (``ValueError`` when out of range), a real for ``e``/``f``/``d``/``g``, a
        complex for ``Zf``/``Zd``/``Zg``, truth for ``?``; for other formats
        whatever :meth:`pybuf.Format.pack` accepts.

    Raises
    ------
    BufferError
        ``dst`` is read-only.
    TypeError, ValueError
        ``value`` does not fit the format.

    Notes
    -----
    Contiguous destinations larger than the caches are filled with
    non-temporal (streaming) stores.
    """
    cdef PyThreadState *_ts
    cdef Py_buffer dv
    cdef Operand d
    cdef Loop L
    cdef uint64_t small[4]
    cdef char *item = <char *>small
    _acquire(dst, &dv, True, "destination")
    try:
        _operand(&dv, &d)
        if d.itemsize > <Py_ssize_t>sizeof(small):
            item = <char *>malloc(<size_t>d.itemsize)
            if item == NULL:
                raise MemoryError()
        try:
            _pack(value, &d, &dv, item)
            _loop_init(&L, d.ndim, d.shape, d.data, d.strides, d.itemsize,
                       NULL, NULL, 0, True)
            _ts = _unlock(d.nbytes >= NOGIL_BYTES)
            _fill_loop(&L, item, d.itemsize)
            _relock(_ts)
        finally:
            if item != <char *>small:
                free(item)
    finally:
        PyBuffer_Release(&dv)


def astype(src, format):
    """astype(src, format)

    A new C-contiguous :class:`pybuf.Buffer` of ``src``'s shape holding
    its items converted to ``format``, as numpy's
    ``src.astype(dtype, casting="unsafe")`` for values in range.

    Raises
    ------
    ValueError
        ``format`` or ``src``'s format is not numeric and they differ.
    """
    cdef Py_buffer sv, dv
    cdef Operand s, d
    _acquire(src, &sv, False, "source")
    try:
        _operand(&sv, &s)
        out = _new_buffer(tuple([s.shape[i] for i in range(s.ndim)]),
                          format, "C")
        _acquire(out, &dv, True, "destination")
        try:
            _operand(&dv, &d)
            _copy_operands(&d, &s, &dv, &sv)
        finally:
            PyBuffer_Release(&dv)
    finally:
        PyBuffer_Release(&sv)
    return out


def ascontiguous(obj, order="C"):
    """ascontiguous(obj, order="C")

    ``obj`` as a contiguous :class:`pybuf.Buffer` in ``order``: a
    zero-copy view (see :func:`pybuf.asbuffer`) when it already is, else a
    new copy, items copied as they are (any format).  A 2-d transpose is
    copied through cache-sized tiles.

    Raises
    ------
    ValueError
        ``order`` is not "C" or "F".
    """
    cdef PyThreadState *_ts
    cdef Py_buffer sv, dv
    cdef Operand s, d
    cdef Loop L
    cdef char o
    if order in ("C", "c"):
        o = b'C'
    elif order in ("F", "f"):
        o = b'F'
    else:
        raise ValueError(f"order must be 'C' or 'F', not {order!r}")
    _acquire(obj, &sv, False, "source")
    try:
        if PyBuffer_IsContiguous(&sv, o):
            if _module_asbuffer is None:
                _new_buffer((), "B", "C")
            return _module_asbuffer(obj)
        _operand(&sv, &s)
        out = _new_buffer(tuple([s.shape[i] for i in range(s.ndim)]),
                          _fmt_str(&sv), "F" if o == b'F' else "C")
        _acquire(out, &dv, True, "destination")
        try:
            _operand(&dv, &d)
            _loop_init(&L, d.ndim, d.shape, d.data, d.strides, d.itemsize,
                       s.data, s.strides, s.itemsize, True)
            _ts = _unlock(d.nbytes >= NOGIL_BYTES)
            _copy_loop(&L, d.itemsize)
            _relock(_ts)
        finally:
            PyBuffer_Release(&dv)
    finally:
        PyBuffer_Release(&sv)
    return out



cdef object _scalar(int t, Reduction *acc, bint as_bool):
    if _is_float(t):
        return acc.f
    if as_bool:
        return acc.u != 0
    if t == TYPE_BOOL:
        return acc.i                       # sums of bools count in int64
    if _is_unsigned(t):
        return acc.u
    return acc.i


cdef struct ReduceTask:
    int type
    int op
    const char *a
    Py_ssize_t sa
    const char *b          # dot: the second operand
    Py_ssize_t sb
    Py_ssize_t n
    Reduction acc


cdef void _reduce_task(void *arg) noexcept nogil:
    cdef ReduceTask *t = <ReduceTask *>arg
    _reduce_line(t.type, t.a, t.sa, t.n, t.op, &t.acc)


cdef void _dot_task(void *arg) noexcept nogil:
    cdef ReduceTask *t = <ReduceTask *>arg
    _dot_line(t.type, t.a, t.sa, t.b, t.sb, t.n, &t.acc)


cdef void _combine(Reduction *into, Reduction *part, int op, int t) noexcept nogil:
    """Fold a partial reduction (of a later part of the items) into another."""
    cdef bint take
    if part.count == 0:
        return
    if op == REDUCE_SUM:
        into.i = <int64_t>(<uint64_t>into.i + <uint64_t>part.i)   # wraps
        into.u += part.u
        into.f += part.f
    else:
        into.nan = into.nan or part.nan
        if into.count == 0:
            take = True
        elif _is_float(t):
            take = part.f > into.f if op == REDUCE_MAX else part.f < into.f
        elif _is_unsigned(t):
            take = part.u > into.u if op == REDUCE_MAX else part.u < into.u
        else:
            take = part.i > into.i if op == REDUCE_MAX else part.i < into.i
        if take:
            into.i = part.i
            into.u = part.u
            into.f = part.f
    into.count += part.count


cdef void _split_reduce(pybuf_task task, int t, int op, const char *a,
                        Py_ssize_t sa, const char *b, Py_ssize_t sb,
                        Py_ssize_t n, Reduction *acc) noexcept nogil:
    """Reduce (or dot) a line in parts on two threads; the partial results
    are folded in order, so the result does not depend on which thread
    ran which part."""
    cdef ReduceTask p[PYBUF_PARTS]
    cdef Py_ssize_t lo
    cdef int i
    memset(p, 0, sizeof(p))
    for i in range(PYBUF_PARTS):
        lo = _part(n, i)
        p[i].type = t; p[i].op = op
        p[i].a = a + lo * sa; p[i].sa = sa; p[i].sb = sb
        p[i].b = b + lo * sb if b != NULL else NULL
        p[i].n = _part(n, i + 1) - lo
    pybuf_run_parts(task, p, sizeof(ReduceTask), PYBUF_PARTS,
                    n * _abs(sa) >= _stream_bytes)
    for i in range(PYBUF_PARTS):
        _combine(acc, &p[i].acc, op, t)


cdef int _reduce_operand(Operand *x, int op, Reduction *acc) except -1:
    """Fold every item of a real operand into acc (any order/alignment)."""
    cdef PyThreadState *_ts
    cdef Loop L
    cdef Side side
    cdef Py_ssize_t idx[MAX_NDIM]
    cdef double tmp[CHUNK]
    cdef double tmp2[CHUNK]
    cdef Py_ssize_t off, c, n, s, stride
    cdef const char *p
    cdef int last
    _side(x, &side)
    _loop_init(&L, x.ndim, x.shape, x.data, x.strides, x.itemsize,
               NULL, NULL, 0, True)
    if L.ndim == 0:
        return 0
    last = L.ndim - 1
    memset(idx, 0, sizeof(idx))
    n = L.shape[last]
    s = L.s0[last]
    _ts = _unlock(x.nbytes >= NOGIL_BYTES)
    if L.ndim == 1 and side.direct and x.nbytes >= _parallel_bytes:
        _split_reduce(_reduce_task, side.type, op, L.p0, s, NULL, 0, n, acc)
        _relock(_ts)
        return 0
    while True:
        if side.direct:
            _reduce_line(side.type, L.p0, s, n, op, acc)
        else:
            for off in range(0, n, 512):      # 512 == CHUNK (range needs a literal step)
                c = CHUNK if n - off > CHUNK else n - off
                p = _stage_in(L.p0 + off * s, s, &side, c, side.type,
                              <char *>tmp, <char *>tmp2, &stride)
                _reduce_line(side.type, p, stride, c, op, acc)
        if not _advance(&L, last, idx):
            break
    _relock(_ts)
    return 0


cdef object _reduce(object x, int op, str name):
    cdef Py_buffer v
    cdef Operand o
    cdef Reduction acc, acc_im
    cdef Py_ssize_t n
    _acquire(x, &v, False, "argument")
    try:
        _operand(&v, &o)
        if o.type == TYPE_OPAQUE or (op != REDUCE_SUM and _is_complex(o.type)):
            raise ValueError(f"{name}() needs a real numeric format, not "
                             f"{_describe(&v, 'argument')}")
        memset(&acc, 0, sizeof(acc))
        if _is_complex(o.type):
            # sum of the real parts, then of the imaginary parts
            memset(&acc_im, 0, sizeof(acc_im))
            _split_complex(&o)
            o.ndim -= 1
            _reduce_operand(&o, op, &acc)
            o.data += o.itemsize
            _reduce_operand(&o, op, &acc_im)
            return complex(acc.f, acc_im.f)
        _reduce_operand(&o, op, &acc)
        if op == REDUCE_SUM:
            return _scalar(o.type, &acc, False)
        if acc.count == 0:
            raise ValueError(f"{name}() of an empty buffer: "
                             f"{_describe(&v, 'argument')}")
        if acc.nan:
            return float("nan")
        return _scalar(o.type, &acc, o.type == TYPE_BOOL)
    finally:
        PyBuffer_Release(&v)


def sum(x):
    """sum(x)

    The sum of every item of ``x``, as a Python scalar.

    Integers (and bool) accumulate in 64 bits, signed, or unsigned for
    unsigned formats, wrapping around on overflow as numpy's ``x.sum()``
    does; floats accumulate in float64 (numpy: ``x.sum(dtype="f8")``);
    complex in complex128.  Formula: ``sum(x[idx] for idx in ndindex(shape))``,
    0 when empty.  The order of the additions is not specified (several
    partial sums), so float results may differ from numpy's in the last
    bits.

    Raises
    ------
    ValueError
        A format that is not numeric.
    """
    return _reduce(x, REDUCE_SUM, "sum")


def min(x):
    """min(x)

    The smallest item of ``x``, as a Python scalar; NaN when any item is
    NaN (numpy's ``x.min()``).

    Raises
    ------
    ValueError
        ``x`` is empty, or its format is not a real numeric one.
    """
    return _reduce(x, REDUCE_MIN, "min")


def max(x):
    """max(x)

    The largest item of ``x``, as a Python scalar; NaN when any item is
    NaN (numpy's ``x.max()``).

    Raises
    ------
    ValueError
        ``x`` is empty, or its format is not a real numeric one.
    """
    return _reduce(x, REDUCE_MAX, "max")


cdef int _common_type(int a, int b) noexcept nogil:
    """The type both operands of dot are converted to when they differ."""
    if _is_float(a) or _is_float(b):
        return TYPE_FLOAT64
    if _is_unsigned(a) and _is_unsigned(b):
        return TYPE_UINT64
    if (a == TYPE_UINT64 or b == TYPE_UINT64):
        return TYPE_FLOAT64                # numpy: uint64 with int64 -> f8
    return TYPE_INT64


def dot(a, b):
    """dot(a, b)

    The inner product ``sum(a[i] * b[i])`` of two 1-d numeric buffers of
    the same length, as a Python scalar.

    Products accumulate in float64 when either is a float (numpy's
    ``np.dot(a.astype("f8"), b.astype("f8"))``), else in 64-bit integers
    (``np.dot`` of the int64 conversions); mixed types are converted to
    that common type first.  Complex operands give a complex (no
    conjugation, like ``np.dot``); bool operands a bool, like numpy.

    Raises
    ------
    ValueError
        Not both 1-d of the same length, or a format that is not numeric.
    """
    cdef PyThreadState *_ts
    cdef Py_buffer av, bv
    cdef Operand oa, ob
    cdef Side sa, sb
    cdef Reduction acc
    cdef Py_ssize_t n
    cdef int t
    cdef double re = 0, im = 0
    _acquire(a, &av, False, "first argument")
    try:
        _acquire(b, &bv, False, "second argument")
        try:
            _operand(&av, &oa)
            _operand(&bv, &ob)
            if oa.ndim != 1 or ob.ndim != 1 or oa.shape[0] != ob.shape[0]:
                raise ValueError(f"dot needs two 1-d buffers of the same "
                                 f"length: {_describe(&av, 'first argument')}, "
                                 f"{_describe(&bv, 'second argument')}")
            if oa.type == TYPE_OPAQUE or ob.type == TYPE_OPAQUE:
                raise ValueError(f"dot needs numeric formats: "
                                 f"{_describe(&av, 'first argument')}, "
                                 f"{_describe(&bv, 'second argument')}")
            n = oa.shape[0]
            if _is_complex(oa.type) or _is_complex(ob.type):
                return _complex_dot(&oa, &ob)
            memset(&acc, 0, sizeof(acc))
            _side(&oa, &sa)
            _side(&ob, &sb)
            if oa.type == ob.type and sa.direct and sb.direct:
                t = oa.type
                _ts = _unlock(oa.nbytes >= NOGIL_BYTES)
                if oa.nbytes >= _parallel_bytes:
                    _split_reduce(_dot_task, t, REDUCE_SUM, oa.data,
                                  oa.strides[0], ob.data, ob.strides[0], n, &acc)
                else:
                    _dot_line(t, oa.data, oa.strides[0], ob.data,
                              ob.strides[0], n, &acc)
                _relock(_ts)
            else:
                # staged: the C API's dot_items (storage-only types by
                # their own TypeId)
                _ts = _unlock(oa.nbytes >= NOGIL_BYTES)
                t = dot_items(n, oa.data, oa.strides[0], oa.storage or oa.type,
                              oa.swapped, ob.data, ob.strides[0],
                              ob.storage or ob.type, ob.swapped, &acc)
                _relock(_ts)
            return _scalar(t, &acc, oa.type == TYPE_BOOL and ob.type == TYPE_BOOL)
        finally:
            PyBuffer_Release(&bv)
    finally:
        PyBuffer_Release(&av)


cdef object _complex_dot(Operand *a, Operand *b):
    """sum(a[i] * b[i]) in complex128, either operand real or complex."""
    cdef double are[CHUNK]
    cdef double aim[CHUNK]
    cdef double bre[CHUNK]
    cdef double bim[CHUNK]
    cdef double t2[CHUNK]
    cdef double sre = 0, sim = 0
    cdef Py_ssize_t n = a.shape[0], off, c, i
    _complex_parts_prepare(a)
    _complex_parts_prepare(b)
    for off in range(0, n, 512):      # 512 == CHUNK (range needs a literal step)
        c = CHUNK if n - off > CHUNK else n - off
        _complex_parts(a, off, c, are, aim, t2)
        _complex_parts(b, off, c, bre, bim, t2)
        for i in range(c):
            sre += are[i] * bre[i] - aim[i] * bim[i]
            sim += are[i] * bim[i] + aim[i] * bre[i]
    return complex(sre, sim)


cdef void _complex_parts_prepare(Operand *x) noexcept:
    # Remember whether x is complex in ``ndim`` (2: complex, 1: real) and
    # describe its real parts.
    if _is_complex(x.type):
        x.type = TYPE_FLOAT32 if x.type == TYPE_COMPLEX64 else TYPE_FLOAT64
        x.itemsize //= 2
        x.ndim = 2
    else:
        x.ndim = 1


cdef void _complex_parts(Operand *x, Py_ssize_t off, Py_ssize_t c,
                         double *re, double *im, double *t2) noexcept nogil:
    cdef Side side
    cdef Py_ssize_t stride, i
    cdef const char *p
    _side(x, &side)
    p = _stage_in(x.data + off * x.strides[0], x.strides[0], &side, c,
                  TYPE_FLOAT64, <char *>re, <char *>t2, &stride)
    if p != <const char *>re:
        for i in range(c):
            re[i] = (<const double *>(p + i * stride))[0]
    if x.ndim == 2:
        p = _stage_in(x.data + x.itemsize + off * x.strides[0], x.strides[0],
                      &side, c, TYPE_FLOAT64, <char *>im, <char *>t2, &stride)
        if p != <const char *>im:
            for i in range(c):
                im[i] = (<const double *>(p + i * stride))[0]
    else:
        memset(im, 0, <size_t>c * sizeof(double))


def byteswap(buf, *, out=None):
    """byteswap(buf, *, out=None)

    Reverse the bytes of every item of ``buf``: in place, or into ``out``
    (same shape and itemsize; ``buf`` is then only read).  As numpy's
    ``byteswap``: complex items have each half swapped; struct items
    each field (each number, each half of a complex, each character of a
    str; bytes, bools and padding stay); items of another non-numeric
    format are reversed whole.

    Returns
    -------
    The buffer written (``buf`` or ``out``).

    Raises
    ------
    BufferError
        The buffer to write is read-only.
    ValueError
        ``out`` differs from ``buf`` in shape or itemsize.
    """
    cdef PyThreadState *_ts
    cdef Py_buffer sv, dv
    cdef Operand s, d, staged
    cdef Loop L
    cdef Py_ssize_t unit
    cdef char *tmp = NULL
    if out is None:
        _acquire(buf, &dv, True, "buf")
        try:
            _operand(&dv, &d)
            fields = _swap_units(&dv, &d)
            if fields is not None:
                _bswap_fields(&d, fields)
                return buf
            unit = d.itemsize // 2 if _is_complex(d.type) else d.itemsize
            _loop_init(&L, d.ndim, d.shape, d.data, d.strides, d.itemsize,
                       d.data, d.strides, d.itemsize, True)
            _ts = _unlock(d.nbytes >= NOGIL_BYTES)
            _bswap_loop(&L, d.itemsize, unit)
            _relock(_ts)
        finally:
            PyBuffer_Release(&dv)
        return buf
    _acquire(out, &dv, True, "out")
    try:
        _acquire(buf, &sv, False, "buf")
        try:
            _operand(&dv, &d)
            _operand(&sv, &s)
            if not _same_shape(&d, &s) or d.itemsize != s.itemsize:
                raise ValueError(f"out must match buf in shape and itemsize: "
                                 f"{_describe(&dv, 'out')}, "
                                 f"{_describe(&sv, 'buf')} (itemsize "
                                 f"{d.itemsize} and {s.itemsize})")
            unit = s.itemsize // 2 if _is_complex(s.type) else s.itemsize
            if _overlap(&d, &s) and not (d.data == s.data and memcmp(
                    d.strides, s.strides, d.ndim * sizeof(Py_ssize_t)) == 0):
                tmp = _stage_copy(&s, &staged)
                memcpy(&s, &staged, sizeof(Operand))
            _loop_init(&L, d.ndim, d.shape, d.data, d.strides, d.itemsize,
                       s.data, s.strides, s.itemsize, True)
            fields = _swap_units(&sv, &s)
            _ts = _unlock(d.nbytes >= NOGIL_BYTES)
            if fields is None:
                _bswap_loop(&L, d.itemsize, unit)
            else:
                _copy_loop(&L, d.itemsize)     # then swap out's fields in place
            _relock(_ts)
            if fields is not None:
                _bswap_fields(&d, fields)
        finally:
            free(tmp)
            PyBuffer_Release(&sv)
    finally:
        PyBuffer_Release(&dv)
    return out


cdef object _swap_units(Py_buffer *v, Operand *op):
    """For struct items: the (offset, unit, count) runs that numpy's
    byteswap reverses one by one (each number, each half of a complex,
    each character of a str); None for other items."""
    if op.type != TYPE_OPAQUE:
        return None
    f = _reading(v)
    if f is None or f.kind != "struct":
        return None
    return f._swap_units()


cdef int _bswap_fields(Operand *d, object fields) except -1:
    """Swap the fields of every item of ``d`` in place."""
    cdef PyThreadState *_ts
    cdef Loop L
    cdef Py_ssize_t off, unit, count, k
    cdef char *p
    for off, unit, count in fields:
        for k in range(count):
            p = d.data + off + k * unit
            _loop_init(&L, d.ndim, d.shape, p, d.strides, unit,
                       p, d.strides, unit, True)
            _ts = _unlock(d.nbytes >= NOGIL_BYTES)
            _bswap_loop(&L, unit, unit)
            _relock(_ts)
    return 0


def equal(a, b):
    """equal(a, b)

    True when ``a`` and ``b`` have the same shape and every pair of items
    compares equal by value (``a[idx] == b[idx]``): numeric items of any
    two formats are compared as numbers (NaN != NaN, -0.0 == 0.0), other
    formats byte by byte when both formats are the same.  False -- not an
    error -- when the shapes differ or a format is not comparable.
    """
    cdef Py_buffer av, bv
    cdef Operand oa, ob
    _acquire(a, &av, False, "first argument")
    try:
        _acquire(b, &bv, False, "second argument")
        try:
            _operand(&av, &oa)
            _operand(&bv, &ob)
            if not _same_shape(&oa, &ob):
                return False
            if oa.type == TYPE_OPAQUE and oa.nbytes and _same_items(&av, &oa, &bv, &ob):
                masked = _equal_fields(&oa, &ob, &av)
                if masked is not None:
                    return masked
            return _equal_operands(&oa, &ob, &av, &bv)
        finally:
            PyBuffer_Release(&bv)
    finally:
        PyBuffer_Release(&av)


cdef double _ZERO[2]


cdef bint _equal_operands(Operand *a, Operand *b, Py_buffer *av,
                          Py_buffer *bv) except -1:
    cdef Operand zeros
    cdef int i
    if a.nbytes == 0:
        return True
    if a.type == TYPE_OPAQUE or b.type == TYPE_OPAQUE:
        if not _same_items(av, a, bv, b):
            return False
        return _equal_loop(a, b, True)
    if _is_complex(a.type) != _is_complex(b.type):
        if _is_complex(b.type):
            a, b = b, a
        # complex a vs real b: real parts equal and imaginary parts 0
        _split_complex(a)
        a.ndim -= 1
        if not _equal_loop(a, b, False):
            return False
        a.data += a.itemsize
        memcpy(&zeros, a, sizeof(Operand))
        zeros.data = <char *>_ZERO
        zeros.type = TYPE_FLOAT64
        zeros.itemsize = 8
        zeros.swapped = False
        zeros.storage = 0
        zeros.aligned = True
        for i in range(zeros.ndim):
            zeros.strides[i] = 0
        return _equal_loop(a, &zeros, False)
    _split_complex(a)
    _split_complex(b)
    return _equal_loop(a, b, False)


cdef bint _equal_loop(Operand *a, Operand *b, bint raw) noexcept:
    """all(a == b) over real operands of the same shape (``raw``: compare
    item bytes)."""
    cdef PyThreadState *_ts
    cdef Loop L
    cdef Side sa, sb
    cdef Py_ssize_t idx[MAX_NDIM]
    cdef Py_ssize_t n, s0, s1, i
    cdef int last, t
    cdef bint ok = True
    _side(a, &sa)
    _side(b, &sb)
    _loop_init(&L, a.ndim, a.shape, a.data, a.strides, a.itemsize,
               b.data, b.strides, b.itemsize, True)
    if L.ndim == 0:
        return True
    last = L.ndim - 1
    memset(idx, 0, sizeof(idx))
    n = L.shape[last]
    s0 = L.s0[last]
    s1 = L.s1[last]
    t = a.type if a.type == b.type else _common_type(a.type, b.type)
    _ts = _unlock(a.nbytes >= NOGIL_BYTES)
    while ok:
        if raw:
            for i in range(n):
                if memcmp(L.p0 + i * s0, L.p1 + i * s1, <size_t>a.itemsize):
                    ok = False
                    break
        elif a.type == b.type and sa.direct and sb.direct:
            ok = _equal_line(t, L.p0, s0, L.p1, s1, n)
        elif a.type == b.type and a.swapped == b.swapped:
            # same bytes, same values -- except for floats
            if _is_float(t):
                ok = _equal_staged(L.p0, s0, &sa, L.p1, s1, &sb, n, t)
            else:
                for i in range(n):
                    if memcmp(L.p0 + i * s0, L.p1 + i * s1, <size_t>a.itemsize):
                        ok = False
                        break
        else:
            ok = _equal_staged(L.p0, s0, &sa, L.p1, s1, &sb, n, t)
        if not _advance(&L, last, idx):
            break
    _relock(_ts)
    return ok


cdef bint _equal_staged(const char *a, Py_ssize_t s0, Side *sa,
                        const char *b, Py_ssize_t s1, Side *sb,
                        Py_ssize_t n, int t) noexcept nogil:
    """Compare a line through staging blocks, converting to ``t`` -- with
    care for unsigned against signed 64-bit values."""
    cdef double ta[CHUNK]
    cdef double tb[CHUNK]
    cdef double ta2[CHUNK]         # scratch: one per side, since _stage_in
    cdef double tb2[CHUNK]         # may return its scratch as the result
    cdef Py_ssize_t off, c, i, stride_a, stride_b
    cdef const char *pa
    cdef const char *pb
    cdef int ta_t = t, tb_t = t
    if t == TYPE_INT64:
        # mixed signedness: read unsigned operands as uint64, so that a
        # large unsigned value never equals a negative one
        if _is_unsigned(sa.type):
            ta_t = TYPE_UINT64
        if _is_unsigned(sb.type):
            tb_t = TYPE_UINT64
    for off in range(0, n, 512):      # 512 == CHUNK (range needs a literal step)
        c = CHUNK if n - off > CHUNK else n - off
        pa = _stage_in(a + off * s0, s0, sa, c, ta_t, <char *>ta, <char *>ta2,
                       &stride_a)
        pb = _stage_in(b + off * s1, s1, sb, c, tb_t, <char *>tb, <char *>tb2,
                       &stride_b)
        if ta_t == tb_t:
            if not _equal_line(ta_t, pa, stride_a, pb, stride_b, c):
                return False
        else:
            for i in range(c):
                if ta_t == TYPE_UINT64:
                    if (<const int64_t *>(pb + i * stride_b))[0] < 0 or \
                            (<const uint64_t *>(pa + i * stride_a))[0] != \
                            <uint64_t>(<const int64_t *>(pb + i * stride_b))[0]:
                        return False
                else:
                    if (<const int64_t *>(pa + i * stride_a))[0] < 0 or \
                            (<const uint64_t *>(pb + i * stride_b))[0] != \
                            <uint64_t>(<const int64_t *>(pa + i * stride_a))[0]:
                        return False
    return True
