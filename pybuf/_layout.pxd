# Private to pybuf (not an ABI): the arithmetic of a layout -- shape,
# strides, order and alignment read from Python and checked, packed
# strides, contiguity, extent, reshape without a copy.  It knows no Buffer:
# pybuf.buffer and pybuf._ops cimport it.  The helpers every constructor
# runs are defined here, inline (a call into another module costs ``empty``
# a measurable 5 %); the rest live in _layout.pyx.
from cpython.long cimport (PyLong_AsSsize_t, PyLong_CheckExact,
                           PyLong_AsLongAndOverflow)
from cpython.number cimport PyIndex_Check, PyNumber_Index
cimport cpython.buffer as pb

from pybuf._types cimport MAX_NDIM

cdef extern from "Python.h":
    Py_ssize_t PyNumber_AsSsize_t(object o, object exc) except? -1

# The size arithmetic's overflow check.
cdef extern from "_memory.h":
    bint pybuf_mul_overflow(Py_ssize_t a, Py_ssize_t b, Py_ssize_t *r) noexcept nogil


cdef inline Py_ssize_t _dim(object dim, int i, object shape) except -1:
    """One dimension as a C integer: TypeError for non-integers,
    ValueError if negative, OverflowError if it does not fit."""
    cdef Py_ssize_t d
    if PyLong_CheckExact(dim):                  # the common case, kept cheap
        d = PyLong_AsSsize_t(dim)               # OverflowError if too large
        if d >= 0:
            return d
    elif not PyIndex_Check(dim):
        raise TypeError(f"shape must be an int or a tuple of ints, got "
                        f"{type(dim).__name__} in dimension {i}")
    d = PyNumber_AsSsize_t(dim, OverflowError)
    if d < 0:
        raise ValueError(f"negative dimension {d} in shape {shape!r}")
    return d


cdef inline int _parse_shape(object shape, Py_ssize_t *out) except -1:
    """Store ``shape`` (an int or a sequence of ints) in ``out``; return ndim."""
    cdef int ndim, i
    if type(shape) is tuple:                 # the common case, kept cheap
        ndim = len(<tuple>shape)
        if ndim > MAX_NDIM:
            raise ValueError(f"too many dimensions: {ndim} > {MAX_NDIM}")
        for i in range(ndim):
            out[i] = _dim((<tuple>shape)[i], i, shape)
        return ndim
    if PyLong_CheckExact(shape) or PyIndex_Check(shape):
        out[0] = _dim(shape, 0, shape)
        return 1
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__"):
        raise TypeError(f"shape must be an int or a tuple of ints, not "
                        f"{type(shape).__name__}")
    return _parse_shape(tuple(shape), out)


cdef inline Py_ssize_t _checked_nbytes(int ndim, const Py_ssize_t *shape,
                                       Py_ssize_t itemsize) except -1:
    """prod(shape) * itemsize, raising OverflowError when it (or any
    stride it implies) does not fit in Py_ssize_t."""
    cdef Py_ssize_t nonzero = itemsize
    cdef int i
    cdef bint has_zero = False
    for i in range(ndim):
        if shape[i] == 0:
            has_zero = True
            continue
        if pybuf_mul_overflow(nonzero, shape[i], &nonzero):
            raise OverflowError("buffer size does not fit in Py_ssize_t")
    return 0 if has_zero else nonzero


cdef inline char _parse_order(object order) except 0:
    """"C"/"c" -> 'C', "F"/"f" -> 'F', else ValueError."""
    if order == "C" or order == "c":
        return c'C'
    if order == "F" or order == "f":
        return c'F'
    raise ValueError(f"order must be 'C' or 'F', not {order!r}")


cdef inline Py_ssize_t _parse_align(object align) except -1:
    """A power of two from 1 to 2**30, else TypeError/ValueError."""
    cdef int overflow = 0
    cdef long a
    if PyLong_CheckExact(align):            # the common case, kept cheap
        a = PyLong_AsLongAndOverflow(align, &overflow)
    elif PyIndex_Check(align):
        a = PyLong_AsLongAndOverflow(PyNumber_Index(align), &overflow)
    else:
        raise TypeError(f"align must be an int, not {type(align).__name__}")
    if overflow or a <= 0 or (a & (a - 1)) != 0 or a > (1 << 30):
        raise ValueError(f"align must be a power of two between 1 and 2**30, "
                         f"not {align}")
    return a


cdef inline void _fill_strides(int ndim, const Py_ssize_t *shape, Py_ssize_t *strides,
                               Py_ssize_t itemsize, char order) noexcept nogil:
    """Packed strides (bytes) of ``shape`` in ``order`` ('C' or 'F')."""
    cdef int i
    cdef Py_ssize_t s = itemsize
    if order == c'F':
        for i in range(ndim):
            strides[i] = s
            s *= shape[i] if shape[i] > 0 else 1
    else:
        for i in range(ndim - 1, -1, -1):
            strides[i] = s
            s *= shape[i] if shape[i] > 0 else 1


cdef inline bint _is_contig(int ndim, const Py_ssize_t *shape,
                            const Py_ssize_t *strides, Py_ssize_t itemsize,
                            char order) noexcept nogil:
    """PyBuffer_IsContiguous for a direct buffer: length-1 dimensions are
    ignored and a zero-size buffer is contiguous in both orders."""
    cdef Py_ssize_t sd = itemsize
    cdef int i, k
    for i in range(ndim):
        if shape[i] == 0:
            return True
    for k in range(ndim):
        i = ndim - 1 - k if order == c'C' else k
        if shape[i] != 1 and strides[i] != sd:
            return False
        sd *= shape[i]
    return True



# PEP 3118 requests: what a layout can be exported as.  A composite flag
# such as PyBUF_C_CONTIGUOUS holds the bits of PyBUF_STRIDES and PyBUF_ND.
cdef enum:
    # every bit a request may hold (PyBUF_READ, PyBUF_WRITE are not)
    _REQUEST_BITS = (pb.PyBUF_WRITABLE | pb.PyBUF_FORMAT | pb.PyBUF_INDIRECT |
                     pb.PyBUF_C_CONTIGUOUS | pb.PyBUF_F_CONTIGUOUS |
                     pb.PyBUF_ANY_CONTIGUOUS)
    # the bits of a composite beyond those of PyBUF_ND, PyBUF_STRIDES
    _STRIDES_ONLY = pb.PyBUF_STRIDES & ~pb.PyBUF_ND
    _BEYOND_STRIDES = (pb.PyBUF_INDIRECT | pb.PyBUF_C_CONTIGUOUS |
                       pb.PyBUF_F_CONTIGUOUS |
                       pb.PyBUF_ANY_CONTIGUOUS) & ~pb.PyBUF_STRIDES


cdef inline int _check_flags(int flags) except -1:
    """BufferError unless ``flags`` is a buffer request: known bits only,
    and each composite whole."""
    if (flags & ~_REQUEST_BITS) or \
            ((flags & _STRIDES_ONLY) and not (flags & pb.PyBUF_ND)) or \
            ((flags & _BEYOND_STRIDES) and
             (flags & pb.PyBUF_STRIDES) != pb.PyBUF_STRIDES):
        raise BufferError(
            f"invalid buffer request flags {flags:#x} (PyBUF_READ and "
            f"PyBUF_WRITE are for memoryviews, not for buffer requests)")
    return 0


cdef inline int _check_request(int flags, bint readonly, bint c_contig,
                               bint f_contig, bint indirect) except -1:
    """BufferError unless a layout (read-only or not, C- or F-contiguous
    or neither, with suboffsets or not) can be exported for request
    ``flags``, as CPython's reference exporter (Modules/_testbuffer.c)
    decides."""
    if (flags & pb.PyBUF_WRITABLE) and readonly:
        raise BufferError("Buffer is read-only")
    if (flags & pb.PyBUF_C_CONTIGUOUS) == pb.PyBUF_C_CONTIGUOUS and not c_contig:
        raise BufferError("Buffer is not C-contiguous")
    if (flags & pb.PyBUF_F_CONTIGUOUS) == pb.PyBUF_F_CONTIGUOUS and not f_contig:
        raise BufferError("Buffer is not Fortran contiguous")
    if (flags & pb.PyBUF_ANY_CONTIGUOUS) == pb.PyBUF_ANY_CONTIGUOUS and \
            not (c_contig or f_contig):
        raise BufferError("Buffer is not contiguous")
    if (flags & pb.PyBUF_INDIRECT) != pb.PyBUF_INDIRECT and indirect:
        raise BufferError("Buffer cannot be represented without suboffsets")
    if (flags & pb.PyBUF_STRIDES) != pb.PyBUF_STRIDES and not c_contig:
        raise BufferError("Buffer is not C-contiguous: the consumer must "
                          "request strides (PyBUF_STRIDES)")
    if (flags & pb.PyBUF_ND) != pb.PyBUF_ND and (flags & pb.PyBUF_FORMAT):
        raise BufferError("a format cannot be given without a shape: "
                          "PyBUF_FORMAT requires PyBUF_ND")
    return 0


# For memory that pybuf does not own (from_address, from_pointer, DLPack):
# the ndim range, the shape, the size and, strides NULL meaning C-contiguous,
# that the strides (copied to ``out``) stay inside the address space.
# Returns nbytes.
cdef Py_ssize_t _check_memory(char *data, int ndim, const Py_ssize_t *shape,
                              const Py_ssize_t *strides, Py_ssize_t itemsize,
                              Py_ssize_t *out) except -1
# An address from Python (an int, 0 to the largest pointer).
cdef char *_parse_address(object address) except? NULL
# ``strides`` from Python (None, an int or a sequence of ndim ints) into
# ``out``; False when None.
cdef bint _parse_strides(object strides, int ndim, Py_ssize_t *out) except -1
# ``n`` C integers (a shape, strides) as a tuple of ints.
cdef tuple _as_tuple(int n, const Py_ssize_t *p)
# Lowest and one-past-highest byte a direct layout at ``data`` touches.
cdef void _extent(int ndim, const Py_ssize_t *shape, const Py_ssize_t *strides,
                  char *data, Py_ssize_t itemsize, char **lo,
                  char **hi) noexcept nogil
# 1 + the last dimension with a suboffset (0 when there is none).
cdef int _first_direct(int ndim, const Py_ssize_t *suboffsets) noexcept nogil
# ``shape`` with its one -1 (if any) replaced so that it holds ``size`` items.
cdef object _infer_shape(object shape, Py_ssize_t size)
# Strides for viewing a layout as ``new_shape`` without a copy (numpy's
# algorithm); False when impossible, ValueError when the sizes differ.
cdef bint _nocopy_strides(int ndim, const Py_ssize_t *shape,
                          const Py_ssize_t *strides, Py_ssize_t itemsize,
                          int new_ndim, const Py_ssize_t *new_shape,
                          Py_ssize_t *new_strides) except -1
