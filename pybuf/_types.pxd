# The one home of pybuf's scalar typedefs and fused types.
from libc.stdint cimport (int8_t, int16_t, int32_t, int64_t,
                          uint8_t, uint16_t, uint32_t, uint64_t)

# Largest ndim pybuf accepts (CPython's PyBUF_MAX_NDIM).
cdef enum:
    MAX_NDIM = 64
