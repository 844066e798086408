# The Buffer class, as other Cython extensions see it:
#     from pybuf.buffer cimport Buffer
# An append-only ABI from pybuf 0.1.0 on: new members and functions go at
# the end; none is ever reordered, changed or removed.  (Cython needs every
# C method of the class here, the private ones too; only the attributes,
# _check, _check_writable, _pin/_unpin and the functions below are for
# other extensions.)

cdef class Buffer:
    # --- public C attributes ---------------------------------------------
    cdef char *data                 # address of the first item
    cdef int ndim                   # also read-only properties from Python:
    cdef Py_ssize_t itemsize        # ndim, itemsize, nbytes
    cdef Py_ssize_t nbytes          # prod(shape) * itemsize
    # --- layout ------------------------------------------------------------
    cdef Py_ssize_t *_shape         # ndim entries (NULL when ndim == 0)
    cdef Py_ssize_t *_strides       # ndim entries, bytes (NULL when ndim == 0)
    cdef Py_ssize_t *_suboffsets    # NULL unless the memory is indirect
    cdef Py_ssize_t _dims_inline[8]  # shape and strides when ndim <= 4 (not "_inline":
                                     # a keyword of MSVC, a macro of mingw)
    cdef bytes _format              # NUL-terminated, handed to consumers
    cdef str _fmt                   # the format exported (_format as str)
    cdef char _code                 # native single-char code, or 0
    cdef object _parsed             # pybuf.formats.Format, or None if opaque
    cdef bint _readonly
    cdef bint _c_contig
    cdef bint _f_contig
    # --- ownership ---------------------------------------------------------
    cdef void *_mem                 # owned allocation, or NULL for a view
    cdef Py_ssize_t _align
    cdef object _base               # exporter viewed, or None when owner
    cdef Py_buffer _src             # buffer held on _base (if _has_src)
    cdef bint _has_src
    cdef bint _released
    cdef Py_ssize_t _exports        # live exports of this object
    cdef object __weakref__
    # --- pins (see _pin) ---------------------------------------------------
    cdef Py_ssize_t _pins           # operations holding pointers right now

    cdef int _check(self) except -1          # ValueError once released
    cdef int _check_writable(self) except -1 # ... and BufferError if read-only
    cdef object _get(self, const char *p)    # item at p, as a Python object
    cdef int _set(self, char *p, object value) except -1
    cdef tuple _entry(self)
    cdef object _tolist(self, const char *p, int dim)
    cdef void _free(self) noexcept
    # Pin the Buffer while holding ``data``/``_shape``/``_strides`` across
    # Python code, a released GIL or a call into user code: release() and
    # resize() raise BufferError until the matching _unpin().  _pin raises
    # ValueError on a released Buffer.
    cdef int _pin(self) except -1
    cdef void _unpin(self) noexcept


# A Buffer over memory kept alive by ``owner`` (strides in bytes; nothing is
# copied).  Used by pybuf._dlpack; open to any extension that owns memory.
cdef Buffer from_memory(object owner, char *data, int ndim,
                        const Py_ssize_t *shape, const Py_ssize_t *strides,
                        const char *format, Py_ssize_t itemsize, bint readonly)

# A Buffer over memory that C code owns (see docs/memory.rst).
# ``deleter(ctx)`` runs exactly once, with the GIL held, after the Buffer,
# its views and all its exports are gone, or at once if this raises.
# ``strides`` NULL: C-contiguous; ``deleter`` may be NULL.
cdef Buffer from_pointer(char *data, int ndim, const Py_ssize_t *shape,
                         const Py_ssize_t *strides, const char *format,
                         Py_ssize_t itemsize, bint readonly,
                         void (*deleter)(void *ctx) noexcept nogil, void *ctx)

# from_memory with the format already read (an entry of pybuf._items:
# _format_entry / _foreign_entry), for pybuf._dlpack, which reads its few
# formats once; ``entry``'s itemsize must be positive.
cdef Buffer _over(object owner, char *data, int ndim, const Py_ssize_t *shape,
                  const Py_ssize_t *strides, tuple entry, bint readonly)
