"""The Python entry points of the kernels: :func:`fill`, :func:`copyto`,
:func:`astype`, :func:`ascontiguous`, :func:`sum`, :func:`min`, :func:`max`,
:func:`dot`, :func:`byteswap`, :func:`equal` (re-exported as ``pybuf.<name>``).

Each acquires its arguments once with ``PyObject_GetBuffer``, reads their
formats once, and releases the GIL around the loop when there is enough
work to pay for it.  The loops are pybuf.kernels': its C API (kernels.pxd)
and, for the staged and threaded paths, the private table of
pybuf/_kernels_impl.pxd.  This module sits above pybuf.buffer (it makes
Buffers, and buffer's ``==`` and assignment from an exporter use
:func:`equal` and :func:`copyto`, bound at the end of this module).
"""
cimport cython
from cpython.buffer cimport (PyObject_GetBuffer, PyBuffer_Release,
                             PyBuffer_IsContiguous, PyBUF_RECORDS_RO)
from cpython.float cimport PyFloat_AsDouble
from cpython.number cimport PyIndex_Check, PyNumber_Index
from cpython.pycapsule cimport PyCapsule_GetPointer
from libc.stdint cimport uintptr_t
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy, memmove, memset, memcmp

from pybuf._types cimport *
from pybuf._kernels_impl cimport *
from pybuf._items cimport format_has_objects, same_typed_items
from pybuf._layout cimport _as_tuple, _extent, _fill_strides, _parse_order
from pybuf.kernels cimport *

import pybuf.kernels
from pybuf.buffer import asbuffer, empty
import pybuf.buffer
from pybuf.formats import Format, parse_format

# The kernels' loops beyond the C API (see pybuf/_kernels_impl.pxd).
cdef const KernelsImpl *K = <const KernelsImpl *>PyCapsule_GetPointer(
    pybuf.kernels._impl, "pybuf.kernels._impl")


# --------------------------------------------------------------------------
# Python entry points

cdef struct Operand:
    # An acquired argument, as the kernels see it.
    char *data
    int ndim
    int type
    bint swapped
    bint aligned
    Py_ssize_t itemsize
    Py_ssize_t nbytes
    Py_ssize_t shape[MAX_NDIM]
    Py_ssize_t strides[MAX_NDIM]
    int storage        # as Side.storage


cdef int _acquire(object obj, Py_buffer *view, bint writable,
                  str role) except -1:
    """Get obj's buffer (strides and format, no suboffsets).  A read-only
    one raises BufferError when ``writable``."""
    PyObject_GetBuffer(obj, view, PyBUF_RECORDS_RO)
    if writable and view.readonly:
        PyBuffer_Release(view)
        raise BufferError(f"{role} is read-only: cannot write to a read-only "
                          f"{type(obj).__name__}")
    return 0


cdef int _operand(Py_buffer *v, Operand *op) except -1:
    cdef int i
    cdef Py_ssize_t unit, n = 1
    if v.ndim < 0 or v.ndim > MAX_NDIM or v.itemsize <= 0:
        raise BufferError(f"exporter gave ndim {v.ndim} and itemsize {v.itemsize}")
    if format_has_objects(v.format):
        # A GIL-free kernel cannot own references: it would copy, compare
        # or overwrite PyObject pointers behind their owners' backs.
        raise TypeError(f"items of format {_fmt_name(v)} are PyObject "
                        f"pointers: pybuf's kernels do not take them")
    op.data = <char *>v.buf
    op.ndim = v.ndim
    op.itemsize = v.itemsize
    for i in range(v.ndim):
        op.shape[i] = v.shape[i] if v.shape != NULL else v.len // v.itemsize
    if v.strides != NULL:
        for i in range(v.ndim):
            op.strides[i] = v.strides[i]
    else:
        _fill_strides(op.ndim, op.shape, op.strides, op.itemsize, c'C')
    for i in range(v.ndim):
        n *= op.shape[i]
    op.nbytes = n * v.itemsize
    op.type = format_type(v.format, v.itemsize, &op.swapped)
    op.storage = 0
    if op.type == TYPE_FLOAT16:
        op.type, op.storage = TYPE_FLOAT32, TYPE_FLOAT16
    elif op.type == TYPE_LONGDOUBLE:
        op.type, op.storage = TYPE_FLOAT64, TYPE_LONGDOUBLE
    elif op.type == TYPE_CLONGDOUBLE:
        op.type, op.storage = TYPE_COMPLEX128, TYPE_LONGDOUBLE
    unit = v.itemsize // 2 if _is_complex(op.type) else v.itemsize
    op.aligned = unit == 0 or (<uintptr_t>op.data) % <uintptr_t>unit == 0
    for i in range(v.ndim):
        if op.shape[i] > 1 and op.strides[i] % unit:
            op.aligned = False
    return 0


cdef int _acquire_pair(object a, Py_buffer *av, Operand *oa, bint writable,
                       str a_role, object b, Py_buffer *bv, Operand *ob,
                       str b_role) except -1:
    """Acquire ``a`` (writable when ``writable``), then ``b``, and read both
    as operands.  On an error neither stays acquired; else the caller
    releases bv, then av."""
    _acquire(a, av, writable, a_role)
    try:
        _acquire(b, bv, False, b_role)
    except BaseException:
        PyBuffer_Release(av)
        raise
    try:
        _operand(av, oa)
        _operand(bv, ob)
    except BaseException:
        PyBuffer_Release(bv)
        PyBuffer_Release(av)
        raise
    return 0


cdef int _split_complex(Operand *op) except -1:
    """View complex items as pairs of reals: one more dimension of 2."""
    if not _is_complex(op.type):
        return 0
    if op.ndim == MAX_NDIM:
        raise ValueError(f"complex items of a {MAX_NDIM}-d buffer are not supported")
    op.type = TYPE_FLOAT32 if op.type == TYPE_COMPLEX64 else TYPE_FLOAT64
    op.itemsize //= 2
    op.shape[op.ndim] = 2
    op.strides[op.ndim] = op.itemsize
    op.ndim += 1
    return 0


cdef void _side(Operand *op, Side *side) noexcept nogil:
    side.type = op.type
    side.size = op.itemsize
    side.swapped = op.swapped
    side.storage = op.storage
    side.direct = op.aligned and not op.swapped and not op.storage


cdef str _fmt_str(Py_buffer *v):
    return "B" if v.format == NULL else (<bytes>v.format).decode("ascii", "replace")


cdef str _fmt_name(Py_buffer *v):
    return "'B'" if v.format == NULL else repr((<bytes>v.format).decode("ascii", "replace"))


cdef str _describe(Py_buffer *v, str role):
    shape = _as_tuple(v.ndim, v.shape) if v.shape != NULL \
        else ((v.len // v.itemsize,) if v.ndim == 1 else ())
    return f"{role} (format {_fmt_name(v)}, shape {shape})"


cdef bint _same_shape(Operand *a, Operand *b) noexcept:
    cdef int i
    if a.ndim != b.ndim:
        return False
    for i in range(a.ndim):
        if a.shape[i] != b.shape[i]:
            return False
    return True


cdef bint _overlap(Operand *a, Operand *b) noexcept:
    """Do the byte ranges two operands span intersect?"""
    cdef char *lo[2]
    cdef char *hi[2]
    _extent(a.ndim, a.shape, a.strides, a.data, a.itemsize, &lo[0], &hi[0])
    _extent(b.ndim, b.shape, b.strides, b.data, b.itemsize, &lo[1], &hi[1])
    return lo[0] < hi[1] and lo[1] < hi[0]


cdef bint _same_items(Py_buffer *a, Operand *oa, Py_buffer *b,
                      Operand *ob) except -1:
    """Do two acquired operands store items identically (same bytes mean
    the same value)?  (pybuf._items.same_items, with the types _operand
    read)"""
    if oa.itemsize != ob.itemsize:
        return False
    return same_typed_items(a.format, oa.itemsize, oa.storage or oa.type,
                            oa.swapped, b.format, ob.storage or ob.type,
                            ob.swapped)


cdef object _reading(Py_buffer *v):
    """The Format the itemsize of ``v`` reads its format as, or None."""
    try:
        return Format._reading(_fmt_str(v), v.itemsize)
    except (ValueError, NotImplementedError):
        return None


cdef bytearray _items_bytes(Operand *op):
    """The items of an operand, C-contiguous, in a new bytearray."""
    cdef Py_ssize_t strides[MAX_NDIM]
    cdef bytearray out = bytearray(op.nbytes)
    _fill_strides(op.ndim, op.shape, strides, op.itemsize, c'C')
    if op.nbytes:
        copy_items(op.ndim, op.shape, op.data, op.strides, NULL,
                   <char *>out, strides, op.itemsize)
    return out


cdef object _equal_fields(Operand *oa, Operand *ob, Py_buffer *av):
    """equal() for items with padding bytes: compare the item bytes that
    hold values, never the padding.  None when the items have no padding."""
    f = _reading(av)
    if f is None:
        return None
    pad = f._padding()
    if not pad:
        return None
    cdef object x, y                   # (untyped: Cython's bytearray slicing
    x = _items_bytes(oa)               # refuses extended-slice stores)
    y = _items_bytes(ob)
    n = len(x) // av.itemsize
    zeros = bytes(n)
    for k in pad:                      # one C-speed strided store per byte
        x[k::av.itemsize] = zeros
        y[k::av.itemsize] = zeros
    return x == y


cdef char *_stage_copy(Operand *s, Operand *staged) except NULL:
    """A C-contiguous copy of s's items in new memory (returned, for the
    caller to free), described by ``staged``."""
    cdef PyThreadState *_ts
    cdef char *tmp = <char *>malloc(<size_t>s.nbytes if s.nbytes > 0 else 1)
    if tmp == NULL:
        raise MemoryError()
    memcpy(staged, s, sizeof(Operand))
    staged.data = tmp
    _fill_strides(s.ndim, s.shape, staged.strides, s.itemsize, c'C')
    staged.aligned = True                  # malloc aligns for any type
    _ts = _unlock(s.nbytes >= NOGIL_BYTES)
    copy_items(s.ndim, s.shape, s.data, s.strides, NULL, tmp,
               staged.strides, s.itemsize)
    _relock(_ts)
    return tmp


cdef int _copy_operands(Operand *d, Operand *s, Py_buffer *dv,
                        Py_buffer *sv) except -1:
    """copyto's body, arguments acquired and shapes checked."""
    cdef PyThreadState *_ts
    cdef Operand staged
    cdef Loop L
    cdef bint same = _same_items(dv, d, sv, s)
    cdef bint big = d.nbytes >= NOGIL_BYTES
    cdef char *tmp = NULL
    if not same and (d.type == TYPE_OPAQUE or s.type == TYPE_OPAQUE):
        raise ValueError(f"cannot copy items of {_describe(sv, 'source')} to "
                         f"{_describe(dv, 'destination')}: formats differ and "
                         f"are not both numeric")
    if d.nbytes == 0:
        return 0
    if _overlap(d, s):
        if same and d.data == s.data and \
                memcmp(d.strides, s.strides, d.ndim * sizeof(Py_ssize_t)) == 0:
            return 0                       # copying onto itself
        # memmove semantics: read everything before writing anything.
        tmp = _stage_copy(s, &staged)
        s = &staged
    try:
        if same:
            K.loop_init(&L, d.ndim, d.shape, d.data, d.strides, d.itemsize,
                       s.data, s.strides, s.itemsize, True)
            if big:
                with nogil:
                    K.copy_loop(&L, d.itemsize)
            else:
                K.copy_loop(&L, d.itemsize)
            return 0
        if _is_complex(d.type) and not _is_complex(s.type):
            # real -> complex: imaginary parts 0, real parts converted.
            _split_complex(d)
            d.ndim -= 1
            _zero_imag(d)
        elif _is_complex(s.type) and not _is_complex(d.type):
            _split_complex(s)
            s.ndim -= 1                    # complex -> real: real parts
        else:
            _split_complex(d)
            _split_complex(s)
        # the C API's kernel (storage-only types by their own TypeId)
        _ts = _unlock(big)
        convert_items(d.ndim, d.shape, s.data, s.strides, s.storage or s.type,
                      s.swapped, d.data, d.strides, d.storage or d.type,
                      d.swapped)
        _relock(_ts)
    finally:
        free(tmp)
    return 0


cdef void _zero_imag(Operand *d) noexcept nogil:
    """Zero the imaginary parts of a complex destination described as its
    real parts (d.ndim dimensions, items of d.itemsize bytes)."""
    cdef char zero[8]
    memset(zero, 0, sizeof(zero))
    fill_items(d.ndim, d.shape, d.data + d.itemsize, d.strides, zero, d.itemsize)


def copyto(dst, src):
    """copyto(dst, src)

    Copy the items of ``src`` into ``dst``: ``dst[idx] = src[idx]`` for
    every index, converting numeric items as numpy's
    ``dst[...] = src`` (``casting="unsafe"``) does for values in range.

    Parameters
    ----------
    dst : buffer exporter
        Writable destination.
    src : buffer exporter
        Same shape as ``dst``.  Any strides (negative, zero); it may
        overlap ``dst``: the result is as if ``src`` were copied to a
        temporary first (memmove semantics).

    Raises
    ------
    BufferError
        ``dst`` is read-only.
    ValueError
        The shapes differ, or the formats differ and are not both numeric
        (``b B h H i I l L q Q n N e f d ?`` in any byte order, ``Zf``,
        ``Zd``; native ``g``, ``Zg``).  Other formats are copied as opaque
        items when both formats are the same.

    Notes
    -----
    ``e`` (float16) items convert through float32 and ``g``/``Zg`` (long
    double) through float64, rounded once into the destination; ``g`` to
    ``g`` copies exactly.

    Contiguous copies larger than the caches use non-temporal stores; a
    copy whose source and destination run along different axes (a
    transpose) goes through 32 x 32 tiles.

    Examples
    --------
    >>> import pybuf, array
    >>> a = array.array("d", [0.0, 0.0, 0.0])
    >>> pybuf.copyto(a, array.array("i", [1, 2, 3]))
    >>> a.tolist()
    [1.0, 2.0, 3.0]
    """
    cdef Py_buffer dv, sv
    cdef Operand d, s
    _acquire_pair(dst, &dv, &d, True, "destination", src, &sv, &s, "source")
    try:
        if not _same_shape(&d, &s):
            raise ValueError(f"shape mismatch: {_describe(&sv, 'source')} "
                             f"cannot be copied to {_describe(&dv, 'destination')}")
        _copy_operands(&d, &s, &dv, &sv)
    finally:
        PyBuffer_Release(&sv)
        PyBuffer_Release(&dv)


cdef int _pack(object value, Operand *op, Py_buffer *v, char *item) except -1:
    """Store ``value`` as one item of op's type at ``item``."""
    cdef int t = op.type
    cdef double d
    cdef float f
    cdef int64_t q
    cdef uint64_t u
    cdef Py_ssize_t size = op.itemsize
    cdef bint signed
    cdef object bits
    if t == TYPE_OPAQUE:
        data = parse_format(_fmt_str(v)).pack(value)
        if len(data) != size:
            raise ValueError(f"packed item is {len(data)} bytes, not {size}")
        memcpy(item, <const char *><bytes>data, <size_t>size)
        return 0
    if isinstance(value, (str, bytes, bytearray)):
        raise TypeError(f"cannot store a {type(value).__name__} in items of "
                        f"format {_fmt_name(v)}")
    if op.storage:
        return _pack_storage(value, op, item)
    if _is_complex(t):
        z = complex(value)
        if t == TYPE_COMPLEX128:
            d = z.real; memcpy(item, &d, 8)
            d = z.imag; memcpy(item + 8, &d, 8)
        else:
            f = <float>z.real; memcpy(item, &f, 4)
            f = <float>z.imag; memcpy(item + 4, &f, 4)
    elif _is_float(t):
        d = _as_double(value)
        if t == TYPE_FLOAT64:
            memcpy(item, &d, 8)
        else:
            f = <float>d
            memcpy(item, &f, 4)
    elif t == TYPE_BOOL:
        item[0] = 1 if value else 0
    else:
        if not PyIndex_Check(value):
            raise TypeError(f"an integer is required for items of format "
                            f"{_fmt_name(v)}, not {type(value).__name__}")
        value = PyNumber_Index(value)
        signed = not _is_unsigned(t)
        bits = 8 * size                    # Python ints: no C overflow
        if signed:
            lo = -(1 << (bits - 1))
            hi = (1 << (bits - 1)) - 1
        else:
            lo = 0
            hi = (1 << bits) - 1
        if value < lo or value > hi:
            raise ValueError(f"{value} is out of range for items of format "
                             f"{_fmt_name(v)}")
        if signed:
            q = value
            u = <uint64_t>q
        else:
            u = value
        if size == 1:
            (<uint8_t *>item)[0] = <uint8_t>u
        elif size == 2:
            (<uint16_t *>item)[0] = <uint16_t>u
        elif size == 4:
            (<uint32_t *>item)[0] = <uint32_t>u
        else:
            memcpy(item, &u, 8)
    if op.swapped:
        K.bswap_line(item, size, item, size, 1, size,
                    size // 2 if _is_complex(t) else size)
    return 0


cdef double _as_double(object value) except? -1:
    try:
        return PyFloat_AsDouble(value)
    except OverflowError:
        # memoryview's error for a value no double holds (2**1024)
        raise ValueError(f"{type(value).__name__} value out of range of a "
                         f"C double") from None


cdef int _pack_storage(object value, Operand *op, char *item) except -1:
    """_pack for 'e', 'g', 'Zg': the value as a double (a complex as two),
    rounded once into the storage format."""
    cdef double parts[2]
    cdef Py_ssize_t k = 1, i, unit
    cdef Side side
    if _is_complex(op.type):
        z = complex(value)
        parts[0] = z.real
        parts[1] = z.imag
        k = 2
    else:
        parts[0] = _as_double(value)
    _side(op, &side)
    unit = op.itemsize // k
    for i in range(k):
        K.narrow_line(&side, &parts[i], item + i * unit, unit, 1)
    return 0


def fill(dst, value):
    """fill(dst, value)

    Set every item of ``dst`` to ``value``: ``dst[idx] = value``.

    Parameters
    ----------
    dst : buffer exporter
        Writable, any strides.
    value : scalar
        Converted once to ``dst``'s item type: an int for integer formats
        (``ValueError`` when out of range), a real for ``e``/``f``/``d``/``g``, a
        complex for ``Zf``/``Zd``/``Zg``, truth for ``?``; for other formats
        whatever :meth:`pybuf.Format.pack` accepts.

    Raises
    ------
    BufferError
        ``dst`` is read-only.
    TypeError, ValueError
        ``value`` does not fit the format.

    Notes
    -----
    Contiguous destinations larger than the caches are filled with
    non-temporal (streaming) stores.
    """
    cdef PyThreadState *_ts
    cdef Py_buffer dv
    cdef Operand d
    cdef Loop L
    cdef uint64_t small[4]
    cdef char *item = <char *>small
    _acquire(dst, &dv, True, "destination")
    try:
        _operand(&dv, &d)
        if d.itemsize > <Py_ssize_t>sizeof(small):
            item = <char *>malloc(<size_t>d.itemsize)
            if item == NULL:
                raise MemoryError()
        try:
            _pack(value, &d, &dv, item)
            K.loop_init(&L, d.ndim, d.shape, d.data, d.strides, d.itemsize,
                       NULL, NULL, 0, True)
            _ts = _unlock(d.nbytes >= NOGIL_BYTES)
            K.fill_loop(&L, item, d.itemsize)
            _relock(_ts)
        finally:
            if item != <char *>small:
                free(item)
    finally:
        PyBuffer_Release(&dv)


def astype(src, format):
    """astype(src, format)

    A new C-contiguous :class:`pybuf.Buffer` of ``src``'s shape holding
    its items converted to ``format``, as numpy's
    ``src.astype(dtype, casting="unsafe")`` for values in range.

    Raises
    ------
    ValueError
        ``format`` or ``src``'s format is not numeric and they differ.
    """
    cdef Py_buffer sv, dv
    cdef Operand s, d
    _acquire(src, &sv, False, "source")
    try:
        _operand(&sv, &s)
        out = empty(_as_tuple(s.ndim, s.shape), format)
        _acquire(out, &dv, True, "destination")
        try:
            _operand(&dv, &d)
            _copy_operands(&d, &s, &dv, &sv)
        finally:
            PyBuffer_Release(&dv)
    finally:
        PyBuffer_Release(&sv)
    return out


def ascontiguous(obj, order="C"):
    """ascontiguous(obj, order="C")

    ``obj`` as a contiguous :class:`pybuf.Buffer` in ``order``: a
    zero-copy view (see :func:`pybuf.asbuffer`) when it already is, else a
    new copy, items copied as they are (any format).  A 2-d transpose is
    copied through cache-sized tiles.

    Raises
    ------
    ValueError
        ``order`` is not "C" or "F".
    """
    cdef PyThreadState *_ts
    cdef Py_buffer sv, dv
    cdef Operand s, d
    cdef Loop L
    cdef char o
    o = _parse_order(order)
    _acquire(obj, &sv, False, "source")
    try:
        if PyBuffer_IsContiguous(&sv, o):
            return asbuffer(obj)
        _operand(&sv, &s)
        out = empty(_as_tuple(s.ndim, s.shape),
                    _fmt_str(&sv), order="F" if o == b'F' else "C")
        _acquire(out, &dv, True, "destination")
        try:
            _operand(&dv, &d)
            K.loop_init(&L, d.ndim, d.shape, d.data, d.strides, d.itemsize,
                       s.data, s.strides, s.itemsize, True)
            _ts = _unlock(d.nbytes >= NOGIL_BYTES)
            K.copy_loop(&L, d.itemsize)
            _relock(_ts)
        finally:
            PyBuffer_Release(&dv)
    finally:
        PyBuffer_Release(&sv)
    return out


cdef object _scalar(int t, Reduction *acc, bint as_bool):
    if _is_float(t):
        return acc.f
    if as_bool:
        return acc.u != 0
    if t == TYPE_BOOL:
        return acc.i                       # sums of bools count in int64
    if _is_unsigned(t):
        return acc.u
    return acc.i


cdef int _reduce_operand(Operand *x, int op, Reduction *acc) except -1:
    """Fold every item of a real operand into acc (any order/alignment)."""
    cdef PyThreadState *_ts
    cdef Loop L
    cdef Side side
    cdef Py_ssize_t idx[MAX_NDIM]
    cdef double tmp[CHUNK]
    cdef double tmp2[CHUNK]
    cdef Py_ssize_t off, c, n, s, stride
    cdef const char *p
    cdef int last
    _side(x, &side)
    if side.direct:
        # the C API's kernel (on two threads when large)
        _ts = _unlock(x.nbytes >= NOGIL_BYTES)
        reduce_items(op, x.ndim, x.shape, x.data, x.strides, side.type, acc)
        _relock(_ts)
        return 0
    K.loop_init(&L, x.ndim, x.shape, x.data, x.strides, x.itemsize,
               NULL, NULL, 0, True)
    if L.ndim == 0:
        return 0
    last = L.ndim - 1
    memset(idx, 0, sizeof(idx))
    n = L.shape[last]
    s = L.s0[last]
    _ts = _unlock(x.nbytes >= NOGIL_BYTES)
    while True:
        for off in range(0, n, 512):      # 512 == CHUNK (range needs a literal step)
            c = CHUNK if n - off > CHUNK else n - off
            p = K.stage_in(L.p0 + off * s, s, &side, c, side.type,
                          <char *>tmp, <char *>tmp2, &stride)
            K.reduce_line(side.type, p, stride, c, op, acc)
        if not _advance(&L, last, idx):
            break
    _relock(_ts)
    return 0


cdef object _reduce(object x, int op, str name):
    cdef Py_buffer v
    cdef Operand o
    cdef Reduction acc, acc_im
    cdef Py_ssize_t n
    _acquire(x, &v, False, "argument")
    try:
        _operand(&v, &o)
        if o.type == TYPE_OPAQUE or (op != REDUCE_SUM and _is_complex(o.type)):
            raise ValueError(f"{name}() needs a real numeric format, not "
                             f"{_describe(&v, 'argument')}")
        memset(&acc, 0, sizeof(acc))
        if _is_complex(o.type):
            # sum of the real parts, then of the imaginary parts
            memset(&acc_im, 0, sizeof(acc_im))
            _split_complex(&o)
            o.ndim -= 1
            _reduce_operand(&o, op, &acc)
            o.data += o.itemsize
            _reduce_operand(&o, op, &acc_im)
            return complex(acc.f, acc_im.f)
        _reduce_operand(&o, op, &acc)
        if op == REDUCE_SUM:
            return _scalar(o.type, &acc, False)
        if acc.count == 0:
            raise ValueError(f"{name}() of an empty buffer: "
                             f"{_describe(&v, 'argument')}")
        if acc.nan:
            return float("nan")
        return _scalar(o.type, &acc, o.type == TYPE_BOOL)
    finally:
        PyBuffer_Release(&v)


def sum(x):
    """sum(x)

    The sum of every item of ``x``, as a Python scalar.

    Integers (and bool) accumulate in 64 bits, signed, or unsigned for
    unsigned formats, wrapping around on overflow as numpy's ``x.sum()``
    does; floats accumulate in float64 (numpy: ``x.sum(dtype="f8")``);
    complex in complex128.  Formula: ``sum(x[idx] for idx in ndindex(shape))``,
    0 when empty.  The order of the additions is not specified (several
    partial sums), so float results may differ from numpy's in the last
    bits.

    Raises
    ------
    ValueError
        A format that is not numeric.
    """
    return _reduce(x, REDUCE_SUM, "sum")


def min(x):
    """min(x)

    The smallest item of ``x``, as a Python scalar; NaN when any item is
    NaN (numpy's ``x.min()``).

    Raises
    ------
    ValueError
        ``x`` is empty, or its format is not a real numeric one.
    """
    return _reduce(x, REDUCE_MIN, "min")


def max(x):
    """max(x)

    The largest item of ``x`` (numpy's ``x.max()``): :func:`min`'s
    counterpart, with its rule for NaN and its errors.
    """
    return _reduce(x, REDUCE_MAX, "max")


def dot(a, b):
    """dot(a, b)

    The inner product ``sum(a[i] * b[i])`` of two 1-d numeric buffers of
    the same length, as a Python scalar.

    Products accumulate in float64 when either is a float (numpy's
    ``np.dot(a.astype("f8"), b.astype("f8"))``), else in 64-bit integers
    (``np.dot`` of the int64 conversions); mixed types are converted to
    that common type first.  Complex operands give a complex (no
    conjugation, like ``np.dot``); bool operands a bool, like numpy.

    Raises
    ------
    ValueError
        Not both 1-d of the same length, or a format that is not numeric.
    """
    cdef PyThreadState *_ts
    cdef Py_buffer av, bv
    cdef Operand oa, ob
    cdef Reduction acc
    cdef Py_ssize_t n
    cdef int t
    cdef double re = 0, im = 0
    _acquire_pair(a, &av, &oa, False, "first argument",
                  b, &bv, &ob, "second argument")
    try:
        if oa.ndim != 1 or ob.ndim != 1 or oa.shape[0] != ob.shape[0]:
            raise ValueError(f"dot needs two 1-d buffers of the same "
                             f"length: {_describe(&av, 'first argument')}, "
                             f"{_describe(&bv, 'second argument')}")
        if oa.type == TYPE_OPAQUE or ob.type == TYPE_OPAQUE:
            raise ValueError(f"dot needs numeric formats: "
                             f"{_describe(&av, 'first argument')}, "
                             f"{_describe(&bv, 'second argument')}")
        n = oa.shape[0]
        if _is_complex(oa.type) or _is_complex(ob.type):
            return _complex_dot(&oa, &ob)
        memset(&acc, 0, sizeof(acc))
        # the C API's kernel: direct or staged, on two threads when large
        # (storage-only types by their own TypeId)
        _ts = _unlock(oa.nbytes >= NOGIL_BYTES)
        t = dot_items(n, oa.data, oa.strides[0], oa.storage or oa.type,
                      oa.swapped, ob.data, ob.strides[0],
                      ob.storage or ob.type, ob.swapped, &acc)
        _relock(_ts)
        return _scalar(t, &acc, oa.type == TYPE_BOOL and ob.type == TYPE_BOOL)
    finally:
        PyBuffer_Release(&bv)
        PyBuffer_Release(&av)


cdef object _complex_dot(Operand *a, Operand *b):
    """sum(a[i] * b[i]) in complex128, either operand real or complex."""
    cdef double are[CHUNK]
    cdef double aim[CHUNK]
    cdef double bre[CHUNK]
    cdef double bim[CHUNK]
    cdef double t2[CHUNK]
    cdef double sre = 0, sim = 0
    cdef Py_ssize_t n = a.shape[0], off, c, i
    _complex_parts_prepare(a)
    _complex_parts_prepare(b)
    for off in range(0, n, 512):      # 512 == CHUNK (range needs a literal step)
        c = CHUNK if n - off > CHUNK else n - off
        _complex_parts(a, off, c, are, aim, t2)
        _complex_parts(b, off, c, bre, bim, t2)
        for i in range(c):
            sre += are[i] * bre[i] - aim[i] * bim[i]
            sim += are[i] * bim[i] + aim[i] * bre[i]
    return complex(sre, sim)


cdef void _complex_parts_prepare(Operand *x) noexcept:
    # Remember whether x is complex in ``ndim`` (2: complex, 1: real) and
    # describe its real parts.
    if _is_complex(x.type):
        x.type = TYPE_FLOAT32 if x.type == TYPE_COMPLEX64 else TYPE_FLOAT64
        x.itemsize //= 2
        x.ndim = 2
    else:
        x.ndim = 1


cdef void _complex_parts(Operand *x, Py_ssize_t off, Py_ssize_t c,
                         double *re, double *im, double *t2) noexcept nogil:
    cdef Side side
    cdef Py_ssize_t stride, i
    cdef const char *p
    _side(x, &side)
    p = K.stage_in(x.data + off * x.strides[0], x.strides[0], &side, c,
                  TYPE_FLOAT64, <char *>re, <char *>t2, &stride)
    if p != <const char *>re:
        for i in range(c):
            re[i] = (<const double *>(p + i * stride))[0]
    if x.ndim == 2:
        p = K.stage_in(x.data + x.itemsize + off * x.strides[0], x.strides[0],
                      &side, c, TYPE_FLOAT64, <char *>im, <char *>t2, &stride)
        if p != <const char *>im:
            for i in range(c):
                im[i] = (<const double *>(p + i * stride))[0]
    else:
        memset(im, 0, <size_t>c * sizeof(double))


def byteswap(buf, *, out=None):
    """byteswap(buf, *, out=None)

    Reverse the bytes of every item of ``buf``: in place, or into ``out``
    (same shape and itemsize; ``buf`` is then only read).  As numpy's
    ``byteswap``: complex items have each half swapped; struct items
    each field (each number, each half of a complex, each character of a
    str; bytes, bools and padding stay); items of another non-numeric
    format are reversed whole.

    Returns
    -------
    The buffer written (``buf`` or ``out``).

    Raises
    ------
    BufferError
        The buffer to write is read-only.
    ValueError
        ``out`` differs from ``buf`` in shape or itemsize.
    """
    cdef PyThreadState *_ts
    cdef Py_buffer sv, dv
    cdef Operand s, d, staged
    cdef Loop L
    cdef Py_ssize_t unit
    cdef char *tmp = NULL
    if out is None:
        _acquire(buf, &dv, True, "buf")
        try:
            _operand(&dv, &d)
            fields = _swap_units(&dv, &d)
            if fields is not None:
                _bswap_fields(&d, fields)
                return buf
            unit = d.itemsize // 2 if _is_complex(d.type) else d.itemsize
            K.loop_init(&L, d.ndim, d.shape, d.data, d.strides, d.itemsize,
                       d.data, d.strides, d.itemsize, True)
            _ts = _unlock(d.nbytes >= NOGIL_BYTES)
            K.bswap_loop(&L, d.itemsize, unit)
            _relock(_ts)
        finally:
            PyBuffer_Release(&dv)
        return buf
    _acquire_pair(out, &dv, &d, True, "out", buf, &sv, &s, "buf")
    try:
        if not _same_shape(&d, &s) or d.itemsize != s.itemsize:
            raise ValueError(f"out must match buf in shape and itemsize: "
                             f"{_describe(&dv, 'out')}, "
                             f"{_describe(&sv, 'buf')} (itemsize "
                             f"{d.itemsize} and {s.itemsize})")
        unit = s.itemsize // 2 if _is_complex(s.type) else s.itemsize
        if _overlap(&d, &s) and not (d.data == s.data and memcmp(
                d.strides, s.strides, d.ndim * sizeof(Py_ssize_t)) == 0):
            tmp = _stage_copy(&s, &staged)
            memcpy(&s, &staged, sizeof(Operand))
        K.loop_init(&L, d.ndim, d.shape, d.data, d.strides, d.itemsize,
                   s.data, s.strides, s.itemsize, True)
        fields = _swap_units(&sv, &s)
        _ts = _unlock(d.nbytes >= NOGIL_BYTES)
        if fields is None:
            K.bswap_loop(&L, d.itemsize, unit)
        else:
            K.copy_loop(&L, d.itemsize)     # then swap out's fields in place
        _relock(_ts)
        if fields is not None:
            _bswap_fields(&d, fields)
    finally:
        free(tmp)
        PyBuffer_Release(&sv)
        PyBuffer_Release(&dv)
    return out


cdef object _swap_units(Py_buffer *v, Operand *op):
    """For struct items: the (offset, unit, count) runs that numpy's
    byteswap reverses one by one (each number, each half of a complex,
    each character of a str); None for other items."""
    if op.type != TYPE_OPAQUE:
        return None
    f = _reading(v)
    if f is None or f.kind != "struct":
        return None
    return f._swap_units()


cdef int _bswap_fields(Operand *d, object fields) except -1:
    """Swap the fields of every item of ``d`` in place."""
    cdef PyThreadState *_ts
    cdef Loop L
    cdef Py_ssize_t off, unit, count, k
    cdef char *p
    for off, unit, count in fields:
        for k in range(count):
            p = d.data + off + k * unit
            K.loop_init(&L, d.ndim, d.shape, p, d.strides, unit,
                       p, d.strides, unit, True)
            _ts = _unlock(d.nbytes >= NOGIL_BYTES)
            K.bswap_loop(&L, unit, unit)
            _relock(_ts)
    return 0


def equal(a, b):
    """equal(a, b)

    True when ``a`` and ``b`` have the same shape and every pair of items
    compares equal by value (``a[idx] == b[idx]``): numeric items of any
    two formats are compared as numbers (NaN != NaN, -0.0 == 0.0), other
    formats byte by byte when both formats are the same.  False -- not an
    error -- when the shapes differ or a format is not comparable.
    """
    cdef Py_buffer av, bv
    cdef Operand oa, ob
    _acquire_pair(a, &av, &oa, False, "first argument",
                  b, &bv, &ob, "second argument")
    try:
        if not _same_shape(&oa, &ob):
            return False
        if oa.type == TYPE_OPAQUE and oa.nbytes and _same_items(&av, &oa, &bv, &ob):
            masked = _equal_fields(&oa, &ob, &av)
            if masked is not None:
                return masked
        return _equal_operands(&oa, &ob, &av, &bv)
    finally:
        PyBuffer_Release(&bv)
        PyBuffer_Release(&av)


cdef double _ZERO[2]


cdef bint _equal_operands(Operand *a, Operand *b, Py_buffer *av,
                          Py_buffer *bv) except -1:
    cdef Operand zeros
    cdef int i
    if a.nbytes == 0:
        return True
    if a.type == TYPE_OPAQUE or b.type == TYPE_OPAQUE:
        if not _same_items(av, a, bv, b):
            return False
        return _equal_loop(a, b, True)
    if _is_complex(a.type) != _is_complex(b.type):
        if _is_complex(b.type):
            a, b = b, a
        # complex a vs real b: real parts equal and imaginary parts 0
        _split_complex(a)
        a.ndim -= 1
        if not _equal_loop(a, b, False):
            return False
        a.data += a.itemsize
        memcpy(&zeros, a, sizeof(Operand))
        zeros.data = <char *>_ZERO
        zeros.type = TYPE_FLOAT64
        zeros.itemsize = 8
        zeros.swapped = False
        zeros.storage = 0
        zeros.aligned = True
        for i in range(zeros.ndim):
            zeros.strides[i] = 0
        return _equal_loop(a, &zeros, False)
    _split_complex(a)
    _split_complex(b)
    return _equal_loop(a, b, False)


cdef bint _equal_loop(Operand *a, Operand *b, bint raw) noexcept:
    """all(a == b) over real operands of the same shape (``raw``: compare
    item bytes)."""
    cdef PyThreadState *_ts
    cdef Loop L
    cdef Side sa, sb
    cdef Py_ssize_t idx[MAX_NDIM]
    cdef Py_ssize_t n, s0, s1, i
    cdef int last, t
    cdef bint ok = True
    _side(a, &sa)
    _side(b, &sb)
    K.loop_init(&L, a.ndim, a.shape, a.data, a.strides, a.itemsize,
               b.data, b.strides, b.itemsize, True)
    if L.ndim == 0:
        return True
    last = L.ndim - 1
    memset(idx, 0, sizeof(idx))
    n = L.shape[last]
    s0 = L.s0[last]
    s1 = L.s1[last]
    t = a.type if a.type == b.type else _common_type(a.type, b.type)
    _ts = _unlock(a.nbytes >= NOGIL_BYTES)
    while ok:
        if raw:
            for i in range(n):
                if memcmp(L.p0 + i * s0, L.p1 + i * s1, <size_t>a.itemsize):
                    ok = False
                    break
        elif a.type == b.type and sa.direct and sb.direct:
            ok = K.equal_line(t, L.p0, s0, L.p1, s1, n)
        elif a.type == b.type and a.swapped == b.swapped:
            # same bytes, same values -- except for floats
            if _is_float(t):
                ok = K.equal_staged(L.p0, s0, &sa, L.p1, s1, &sb, n, t)
            else:
                for i in range(n):
                    if memcmp(L.p0 + i * s0, L.p1 + i * s1, <size_t>a.itemsize):
                        ok = False
                        break
        else:
            ok = K.equal_staged(L.p0, s0, &sa, L.p1, s1, &sb, n, t)
        if not _advance(&L, last, idx):
            break
    _relock(_ts)
    return ok


# Buffer's ``==`` and ``b[...] = exporter`` compare and convert numbers
# with these (pybuf.buffer is below this module and cannot import it).
pybuf.buffer._bind_ops(copyto, equal)
