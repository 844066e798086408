# Calling pybuf's kernels from C: the row norms of a 2-d float64 array of
# any exporter, each row summed by pybuf's SIMD kernel without the GIL.
from libc.math cimport sqrt
from pybuf cimport kernels

import pybuf


def row_norms(const double[:, :] x):
    """sqrt(sum(x[i, :] ** 2)) for every row i (any strides)."""
    cdef Py_ssize_t i, n = x.shape[0]
    cdef Py_ssize_t stride = x.strides[1]
    out = pybuf.empty(n, "d")
    cdef double[::1] result = out
    with nogil:
        for i in range(n):
            result[i] = sqrt(kernels.dot_float64(&x[i, 0], stride, &x[i, 0],
                                                 stride, x.shape[1]))
    return out
