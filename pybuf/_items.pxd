# Private to pybuf (not an ABI): the C reader of format strings, which
# pybuf.kernels.format_type (kernels.pxd) hands on.
from pybuf._types cimport *

# The TypeId of items of format ``fmt`` and ``itemsize`` bytes (see
# kernels.pxd's format_type); ``swapped[0]``: non-native byte order.
cdef int format_type(const char *fmt, Py_ssize_t itemsize,
                     bint *swapped) noexcept nogil
# Bytes of an item of TypeId ``t`` (0 for TYPE_OPAQUE).
cdef Py_ssize_t _type_size(int t) noexcept nogil
