# Memory that a C library owns, shared with Python without a copy: the
# library's samples_free() runs when the last user of the memory is gone.
from pybuf.buffer cimport Buffer, from_pointer

cdef extern from "samplelib.h":
    ctypedef struct samples
    samples *samples_new(Py_ssize_t n, double step) nogil
    double *samples_data(samples *s) nogil
    void samples_free(samples *s) nogil
    long samples_live() nogil


cdef void free_samples(void *ctx) noexcept nogil:
    # The deleter: called once, with the GIL held, after the Buffer, its
    # views and every export of it (numpy arrays, memoryviews...) are gone.
    samples_free(<samples *>ctx)


def acquire(Py_ssize_t n, double step=1.0):
    """``n`` samples made by the C library, as a Buffer (no copy)."""
    if n < 0:
        raise ValueError(f"negative length {n}")
    cdef samples *s = samples_new(n, step)
    if s == NULL:
        raise MemoryError()
    cdef Py_ssize_t shape[1]
    shape[0] = n
    # From here on the Buffer owns s: free_samples(s) runs exactly once,
    # even if from_pointer raises.
    cdef Buffer b = from_pointer(<char *>samples_data(s), 1, shape, NULL,
                                 b"d", sizeof(double), False, free_samples, s)
    return b


def live_blocks():
    """Blocks the library has handed out and not yet been given back."""
    return samples_live()
