# A consumer: typed memoryviews accept any exporter (a pybuf Buffer, numpy,
# array.array, a memoryview ...), contiguous or strided, without a copy.
cimport cython


@cython.boundscheck(False)   # the loops stay within shape: no checks needed
@cython.wraparound(False)
def total(const double[:] values):
    """Sum of a 1-d float64 buffer.  ``const`` asks for a read-only view,
    so read-only exporters (bytes, read-only Buffers) are accepted too."""
    cdef double s = 0.0
    cdef Py_ssize_t i
    with nogil:
        for i in range(values.shape[0]):
            s += values[i]
    return s


@cython.boundscheck(False)
@cython.wraparound(False)
def scale(double[:, :] m, double factor):
    """Multiply a 2-d float64 buffer in place (needs writable memory)."""
    cdef Py_ssize_t i, j
    with nogil:
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                m[i, j] *= factor
