"""The item model below the kernels: what a format string's items are,
read in C (``format_type``: a TypeId, whether the bytes are swapped) the way
pybuf.formats reads formats (a test checks the two agree on every format),
and the size of each TypeId.  pybuf.kernels (``kernels.format_type`` of its
C API) and the modules above read formats through it."""
from pybuf._types cimport *

cdef extern from "Python.h":
    int PY_LITTLE_ENDIAN

cdef bint LITTLE = PY_LITTLE_ENDIAN


cdef Py_ssize_t _type_size(int t) noexcept nogil:
    if t == TYPE_BOOL or t == TYPE_INT8 or t == TYPE_UINT8:
        return 1
    if t == TYPE_INT16 or t == TYPE_UINT16:
        return 2
    if t == TYPE_INT32 or t == TYPE_UINT32 or t == TYPE_FLOAT32:
        return 4
    if t == TYPE_INT64 or t == TYPE_UINT64 or t == TYPE_FLOAT64 \
            or t == TYPE_COMPLEX64:
        return 8
    if t == TYPE_COMPLEX128:
        return 16
    if t == TYPE_FLOAT16:
        return 2
    if t == TYPE_LONGDOUBLE:
        return sizeof(long double)
    if t == TYPE_CLONGDOUBLE:
        return 2 * sizeof(long double)
    return 0


cdef int _int_type(bint signed, Py_ssize_t size) noexcept nogil:
    if size == 1:
        return TYPE_INT8 if signed else TYPE_UINT8
    if size == 2:
        return TYPE_INT16 if signed else TYPE_UINT16
    if size == 4:
        return TYPE_INT32 if signed else TYPE_UINT32
    if size == 8:
        return TYPE_INT64 if signed else TYPE_UINT64
    return TYPE_OPAQUE


cdef inline bint _is_space(char c) noexcept nogil:
    return c == b' ' or (b'\t' <= c <= b'\r')      # as pybuf.formats skips


cdef int format_type(const char *fmt, Py_ssize_t itemsize,
                     bint *swapped) noexcept nogil:
    """The TypeId of a one-item format string (``None`` means ``"B"``),
    read as pybuf.formats reads it: whitespace around the item and a count
    of 1 change nothing (``" i"``, ``"=1i"``).

    Native formats (no prefix, ``@`` or ``^``) use the C sizes of this
    platform; ``=``, ``<``, ``>`` and ``!`` use the standard sizes of the
    struct module, and ``swapped[0]`` tells whether their byte order is not
    the native one.  Anything that is not a single numeric code (``b B h H i
    I l L q Q n N e f d ?``, ``Zf``, ``Zd``; native ``g`` and ``Zg``) or
    whose size disagrees with ``itemsize`` is TYPE_OPAQUE.  ``e``, ``g``
    and ``Zg`` are storage-only types (TYPE_FLOAT16, TYPE_LONGDOUBLE,
    TYPE_CLONGDOUBLE): the kernels compute with them as float32/float64.
    """
    cdef bint native = True
    cdef bint big = False
    cdef char c
    cdef int t
    cdef const char *rest
    swapped[0] = False
    if fmt == NULL:
        return TYPE_UINT8 if itemsize == 1 else TYPE_OPAQUE
    c = fmt[0]
    if c == b'@' or c == b'^':
        fmt += 1
    elif c == b'=':
        native = False
        big = not LITTLE
        fmt += 1
    elif c == b'<':
        native = False
        fmt += 1
    elif c == b'>' or c == b'!':
        native = False
        big = True
        fmt += 1
    else:
        big = not LITTLE
    # the grammar of pybuf.formats: whitespace before the item and after
    # it, and a count of 1 is no count (" i", "1i", "=1i ")
    while _is_space(fmt[0]):
        fmt += 1
    if fmt[0] == b'1' and not (b'0' <= fmt[1] <= b'9'):
        fmt += 1
    c = fmt[0]
    if c == 0:
        return TYPE_OPAQUE
    rest = fmt + (2 if c == b'Z' and fmt[1] != 0 else 1)
    while _is_space(rest[0]):
        rest += 1
    if rest[0] != 0:
        return TYPE_OPAQUE
    if c == b'Z':
        if fmt[1] == b'f':
            t = TYPE_COMPLEX64
        elif fmt[1] == b'd':
            t = TYPE_COMPLEX128
        elif fmt[1] == b'g' and native:
            t = TYPE_CLONGDOUBLE
        else:
            return TYPE_OPAQUE
    else:
        if c == b'?':
            t = TYPE_BOOL
        elif c == b'b' or c == b'B':
            t = _int_type(c == b'b', 1)
        elif c == b'h' or c == b'H':
            t = _int_type(c == b'h', sizeof(short) if native else 2)
        elif c == b'i' or c == b'I':
            t = _int_type(c == b'i', sizeof(int) if native else 4)
        elif c == b'l' or c == b'L':
            t = _int_type(c == b'l', sizeof(long) if native else 4)
        elif c == b'q' or c == b'Q':
            t = _int_type(c == b'q', sizeof(long long) if native else 8)
        elif (c == b'n' or c == b'N') and native:
            t = _int_type(c == b'n', sizeof(Py_ssize_t))
        elif c == b'f' and sizeof(float) == 4:
            t = TYPE_FLOAT32
        elif c == b'd' and sizeof(double) == 8:
            t = TYPE_FLOAT64
        elif c == b'e':
            t = TYPE_FLOAT16
        elif c == b'g' and native:
            t = TYPE_LONGDOUBLE
        else:
            return TYPE_OPAQUE
    if _type_size(t) != itemsize:
        return TYPE_OPAQUE
    swapped[0] = itemsize > 1 and big == LITTLE
    return t
