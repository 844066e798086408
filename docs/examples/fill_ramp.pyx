# A complete extension module built on pybuf: make a Buffer, fill its memory
# from C without the GIL, return it.  Python code then shares the values
# with memoryview, numpy or anything else that speaks the buffer protocol.
from pybuf.buffer cimport Buffer

import pybuf


def ramp(Py_ssize_t n, double start=0.0, double step=1.0):
    """A new Buffer of ``n`` float64 values: start, start + step, ...

    The memory is pybuf's (aligned to 64 bytes); this module only writes
    to it, through the C attribute ``data``.
    """
    cdef Buffer out = pybuf.empty(n, "d")
    cdef double *p = <double *>out.data
    cdef Py_ssize_t i
    with nogil:
        for i in range(n):
            p[i] = start + i * step
    return out
