# Calling pybuf's kernels from Cython: the row norms of a 2-d float64 array
# of any exporter, each row's dot product computed by pybuf's SIMD kernel
# without the GIL.
from libc.math cimport sqrt
from pybuf cimport typed

import pybuf


def row_norms(const double[:, :] x):
    """sqrt(sum(x[i, :] ** 2)) for every row i (any strides)."""
    cdef Py_ssize_t i
    out = pybuf.empty(x.shape[0], "d")
    cdef double[::1] result = out
    with nogil:
        for i in range(x.shape[0]):
            result[i] = sqrt(typed.dot(x[i, :], x[i, :]))
    return out
