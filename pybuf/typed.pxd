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


# A view's first item's address (with no bounds check: an empty view gives
# its data pointer, never read), dimensions and item type (constants of
# each specialisation): kept in registers by the compiler, where a View,
# whose shape goes to the kernels by address, is all stored.
cdef struct _Item:
    char *data
    int ndim
    int type
    Py_ssize_t itemsize


cdef inline _Item _item(const number_t *first, int ndim) noexcept nogil:
    cdef _Item it
    it.data = <char *>first
    it.ndim = ndim
    it.type = _type_of(first)
    it.itemsize = sizeof(number_t)
    return it


# The one place where a function reads a view: every call that passes a
# view on copies Cython's whole view struct (about 200 bytes), so each
# function makes one call, this one, which copies ndim entries of the
# shape and strides out.
cdef inline _Item _read(const_view_t x, Py_ssize_t *shape,
                        Py_ssize_t *strides) noexcept nogil:
    cdef _Item it
    cdef int i
    with cython.boundscheck(False), cython.wraparound(False), \
            cython.initializedcheck(False):
        if const_view_t in const_1d_t:
            it = _item(&x[0], 1)
        elif const_view_t in const_2d_t:
            it = _item(&x[0, 0], 2)
        elif const_view_t in const_3d_t:
            it = _item(&x[0, 0, 0], 3)
        else:
            it = _item(&x[0, 0, 0, 0], 4)
    for i in range(it.ndim):
        shape[i] = x.shape[i]
        strides[i] = x.strides[i]
    return it


cdef inline View _view(const_view_t x) noexcept nogil:
    cdef View v
    cdef _Item it = _read(x, v.shape, v.strides)
    v.data = it.data
    v.ndim = it.ndim
    v.type = it.type
    v.itemsize = it.itemsize
    return v


cdef inline View out(view_t x) noexcept nogil:
    """The destination of copy and convert: a writable view (a view of
    read-only memory is refused when it is acquired, by its exporter)."""
    return _view(x)


cdef inline double _as_double(Reduction *r, int type) noexcept nogil:
    if r.nan:
        return NAN
    if type == TYPE_FLOAT32 or type == TYPE_FLOAT64:
        return r.f
    if type == TYPE_UINT8 or type == TYPE_UINT16 or type == TYPE_UINT32 \
            or type == TYPE_UINT64:
        return <double>r.u
    return <double>r.i


cdef inline Reduction _reduce(_Item *it, Py_ssize_t *shape,
                              Py_ssize_t *strides, int op) noexcept nogil:
    cdef Reduction r
    memset(&r, 0, sizeof(r))
    reduce_items(op, it.ndim, shape, it.data, strides, it.type, &r)
    return r


cdef inline double _extreme(Reduction r, int type) noexcept nogil:
    if r.count == 0:
        return NAN
    return _as_double(&r, type)


cdef inline Reduction reduction(const_view_t x, int op) noexcept nogil:
    """pybuf.sum, min or max (``op``: REDUCE_SUM, REDUCE_MIN, REDUCE_MAX)
    of every item, exactly: ``.i`` holds the result for signed items,
    ``.u`` for unsigned, ``.f`` for float and double; ``.count`` is the
    number of items and ``.nan`` tells that min/max saw a NaN.  Sums of
    integers wrap around in 64 bits, as numpy's; floats add in float64."""
    cdef Py_ssize_t shape[MAX_TYPED_NDIM]
    cdef Py_ssize_t strides[MAX_TYPED_NDIM]
    cdef _Item it = _read(x, shape, strides)
    return _reduce(&it, shape, strides, op)


cdef inline double sum(const_view_t x) noexcept nogil:
    """The sum of every item as a double (pybuf.sum: integers add exactly
    in 64 bits first; floats in float64).  0 when empty."""
    cdef Py_ssize_t shape[MAX_TYPED_NDIM]
    cdef Py_ssize_t strides[MAX_TYPED_NDIM]
    cdef _Item it = _read(x, shape, strides)
    cdef Reduction r = _reduce(&it, shape, strides, REDUCE_SUM)
    return _as_double(&r, it.type)


cdef inline double min(const_view_t x) noexcept nogil:
    """The smallest item as a double; NaN when an item is NaN or the view
    is empty (pybuf.min raises there)."""
    cdef Py_ssize_t shape[MAX_TYPED_NDIM]
    cdef Py_ssize_t strides[MAX_TYPED_NDIM]
    cdef _Item it = _read(x, shape, strides)
    return _extreme(_reduce(&it, shape, strides, REDUCE_MIN), it.type)


cdef inline double max(const_view_t x) noexcept nogil:
    """The largest item: as min."""
    cdef Py_ssize_t shape[MAX_TYPED_NDIM]
    cdef Py_ssize_t strides[MAX_TYPED_NDIM]
    cdef _Item it = _read(x, shape, strides)
    return _extreme(_reduce(&it, shape, strides, REDUCE_MAX), it.type)


cdef inline double dot(const_1d_t a, const_1d_t b) noexcept nogil:
    """sum(a[i] * b[i]) as pybuf.dot computes it (float64 for floats,
    64-bit integers else), as a double; NaN when the lengths differ."""
    cdef Py_ssize_t na, nb, sa, sb
    cdef _Item ia = _read(a, &na, &sa)
    cdef _Item ib = _read(b, &nb, &sb)
    cdef Reduction r
    cdef int t
    if na != nb:
        return NAN
    memset(&r, 0, sizeof(r))
    t = dot_items(na, ia.data, sa, ia.type, False, ib.data, sb, ib.type,
                  False, &r)
    return _as_double(&r, t)


cdef inline bint equal(const_view_t a, const_view_t b) noexcept nogil:
    """pybuf.equal: the same shape and every pair of items equal (NaN !=
    NaN, -0.0 == 0.0)."""
    cdef Py_ssize_t ashape[MAX_TYPED_NDIM]
    cdef Py_ssize_t astrides[MAX_TYPED_NDIM]
    cdef Py_ssize_t bshape[MAX_TYPED_NDIM]
    cdef Py_ssize_t bstrides[MAX_TYPED_NDIM]
    cdef _Item ia = _read(a, ashape, astrides)
    cdef _Item ib = _read(b, bshape, bstrides)
    cdef int i
    for i in range(ia.ndim):
        if ashape[i] != bshape[i]:
            return False
    return equal_items(ia.ndim, ashape, ia.data, astrides, ia.type, False,
                       ib.data, bstrides, ib.type, False)


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
    cdef Py_ssize_t shape[MAX_TYPED_NDIM]
    cdef Py_ssize_t strides[MAX_TYPED_NDIM]
    cdef _Item it = _read(x, shape, strides)
    cdef uint64_t item
    _store(it.type, value, &item)
    fill_items(it.ndim, shape, it.data, strides, <char *>&item, it.itemsize)


cdef inline void byteswap(view_t x) noexcept nogil:
    """Reverse the bytes of every item, in place (pybuf.byteswap)."""
    cdef Py_ssize_t shape[MAX_TYPED_NDIM]
    cdef Py_ssize_t strides[MAX_TYPED_NDIM]
    cdef _Item it = _read(x, shape, strides)
    byteswap_items(it.ndim, shape, it.data, strides, it.data, strides,
                   it.itemsize, it.itemsize)


cdef inline void _extent(char *data, int ndim, const Py_ssize_t *shape,
                         const Py_ssize_t *strides, Py_ssize_t itemsize,
                         uintptr_t *lo, uintptr_t *hi) noexcept nogil:
    # the bytes [lo, hi) that a non-empty view's items span
    cdef int i
    lo[0] = hi[0] = <uintptr_t>data
    for i in range(ndim):
        if strides[i] < 0:
            lo[0] -= <uintptr_t>((shape[i] - 1) * -strides[i])
        else:
            hi[0] += <uintptr_t>((shape[i] - 1) * strides[i])
    hi[0] += <uintptr_t>itemsize


cdef inline int _move(_Item *src, Py_ssize_t *shape, Py_ssize_t *strides,
                      View *dst) noexcept nogil:
    # copy or convert src into dst (shapes checked): through a temporary
    # copy of src when the two overlap (memmove's semantics)
    cdef uintptr_t slo, shi, dlo, dhi
    cdef _Item tmp
    cdef Py_ssize_t tstrides[MAX_TYPED_NDIM]
    cdef Py_ssize_t n = src.itemsize
    cdef int i, k
    for i in range(src.ndim):
        n *= shape[i]
    if n == 0:
        return 0
    _extent(src.data, src.ndim, shape, strides, src.itemsize, &slo, &shi)
    _extent(dst.data, dst.ndim, dst.shape, dst.strides, dst.itemsize, &dlo,
            &dhi)
    if slo < dhi and dlo < shi:
        if src.type == dst.type and src.data == dst.data and memcmp(
                strides, dst.strides, src.ndim * sizeof(Py_ssize_t)) == 0:
            return 0                    # copying onto itself
        tmp = src[0]
        tmp.data = <char *>malloc(<size_t>n)
        if tmp.data == NULL:
            return -1
        n = src.itemsize
        for k in range(src.ndim - 1, -1, -1):   # C order
            tstrides[k] = n
            n *= shape[k]
        copy_items(src.ndim, shape, src.data, strides, NULL, tmp.data,
                   tstrides, src.itemsize)
        i = _move(&tmp, shape, tstrides, dst)
        free(tmp.data)
        return i
    if src.type == dst.type:
        copy_items(src.ndim, shape, src.data, strides, NULL, dst.data,
                   dst.strides, src.itemsize)
    else:
        convert_items(src.ndim, shape, src.data, strides, src.type, False,
                      dst.data, dst.strides, dst.type, False)
    return 0


cdef inline bint _fits(_Item *src, Py_ssize_t *shape, View *dst) noexcept nogil:
    cdef int i
    if src.ndim != dst.ndim:
        return False
    for i in range(src.ndim):
        if shape[i] != dst.shape[i]:
            return False
    return True


cdef inline int copy(const_view_t src, View dst) noexcept nogil:
    """dst[idx] = src[idx] (pybuf.copyto) for a ``dst = out(view)`` of the
    same item type and shape; -1 (nothing written) when they differ, or
    when src and dst overlap and no memory was left to stage src."""
    cdef Py_ssize_t shape[MAX_TYPED_NDIM]
    cdef Py_ssize_t strides[MAX_TYPED_NDIM]
    cdef _Item s = _read(src, shape, strides)
    if s.type != dst.type or not _fits(&s, shape, &dst):
        return -1
    return _move(&s, shape, strides, &dst)


cdef inline int convert(const_view_t src, View dst) noexcept nogil:
    """dst[idx] = (dst's type) src[idx] for a ``dst = out(view)`` of the
    same shape and any item type: numpy's unsafe casting, as pybuf.astype
    and pybuf.copyto convert.  -1 as for copy."""
    cdef Py_ssize_t shape[MAX_TYPED_NDIM]
    cdef Py_ssize_t strides[MAX_TYPED_NDIM]
    cdef _Item s = _read(src, shape, strides)
    if not _fits(&s, shape, &dst):
        return -1
    return _move(&s, shape, strides, &dst)
