# Private to pybuf (not an ABI): the C reader of format strings, which
# pybuf.kernels.format_type (kernels.pxd) hands on.
from pybuf._types cimport *

# The TypeId of items of format ``fmt`` and ``itemsize`` bytes (see
# kernels.pxd's format_type); ``swapped[0]``: non-native byte order.
cdef int format_type(const char *fmt, Py_ssize_t itemsize,
                     bint *swapped) noexcept nogil
# Bytes of an item of TypeId ``t`` (0 for TYPE_OPAQUE).
cdef Py_ssize_t _type_size(int t) noexcept nogil

# Buffer's format entries: (format, bytes, itemsize, native code, Format or
# None), read once and cached; and the items they describe, packed and
# unpacked.
cdef tuple _format_entry(object fmt)
cdef tuple _foreign_entry(const char *cfmt, Py_ssize_t itemsize)
cdef bint _has_objects(tuple entry)
# Do equal bytes mean equal items in both formats (and itemsizes)?
cdef bint same_items(const char *fa, Py_ssize_t ia, const char *fb,
                     Py_ssize_t ib) except -1
cdef bint same_typed_items(const char *fa, Py_ssize_t itemsize, int ta, bint sa,
                           const char *fb, int tb, bint sb) except -1
# Does a format string hold ``O`` items (field names skipped)?  NULL: no.
cdef bint format_has_objects(const char *fmt) noexcept nogil
cdef object _object_error(str action)
cdef object _unpack_native(char code, const char *p)
cdef int _pack_native(char code, char *p, object value) except -1
cdef list _native_list(char code, const char *p, Py_ssize_t n, Py_ssize_t s)
cdef list _parsed_list(object parsed, const char *p, Py_ssize_t n, Py_ssize_t s,
                       Py_ssize_t itemsize)
