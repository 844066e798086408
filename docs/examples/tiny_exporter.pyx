# The smallest honest buffer exporter: a block of bytes, one dimension.
# pybuf.Buffer does the same for any shape, format and view; this file keeps
# only what every exporter must get right.
from cpython.buffer cimport PyBUF_FORMAT, PyBUF_ND, PyBUF_STRIDES, PyBUF_WRITABLE
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memset


cdef class ByteBlock:
    """``size`` zero-filled bytes in one malloc'd block, exported as 'B'."""

    cdef char *data
    cdef Py_ssize_t size
    cdef Py_ssize_t shape[1]      # handed to consumers: must not change
    cdef Py_ssize_t strides[1]    # while any of them holds a view
    cdef readonly Py_ssize_t exports    # live exports, readable from Python
    cdef bint readonly

    def __cinit__(self, Py_ssize_t size, bint readonly=False):
        if size < 0:
            raise ValueError("size must be >= 0")
        self.data = <char *>malloc(size if size > 0 else 1)
        if self.data == NULL:
            raise MemoryError()
        memset(self.data, 0, size)
        self.size = size
        self.shape[0] = size
        self.strides[0] = 1
        self.readonly = readonly

    def __dealloc__(self):
        # Safe: every consumer holds a reference through view.obj, so this
        # only runs once the last view is released.
        free(self.data)

    def __getbuffer__(self, Py_buffer *view, int flags):
        # Refuse what cannot be given; one contiguous dimension satisfies
        # every shape and contiguity request.
        if (flags & PyBUF_WRITABLE) and self.readonly:
            raise BufferError("ByteBlock is read-only")
        view.buf = self.data
        view.len = self.size
        view.readonly = self.readonly
        view.itemsize = 1
        view.ndim = 1
        # Fill only what was asked for; the rest stays NULL.
        view.format = NULL
        view.shape = NULL
        view.strides = NULL
        if flags & PyBUF_FORMAT:
            view.format = b"B"
        if (flags & PyBUF_ND) == PyBUF_ND:
            view.shape = self.shape
        if (flags & PyBUF_STRIDES) == PyBUF_STRIDES:
            view.strides = self.strides
        view.suboffsets = NULL
        view.internal = NULL
        view.obj = self           # the consumer's reference keeps us alive
        self.exports += 1

    def __releasebuffer__(self, Py_buffer *view):
        self.exports -= 1

    def resize(self, Py_ssize_t size):
        """Change the size; refused while any consumer holds a view, since
        realloc may move the memory under it."""
        if self.exports:
            raise BufferError(f"cannot resize: {self.exports} export(s) alive")
        if size < 0:
            raise ValueError("size must be >= 0")
        cdef char *p = <char *>realloc(self.data, size if size > 0 else 1)
        if p == NULL:
            raise MemoryError()
        if size > self.size:
            memset(p + self.size, 0, size - self.size)
        self.data = p
        self.size = self.shape[0] = size
