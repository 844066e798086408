# pybuf's kernels over Cython typed memoryviews:
#     from pybuf cimport typed
#     typed.sum(x), typed.dot(a, b), typed.copy(src, typed.out(dst)), ...
#
# Every function is ``noexcept nogil`` and inline: it reads the view's
# pointer, shape, strides and item type, and calls the C API of
# pybuf/kernels.pxd -- the kernels the Python functions run, with the same
# SIMD paths, the same worker thread for large lines, the same rules for
# NaN, -0.0 and integer overflow.
#
# Views: 1 to 4 dimensions (MAX_TYPED_NDIM) of the ten numeric item types
# int8_t .. uint64_t (from libc.stdint), float and double; strided
# (``double[:, :]``) or C-contiguous in the last dimension
# (``double[:, ::1]``).  Cython matches a fused memoryview by the exact
# spelling of its type: ``long[:]`` or numpy's ``float64_t[:]`` are other
# names for some of these types and are not matched (assign them to a
# ``int64_t[:]`` / ``double[:]`` variable first, which copies nothing);
# nor are Fortran-ordered views (``double[::1, :]``: assign to
# ``double[:, :]``).
#
# Two views given to one function (``dot``, ``equal``) are specialised
# together, so they have the same declaration.  ``copy`` and ``convert``
# write into a ``View`` made by ``out(x)`` from any writable view, so that
# their two arguments do not multiply the specialisations Cython compiles.
#
# Only inline functions: they compile into the extension that uses them
# and reach the kernels through kernels.pxd's ABI.  Names are added, never
# renamed or removed.
cimport cython
from libc.math cimport NAN
from libc.stdint cimport (int8_t, int16_t, int32_t, int64_t,
                          uint8_t, uint16_t, uint32_t, uint64_t, uintptr_t)
from libc.stdlib cimport malloc, free
from libc.string cimport memcmp, memset
from pybuf._types cimport (Reduction, REDUCE_SUM, REDUCE_MIN, REDUCE_MAX,
                           TYPE_INT8, TYPE_UINT8, TYPE_INT16, TYPE_UINT16,
                           TYPE_INT32, TYPE_UINT32, TYPE_INT64, TYPE_UINT64,
                           TYPE_FLOAT32, TYPE_FLOAT64)
from pybuf.kernels cimport (copy_items, fill_items, reduce_items,
                            byteswap_items, convert_items, equal_items,
                            dot_items)

cdef enum:
    MAX_TYPED_NDIM = 4

# The item types.
ctypedef fused number_t:
    int8_t
    uint8_t
    int16_t
    uint16_t
    int32_t
    uint32_t
    int64_t
    uint64_t
    float
    double

# Read-only views (a writable view is accepted too), by dimensions.
ctypedef fused const_1d_t:
    const number_t[:]
    const number_t[::1]
ctypedef fused const_2d_t:
    const number_t[:, :]
    const number_t[:, ::1]
ctypedef fused const_3d_t:
    const number_t[:, :, :]
    const number_t[:, :, ::1]
ctypedef fused const_4d_t:
    const number_t[:, :, :, :]
    const number_t[:, :, :, ::1]
ctypedef fused const_view_t:
    const_1d_t
    const_2d_t
    const_3d_t
    const_4d_t

# Writable views.
ctypedef fused view_t:
    number_t[:]
    number_t[::1]
    number_t[:, :]
    number_t[:, ::1]
    number_t[:, :, :]
    number_t[:, :, ::1]
    number_t[:, :, :, :]
    number_t[:, :, :, ::1]


# A view as the kernels take it: ``out(x)`` makes one of a writable view.
cdef struct View:
    char *data
    int ndim
    int type                 # a pybuf TypeId (pybuf/_types.pxd)
    Py_ssize_t itemsize
    Py_ssize_t shape[MAX_TYPED_NDIM]
    Py_ssize_t strides[MAX_TYPED_NDIM]


cdef inline int _type_of(const number_t *p) noexcept nogil:
    if number_t is int8_t:
        return TYPE_INT8
    elif number_t is uint8_t:
        return TYPE_UINT8
    elif number_t is int16_t:
        return TYPE_INT16
    elif number_t is uint16_t:
        return TYPE_UINT16
    elif number_t is int32_t:
        return TYPE_INT32
    elif number_t is uint32_t:
        return TYPE_UINT32
    elif number_t is int64_t:
        return TYPE_INT64
    elif number_t is uint64_t:
        return TYPE_UINT64
    elif number_t is float:
        return TYPE_FLOAT32
    else:
        return TYPE_FLOAT64


cdef inline void _first(View *v, const number_t *first) noexcept nogil:
    v.data = <char *>first
    v.type = _type_of(first)
    v.itemsize = sizeof(number_t)


# A view as the kernels take it: its first item's address (with no bounds
# check: an empty view gives its data pointer, never read), dimensions and
# item type (constants of each specialisation), shape and strides.  Every
# function reads its views through this one call: each call that passes a
# view on copies Cython's whole view struct.
cdef inline View _view(const_view_t x) noexcept nogil:
    cdef View v
    cdef int i
    with cython.boundscheck(False), cython.wraparound(False), \
            cython.initializedcheck(False):
        if const_view_t in const_1d_t:
            v.ndim = 1
            _first(&v, &x[0])
        elif const_view_t in const_2d_t:
            v.ndim = 2
            _first(&v, &x[0, 0])
        elif const_view_t in const_3d_t:
            v.ndim = 3
            _first(&v, &x[0, 0, 0])
        else:
            v.ndim = 4
            _first(&v, &x[0, 0, 0, 0])
    for i in range(v.ndim):
        v.shape[i] = x.shape[i]
        v.strides[i] = x.strides[i]
    return v


cdef inline View out(view_t x) noexcept nogil:
    """The destination of copy and convert: a writable view (a view of
    read-only memory is refused when it is acquired, by its exporter)."""
    return _view(x)


cdef inline int _same_shape(View *a, View *b) noexcept nogil:
    cdef int i
    if a.ndim != b.ndim:
        return False
    for i in range(a.ndim):
        if a.shape[i] != b.shape[i]:
            return False
    return True


cdef inline double _as_double(Reduction *r, int type) noexcept nogil:
    if r.nan:
        return NAN
    if type == TYPE_FLOAT32 or type == TYPE_FLOAT64:
        return r.f
    if type == TYPE_UINT8 or type == TYPE_UINT16 or type == TYPE_UINT32 \
            or type == TYPE_UINT64:
        return <double>r.u
    return <double>r.i


cdef inline Reduction _reduce(View *v, int op) noexcept nogil:
    cdef Reduction r
    memset(&r, 0, sizeof(r))
    reduce_items(op, v.ndim, v.shape, v.data, v.strides, v.type, &r)
    return r


cdef inline double _extreme(View *v, int op) noexcept nogil:
    cdef int t = v.type        # (read before v's address is passed on)
    cdef Reduction r = _reduce(v, op)
    if r.count == 0:
        return NAN
    return _as_double(&r, t)


cdef inline Reduction reduction(const_view_t x, int op) noexcept nogil:
    """pybuf.sum, min or max (``op``: REDUCE_SUM, REDUCE_MIN, REDUCE_MAX)
    of every item, exactly: ``.i`` holds the result for signed items,
    ``.u`` for unsigned, ``.f`` for float and double; ``.count`` is the
    number of items and ``.nan`` tells that min/max saw a NaN.  Sums of
    integers wrap around in 64 bits, as numpy's; floats add in float64."""
    cdef View v = _view(x)
    return _reduce(&v, op)


cdef inline double sum(const_view_t x) noexcept nogil:
    """The sum of every item as a double (pybuf.sum: integers add exactly
    in 64 bits first; floats in float64).  0 when empty."""
    cdef View v = _view(x)
    cdef int t = v.type        # (read before v's address is passed on)
    cdef Reduction r = _reduce(&v, REDUCE_SUM)
    return _as_double(&r, t)


cdef inline double min(const_view_t x) noexcept nogil:
    """The smallest item as a double; NaN when an item is NaN or the view
    is empty (pybuf.min raises there)."""
    cdef View v = _view(x)
    return _extreme(&v, REDUCE_MIN)


cdef inline double max(const_view_t x) noexcept nogil:
    """The largest item: as min."""
    cdef View v = _view(x)
    return _extreme(&v, REDUCE_MAX)


cdef inline double dot(const_1d_t a, const_1d_t b) noexcept nogil:
    """sum(a[i] * b[i]) as pybuf.dot computes it (float64 for floats,
    64-bit integers else), as a double; NaN when the lengths differ."""
    cdef View va = _view(a)
    cdef View vb = _view(b)
    cdef Reduction r
    cdef int t
    if va.shape[0] != vb.shape[0]:
        return NAN
    memset(&r, 0, sizeof(r))
    t = dot_items(va.shape[0], va.data, va.strides[0], va.type, False,
                  vb.data, vb.strides[0], vb.type, False, &r)
    return _as_double(&r, t)


cdef inline bint equal(const_view_t a, const_view_t b) noexcept nogil:
    """pybuf.equal: the same shape and every pair of items equal (NaN !=
    NaN, -0.0 == 0.0)."""
    cdef View va = _view(a)
    cdef View vb = _view(b)
    if not _same_shape(&va, &vb):
        return False
    return equal_items(va.ndim, va.shape, va.data, va.strides, va.type,
                       False, vb.data, vb.strides, vb.type, False)


cdef inline void _store(int type, double value, uint64_t *item) noexcept nogil:
    # value as an item of ``type``: C's conversion, as pybuf.astype's
    if type == TYPE_INT8:
        (<int8_t *>item)[0] = <int8_t>value
    elif type == TYPE_UINT8:
        (<uint8_t *>item)[0] = <uint8_t>value
    elif type == TYPE_INT16:
        (<int16_t *>item)[0] = <int16_t>value
    elif type == TYPE_UINT16:
        (<uint16_t *>item)[0] = <uint16_t>value
    elif type == TYPE_INT32:
        (<int32_t *>item)[0] = <int32_t>value
    elif type == TYPE_UINT32:
        (<uint32_t *>item)[0] = <uint32_t>value
    elif type == TYPE_INT64:
        (<int64_t *>item)[0] = <int64_t>value
    elif type == TYPE_UINT64:
        (<uint64_t *>item)[0] = <uint64_t>value
    elif type == TYPE_FLOAT32:
        (<float *>item)[0] = <float>value
    else:
        (<double *>item)[0] = value


cdef inline void fill(view_t x, double value) noexcept nogil:
    """Set every item to ``value`` converted to the item type (C's
    conversion, numpy's unsafe cast for values in range, as pybuf.astype
    converts)."""
    cdef View v = _view(x)
    cdef uint64_t item
    _store(v.type, value, &item)
    fill_items(v.ndim, v.shape, v.data, v.strides, <char *>&item, v.itemsize)


cdef inline void byteswap(view_t x) noexcept nogil:
    """Reverse the bytes of every item, in place (pybuf.byteswap)."""
    cdef View v = _view(x)
    byteswap_items(v.ndim, v.shape, v.data, v.strides, v.data, v.strides,
                   v.itemsize, v.itemsize)


cdef inline void _extent(View *v, uintptr_t *lo, uintptr_t *hi) noexcept nogil:
    # the bytes [lo, hi) that a non-empty view's items span
    cdef int i
    lo[0] = hi[0] = <uintptr_t>v.data
    for i in range(v.ndim):
        if v.strides[i] < 0:
            lo[0] -= <uintptr_t>((v.shape[i] - 1) * -v.strides[i])
        else:
            hi[0] += <uintptr_t>((v.shape[i] - 1) * v.strides[i])
    hi[0] += <uintptr_t>v.itemsize


cdef inline int _move(View *src, View *dst, bint same) noexcept nogil:
    # copy (same) or convert src into dst, shapes checked; through a
    # temporary copy of src when the two overlap (memmove's semantics)
    cdef uintptr_t slo, shi, dlo, dhi
    cdef View tmp
    cdef Py_ssize_t n = src.itemsize
    cdef int i, k
    for i in range(src.ndim):
        n *= src.shape[i]
    if n == 0:
        return 0
    _extent(src, &slo, &shi)
    _extent(dst, &dlo, &dhi)
    if slo < dhi and dlo < shi:
        if same and src.data == dst.data and memcmp(
                src.strides, dst.strides, src.ndim * sizeof(Py_ssize_t)) == 0:
            return 0                    # copying onto itself
        tmp = src[0]
        tmp.data = <char *>malloc(<size_t>n)
        if tmp.data == NULL:
            return -1
        n = src.itemsize
        for k in range(src.ndim - 1, -1, -1):   # C order
            tmp.strides[k] = n
            n *= src.shape[k]
        copy_items(src.ndim, src.shape, src.data, src.strides, NULL,
                   tmp.data, tmp.strides, src.itemsize)
        i = _move(&tmp, dst, same)
        free(tmp.data)
        return i
    if same:
        copy_items(src.ndim, src.shape, src.data, src.strides, NULL,
                   dst.data, dst.strides, src.itemsize)
    else:
        convert_items(src.ndim, src.shape, src.data, src.strides, src.type,
                      False, dst.data, dst.strides, dst.type, False)
    return 0


cdef inline int copy(const_view_t src, View dst) noexcept nogil:
    """dst[idx] = src[idx] (pybuf.copyto) for a ``dst = out(view)`` of the
    same item type and shape; -1 (nothing written) when they differ, or
    when src and dst overlap and no memory was left to stage src."""
    cdef View s = _view(src)
    if s.type != dst.type or not _same_shape(&s, &dst):
        return -1
    return _move(&s, &dst, True)


cdef inline int convert(const_view_t src, View dst) noexcept nogil:
    """dst[idx] = (dst's type) src[idx] for a ``dst = out(view)`` of the
    same shape and any item type: numpy's unsafe casting, as pybuf.astype
    and pybuf.copyto convert.  -1 as for copy."""
    cdef View s = _view(src)
    if not _same_shape(&s, &dst):
        return -1
    return _move(&s, &dst, s.type == dst.type)
