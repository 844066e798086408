# C-level kernels: ``noexcept nogil``, pointer + shape + strides.
#     from pybuf cimport kernels
# An append-only ABI from pybuf 0.1.0 on: new declarations go at the end;
# none is ever reordered, changed or removed.
# Reduction and the REDUCE_* operators live in pybuf._types (below this
# module and pybuf's private ones, which share them); cimport them from
# either.
from pybuf._types cimport Reduction, REDUCE_SUM, REDUCE_MIN, REDUCE_MAX

cdef void copy_items(int ndim, const Py_ssize_t *shape,
                     const char *src, const Py_ssize_t *src_strides,
                     const Py_ssize_t *src_suboffsets,
                     char *dst, const Py_ssize_t *dst_strides,
                     Py_ssize_t itemsize) noexcept nogil

cdef void fill_items(int ndim, const Py_ssize_t *shape,
                     char *dst, const Py_ssize_t *dst_strides,
                     const char *item, Py_ssize_t itemsize) noexcept nogil

# The pybuf.TypeId (see pybuf/_types.pxd) of an item of format ``fmt`` and
# ``itemsize`` bytes; ``swapped[0]`` is set when its bytes are in the
# non-native order.  TYPE_OPAQUE (0) for formats without a numeric meaning;
# TYPE_FLOAT16, TYPE_LONGDOUBLE, TYPE_CLONGDOUBLE for 'e', 'g', 'Zg', which
# the C kernels below do not take (the Python entry points widen them).
# It reads formats as pybuf.formats does (" i" and "1i" are "i").
cdef int format_type(const char *fmt, Py_ssize_t itemsize,
                     bint *swapped) noexcept nogil

# dst[idx] = (dst type) src[idx] for every index of ``shape``.  Real types
# only (TYPE_BOOL .. TYPE_FLOAT64), native byte order, items aligned to
# their size, no overlap.
cdef void cast_items(int ndim, const Py_ssize_t *shape,
                     const char *src, const Py_ssize_t *src_strides,
                     int src_type,
                     char *dst, const Py_ssize_t *dst_strides,
                     int dst_type) noexcept nogil

# Fold every item of a strided real array into ``out`` (which the caller
# zeroes first; calls may be chained).  Same preconditions as cast_items.
cdef void reduce_items(int op, int ndim, const Py_ssize_t *shape,
                       const char *data, const Py_ssize_t *strides,
                       int type, Reduction *out) noexcept nogil

# Reverse the bytes of every ``unit``-byte word of a strided array of
# items of ``itemsize`` bytes (unit divides itemsize), writing to dst
# (which may be src itself).
cdef void byteswap_items(int ndim, const Py_ssize_t *shape,
                         const char *src, const Py_ssize_t *src_strides,
                         char *dst, const Py_ssize_t *dst_strides,
                         Py_ssize_t itemsize, Py_ssize_t unit) noexcept nogil

# sum(p[i * stride]) and sum(a[i * sa] * b[i * sb]) over n float64 items
# (strides in bytes), accumulated in float64.
cdef double sum_float64(const double *p, Py_ssize_t stride,
                        Py_ssize_t n) noexcept nogil
cdef double dot_float64(const double *a, Py_ssize_t sa, const double *b,
                        Py_ssize_t sb, Py_ssize_t n) noexcept nogil

# The staged kernels of pybuf.astype, pybuf.equal and pybuf.dot: real items
# (TYPE_BOOL .. TYPE_FLOAT64) and TYPE_FLOAT16 / TYPE_LONGDOUBLE, in any byte
# order (``*_swapped``, as format_type reports it) and alignment.  Complex
# items go in as pairs of reals (one more dimension of 2, stride = half the
# item).
#
# dst[idx] = (dst type) src[idx], numpy's unsafe casting (no overlap).
cdef void convert_items(int ndim, const Py_ssize_t *shape,
                        const char *src, const Py_ssize_t *src_strides,
                        int src_type, bint src_swapped,
                        char *dst, const Py_ssize_t *dst_strides,
                        int dst_type, bint dst_swapped) noexcept nogil
# all(a[idx] == b[idx]) by value: NaN != NaN, -0.0 == 0.0, 64-bit integers
# exact against each other.
cdef bint equal_items(int ndim, const Py_ssize_t *shape,
                      const char *a, const Py_ssize_t *a_strides,
                      int a_type, bint a_swapped,
                      const char *b, const Py_ssize_t *b_strides,
                      int b_type, bint b_swapped) noexcept nogil
# ``out`` += sum(a[i] * b[i]) over n items (strides in bytes), converted to
# the type pybuf.dot uses; returns that TypeId: out.f for a float type,
# out.u for unsigned or bool, out.i for signed.  ``out`` is zeroed by the
# caller first; calls may be chained.
cdef int dot_items(Py_ssize_t n, const char *a, Py_ssize_t a_stride,
                   int a_type, bint a_swapped,
                   const char *b, Py_ssize_t b_stride,
                   int b_type, bint b_swapped, Reduction *out) noexcept nogil
