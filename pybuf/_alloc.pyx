"""pybuf's allocator: the blocks Buffers own, their two caches and their
counters (:func:`pybuf.memory_info`, :func:`pybuf.trim`), and the owner
object of memory that C code hands over (``from_pointer``).  Below
pybuf.buffer, which cimports _alloc_block, _free_block and _owner_of
(declared in the private pybuf/_alloc.pxd) and re-exports memory_info and
trim.
"""
cimport cython
from libc.stdint cimport uintptr_t
from libc.stdlib cimport malloc, calloc, free
from libc.string cimport memset

import os as _os

cdef extern from "Python.h":
    const Py_ssize_t PY_SSIZE_T_MAX

# The allocator's C beyond malloc (huge-page advice, heap trimming):
# pybuf/_memory.h.
cdef extern from "_memory.h":
    void pybuf_advise_huge(void *p, size_t n) nogil
    void pybuf_malloc_trim() nogil

# pybuf's allocator.  Every block a Buffer owns comes from _alloc_block and
# goes back through _free_block.  Both run with the GIL held, which guards
# the caches and the counters below (memory_info(), trim()).
#
# Small blocks are cached by size class (numpy keeps such a cache for its
# small arrays): creating and dropping small Buffers then costs no trip
# through malloc's bins.  Classes are 64 bytes apart up to 2560 bytes, then
# 1 KiB apart up to 16 KiB; at most CACHE_DEPTH blocks each, so the cache
# holds at most SMALL_CACHE_MAX bytes (1.44 MiB).
#
# Large blocks: the last freed one of 32 to 65 MiB is kept for the next
# uninitialised Buffer of exactly its size, so that repeated temporaries
# (astype, copy, byteswap outputs) skip the page faults of fresh memory:
# 6x faster for 32 and 64 MiB temporaries written once.  Smaller blocks are
# freed at once: glibc's heap reuses blocks up to 32 MiB by itself and a
# cache of them measured no faster.  Zero-filled Buffers never take the
# block (calloc of fresh pages is already free of work).  docs/memory.rst
# gives the measurements (benchmarks/bench_memory.py).
#
# PYBUF_NO_CACHE=1 in the environment at import bypasses both caches:
# every block is malloc'd and freed at once, so that a sanitizer sees every
# use after free.

cdef enum:
    CACHE_FINE = 40             # classes of 64 bytes: up to 2560
    CACHE_CLASSES = 54          # then of 1 KiB: 3 KiB .. 16 KiB
    CACHE_DEPTH = 8
    BIG_MIN = 32 << 20          # glibc's heap reuses smaller blocks
    BIG_MAX = (64 << 20) + (1 << 20)
    HUGE_ADVICE_BYTES = 8 << 20 # blocks advised to use huge pages
cdef void *_cache[CACHE_CLASSES][CACHE_DEPTH]
cdef int _cache_len[CACHE_CLASSES]
cdef void *_big = NULL
cdef size_t _big_size = 0

cdef bint _small_on = True      # the caches in use (see _set_caching)
cdef bint _big_on = True
cdef size_t _allocated = 0      # bytes in live blocks
cdef size_t _peak = 0           # the most _allocated has been
cdef size_t _cached = 0         # bytes held by the two caches


cdef inline int _size_class(size_t *total) noexcept nogil:
    """The cache class of a block of ``total`` bytes (rounded up to the
    class size in place), or -1 when it is too large to cache."""
    cdef size_t n = total[0]
    if n <= CACHE_FINE * 64:
        n = (n + 63) >> 6
        total[0] = n << 6
        return <int>n - 1
    n = (n + 1023) >> 10
    if n > CACHE_CLASSES - CACHE_FINE + 2:
        return -1
    total[0] = n << 10
    return <int>n - 3 + CACHE_FINE


cdef inline int _block_size(Py_ssize_t nbytes, Py_ssize_t align,
                            size_t *total) noexcept nogil:
    """The size of the block that holds ``nbytes`` aligned to ``align``
    (in ``total``), and its cache class (-1: none).  Allocation and free
    compute it alike, so that the counters stay exact."""
    total[0] = <size_t>(nbytes + align - 1) if nbytes + align > 1 else 1
    return _size_class(total)


cdef void *_alloc_block(Py_ssize_t nbytes, Py_ssize_t align, bint zero,
                        char **data) except NULL:
    """malloc (or calloc) ``nbytes`` aligned to ``align``: the block to free
    (with _free_block) is returned, the aligned address stored in ``data``.
    Rounding up a plain malloc is cheaper than posix_memalign."""
    global _big, _allocated, _peak, _cached
    cdef size_t total
    cdef void *mem = NULL
    cdef int k
    if nbytes > PY_SSIZE_T_MAX - align:
        raise OverflowError("buffer size does not fit in Py_ssize_t")
    k = _block_size(nbytes, align, &total)
    if k >= 0 and _cache_len[k]:
        _cache_len[k] -= 1
        mem = _cache[k][_cache_len[k]]
        _cached -= total
        if zero:
            memset(mem, 0, total)
    elif not zero and _big != NULL and total == _big_size:
        mem, _big = _big, NULL
        _cached -= total
    else:
        mem = calloc(total, 1) if zero else malloc(total)
        if mem == NULL:
            raise MemoryError(f"cannot allocate {nbytes} bytes")
    _allocated += total
    if _allocated > _peak:
        _peak = _allocated
    data[0] = <char *>((<uintptr_t>mem + <uintptr_t>(align - 1)) & ~<uintptr_t>(align - 1))
    if nbytes >= HUGE_ADVICE_BYTES:
        pybuf_advise_huge(data[0], <size_t>nbytes)
    return mem


cdef void _free_block(void *mem, Py_ssize_t nbytes, Py_ssize_t align) noexcept:
    global _big, _big_size, _allocated, _cached
    cdef size_t total
    cdef int k = _block_size(nbytes, align, &total)
    if mem == NULL:
        return
    _allocated -= total
    if k >= 0 and _small_on and _cache_len[k] < CACHE_DEPTH:
        _cache[k][_cache_len[k]] = mem
        _cache_len[k] += 1
        _cached += total
    elif _big_on and BIG_MIN <= total <= BIG_MAX:
        if _big != NULL:
            free(_big)
            _cached -= _big_size
        _big, _big_size = mem, total
        _cached += total
    else:
        free(mem)


cdef size_t _trim() noexcept:
    """Free every cached block; the bytes freed."""
    global _big, _big_size, _cached
    cdef size_t freed = _cached
    cdef int k
    for k in range(CACHE_CLASSES):
        while _cache_len[k]:
            _cache_len[k] -= 1
            free(_cache[k][_cache_len[k]])
    free(_big)
    _big = NULL
    _big_size = 0
    _cached = 0
    with nogil:
        pybuf_malloc_trim()
    return freed


def memory_info():
    """What pybuf's own memory amounts to, in bytes.

    Returns
    -------
    dict
        ``allocated``: bytes in the live blocks that Buffers own (each
        block is ``nbytes + align - 1`` bytes, rounded up to 64 bytes or
        1 KiB for blocks of at most 16 KiB); ``cached``: bytes held by
        pybuf's block caches, ready for the next Buffer; ``peak``: the
        largest ``allocated`` since pybuf was imported.

    Notes
    -----
    Views, :func:`asbuffer`, :func:`from_address` and DLPack imports own no
    block and are not counted.  The caches hold at most 1.44 MiB of small
    blocks and one large block of 32 to 65 MiB; :func:`trim` empties
    them.

    Examples
    --------
    >>> import pybuf
    >>> before = pybuf.memory_info()["allocated"]
    >>> b = pybuf.empty(1 << 20)
    >>> pybuf.memory_info()["allocated"] - before == (1 << 20) + 63
    True
    """
    return {"allocated": _allocated, "cached": _cached, "peak": _peak}


def trim():
    """Return every block in pybuf's caches to the system.

    Where the C library is glibc, its heap is trimmed too
    (``malloc_trim(0)``), so that the pages of blocks already freed leave
    the process as well.

    Returns
    -------
    int
        The bytes of cached blocks freed (``memory_info()["cached"]``
        before the call).
    """
    return _trim()


def _set_caching(small, big):
    """Turn the small-block and the large-block cache on or off (for
    benchmarks and tests; PYBUF_NO_CACHE=1 turns both off at import).  A
    cache turned off is emptied first.  Returns the previous settings."""
    global _small_on, _big_on
    before = (bool(_small_on), bool(_big_on))
    _small_on, _big_on = bool(small), bool(big)
    if before != (_small_on, _big_on):
        _trim()
    return before


def _cache_limits():
    """The bounds of the caches: blocks per class, the most bytes the small
    cache can hold, the size range of the one large block, and whether
    each cache is in use (small, large)."""
    cdef size_t small = 0, total
    cdef int k
    cdef Py_ssize_t n
    classes = {}
    for n in range(1, 16 * 1024 + 1):
        total = <size_t>n
        k = _size_class(&total)
        classes[k] = total
    small = sum(classes.values()) * CACHE_DEPTH
    return {"depth": CACHE_DEPTH, "classes": len(classes), "small_max": small,
            "large_min": BIG_MIN, "large_max": BIG_MAX,
            "enabled": (bool(_small_on), bool(_big_on))}


if _os.environ.get("PYBUF_NO_CACHE", "") not in ("", "0"):
    _set_caching(False, False)


@cython.final
cdef class _Deleter:
    """The owner of memory handed over by :c:func:`from_pointer`: calls the
    deleter, once, when it is collected, which is when the Buffer over the
    memory is (or is released)."""
    cdef void (*deleter)(void *ctx) noexcept nogil
    cdef void *ctx

    def __dealloc__(self):
        # The GIL is held here, as in every deallocation.
        if self.deleter != NULL:
            self.deleter(self.ctx)
            self.deleter = NULL

    def __repr__(self):
        return "<memory owned by C code, freed by its deleter>"


cdef object _owner_of(void (*deleter)(void *ctx) noexcept nogil, void *ctx):
    """An object that calls ``deleter(ctx)`` once, when it is collected
    (``deleter`` may be NULL)."""
    cdef _Deleter owner = _Deleter.__new__(_Deleter)
    owner.deleter = deleter
    owner.ctx = ctx
    return owner
