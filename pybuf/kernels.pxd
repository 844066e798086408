# C-level kernels: ``noexcept nogil``, pointer + shape + strides.
# ABI: append new declarations, never reorder or remove them.

cdef void copy_items(int ndim, const Py_ssize_t *shape,
                     const char *src, const Py_ssize_t *src_strides,
                     const Py_ssize_t *src_suboffsets,
                     char *dst, const Py_ssize_t *dst_strides,
                     Py_ssize_t itemsize) noexcept nogil

cdef void fill_items(int ndim, const Py_ssize_t *shape,
                     char *dst, const Py_ssize_t *dst_strides,
                     const char *item, Py_ssize_t itemsize) noexcept nogil
