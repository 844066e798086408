"""The item model below the kernels: what a format string's items are.

In C, ``format_type`` reads a format as a TypeId and byte order, the way
pybuf.formats reads formats (a test checks the two agree on every format);
pybuf.kernels (``kernels.format_type`` of its C API) and the modules above
read formats through it.  For Buffer, the format entries (a format read once
and cached: its canonical spelling, itemsize, native code, Format) and the
packing and unpacking of items, a native code's fast path or the format
engine's."""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.float cimport PyFloat_AsDouble
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.long cimport PyLong_FromVoidPtr
from cpython.number cimport PyIndex_Check, PyNumber_Index
from cpython.object cimport PyObject_IsTrue
from cpython.ref cimport PyObject, Py_INCREF
from libc.string cimport memcpy, strcmp

from pybuf._types cimport *

from pybuf import formats as _formats

cdef extern from "Python.h":
    PyObject *_PY_TRUE "Py_True"
    PyObject *_PY_FALSE "Py_False"


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


cdef int _code_type(char c, bint native) noexcept nogil:
    """The TypeId of the one-character code ``c`` in native (no prefix,
    ``@``, ``^``: this platform's C sizes) or standard sizes; TYPE_OPAQUE
    for codes without a numeric meaning."""
    if c == b'?':
        return TYPE_BOOL
    if c == b'b' or c == b'B':
        return _int_type(c == b'b', 1)
    if c == b'h' or c == b'H':
        return _int_type(c == b'h', sizeof(short) if native else 2)
    if c == b'i' or c == b'I':
        return _int_type(c == b'i', sizeof(int) if native else 4)
    if c == b'l' or c == b'L':
        return _int_type(c == b'l', sizeof(long) if native else 4)
    if c == b'q' or c == b'Q':
        return _int_type(c == b'q', sizeof(long long) if native else 8)
    if (c == b'n' or c == b'N') and native:
        return _int_type(c == b'n', sizeof(Py_ssize_t))
    if c == b'f' and sizeof(float) == 4:
        return TYPE_FLOAT32
    if c == b'd' and sizeof(double) == 8:
        return TYPE_FLOAT64
    if c == b'e':
        return TYPE_FLOAT16
    if c == b'g' and native:
        return TYPE_LONGDOUBLE
    # CPython 3.14's struct codes for C's float and double complex ("Zf",
    # "Zd" elsewhere)
    if c == b'F' and sizeof(float) == 4:
        return TYPE_COMPLEX64
    if c == b'D' and sizeof(double) == 8:
        return TYPE_COMPLEX128
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
        big = not NATIVE_LITTLE
        fmt += 1
    elif c == b'<':
        native = False
        fmt += 1
    elif c == b'>' or c == b'!':
        native = False
        big = True
        fmt += 1
    else:
        big = not NATIVE_LITTLE
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
        t = _code_type(c, native)
    if _type_size(t) != itemsize:          # TYPE_OPAQUE: size 0
        return TYPE_OPAQUE
    swapped[0] = itemsize > 1 and big == NATIVE_LITTLE
    return t


# --------------------------------------------------------------------------
# Format entries (Buffer)

# Formats with a per-item fast path (read and written without the format
# engine), as memoryview reads them.
cdef bytes _NATIVE_CODES = b"?cbBhHiIlLqQnNfdP"

# The TypeId of each of them in one load (TYPE_OPAQUE for 'c', 'P' and the
# other bytes), for the fast paths below.
cdef unsigned char _NATIVE_TYPE[256]
for _code in _NATIVE_CODES:
    _NATIVE_TYPE[_code] = _code_type(_code, True)
del _code


# format string -> (str, bytes, itemsize, code, Format or None).  Creating a
# Buffer with a format seen before is a dict lookup, not a parse.
cdef dict _FORMATS = {}


cdef tuple _format_entry(object fmt):
    """Look up (or parse and cache) a format given by a user."""
    cdef tuple entry = _FORMATS.get(fmt)
    if entry is not None:
        return entry
    if isinstance(fmt, bytes):
        fmt = (<bytes>fmt).decode("ascii", "replace")
    if not isinstance(fmt, str):
        raise TypeError(f"format must be a str, not {type(fmt).__name__}")
    if not (<str>fmt).isascii() or "\0" in <str>fmt:
        raise ValueError(f"invalid format {fmt!r}: not printable ASCII")
    parsed = _formats.parse_format(fmt)
    # Exported as its canonical spelling (consumers such as numpy do not
    # all read what the parser accepts: "i i"), and that is .format too:
    # one string, as memoryview, _testbuffer and numpy report what they
    # export.  The user's spelling reads the same (parse_format).
    canon = str(parsed)
    entry = _make_entry(canon, canon.encode("ascii"), parsed.itemsize, parsed)
    if len(_FORMATS) < 4096:
        _FORMATS[fmt] = entry
    return entry


cdef tuple _make_entry(str fmt, bytes raw, Py_ssize_t itemsize, object parsed):
    cdef str bare = fmt[1:] if fmt.startswith("@") else fmt
    cdef char code = 0
    if parsed is None:
        pass                          # opaque: no fast path either
    elif len(bare) == 1 and bare.isascii() and bare.encode("ascii") in _NATIVE_CODES:
        code = ord(bare)
    else:
        # "<i", "=d", "1q" ... have exactly the items of a native code: give
        # them its fast path too.
        alias = parsed._native_alias()
        if alias is not None:
            code = ord(alias)
    return (fmt, raw, itemsize, code, parsed)


cdef tuple _foreign_entry(const char *cfmt, Py_ssize_t itemsize):
    """Format entry for a buffer acquired from another exporter.  Its
    itemsize chooses among the readings of its format (see
    ``Format._reading``), and the canonical spelling of the reading is
    both ``format`` and what is exported (one string, as memoryview,
    _testbuffer and numpy report what they export): it always describes
    items of ``itemsize`` bytes (pickling, ``cast`` and ``describe`` read
    it again), whether the exporter's string said as much (newer ctypes
    write a struct's padding out) or not.  A format
    no reading fits is kept as opaque items of ``itemsize`` bytes."""
    cdef bytes raw = b"B" if cfmt == NULL else <bytes>cfmt
    cdef str fmt = raw.decode("ascii", "replace")
    cdef tuple entry = _FORMATS.get(fmt)
    if entry is not None and entry[2] == itemsize:
        return entry
    try:
        parsed = _formats.Format._reading(fmt, itemsize)
    except (ValueError, NotImplementedError):
        parsed = None
    if parsed is not None:
        fmt = str(parsed)
        raw = fmt.encode("ascii")
    return _make_entry(fmt, raw, itemsize, parsed)


cdef bint format_has_objects(const char *fmt) noexcept nogil:
    """Does a format hold ``O`` items (PyObject pointers)?  Field names,
    between colons, are skipped."""
    cdef bint in_name = False
    if fmt == NULL:
        return False
    while fmt[0]:
        if fmt[0] == b':':
            in_name = not in_name
        elif fmt[0] == b'O' and not in_name:
            return True
        fmt += 1
    return False


cdef bint same_items(const char *fa, Py_ssize_t ia, const char *fb,
                     Py_ssize_t ib) except -1:
    """Do equal bytes mean equal items in two formats (NULL: ``B``) of
    ``ia`` and ``ib`` bytes?  Numeric formats of the same type and byte
    order (``l`` and ``q``, ``<d`` and ``d`` on a little-endian machine);
    other formats spelled alike (``@`` aside) or read alike (``"i i"`` and
    ``"ii"``, a ctypes struct's ``T{<h:a:<d:b:}`` and ``T{<h:a:6xd:b:}``)."""
    cdef bint sa, sb
    cdef int ta, tb
    if ia != ib:
        return False
    # read before the call: C leaves the order of its arguments unspecified
    ta = format_type(fa, ia, &sa)
    tb = format_type(fb, ib, &sb)
    return same_typed_items(fa, ia, ta, sa, fb, tb, sb)


cdef bint same_typed_items(const char *fa, Py_ssize_t itemsize, int ta, bint sa,
                           const char *fb, int tb, bint sb) except -1:
    """same_items for two formats of ``itemsize`` bytes whose format_type
    (``ta``, ``sa``; ``tb``, ``sb``) the caller has read already."""
    if ta != TYPE_OPAQUE or tb != TYPE_OPAQUE:
        return ta == tb and sa == sb
    if fa == NULL:
        fa = b"B"
    if fb == NULL:
        fb = b"B"
    while fa[0] == b'@':
        fa += 1
    while fb[0] == b'@':
        fb += 1
    if strcmp(fa, fb) == 0:
        return True
    try:
        ra = _formats.Format._reading(fa.decode("ascii"), itemsize)
        rb = _formats.Format._reading(fb.decode("ascii"), itemsize)
    except (ValueError, NotImplementedError, UnicodeDecodeError):
        return False
    return ra._storage_key() == rb._storage_key()


cdef bint _has_objects(tuple entry):
    """Do a format entry's items hold ``O`` (PyObject pointer) fields?"""
    if entry[3]:                       # a native code: never an object
        return False
    parsed = entry[4]
    if parsed is None:                 # opaque: read the string itself
        return format_has_objects(<bytes>entry[1])
    return parsed.has_objects


cdef object _object_error(str action):
    return TypeError(f"cannot {action} items of format 'O': they are PyObject "
                     f"pointers, and pybuf never creates, copies or converts "
                     f"them (it could not own their references)")


# --------------------------------------------------------------------------
# native items: the fast path used for memoryview's own formats

cdef object _unpack_native(char code, const char *p):
    cdef int t = _NATIVE_TYPE[<unsigned char>code]
    cdef void *P
    if t:
        return _native_items(t, p, 1, 0, True)
    if code == c'c':
        return PyBytes_FromStringAndSize(p, 1)
    if code == c'P':
        memcpy(&P, p, sizeof(P)); return PyLong_FromVoidPtr(P)
    raise AssertionError("not a native code")


cdef int _pack_native(char code, char *p, object value) except -1:
    cdef double d
    cdef float f
    cdef long long q = 0
    cdef unsigned long long Q = 0
    cdef Py_ssize_t size
    cdef unsigned char t
    if code == c'd' or code == c'f':
        if not isinstance(value, (float, int)) and not hasattr(value, "__float__") \
                and not PyIndex_Check(value):
            raise TypeError(f"invalid type for format '{chr(code)}': "
                            f"{type(value).__name__}")
        try:
            d = PyFloat_AsDouble(value)
        except OverflowError:
            # memoryview's error for a value no double holds (2**1024)
            raise ValueError(f"invalid value for format '{chr(code)}': out "
                             f"of range of a C {'double' if code == c'd' else 'float'}") from None
        if code == c'd':
            memcpy(p, &d, sizeof(d))
        else:
            f = <float>d
            memcpy(p, &f, sizeof(f))
        return 0
    if code == c'?':
        t = 1 if PyObject_IsTrue(value) else 0
        p[0] = <char>t
        return 0
    if code == c'c':
        if not isinstance(value, bytes):
            raise TypeError(f"invalid type for format 'c': {type(value).__name__}"
                            f" (a bytes object of length 1 is required)")
        if len(value) != 1:
            raise ValueError(f"invalid value for format 'c': {value!r} "
                             f"(length {len(value)}, not 1)")
        (<unsigned char *>p)[0] = <unsigned char>value[0]
        return 0
    if not PyIndex_Check(value):
        raise TypeError(f"invalid type for format '{chr(code)}': "
                        f"{type(value).__name__}")
    value = PyNumber_Index(value)
    cdef bint unsigned = code in b"BHILQNP"
    size = (sizeof(void *) if code == c'P'
            else _type_size(_NATIVE_TYPE[<unsigned char>code]))
    try:
        if unsigned:
            Q = value
        else:
            q = value
            Q = <unsigned long long>q
    except OverflowError:
        Q = 0
        size = 0                      # flag: out of range
    if size == 0 or (size < 8 and (
            (unsigned and Q >> (8 * size)) or
            (not unsigned and (q < -(<long long>1 << (8 * size - 1)) or
                               q >= (<long long>1 << (8 * size - 1)))))):
        raise ValueError(f"invalid value for format '{chr(code)}': {value} "
                         f"(out of range)")
    _store_int(p, Q, size)
    return 0


cdef inline object _typed_items(const real_t *p, Py_ssize_t n,
                                Py_ssize_t s, bint one):
    """The item at p (``one``), else the n items p, p + s bytes, ... as a
    new list, filled in place as memoryview.tolist does; items of C type
    real_t, at any alignment."""
    cdef const char *c = <const char *>p
    cdef Py_ssize_t i
    cdef real_t x
    cdef object v
    cdef PyObject *o
    cdef list out
    if one:
        if real_t is bool_t:
            return c[0] != 0                   # any nonzero byte is True
        memcpy(&x, c, sizeof(x))
        return x
    out = PyList_New(n)
    for i in range(n):
        if real_t is bool_t:
            # borrowed pointers: one reference taken per item, as memoryview
            # does (True/False refcounts are the bottleneck here)
            o = _PY_TRUE if c[i * s] else _PY_FALSE
            Py_INCREF(<object>o); PyList_SET_ITEM(out, i, <object>o)
        else:
            memcpy(&x, c + i * s, sizeof(x)); v = x
            Py_INCREF(v); PyList_SET_ITEM(out, i, v)
    return out


cdef inline object _native_items(int t, const char *p, Py_ssize_t n,
                                 Py_ssize_t s, bint one):
    """_typed_items for the C type of real TypeId ``t``: the type is
    dispatched once per call, not once per item."""
    # (one line a type: Cython makes the chain a C switch)
    if t == TYPE_FLOAT64: return _typed_items(<const float64_t *>p, n, s, one)
    elif t == TYPE_FLOAT32: return _typed_items(<const float32_t *>p, n, s, one)
    elif t == TYPE_INT64: return _typed_items(<const int64_t *>p, n, s, one)
    elif t == TYPE_UINT64: return _typed_items(<const uint64_t *>p, n, s, one)
    elif t == TYPE_INT32: return _typed_items(<const int32_t *>p, n, s, one)
    elif t == TYPE_UINT32: return _typed_items(<const uint32_t *>p, n, s, one)
    elif t == TYPE_INT16: return _typed_items(<const int16_t *>p, n, s, one)
    elif t == TYPE_UINT16: return _typed_items(<const uint16_t *>p, n, s, one)
    elif t == TYPE_INT8: return _typed_items(<const int8_t *>p, n, s, one)
    elif t == TYPE_UINT8: return _typed_items(<const uint8_t *>p, n, s, one)
    elif t == TYPE_BOOL: return _typed_items(<const bool_t *>p, n, s, one)
    raise AssertionError("not a real TypeId")


cdef list _native_list(char code, const char *p, Py_ssize_t n, Py_ssize_t s):
    """Items p, p + s, ... (n of them) of native ``code`` as a list (l, L,
    n, N by their size)."""
    cdef int t = _NATIVE_TYPE[<unsigned char>code]
    cdef Py_ssize_t i
    if t:
        return <list>_native_items(t, p, n, s, False)
    return [_unpack_native(code, p + i * s) for i in range(n)]


cdef list _parsed_list(object parsed, const char *p, Py_ssize_t n, Py_ssize_t s,
                       Py_ssize_t itemsize):
    """Items p, p + s, ... (n of them) unpacked by the format engine in one
    call.  The items are copied into a bytes object first: one memcpy,
    cheap next to making the Python objects, and no view of our memory
    escapes into Python code."""
    cdef Py_ssize_t i
    cdef char *q
    if s == itemsize:
        data = PyBytes_FromStringAndSize(p, n * itemsize)
    else:
        data = PyBytes_FromStringAndSize(NULL, n * itemsize)
        q = PyBytes_AS_STRING(data)
        for i in range(n):
            memcpy(q + i * itemsize, p + i * s, <size_t>itemsize)
    return list(parsed.iter_unpack(data))


cdef inline void _store_int(char *p, unsigned long long v, Py_ssize_t size) noexcept:
    # Truncating a two's complement value keeps its low bytes (any sign).
    cdef unsigned char u1
    cdef unsigned short u2
    cdef unsigned int u4
    if size == 1:
        u1 = <unsigned char>v; memcpy(p, &u1, 1)
    elif size == 2:
        u2 = <unsigned short>v; memcpy(p, &u2, 2)
    elif size == 4:
        u4 = <unsigned int>v; memcpy(p, &u4, 4)
    else:
        memcpy(p, &v, 8)
