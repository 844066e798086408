"""GIL-free kernels over strided memory, and their C API (kernels.pxd).

Every kernel here is a ``cdef ... noexcept nogil`` function over a data
pointer, a shape and strides in bytes, so that any buffer exporter can be
handed to it once acquired.  The Python entry points (pybuf.copyto ...)
live in pybuf/_ops.pyx, above pybuf.buffer: they reach these loops through
the C API and the private table of pybuf/_kernels_impl.pxd.

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
/sys, see ``pybuf._tuning._cache_info``) are written with non-temporal (streaming)
stores, produced block by block in L1 when the items are gathered,
converted or swapped on the way, and reductions of that size prefetch with
the non-temporal hint.  Smaller data may be in cache: ordinary loads and
stores.  One-dimensional work from 128 KiB is shared with a persistent
worker thread (``_parallel_bytes``; see below).  pybuf._tuning's
``_set_stream_threshold`` and ``_set_parallel_threshold`` tune both sizes,
``_set_worker`` turns the worker off (benchmarks, tests).

SIMD paths
----------
The float reductions and dot products, f8 <-> f4 conversions, byteswaps,
float equality, fills and every-other-item copies exist once per SIMD path
(``pybuf/_simd_isa.h``, compiled by ``pybuf/_simd.c``): SSE2 (the x86-64
baseline), AVX2 with FMA, and AVX-512 (F, BW, DQ, VL).  The widest path the
CPU runs is chosen at import; the environment variable ``PYBUF_SIMD``
(``sse2``, ``avx2``, ``avx512``) forces one when pybuf is imported
(pybuf._tuning), and ``python -m pybuf info`` names the path in use.
The build uses no ``-march`` flag: the wider paths are compiled with
function target attributes, so the wheel stays portable.

Not thread-safe with respect to the memory: like numpy, a kernel reads and
writes the memory while other threads may too.
"""
from cpython.pycapsule cimport PyCapsule_New
from libc.stdint cimport uintptr_t
from libc.string cimport memcpy, memset, memcmp

from pybuf._types cimport *
from pybuf._kernels_impl cimport *
from pybuf._simd cimport *          # (compiled into this module: setup.py)
from pybuf cimport _items
from pybuf._items cimport _type_size

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


# Copies, fills and conversions whose destination has at least this many
# bytes write it with non-temporal stores, and reductions of that many
# bytes prefetch with the non-temporal hint.  Derived from the cache sizes
# of this machine (pybuf_default_stream_bytes in _simd.c): smaller data
# may well be in cache, where ordinary stores and loads are cheaper.
cdef Py_ssize_t _stream_bytes = <Py_ssize_t>pybuf_default_stream_bytes()


# The widest SIMD path this CPU runs, until pybuf._tuning (imported with
# pybuf) applies PYBUF_SIMD.
pybuf_simd_select(b"")


# Work on at least this many bytes (of the main operand) is cut into parts
# that the calling thread and a persistent worker thread share (pybuf_run_parts
# in _simd.c): contiguous copies, fills, conversions, strided copies,
# byteswaps, reductions and dot products.  Handing parts to a worker that is
# awake costs about a microsecond, and the caller and the worker tend to get
# the same parts call after call, so that each core's L2 holds its half:
# from 128 KiB (3-4 us of work on one core) two cores are faster, in L2 as
# in L3 and memory (measured in docs/performance.rst).  A sleeping worker is
# woken only for larger calls or a loop of calls (see _simd.c).
cdef Py_ssize_t _parallel_bytes = 128 * 1024


# Types: kernels.pxd's format_type is pybuf._items' (the one C reader).
cdef int format_type(const char *fmt, Py_ssize_t itemsize,
                     bint *swapped) noexcept nogil:
    return _items.format_type(fmt, itemsize, swapped)


# --------------------------------------------------------------------------
# Normalised loops


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



cdef void _split_contig(pybuf_task task, char *d, const char *s, Py_ssize_t n,
                        Py_ssize_t isz, const char *item) noexcept nogil:
    """Run a contiguous copy/fill of n items in parts on two threads."""
    cdef CopyTask t[PYBUF_PARTS]
    cdef Py_ssize_t lo
    cdef int i, k = _nparts(n * isz)
    for i in range(k):
        lo = _part(n, i, k)
        t[i].d = d + lo * isz; t[i].s = s + lo * isz if s != NULL else NULL
        t[i].n = _part(n, i + 1, k) - lo; t[i].isz = isz; t[i].item = item
        t[i].whole = n * isz
    pybuf_run_parts(task, t, sizeof(CopyTask), k, n * isz,
                    n * isz >= _stream_bytes)


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
    cdef int i, k = _nparts(n * isz)
    if L.ndim != 1 or L.s0[0] != isz or n * isz < _parallel_bytes:
        return False
    for i in range(k):
        lo = _part(n, i, k)
        t[i].kind = kind; t[i].isz = isz; t[i].unit = unit; t[i].stream = stream
        t[i].dside = dside; t[i].sside = sside; t[i].ss = L.s1[0]
        t[i].d = L.p0 + lo * isz; t[i].s = L.p1 + lo * L.s1[0]
        t[i].n = _part(n, i + 1, k) - lo
    pybuf_run_parts(_line_task, t, sizeof(LineTask), k, n * isz,
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


cdef bint _equal_typed(const real_t *a, Py_ssize_t sa, const char *bp,
                       Py_ssize_t sb, Py_ssize_t n) noexcept nogil:
    """all(a[i] == b[i]) with C's ==: NaN never equals, -0.0 == 0.0 (b's
    items of a's type too)."""
    cdef Py_ssize_t i
    cdef const char *ap = <const char *>a
    cdef const real_t *b = <const real_t *>bp
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


cdef void _dot_typed(const real_t *a, Py_ssize_t sa, const char *bp,
                     Py_ssize_t sb, Py_ssize_t n, Reduction *acc) noexcept nogil:
    """acc += sum(a[i] * b[i]) (b's items of a's type too), accumulated
    like _sum_typed."""
    cdef Py_ssize_t i = 0
    cdef const char *ap = <const char *>a
    cdef const real_t *b = <const real_t *>bp
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


# --------------------------------------------------------------------------
# Type dispatch: a switch on the TypeId (TYPE_BOOL .. TYPE_FLOAT64; others:
# nothing) picks the fused specialisation above, called with its own
# signature: the line's pointers are cast to the item type, never the
# function (a call through a pointer of another function type would be
# undefined behaviour).  One line a type: Cython makes each chain a switch.

cdef bint _equal_bool(const char *a, Py_ssize_t sa, const char *b,
                      Py_ssize_t sb, Py_ssize_t n) noexcept nogil:
    """Bools as numpy reads them: any nonzero byte is True."""
    cdef Py_ssize_t i
    for i in range(n):
        if ((<const uint8_t *>a)[i * sa] != 0) != ((<const uint8_t *>b)[i * sb] != 0):
            return False
    return True


cdef void _dot_bool(const char *a, Py_ssize_t sa, const char *b,
                    Py_ssize_t sb, Py_ssize_t n, Reduction *acc) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        acc.u += ((<const uint8_t *>a)[i * sa] != 0) & ((<const uint8_t *>b)[i * sb] != 0)
    acc.count += n


cdef void _cast_to(const src_t *s, Py_ssize_t ss, int dt, char *d,
                   Py_ssize_t ds, Py_ssize_t n) noexcept nogil:
    if dt == TYPE_BOOL: _cast_typed[src_t, bool_t](s, ss, <bool_t *>d, ds, n)
    elif dt == TYPE_INT8: _cast_typed[src_t, int8_t](s, ss, <int8_t *>d, ds, n)
    elif dt == TYPE_UINT8: _cast_typed[src_t, uint8_t](s, ss, <uint8_t *>d, ds, n)
    elif dt == TYPE_INT16: _cast_typed[src_t, int16_t](s, ss, <int16_t *>d, ds, n)
    elif dt == TYPE_UINT16: _cast_typed[src_t, uint16_t](s, ss, <uint16_t *>d, ds, n)
    elif dt == TYPE_INT32: _cast_typed[src_t, int32_t](s, ss, <int32_t *>d, ds, n)
    elif dt == TYPE_UINT32: _cast_typed[src_t, uint32_t](s, ss, <uint32_t *>d, ds, n)
    elif dt == TYPE_INT64: _cast_typed[src_t, int64_t](s, ss, <int64_t *>d, ds, n)
    elif dt == TYPE_UINT64: _cast_typed[src_t, uint64_t](s, ss, <uint64_t *>d, ds, n)
    elif dt == TYPE_FLOAT32: _cast_typed[src_t, float32_t](s, ss, <float32_t *>d, ds, n)
    elif dt == TYPE_FLOAT64: _cast_typed[src_t, float64_t](s, ss, <float64_t *>d, ds, n)


cdef void _cast_line(int st, const char *s, Py_ssize_t ss, int dt, char *d,
                     Py_ssize_t ds, Py_ssize_t n) noexcept nogil:
    """Convert a line of n real items (native, aligned)."""
    if st == TYPE_BOOL: _cast_to(<const bool_t *>s, ss, dt, d, ds, n)
    elif st == TYPE_INT8: _cast_to(<const int8_t *>s, ss, dt, d, ds, n)
    elif st == TYPE_UINT8: _cast_to(<const uint8_t *>s, ss, dt, d, ds, n)
    elif st == TYPE_INT16: _cast_to(<const int16_t *>s, ss, dt, d, ds, n)
    elif st == TYPE_UINT16: _cast_to(<const uint16_t *>s, ss, dt, d, ds, n)
    elif st == TYPE_INT32: _cast_to(<const int32_t *>s, ss, dt, d, ds, n)
    elif st == TYPE_UINT32: _cast_to(<const uint32_t *>s, ss, dt, d, ds, n)
    elif st == TYPE_INT64: _cast_to(<const int64_t *>s, ss, dt, d, ds, n)
    elif st == TYPE_UINT64: _cast_to(<const uint64_t *>s, ss, dt, d, ds, n)
    elif st == TYPE_FLOAT32: _cast_to(<const float32_t *>s, ss, dt, d, ds, n)
    elif st == TYPE_FLOAT64: _cast_to(<const float64_t *>s, ss, dt, d, ds, n)


cdef void _reduce_line(int t, const char *p, Py_ssize_t s, Py_ssize_t n,
                       int op, Reduction *acc) noexcept nogil:
    # bools are read as numpy reads them (any nonzero byte is True)
    if t == TYPE_BOOL: _reduce_bool(<const uint8_t *>p, s, n, op, acc)
    elif t == TYPE_INT8: _reduce_typed(<const int8_t *>p, s, n, op, acc)
    elif t == TYPE_UINT8: _reduce_typed(<const uint8_t *>p, s, n, op, acc)
    elif t == TYPE_INT16: _reduce_typed(<const int16_t *>p, s, n, op, acc)
    elif t == TYPE_UINT16: _reduce_typed(<const uint16_t *>p, s, n, op, acc)
    elif t == TYPE_INT32: _reduce_typed(<const int32_t *>p, s, n, op, acc)
    elif t == TYPE_UINT32: _reduce_typed(<const uint32_t *>p, s, n, op, acc)
    elif t == TYPE_INT64: _reduce_typed(<const int64_t *>p, s, n, op, acc)
    elif t == TYPE_UINT64: _reduce_typed(<const uint64_t *>p, s, n, op, acc)
    elif t == TYPE_FLOAT32: _reduce_typed(<const float32_t *>p, s, n, op, acc)
    elif t == TYPE_FLOAT64: _reduce_typed(<const float64_t *>p, s, n, op, acc)


cdef bint _equal_line(int t, const char *a, Py_ssize_t sa, const char *b,
                      Py_ssize_t sb, Py_ssize_t n) noexcept nogil:
    """Equality of integers is equality of their bits: one kernel per
    size; items of other types compare byte by byte."""
    if t == TYPE_BOOL: return _equal_bool(a, sa, b, sb, n)
    elif t == TYPE_FLOAT32: return _equal_typed(<const float32_t *>a, sa, b, sb, n)
    elif t == TYPE_FLOAT64: return _equal_typed(<const float64_t *>a, sa, b, sb, n)
    elif t == TYPE_INT16 or t == TYPE_UINT16:
        return _equal_typed(<const uint16_t *>a, sa, b, sb, n)
    elif t == TYPE_INT32 or t == TYPE_UINT32:
        return _equal_typed(<const uint32_t *>a, sa, b, sb, n)
    elif t == TYPE_INT64 or t == TYPE_UINT64:
        return _equal_typed(<const uint64_t *>a, sa, b, sb, n)
    return _equal_typed(<const uint8_t *>a, sa, b, sb, n)


cdef void _dot_line(int t, const char *a, Py_ssize_t sa, const char *b,
                    Py_ssize_t sb, Py_ssize_t n, Reduction *acc) noexcept nogil:
    if t == TYPE_BOOL: _dot_bool(a, sa, b, sb, n, acc)
    elif t == TYPE_INT8: _dot_typed(<const int8_t *>a, sa, b, sb, n, acc)
    elif t == TYPE_UINT8: _dot_typed(<const uint8_t *>a, sa, b, sb, n, acc)
    elif t == TYPE_INT16: _dot_typed(<const int16_t *>a, sa, b, sb, n, acc)
    elif t == TYPE_UINT16: _dot_typed(<const uint16_t *>a, sa, b, sb, n, acc)
    elif t == TYPE_INT32: _dot_typed(<const int32_t *>a, sa, b, sb, n, acc)
    elif t == TYPE_UINT32: _dot_typed(<const uint32_t *>a, sa, b, sb, n, acc)
    elif t == TYPE_INT64: _dot_typed(<const int64_t *>a, sa, b, sb, n, acc)
    elif t == TYPE_UINT64: _dot_typed(<const uint64_t *>a, sa, b, sb, n, acc)
    elif t == TYPE_FLOAT32: _dot_typed(<const float32_t *>a, sa, b, sb, n, acc)
    elif t == TYPE_FLOAT64: _dot_typed(<const float64_t *>a, sa, b, sb, n, acc)


# --------------------------------------------------------------------------
# Reductions on two threads

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
    cdef int i, k = _nparts(n * _abs(sa))
    memset(p, 0, sizeof(p))
    for i in range(k):
        lo = _part(n, i, k)
        p[i].type = t; p[i].op = op
        p[i].a = a + lo * sa; p[i].sa = sa; p[i].sb = sb
        p[i].b = b + lo * sb if b != NULL else NULL
        p[i].n = _part(n, i + 1, k) - lo
    pybuf_run_parts(task, p, sizeof(ReduceTask), k, n * _abs(sa),
                n * _abs(sa) >= _stream_bytes)
    for i in range(k):
        _combine(acc, &p[i].acc, op, t)


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
    and ``out.nan``.  Items that normalise to one line of at least
    _parallel_bytes are reduced in parts on two threads."""
    cdef Loop L
    cdef Py_ssize_t idx[MAX_NDIM]
    cdef int last
    cdef Py_ssize_t size = _type_size(type)
    _loop_init(&L, ndim, shape, <char *>data, strides, size,
               NULL, NULL, 0, True)
    if L.ndim == 0:
        return
    if L.ndim == 1 and L.shape[0] * size >= _parallel_bytes:
        _split_reduce(_reduce_task, type, op, L.p0, L.s0[0], NULL, 0,
                      L.shape[0], out)
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
    _dot_typed(a, sa, <const char *>b, sb, n, &acc)
    return acc.f


cdef inline bint _aligned(Py_ssize_t x, Py_ssize_t size) noexcept nogil:
    """x % size == 0, with a mask for the power-of-two sizes of every
    aligned type (a division costs tens of cycles a call)."""
    if size & (size - 1) == 0:
        return x & (size - 1) == 0
    return x % size == 0


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
        _aligned(<Py_ssize_t>(<uintptr_t>data), size)
    for i in range(ndim):
        if side.direct and shape[i] > 1 and not _aligned(strides[i], size):
            side.direct = False


cdef void convert_items(int ndim, const Py_ssize_t *shape,
                        const char *src, const Py_ssize_t *src_strides,
                        int src_type, bint src_swapped,
                        char *dst, const Py_ssize_t *dst_strides,
                        int dst_type, bint dst_swapped) noexcept nogil:
    """cast_items for items of any byte order and alignment, and for the
    storage-only types float16 and long double (rounded once).  Items
    that differ only in byte order are swapped; large destinations with
    contiguous lines are written with streaming stores, one long line on
    two threads."""
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
    if ds.type == ss.type and ds.size == ss.size and ds.swapped != ss.swapped \
            and ds.storage == ss.storage:
        _bswap_loop(&L, ds.size, ds.size)      # only the byte order differs
        return
    if _loop_items(&L) * ds.size >= _stream_bytes and L.s0[last] == ds.size:
        _stream_lines_loop(LINE_CONVERT, &L, ds.size, ds.size, &ds, &ss)
        return
    if _split_line(LINE_CONVERT, &L, ds.size, ds.size, &ds, &ss, False):
        return
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
    """out += sum(a[i] * b[i]) in the type dot() uses; returns that type.
    Native aligned operands of one type and at least _parallel_bytes are
    done in parts on two threads; others through staging blocks."""
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
        if n * sa.size >= _parallel_bytes:
            _split_reduce(_dot_task, t, REDUCE_SUM, a, a_stride, b, b_stride,
                          n, out)
        else:
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
# What pybuf._ops uses beyond the C API (pybuf/_kernels_impl.pxd)

cdef KernelsImpl _IMPL
_IMPL.stream_bytes = &_stream_bytes
_IMPL.parallel_bytes = &_parallel_bytes
_IMPL.simd = &pybuf_simd
_IMPL.simd_select = pybuf_simd_select
_IMPL.simd_path_name = pybuf_simd_path_name
_IMPL.simd_path_supported = pybuf_simd_path_supported
_IMPL.cache_size = pybuf_cache_size
_IMPL.worker_enable = pybuf_worker_enable
_IMPL.worker_running = pybuf_worker_running
_IMPL.loop_init = _loop_init
_IMPL.copy_loop = _copy_loop
_IMPL.fill_loop = _fill_loop
_IMPL.bswap_line = _bswap_line
_IMPL.bswap_loop = _bswap_loop
_IMPL.stage_in = _stage_in
_IMPL.narrow_line = _narrow_line
_IMPL.reduce_line = _reduce_line
_IMPL.equal_line = _equal_line
_IMPL.equal_staged = _equal_staged
_impl = PyCapsule_New(&_IMPL, "pybuf.kernels._impl", NULL)
