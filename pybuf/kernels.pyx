"""GIL-free kernels over strided memory.

Every kernel here is a ``cdef ... noexcept nogil`` function over a data
pointer, a shape and strides in bytes, so that any buffer exporter can be
handed to it once acquired.  Python entry points acquire their arguments,
dispatch once per call and release the GIL around the loop.
"""
from libc.string cimport memcpy, memmove


cdef inline void _copy_line(const char *src, Py_ssize_t ss, char *dst,
                            Py_ssize_t ds, Py_ssize_t n,
                            Py_ssize_t itemsize) noexcept nogil:
    cdef Py_ssize_t i
    if ss == itemsize and ds == itemsize:
        memmove(dst, src, <size_t>(n * itemsize))
        return
    for i in range(n):
        memcpy(dst + i * ds, src + i * ss, <size_t>itemsize)


cdef void copy_items(int ndim, const Py_ssize_t *shape,
                     const char *src, const Py_ssize_t *src_strides,
                     const Py_ssize_t *src_suboffsets,
                     char *dst, const Py_ssize_t *dst_strides,
                     Py_ssize_t itemsize) noexcept nogil:
    """Copy the items of a strided (optionally indirect) source to a
    strided destination of the same shape.

    Preconditions: source and destination do not overlap (the caller
    stages through a temporary when they may); ``ndim >= 0``; for
    ``ndim == 0`` one item is copied.
    """
    cdef Py_ssize_t i
    cdef const char *p
    if ndim == 0:
        memcpy(dst, src, <size_t>itemsize)
        return
    if ndim == 1 and (src_suboffsets == NULL or src_suboffsets[0] < 0):
        _copy_line(src, src_strides[0], dst, dst_strides[0], shape[0], itemsize)
        return
    for i in range(shape[0]):
        p = src + i * src_strides[0]
        if src_suboffsets != NULL and src_suboffsets[0] >= 0:
            p = (<const char **>p)[0] + src_suboffsets[0]
        if ndim == 1:
            memcpy(dst + i * dst_strides[0], p, <size_t>itemsize)
        else:
            copy_items(ndim - 1, shape + 1, p, src_strides + 1,
                       src_suboffsets + 1 if src_suboffsets != NULL else NULL,
                       dst + i * dst_strides[0], dst_strides + 1, itemsize)


cdef void fill_items(int ndim, const Py_ssize_t *shape,
                     char *dst, const Py_ssize_t *dst_strides,
                     const char *item, Py_ssize_t itemsize) noexcept nogil:
    """Set every item of a strided destination to the ``itemsize`` bytes
    at ``item`` (which must not lie inside the destination)."""
    cdef Py_ssize_t i
    if ndim == 0:
        memcpy(dst, item, <size_t>itemsize)
        return
    if ndim == 1:
        for i in range(shape[0]):
            memcpy(dst + i * dst_strides[0], item, <size_t>itemsize)
        return
    for i in range(shape[0]):
        fill_items(ndim - 1, shape + 1, dst + i * dst_strides[0],
                   dst_strides + 1, item, itemsize)
