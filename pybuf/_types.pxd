# The one home of pybuf's scalar typedefs and fused types (bottom layer:
# every .pyx cimports it).  Append-only from pybuf 0.1.0 on.
from libc.stdint cimport (int8_t, int16_t, int32_t, int64_t,
                          uint8_t, uint16_t, uint32_t, uint64_t)

# Largest ndim pybuf accepts (CPython's PyBUF_MAX_NDIM).
cdef enum:
    MAX_NDIM = 64

# C's _Bool, so that a cast to it means "!= 0" (numpy's bool conversion)
# rather than truncation to the low byte.  Cython is told it is a plain
# ``char``: a type distinct from int8_t (signed char) and uint8_t
# (unsigned char), so that fused types can list all three.
cdef extern from *:
    """
    typedef _Bool pybuf_bool_t;
    """
    ctypedef char bool_t "pybuf_bool_t"

ctypedef float float32_t
ctypedef double float64_t

# What an item is, once its format string is read (pybuf.kernels.format_type).
# Complex items are pairs of float32/float64 (real, imaginary).
cdef enum TypeId:
    TYPE_OPAQUE = 0       # anything else: itemsize bytes, copied as they are
    TYPE_BOOL = 1
    TYPE_INT8 = 2
    TYPE_UINT8 = 3
    TYPE_INT16 = 4
    TYPE_UINT16 = 5
    TYPE_INT32 = 6
    TYPE_UINT32 = 7
    TYPE_INT64 = 8
    TYPE_UINT64 = 9
    TYPE_FLOAT32 = 10
    TYPE_FLOAT64 = 11
    TYPE_COMPLEX64 = 12
    TYPE_COMPLEX128 = 13
    NUM_TYPES = 14
    # Storage-only types: kernels widen them to float32 ('e') or float64
    # ('g', 'Zg' as pairs) to compute, and narrow results back.
    TYPE_FLOAT16 = 14
    TYPE_LONGDOUBLE = 15
    TYPE_CLONGDOUBLE = 16

# Every real item type a kernel specialises for.
ctypedef fused real_t:
    bool_t
    int8_t
    uint8_t
    int16_t
    uint16_t
    int32_t
    uint32_t
    int64_t
    uint64_t
    float32_t
    float64_t

# The same types as a second, independent parameter: a function of a
# ``src_t`` and a ``real_t`` is specialised for every (source, destination)
# pair, where two ``real_t`` would always be the same type.
ctypedef fused src_t:
    real_t

# Unsigned words of every size an item can be moved as in one load/store.
ctypedef fused word_t:
    uint8_t
    uint16_t
    uint32_t
    uint64_t

# This machine's byte order: true when it is little-endian (CPython's
# PY_LITTLE_ENDIAN, known when pybuf is compiled).  The one C-level home of
# it; pybuf.formats, the Python-level grammar, reads sys.byteorder.
cdef extern from "Python.h":
    const bint NATIVE_LITTLE "PY_LITTLE_ENDIAN"


# The result of a reduction: which member is meaningful depends on the item
# type (int64 for signed and bool, uint64 for unsigned, float64 for floats).
cdef struct Reduction:
    int64_t i
    uint64_t u
    double f
    bint nan            # a NaN was seen (min/max)
    Py_ssize_t count    # items reduced so far

# Reduction operators for pybuf.kernels.reduce_items.
cdef enum:
    REDUCE_SUM = 0
    REDUCE_MIN = 1
    REDUCE_MAX = 2
