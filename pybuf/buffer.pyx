"""The Buffer class: owned, aligned memory (or a view of any exporter),
exported exactly as PEP 3118 and CPython's own exporters do.

Layout of a Buffer: ``data`` points at the first item; ``_shape`` and
``_strides`` (bytes) describe ``ndim`` dimensions; ``_suboffsets`` is NULL
unless the memory came from an indirect (PIL-style) exporter.  A Buffer
either owns ``_mem`` (an aligned ``malloc`` block) or holds a buffer
``_src`` acquired from ``_base``.  Views of a Buffer acquire a buffer from
it, so their source counts them as exports and can neither be released nor
resized while they live.
"""
cimport cython
from cpython.buffer cimport (PyObject_GetBuffer, PyBuffer_Release,
                             PyObject_CheckBuffer, PyBUF_FULL_RO)
cimport cpython.buffer as pb
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.number cimport PyIndex_Check, PyNumber_Index
from libc.stdint cimport uint64_t, uintptr_t
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy

from pybuf._types cimport MAX_NDIM, TYPE_INT64, TYPE_UINT64
from pybuf._layout cimport (_parse_shape, _checked_nbytes, _parse_order,
                            _parse_align, _infer_shape, _fill_strides,
                            _is_contig, _extent, _first_direct,
                            _nocopy_strides, _as_tuple, _check_flags,
                            _check_request, _check_memory, _parse_address,
                            _parse_strides)
from pybuf._alloc cimport _alloc_block, _free_block, _owner_of
from pybuf._dlpack_c cimport (DLDataType, FLAG_IS_COPIED, FLAG_READ_ONLY,
                              _dlpack_plan, _dlpack_request,
                              pybuf_dlpack_capsule)
from pybuf.kernels cimport copy_items, fill_items, format_type
from pybuf._items cimport (_format_entry, _foreign_entry, _has_objects,
                           _object_error, _unpack_native, _pack_native,
                           _native_list, _parsed_list, same_items)

from pickle import PickleBuffer

# pybuf's allocator (pybuf._alloc): its counters, re-exported as pybuf's.
from pybuf._alloc import memory_info, trim

# The kernels' entry points over any exporter, pybuf.copyto and pybuf.equal:
# assignment from an exporter and == convert and compare numbers with them.
# They live in pybuf._ops, above this module (they make Buffers), which
# binds them here once, at its import (pybuf/__init__ imports it).
cdef object _copy_converting = None
cdef object _equal_by_value = None


def _bind_ops(copyto, equal):
    global _copy_converting, _equal_by_value
    _copy_converting = copyto
    _equal_by_value = equal

cdef extern from "Python.h":
    int PySlice_Unpack(object slice, Py_ssize_t *start, Py_ssize_t *stop,
                       Py_ssize_t *step) except -1
    Py_ssize_t PySlice_AdjustIndices(Py_ssize_t length, Py_ssize_t *start,
                                     Py_ssize_t *stop, Py_ssize_t step)
    # for b[i]: _item_at checks and clears the error itself
    bint PyLong_CheckExact(object o) noexcept
    Py_ssize_t _as_ssize_t "PyLong_AsSsize_t"(object) noexcept
    void *PyErr_Occurred() noexcept
    void PyErr_Clear() noexcept

cdef extern from "_build.h":
    const bint PYBUF_DEBUG_BUILD        # a PYBUF_DEBUG=1 build

cdef extern from "Python.h":
    void Py_FatalError(const char *message)

cdef enum:
    DEF_ALIGN = 64

#: The alignment of owned memory when none is given (``python -m pybuf info``).
DEFAULT_ALIGN = DEF_ALIGN

# Kernel types that double does not hold exactly.
_WIDE_INTS = (TYPE_INT64, TYPE_UINT64)


# --------------------------------------------------------------------------

cdef inline Buffer _live(Buffer b):
    """``b``, checked: ValueError when released or uninitialised."""
    b._check()
    return b


cdef int _check_unused(Buffer b, str action) except -1:
    """BufferError unless ``b`` has no exports and no pins (release/resize)."""
    if b._exports:
        raise BufferError(f"cannot {action} a Buffer with {b._exports} "
                          f"live export(s)")
    if b._pins:
        raise BufferError(f"cannot {action} a Buffer while an operation on it "
                          f"is running (in another thread, or in a callback "
                          f"from that operation)")
    return 0


@cython.final
cdef class _Layout:
    """Scratch space for a view being built: up to MAX_NDIM dimensions."""
    cdef char *data
    cdef int ndim
    cdef bint indirect
    cdef Py_ssize_t shape[MAX_NDIM]
    cdef Py_ssize_t strides[MAX_NDIM]
    cdef Py_ssize_t suboffsets[MAX_NDIM]


# no_gc_clear: Cython's generated tp_clear would drop ``_src.obj`` without
# PyBuffer_Release when the garbage collector breaks a cycle through a view,
# so the exporter never saw its export come back (a pybuf parent kept
# ``exports == 1`` for good, a bytearray stayed unresizable).  Without it,
# a view in a cycle is freed by its own dealloc, which releases properly;
# the cycle is broken through its other members (a view never references
# whoever references it).
@cython.no_gc_clear
@cython.freelist(16)
cdef class Buffer:
    """Buffer(shape, format="B", *, order="C", align=64)

    A block of memory that exports itself through the buffer protocol.

    ``Buffer(shape, ...)`` allocates ``prod(shape) * itemsize`` zero-filled
    bytes aligned to ``align``.  Views made by indexing, :meth:`reshape`,
    :meth:`cast`, :meth:`transpose` and :func:`asbuffer` share memory with
    their source and keep it exported while they live.

    Parameters
    ----------
    shape : int or tuple of int
        Dimensions; ``()`` is a 0-d scalar.
    format : str
        A PEP 3118 format string (``"B"``, ``"d"``, ``"<i"``, ...).
    order : {"C", "F"}
        Memory layout of a multi-dimensional buffer.
    align : int
        Power of two; the data address is a multiple of it.

    Raises
    ------
    ValueError
        Negative dimensions, more than 64 of them, a bad format, order or
        alignment.
    OverflowError, MemoryError
        A size that does not fit or cannot be allocated.

    Examples
    --------
    >>> import pybuf
    >>> b = pybuf.Buffer((2, 3), "i")
    >>> b[1, 2] = 7
    >>> b.tolist()
    [[0, 0, 0], [0, 0, 7]]
    >>> memoryview(b).shape
    (2, 3)
    """

    def __init__(self, shape, format="B", *, order="C", align=DEF_ALIGN):
        if self._fmt is not None or self._released:
            raise TypeError("Buffer is already initialised")
        _init_owned(self, shape, _format_entry(format), _parse_order(order),
                    _parse_align(align), True)

    def __dealloc__(self):
        # An export or a pin holds a reference to this Buffer: neither can
        # outlive it unless a consumer broke the protocol (dropped view.obj
        # without PyBuffer_Release).  Debug builds stop there.
        if PYBUF_DEBUG_BUILD and (self._exports or self._pins):
            Py_FatalError("pybuf.Buffer freed with live exports or pins")
        self._free()

    cdef void _free(self) noexcept:
        if self._has_src:
            self._has_src = False
            PyBuffer_Release(&self._src)
        # Views (most Buffers freed in a loop) own no block and no
        # suboffsets: no call for them.
        if self._mem != NULL:
            _free_block(self._mem, self.nbytes, self._align)
        if self._shape != self._dims_inline and self._shape != NULL:
            free(self._shape)      # strides live in the same block
        if self._suboffsets != NULL:
            free(self._suboffsets)
        self._mem = NULL
        self._shape = self._strides = self._suboffsets = NULL
        self.data = NULL

    cdef int _check(self) except -1:
        if self._released:
            raise ValueError("operation on a released Buffer")
        if self._fmt is None:
            raise ValueError("operation on an uninitialised Buffer")
        return 0

    cdef int _check_writable(self) except -1:
        self._check()
        if self._readonly:
            raise BufferError("cannot write to a read-only Buffer")
        return 0

    cdef int _pin(self) except -1:
        # The one mechanism behind "no pointer outlives a check": every
        # method that keeps data, _shape or _strides across Python code, a
        # released GIL or a user callback runs between _pin and _unpin
        # (try/finally), and release()/resize() refuse while _pins > 0.
        # Pins are not exports: ``exports`` counts buffer exports only.
        self._check()
        self._pins += 1
        return 0

    cdef void _unpin(self) noexcept:
        self._pins -= 1

    # --- the buffer protocol ----------------------------------------------

    def __getbuffer__(self, Py_buffer *view, int flags):
        # Mirrors CPython's reference exporter (Modules/_testbuffer.c):
        # every field the consumer did not ask for is NULL.
        _check_flags(flags)
        self._check()
        _check_request(flags, self._readonly, self._c_contig, self._f_contig,
                       self._suboffsets != NULL)
        view.buf = self.data
        view.len = self.nbytes
        view.readonly = self._readonly
        view.itemsize = self.itemsize
        view.format = NULL
        if flags & pb.PyBUF_FORMAT:
            view.format = PyBytes_AS_STRING(self._format)
        view.ndim = 1
        view.shape = view.strides = view.suboffsets = NULL
        if (flags & pb.PyBUF_ND) == pb.PyBUF_ND:
            view.ndim = self.ndim
            view.shape = self._shape
        if (flags & pb.PyBUF_STRIDES) == pb.PyBUF_STRIDES:
            view.strides = self._strides
        if (flags & pb.PyBUF_INDIRECT) == pb.PyBUF_INDIRECT:
            view.suboffsets = self._suboffsets
        view.internal = NULL
        view.obj = self
        self._exports += 1

    def __releasebuffer__(self, Py_buffer *view):
        self._exports -= 1

    # --- attributes -----------------------------------------------------------

    # Each raises ValueError on a released Buffer (_live checks first).

    @property
    def shape(self):
        """Dimensions, a tuple of ints."""
        return _as_tuple(self.ndim, _live(self)._shape)

    @property
    def strides(self):
        """Bytes to step in each dimension, a tuple of ints."""
        return _as_tuple(self.ndim, _live(self)._strides)

    @property
    def suboffsets(self):
        """Suboffsets of an indirect buffer, or ``()``."""
        if _live(self)._suboffsets == NULL:
            return ()
        return _as_tuple(self.ndim, self._suboffsets)

    @property
    def ndim(self):
        """Number of dimensions."""
        return _live(self).ndim

    @property
    def itemsize(self):
        """Bytes per item."""
        return _live(self).itemsize

    @property
    def nbytes(self):
        """``prod(shape) * itemsize``."""
        return _live(self).nbytes

    @property
    def format(self):
        """The format string this Buffer exports: the canonical spelling of
        the one it was given (``pybuf.zeros(3, "@i").format == "i"``), or
        of the reading of another exporter's format that pybuf chose."""
        return _live(self)._fmt

    @property
    def size(self):
        """Number of items."""
        return _live(self).nbytes // self.itemsize

    @property
    def readonly(self):
        return bool(_live(self)._readonly)

    @property
    def c_contiguous(self):
        return bool(_live(self)._c_contig)

    @property
    def f_contiguous(self):
        return bool(_live(self)._f_contig)

    @property
    def contiguous(self):
        """C- or Fortran-contiguous."""
        return bool(_live(self)._c_contig or self._f_contig)

    @property
    def address(self):
        """Address of the first item, an int."""
        return <uintptr_t>_live(self).data

    @property
    def base(self):
        """The exporter this Buffer views, or ``None`` when it owns its memory."""
        return _live(self)._base

    @property
    def exports(self):
        """Number of live buffer exports of this object (views included)."""
        return self._exports

    @property
    def released(self):
        return bool(self._released)

    @property
    def T(self):
        """The transpose (a view)."""
        return self.transpose()

    # --- lifetime -----------------------------------------------------------

    def release(self):
        """Give back the memory (or the exporter's buffer) now.

        Raises
        ------
        BufferError
            While any export (a memoryview, an ndarray, a view) is alive.
        """
        if self._released:
            return
        _check_unused(self, "release")
        self._free()
        self._released = True
        self._base = None

    def __enter__(self):
        self._check()
        return self

    def __exit__(self, *exc):
        self.release()
        return False

    def resize(self, shape):
        """Change the shape of an owned buffer in place, keeping its format
        and order; items are kept in memory order and new ones are zero.

        Raises
        ------
        BufferError
            While any export is alive or an operation on it is running (the
            memory may move).
        ValueError
            On a view (only the owner can resize).
        """
        cdef Py_ssize_t dims[MAX_NDIM]
        cdef int ndim
        cdef Py_ssize_t nbytes
        cdef char order
        cdef void *mem
        cdef char *data
        # The new shape first: its __index__ may run any code, export this
        # Buffer included.  Nothing below calls back into Python.
        ndim = _parse_shape(shape, dims)
        self._check()
        if self._mem == NULL:
            raise ValueError("only a Buffer that owns its memory can be resized")
        _check_unused(self, "resize")
        order = c'F' if (self._f_contig and not self._c_contig) else c'C'
        nbytes = _checked_nbytes(ndim, dims, self.itemsize)
        mem = _alloc_block(nbytes, self._align, True, &data)
        memcpy(data, self.data, <size_t>min(self.nbytes, nbytes))
        _free_block(self._mem, self.nbytes, self._align)
        self._mem = mem
        self.data = data
        self.nbytes = nbytes
        _set_dims(self, ndim, dims)
        _fill_strides(ndim, dims, self._strides, self.itemsize, order)
        _set_contiguity(self)

    cdef tuple _entry(self):
        return (self._fmt, self._format, self.itemsize, self._code, self._parsed)

    # --- items -----------------------------------------------------------------

    cdef object _get(self, const char *p):
        if self._code:
            return _unpack_native(self._code, p)
        if self._parsed is None:
            raise NotImplementedError(
                f"items of format {self._fmt!r} cannot be read (opaque format)")
        return self._parsed.unpack(PyBytes_FromStringAndSize(p, self.itemsize))

    cdef int _set(self, char *p, object value) except -1:
        if self._code:
            return _pack_native(self._code, p, value)
        if self._parsed is None:
            raise NotImplementedError(
                f"items of format {self._fmt!r} cannot be written (opaque format)")
        data = self._parsed.pack(value)
        if len(data) != self.itemsize:
            raise ValueError(f"packed item is {len(data)} bytes, not {self.itemsize}")
        memcpy(p, PyBytes_AS_STRING(data), <size_t>self.itemsize)
        return 0

    def __getitem__(self, key):
        cdef _Layout lay
        cdef char *p
        self._pin()                 # an index's __index__ may run any code
        try:
            if PyLong_CheckExact(key) and self.ndim == 1:
                # b[i] of a 1-d buffer, the common case: no layout to make
                p = _item_at(self, key)
                if p != NULL:
                    return self._get(p)
            lay = _resolve(self, key)
            if lay.ndim < 0:
                return self._get(lay.data)
            return _view_from_layout(self, lay, self._readonly, self._entry())
        finally:
            self._unpin()

    def __setitem__(self, key, value):
        cdef _Layout lay
        cdef Buffer dst
        cdef char *p
        self._pin()
        try:
            if PyLong_CheckExact(key) and self.ndim == 1 and not self._readonly:
                p = _item_at(self, key)         # as in __getitem__
                if p != NULL:
                    self._set(p, value)
                    return
            lay = _resolve(self, key)
            self._check_writable()
            if lay.ndim < 0:
                self._set(lay.data, value)
                return
            dst = _view_from_layout(self, lay, False, self._entry())
            try:
                if PyObject_CheckBuffer(value):
                    _assign(dst, value)
                else:
                    _fill(dst, value)
            finally:
                dst.release()
        finally:
            self._unpin()

    def __delitem__(self, key):
        # memory has a fixed size: as memoryview, a TypeError
        raise TypeError("cannot delete items of a Buffer (its memory has a fixed size)")

    def __len__(self):
        self._check()
        if self.ndim == 0:
            raise TypeError("len() of a 0-d Buffer")
        return self._shape[0]

    def __iter__(self):
        self._check()
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d Buffer")
        for i in range(self._shape[0]):
            yield self[i]

    def tolist(self):
        """The items as nested lists of Python scalars (a scalar for 0-d)."""
        self._pin()                 # the format engine is Python code
        try:
            return self._tolist(self.data, 0)
        finally:
            self._unpin()

    cdef object _tolist(self, const char *p, int dim):
        cdef Py_ssize_t i, n, s, sub
        cdef const char *q
        if dim == self.ndim:
            return self._get(p)
        n = self._shape[dim]
        s = self._strides[dim]
        sub = self._suboffsets[dim] if self._suboffsets != NULL else -1
        if dim == self.ndim - 1 and sub < 0:
            # the last dimension in one go: no per-item dispatch
            if self._code:
                return _native_list(self._code, p, n, s)
            if self._parsed is not None:
                return _parsed_list(self._parsed, p, n, s, self.itemsize)
        result = []
        for i in range(n):
            q = p + i * s
            if sub >= 0:
                q = (<const char **>q)[0] + sub
            result.append(self._tolist(q, dim + 1))
        return result

    def tobytes(self, order="C"):
        """The items' bytes, laid out in ``order`` ("C", "F", or "A" for the
        buffer's own order when it is contiguous)."""
        cdef char o
        cdef Py_ssize_t dst_strides[MAX_NDIM]
        self._pin()                 # ``order`` may compare by user code
        try:
            o = _copy_order(self, order)
            result = PyBytes_FromStringAndSize(NULL, self.nbytes)
            _fill_strides(self.ndim, self._shape, dst_strides, self.itemsize, o)
            _copy_out(self, PyBytes_AS_STRING(result), dst_strides)
            return result
        finally:
            self._unpin()

    def copy(self, order="C"):
        """An owned, contiguous copy (``order`` "C", "F", or "A")."""
        self._pin()
        try:
            return _copy_buffer(self, _copy_order(self, order), DEF_ALIGN)
        finally:
            self._unpin()

    def fill(self, value):
        """Set every item to ``value``."""
        self._pin()                 # ``value`` may be converted by user code
        try:
            self._check_writable()
            _fill(self, value)
        finally:
            self._unpin()

    def toreadonly(self):
        """A read-only view of the same memory."""
        return _view_from_layout(self, _layout_of(self), True, self._entry())

    # --- shape changes (views) ---------------------------------------------------

    def transpose(self, *axes):
        """A view with the axes permuted (reversed when none are given)."""
        cdef _Layout lay
        cdef int i, j
        self._pin()                 # an axis' __index__ may run any code
        try:
            lay = _layout_of(self)
            if len(axes) == 1 and not PyIndex_Check(axes[0]):
                axes = tuple(axes[0])
            if not axes:
                axes = tuple(range(self.ndim - 1, -1, -1))
            if len(axes) != self.ndim:
                raise ValueError(f"axes {axes} do not match a {self.ndim}-d Buffer")
            if self._suboffsets != NULL:
                raise ValueError("cannot transpose a Buffer with suboffsets")
            seen = set()
            for i in range(self.ndim):
                j = PyNumber_Index(axes[i])
                if j < 0:
                    j += self.ndim
                if j < 0 or j >= self.ndim or j in seen:
                    raise ValueError(f"axes {axes} are not a permutation of "
                                     f"{tuple(range(self.ndim))}")
                seen.add(j)
                lay.shape[i] = self._shape[j]
                lay.strides[i] = self._strides[j]
            return _view_from_layout(self, lay, self._readonly, self._entry())
        finally:
            self._unpin()

    def reshape(self, *shape):
        """A view with a new shape (one dimension may be -1).

        Raises
        ------
        ValueError
            When the sizes differ, or the new shape cannot be had without a
            copy (as with numpy, contiguous buffers can always be reshaped).
        """
        cdef _Layout lay
        cdef Py_ssize_t size
        self._pin()                 # the new shape may run user code
        try:
            lay = _layout_of(self)
            if len(shape) == 1 and not PyIndex_Check(shape[0]):
                shape = shape[0]
            if self._suboffsets != NULL:
                raise ValueError("cannot reshape a Buffer with suboffsets")
            size = self.nbytes // self.itemsize
            shape = _infer_shape(shape, size)
            lay.ndim = _parse_shape(shape, lay.shape)
            if not _nocopy_strides(self.ndim, self._shape, self._strides,
                                   self.itemsize, lay.ndim, lay.shape,
                                   lay.strides):
                raise ValueError(f"cannot reshape a Buffer of shape {self.shape} and "
                                 f"strides {self.strides} to {tuple(shape)} without "
                                 f"a copy")
            return _view_from_layout(self, lay, self._readonly, self._entry())
        finally:
            self._unpin()

    def cast(self, format, shape=None):
        """Reinterpret the memory with another format and shape (a view).

        The buffer must be C-contiguous; ``shape`` defaults to a 1-d view of
        ``nbytes // itemsize(format)`` items and must otherwise cover exactly
        ``nbytes``.
        """
        cdef tuple entry
        cdef _Layout lay
        cdef Py_ssize_t isz
        self._pin()                 # the new shape may run user code
        try:
            lay = _Layout.__new__(_Layout)
            if not self._c_contig or self._suboffsets != NULL:
                raise ValueError("cast needs a C-contiguous Buffer")
            entry = _format_entry(format)
            if _has_objects(entry) or _has_objects(self._entry()):
                # Bytes must never turn into PyObject pointers, nor object
                # pointers into writable bytes.
                raise _object_error("cast to or from")
            isz = entry[2]
            if shape is None:
                if self.nbytes % isz:
                    raise ValueError(f"cannot cast {self.nbytes} bytes to format "
                                     f"{entry[0]!r} of itemsize {isz}")
                shape = (self.nbytes // isz,)
            lay.ndim = _parse_shape(shape, lay.shape)
            if _checked_nbytes(lay.ndim, lay.shape, isz) != self.nbytes:
                raise ValueError(f"cannot cast {self.nbytes} bytes to shape "
                                 f"{tuple(shape) if not PyIndex_Check(shape) else shape}"
                                 f" of format {entry[0]!r} (itemsize {isz})")
            lay.data = self.data
            _fill_strides(lay.ndim, lay.shape, lay.strides, isz, c'C')
            return _view_from_layout(self, lay, self._readonly, entry)
        finally:
            self._unpin()

    # --- comparison, printing, pickling --------------------------------------------

    def __eq__(self, other):
        cdef Buffer o
        if not PyObject_CheckBuffer(other):
            return NotImplemented
        self._pin()                 # other's __buffer__ may run any code
        try:
            o = other if isinstance(other, Buffer) else _view_of(other, False)
            o._pin()
            try:
                return _equal(self, o)
            finally:
                o._unpin()
        finally:
            self._unpin()

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __repr__(self):
        if self._released:
            return "<released pybuf.Buffer>"
        if self._fmt is None:
            return "<uninitialised pybuf.Buffer>"
        layout = ("C" if self._c_contig else "") + ("F" if self._f_contig else "")
        parts = [f"shape={self.shape}", f"format={self._fmt!r}",
                 f"layout={'strided' if not layout else layout + '-contiguous'}"]
        if self._readonly:
            parts.append("readonly")
        return f"pybuf.Buffer({', '.join(parts)}, data={_preview(self)})"

    def __reduce_ex__(self, protocol):
        """Pickling.  Protocol 5 carries the memory as one PickleBuffer (out
        of band with a ``buffer_callback``: nothing copied), and unpickling
        views the frame, read-only when the frame is; protocols 0-4 carry
        the bytes in band.  A non-contiguous Buffer is made contiguous once.
        """
        self._pin()                 # ``protocol`` may compare by user code
        try:
            return _reduce(self, protocol)
        finally:
            self._unpin()

    # --- DLPack (the structs and capsules: pybuf/_dlpack.h) -------------------------

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None,
                   copy=None):
        """Export the memory as a DLPack capsule (CPU device, no copy).

        Parameters
        ----------
        stream : None
            Must be ``None``: CPU memory has no stream to synchronise.
        max_version : tuple of int, optional
            Highest DLPack version the consumer understands.  ``(1, x)`` or
            higher gives a versioned capsule (``"dltensor_versioned"``) that
            carries the read-only flag; ``None`` or ``(0, x)`` gives a legacy
            ``"dltensor"`` capsule.
        dl_device : tuple of int, optional
            ``None`` or ``(1, 0)`` (``kDLCPU``); anything else is refused.
        copy : bool, optional
            ``True`` exports a new C-contiguous copy, ``False`` never copies
            and ``None`` copies only when the layout cannot be described in
            DLPack (suboffsets, or a stride that is not a whole number of
            items).

        Raises
        ------
        BufferError
            Unsupported format (named in the message), device or stream, a
            read-only Buffer on a legacy request (legacy capsules cannot say
            read-only), or ``copy=False`` when a copy would be needed.

        Notes
        -----
        The capsule holds a buffer export of this Buffer (or of the copy)
        until the consumer calls the deleter, so the memory cannot be
        released or resized while the consumer lives.  A capsule that is
        never consumed gives the export back when it is collected.
        """
        cdef DLDataType dtype
        cdef bint swapped, versioned
        cdef int t
        cdef Buffer src = self
        cdef uint64_t flags = 0
        if self._released or self._fmt is None:
            self._check()           # raises
        # The arguments may run user code, which may release or resize
        # this Buffer: they are read first, and no pointer is held across
        # them (nor anything else: no pin needed).
        versioned = _dlpack_request(stream, max_version, dl_device, copy)
        if self._released:
            self._check()           # raises
        t = format_type(PyBytes_AS_STRING(self._format), self.itemsize,
                        &swapped)
        if _dlpack_plan(t, swapped, self._fmt, self.itemsize, self.ndim,
                        self._strides, self._suboffsets, self._readonly,
                        versioned, copy, &dtype):
            src = self.copy()       # pins this Buffer while it copies
            flags = FLAG_IS_COPIED
        elif self._readonly:
            flags = FLAG_READ_ONLY
        # No Python code from reading src's layout to holding its export.
        return pybuf_dlpack_capsule(src, &src._exports, src.data, src.ndim,
                                    src._shape, src._strides, src.itemsize,
                                    dtype, versioned, flags)

    def __dlpack_device__(self):
        """``(1, 0)``: a Buffer's memory is always on the CPU (``kDLCPU``)."""
        self._check()
        return (1, 0)


cdef object _equal(Buffer a, Buffer b):
    """``a == b`` for two pinned Buffers: shapes, then items by value."""
    cdef bint swapped
    cdef int i, ta, tb
    if b.ndim != a.ndim:
        return False
    for i in range(a.ndim):
        if b._shape[i] != a._shape[i]:
            return False
    if (a._code == 0 and a._parsed is None) or \
            (b._code == 0 and b._parsed is None):
        # Opaque items: equal when the formats and the bytes are.
        return (same_items(PyBytes_AS_STRING(a._format), a.itemsize,
                           PyBytes_AS_STRING(b._format), b.itemsize)
                and a.tobytes() == b.tobytes())
    ta = format_type(PyBytes_AS_STRING(a._format), a.itemsize, &swapped)
    tb = format_type(PyBytes_AS_STRING(b._format), b.itemsize, &swapped)
    if a._suboffsets == NULL and b._suboffsets == NULL and ta and tb and (
            ta == tb or (ta in _WIDE_INTS) == (tb in _WIDE_INTS)):
        # numbers compared by value; the kernel compares through double
        # only where that is exact (not 64-bit integers against other
        # types: 2**53 + 1 != 2.0**53, as memoryview says)
        return _equal_by_value(a, b)
    return a.tolist() == b.tolist()


cdef object _reduce(Buffer b, object protocol):
    """Buffer.__reduce_ex__ for a pinned Buffer."""
    cdef Buffer src = b
    if _has_objects(b._entry()):
        raise _object_error("pickle")
    if protocol < 5:
        return _rebuild, (b.tobytes(), b._fmt, b.shape, "C",
                          bool(b._readonly))
    if b._suboffsets != NULL or not (b._c_contig or b._f_contig):
        src = _copy_buffer(b, c'C', DEF_ALIGN)   # contiguous once
        if b._readonly:
            src = src.toreadonly()
    order = "C" if src._c_contig else "F"
    # The last True: writability follows the frame (see _rebuild).
    return _rebuild, (PickleBuffer(src), b._fmt, b.shape, order,
                      bool(b._readonly), True)


# --------------------------------------------------------------------------
# construction

cdef int _init_owned(Buffer self, object shape, tuple entry, char order,
                     Py_ssize_t align, bint zero) except -1:
    cdef Py_ssize_t dims[MAX_NDIM]
    cdef int ndim = _parse_shape(shape, dims)
    return _init_owned_dims(self, ndim, dims, entry, order, align, zero)


cdef int _set_dims(Buffer self, int ndim, const Py_ssize_t *shape) except -1:
    """Point _shape/_strides at storage for ``ndim`` dimensions (inline up
    to 4, else one malloc'd block) and copy ``shape``; strides are the
    caller's to fill."""
    if self._shape != NULL and self._shape != self._dims_inline:
        free(self._shape)
    self._shape = self._strides = NULL
    if ndim > 4:
        self._shape = <Py_ssize_t *>malloc(2 * ndim * sizeof(Py_ssize_t))
        if self._shape == NULL:
            raise MemoryError()
    elif ndim > 0:
        self._shape = self._dims_inline
    if ndim:
        self._strides = self._shape + ndim
        memcpy(self._shape, shape, ndim * sizeof(Py_ssize_t))
    self.ndim = ndim
    return 0


cdef int _init_owned_dims(Buffer self, int ndim, const Py_ssize_t *dims,
                          tuple entry, char order, Py_ssize_t align,
                          bint zero) except -1:
    cdef Py_ssize_t itemsize = entry[2]
    cdef Py_ssize_t nbytes = _checked_nbytes(ndim, dims, itemsize)
    if not entry[3] and _has_objects(entry):   # a native code is never 'O'
        raise _object_error("allocate")
    self._mem = _alloc_block(nbytes, align, zero, &self.data)
    _set_dims(self, ndim, dims)
    _fill_strides(ndim, dims, self._strides, itemsize, order)
    self.itemsize = itemsize
    self.nbytes = nbytes
    self._align = align
    self._fmt, self._format, _, self._code, self._parsed = entry
    self._readonly = False
    self._c_contig = _is_contig(ndim, dims, self._strides, itemsize, c'C')
    self._f_contig = _is_contig(ndim, dims, self._strides, itemsize, c'F')
    return 0



cdef char *_item_at(Buffer self, object i) noexcept:
    """The address of item ``i`` (an exact int) of a 1-d buffer, or NULL
    when it is out of range (_resolve then says so)."""
    cdef Py_ssize_t k = _as_ssize_t(i)
    cdef Py_ssize_t n = self._shape[0]
    cdef char *p
    if k == -1 and PyErr_Occurred() != NULL:
        PyErr_Clear()                   # too large: _resolve raises IndexError
        return NULL
    if k < 0:
        k += n
    if k < 0 or k >= n:
        return NULL
    p = self.data + k * self._strides[0]
    if self._suboffsets != NULL and self._suboffsets[0] >= 0:
        p = (<char **>p)[0] + self._suboffsets[0]
    return p


cdef _Layout _resolve(Buffer self, object key):
    """Apply an index to this buffer's layout.  ``None`` is never
    returned; the result's ``ndim`` is -1 when the key selects one item
    (its address is then ``data``)."""
    cdef _Layout out = _Layout.__new__(_Layout)
    cdef Py_ssize_t start, stop, step, n, i, offset
    cdef int dim = 0, k = 0, last_indirect = -1, nidx = 0
    cdef bint has_ellipsis = False, all_ints = True
    self._check()
    if not isinstance(key, tuple):
        key = (key,)
    for entry in <tuple>key:
        if entry is Ellipsis:
            if has_ellipsis:
                raise IndexError("an index can only have a single ellipsis ('...')")
            has_ellipsis = True
        else:
            nidx += 1
    if nidx > self.ndim:
        raise IndexError(f"too many indices: Buffer is {self.ndim}-dimensional,"
                         f" but {nidx} were indexed")
    out.data = self.data
    for entry in <tuple>key:
        if entry is Ellipsis:
            for _ in range(self.ndim - nidx):
                _keep_dim(out, self, dim, 0, self._shape[dim], 1, &k, &last_indirect)
                dim += 1
            continue
        n = self._shape[dim]
        if PyIndex_Check(entry):
            try:
                i = PyNumber_Index(entry)
            except OverflowError:
                raise IndexError(f"index {entry} is out of bounds for axis "
                                 f"{dim} with size {n}") from None
            if i < 0:
                i += n
            if i < 0 or i >= n:
                raise IndexError(f"index {entry} is out of bounds for axis "
                                 f"{dim} with size {n}")
            offset = i * self._strides[dim]
            if last_indirect >= 0:
                out.suboffsets[last_indirect] += offset
            else:
                out.data += offset
            if self._suboffsets != NULL and self._suboffsets[dim] >= 0:
                if k > 0:
                    raise NotImplementedError(
                        "cannot index an indirect dimension after a sliced one")
                out.data = (<char **>out.data)[0] + self._suboffsets[dim]
        elif isinstance(entry, slice):
            all_ints = False
            PySlice_Unpack(entry, &start, &stop, &step)
            n = PySlice_AdjustIndices(n, &start, &stop, step)
            _keep_dim(out, self, dim, start, n, step, &k, &last_indirect)
        else:
            raise TypeError(f"invalid index of type {type(entry).__name__}: "
                            f"use ints, slices and '...'")
        dim += 1
    while dim < self.ndim:           # trailing dimensions not indexed
        all_ints = False
        _keep_dim(out, self, dim, 0, self._shape[dim], 1, &k, &last_indirect)
        dim += 1
    out.ndim = -1 if (all_ints and not has_ellipsis) else k
    out.indirect = last_indirect >= 0
    return out


cdef inline void _keep_dim(_Layout out, Buffer src, int dim, Py_ssize_t start,
                           Py_ssize_t length, Py_ssize_t step, int *k,
                           int *last_indirect) noexcept:
    """Append source dimension ``dim`` sliced as [start::step][:length]."""
    cdef Py_ssize_t offset = start * src._strides[dim] if length > 0 else 0
    if last_indirect[0] >= 0:
        out.suboffsets[last_indirect[0]] += offset
    else:
        out.data += offset
    out.shape[k[0]] = length
    out.strides[k[0]] = src._strides[dim] * step
    out.suboffsets[k[0]] = src._suboffsets[dim] if src._suboffsets != NULL else -1
    if out.suboffsets[k[0]] >= 0:
        last_indirect[0] = k[0]
    k[0] += 1


cdef _Layout _layout_of(Buffer b):
    cdef _Layout lay = _Layout.__new__(_Layout)
    cdef int i
    b._check()
    lay.data = b.data
    lay.ndim = b.ndim
    for i in range(b.ndim):
        lay.shape[i] = b._shape[i]
        lay.strides[i] = b._strides[i]
        lay.suboffsets[i] = b._suboffsets[i] if b._suboffsets != NULL else -1
        if lay.suboffsets[i] >= 0:
            lay.indirect = True
    return lay


cdef Buffer _view_from_layout(Buffer parent, _Layout lay, bint readonly,
                              tuple entry, Buffer v=None):
    """A new Buffer over ``lay`` that holds an export of ``parent``
    (``v``: a fresh, empty instance of a subclass to use instead)."""
    if v is None:
        v = Buffer.__new__(Buffer)
    cdef int n = lay.ndim
    cdef int i
    PyObject_GetBuffer(parent, &v._src, PyBUF_FULL_RO)
    v._has_src = True
    v._base = parent
    _set_dims(v, n, lay.shape)
    if n:
        memcpy(v._strides, lay.strides, n * sizeof(Py_ssize_t))
        if lay.indirect:
            v._suboffsets = <Py_ssize_t *>malloc(n * sizeof(Py_ssize_t))
            if v._suboffsets == NULL:
                raise MemoryError()
            memcpy(v._suboffsets, lay.suboffsets, n * sizeof(Py_ssize_t))
    v.data = lay.data
    v._fmt, v._format, v.itemsize, v._code, v._parsed = entry
    v.nbytes = _checked_nbytes(n, lay.shape, v.itemsize)
    v._readonly = readonly or parent._readonly
    _set_contiguity(v)
    return v


cdef void _set_contiguity(Buffer v) noexcept:
    if v._suboffsets != NULL:
        v._c_contig = v._f_contig = False
    else:
        v._c_contig = _is_contig(v.ndim, v._shape, v._strides, v.itemsize, c'C')
        v._f_contig = _is_contig(v.ndim, v._shape, v._strides, v.itemsize, c'F')


cdef Buffer _view_of(object obj, bint writable):
    """A Buffer holding ``obj``'s buffer, with its layout (see asbuffer)."""
    cdef Buffer v = Buffer.__new__(Buffer)
    cdef Py_buffer *src = &v._src
    cdef int i, n
    cdef Py_ssize_t length
    cdef bint indirect = False
    if not PyObject_CheckBuffer(obj):
        raise TypeError(f"a buffer exporter is required, not "
                        f"'{type(obj).__name__}'")
    # Ask read-only and check: exporters disagree on the error a writable
    # request of read-only memory raises (numpy: ValueError).
    PyObject_GetBuffer(obj, src, PyBUF_FULL_RO)
    v._has_src = True
    v._base = obj
    if writable and src.readonly:
        raise BufferError(f"{type(obj).__name__} exports read-only memory")
    n = src.ndim
    if n < 0 or n > MAX_NDIM or src.itemsize <= 0:
        raise BufferError(f"exporter {type(obj).__name__} gave ndim {n} and "
                          f"itemsize {src.itemsize}")
    if n:
        if src.shape == NULL:       # only legal for ndim 1 (PyBuffer_FillInfo)
            n = 1
            length = src.len // src.itemsize
            _set_dims(v, 1, &length)
        else:
            _set_dims(v, n, src.shape)
        if src.strides == NULL:
            _fill_strides(n, v._shape, v._strides, src.itemsize, c'C')
        else:
            memcpy(v._strides, src.strides, n * sizeof(Py_ssize_t))
        if src.suboffsets != NULL:
            for i in range(n):
                indirect = indirect or src.suboffsets[i] >= 0
        if indirect:
            v._suboffsets = <Py_ssize_t *>malloc(n * sizeof(Py_ssize_t))
            if v._suboffsets == NULL:
                raise MemoryError()
            memcpy(v._suboffsets, src.suboffsets, n * sizeof(Py_ssize_t))
    v.data = <char *>src.buf
    entry = _foreign_entry(src.format, src.itemsize)
    v._fmt, v._format, v.itemsize, v._code, v._parsed = entry
    v.nbytes = _checked_nbytes(n, v._shape, v.itemsize)
    v._readonly = src.readonly
    _set_contiguity(v)
    return v


cdef Buffer _copy_buffer(Buffer src, char order, Py_ssize_t align):
    cdef Buffer dst = Buffer.__new__(Buffer)
    if _has_objects(src._entry()):
        raise _object_error("copy")
    _init_owned_dims(dst, src.ndim, src._shape, src._entry(), order, align, False)
    _copy_out(src, dst.data, dst._strides)
    return dst


cdef int _copy_out(Buffer src, char *dst, const Py_ssize_t *dst_strides) except -1:
    """Copy src's items (any strides, suboffsets) to direct memory at
    ``dst`` laid out by ``dst_strides``."""
    src._pin()                      # another thread may try to release it
    with nogil:
        copy_items(src.ndim, src._shape, src.data, src._strides, src._suboffsets,
                   dst, dst_strides, src.itemsize)
    src._unpin()
    return 0


cdef char _copy_order(Buffer b, object order) except 0:
    if order == "A" or order == "a" or order is None:
        return c'F' if (b._f_contig and not b._c_contig) else c'C'
    return _parse_order(order)


cdef void _write_items(int ndim, const Py_ssize_t *shape, char *dst,
                       const Py_ssize_t *dst_strides,
                       const Py_ssize_t *dst_suboffsets, const char *src,
                       const Py_ssize_t *src_strides, const char *item,
                       Py_ssize_t itemsize) noexcept nogil:
    """dst[idx] = src[idx] for every index (src direct), or dst[idx] =
    item when ``src`` is NULL.  The one write path of this module: the
    indirect dimensions of dst are walked here, following its suboffsets
    exactly as readers do, and each direct block goes to the kernel."""
    cdef int k = _first_direct(ndim, dst_suboffsets)
    cdef Py_ssize_t i
    cdef char *p
    if k == 0:
        if src == NULL:
            fill_items(ndim, shape, dst, dst_strides, item, itemsize)
        else:
            copy_items(ndim, shape, src, src_strides, NULL, dst, dst_strides,
                       itemsize)
        return
    for i in range(shape[0]):
        p = dst + i * dst_strides[0]
        if dst_suboffsets[0] >= 0:
            p = (<char **>p)[0] + dst_suboffsets[0]
        _write_items(ndim - 1, shape + 1, p, dst_strides + 1,
                     dst_suboffsets + 1,
                     src + i * src_strides[0] if src != NULL else NULL,
                     src_strides + 1 if src != NULL else NULL, item, itemsize)


cdef int _write(Buffer dst, Buffer src, const char *item) except -1:
    """Copy direct ``src`` (same shape and items) into ``dst``, or set every
    item of dst to ``item`` when src is None; GIL released, both pinned."""
    dst._pin()
    try:
        if src is not None:
            src._pin()
        with nogil:
            _write_items(dst.ndim, dst._shape, dst.data, dst._strides,
                         dst._suboffsets,
                         src.data if src is not None else NULL,
                         src._strides if src is not None else NULL,
                         item, dst.itemsize)
        if src is not None:
            src._unpin()
    finally:
        dst._unpin()
    return 0


cdef int _fill(Buffer dst, object value) except -1:
    """Set every item of ``dst`` to ``value`` (packed once, before any
    address is used: packing may run user code)."""
    item = PyBytes_FromStringAndSize(NULL, dst.itemsize)
    cdef char *p = PyBytes_AS_STRING(item)
    if _has_objects(dst._entry()):
        raise _object_error("fill")
    dst._set(p, value)
    return _write(dst, None, p)


cdef int _assign(Buffer dst, object value) except -1:
    """Copy the items of exporter ``value`` (same shape) into ``dst``:
    bytes as they are when the formats agree, numbers converted by the
    copyto kernel when both formats are numeric, else item by item."""
    cdef Buffer src = value if isinstance(value, Buffer) else _view_of(value, False)
    src._pin()
    try:
        return _assign_pinned(dst, src)
    finally:
        src._unpin()


cdef int _assign_pinned(Buffer dst, Buffer src) except -1:
    cdef char *lo1
    cdef char *hi1
    cdef char *lo2
    cdef char *hi2
    cdef bint swapped
    if _has_objects(dst._entry()) or _has_objects(src._entry()):
        raise _object_error("copy")
    if src.ndim != dst.ndim or any(src._shape[i] != dst._shape[i]
                                   for i in range(dst.ndim)):
        raise ValueError(f"cannot assign an exporter of shape {src.shape} to a "
                         f"selection of shape {dst.shape}")
    if same_items(PyBytes_AS_STRING(src._format), src.itemsize,
                  PyBytes_AS_STRING(dst._format), dst.itemsize):
        if src._suboffsets != NULL or dst._suboffsets != NULL:
            src = _copy_buffer(src, c'C', DEF_ALIGN)   # direct, and no overlap
        else:
            _extent(dst.ndim, dst._shape, dst._strides, dst.data,
                    dst.itemsize, &lo1, &hi1)
            _extent(src.ndim, src._shape, src._strides, src.data,
                    src.itemsize, &lo2, &hi2)
            if lo1 < hi2 and lo2 < hi1:
                src = _copy_buffer(src, c'C', DEF_ALIGN)   # memmove semantics
        _write(dst, src, NULL)
    elif dst._suboffsets == NULL and \
            format_type(PyBytes_AS_STRING(src._format), src.itemsize, &swapped) and \
            format_type(PyBytes_AS_STRING(dst._format), dst.itemsize, &swapped):
        # Numbers converted as numpy's unsafe casting does; overlap-safe.
        if src._suboffsets != NULL:
            src = _copy_buffer(src, c'C', DEF_ALIGN)
        _copy_converting(dst, src)
    else:
        _assign_items(dst, dst.data, 0, src.tolist())
    return 0


cdef int _assign_items(Buffer dst, char *p, int dim, object values) except -1:
    """Set dst's items from nested lists, one by one (following
    suboffsets as _tolist reads them); dst is pinned by the caller."""
    cdef Py_ssize_t i
    cdef char *q
    if dim == dst.ndim:
        if dst._code and dst._code not in b"fd?c" and isinstance(values, float):
            values = int(values)        # as a C cast: truncate
        return dst._set(p, values)
    for i in range(dst._shape[dim]):
        q = p + i * dst._strides[dim]
        if dst._suboffsets != NULL and dst._suboffsets[dim] >= 0:
            q = (<char **>q)[0] + dst._suboffsets[dim]
        _assign_items(dst, q, dim + 1, values[i])
    return 0


cdef str _preview(Buffer b):
    cdef Py_ssize_t size = b.nbytes // b.itemsize
    if b._code == 0 and (b._parsed is None or b._parsed.has_objects):
        return "<opaque>"
    if b.ndim == 0:
        return repr(b._get(b.data))
    if size <= 8:
        return repr(b.tolist())
    flat = b[(0,) * (b.ndim - 1)] if b.ndim > 1 else b
    items = [repr(flat[i]) for i in range(min(len(flat), 6))]
    return "[" + ", ".join(items) + ", ...]"


def _rebuild(data, format, shape, order, readonly, follow_frame=False):
    """Unpickle a Buffer from ``data``, its frame: a view of it, no copy.

    Protocol 5 (``follow_frame``): writability follows the frame, as numpy's
    does: a read-only frame (bytes, an object store's memory) gives a
    read-only Buffer, a writable one a writable Buffer, and one pickled
    read-only stays read-only.  The frame is copied, once, into an owned
    64-byte-aligned block only when it cannot be viewed: when it is not
    contiguous, or its address is not a multiple of the items' alignment.
    A frame of the wrong size raises ValueError.

    Protocols 0-4 (and protocol-5 pickles made before ``follow_frame``)
    carry the data in band as bytes: a Buffer pickled writable is copied out
    of them to stay writable.
    """
    cdef Buffer flat = _view_of(data, False)
    cdef Buffer v
    cdef bint frame_readonly = flat._readonly
    if not (flat._c_contig or flat._f_contig) or flat._suboffsets != NULL:
        flat = _copy_buffer(flat, c'C', DEF_ALIGN)     # no view possible
    flat = _view_of(PickleBuffer(flat).raw(), False)   # its bytes, in order
    shape = tuple(shape)
    try:
        v = flat.cast(format, shape[::-1] if order == "F" else shape)
    except ValueError as e:
        raise ValueError(f"cannot unpickle a Buffer from this frame: {e}") from None
    if order == "F":
        v = v.transpose()
    parsed = v._parsed
    if follow_frame and parsed is not None and v.nbytes and \
            <size_t>v.data % <size_t>parsed.alignment:
        v = v.copy(order)                  # misaligned: an aligned copy
    if readonly or (follow_frame and frame_readonly):
        return v if v._readonly else v.toreadonly()
    if v._readonly:                        # in-band bytes: copy, stay writable
        return v.copy(order)
    return v


# --------------------------------------------------------------------------
# module-level constructors

def empty(shape, format="B", *, order="C", align=DEF_ALIGN):
    """A new owned Buffer whose items are not initialised.

    See :class:`Buffer` for the parameters and errors.
    """
    cdef Buffer b = Buffer.__new__(Buffer)
    _init_owned(b, shape, _format_entry(format), _parse_order(order),
                _parse_align(align), False)
    return b


def zeros(shape, format="B", *, order="C", align=DEF_ALIGN):
    """A new owned Buffer, zero-filled."""
    cdef Buffer b = Buffer.__new__(Buffer)
    _init_owned(b, shape, _format_entry(format), _parse_order(order),
                _parse_align(align), True)
    return b


def full(shape, value, format="B", *, order="C", align=DEF_ALIGN):
    """A new owned Buffer with every item set to ``value``."""
    cdef Buffer b = Buffer.__new__(Buffer)
    _init_owned(b, shape, _format_entry(format), _parse_order(order),
                _parse_align(align), False)
    _fill(b, value)
    return b


def asbuffer(obj, *, writable=False):
    """A zero-copy Buffer view of any buffer exporter.

    The exporter's buffer is held until the view and every export made from
    it are gone; read-only memory stays read-only.

    Raises
    ------
    TypeError
        ``obj`` exports no buffer.
    BufferError
        ``writable=True`` and the memory is read-only.
    """
    return _view_of(obj, bool(writable))


def copy(obj, *, order="C", align=DEF_ALIGN):
    """An owned copy of any exporter (any strides or suboffsets), with the
    same format and shape, laid out in ``order``."""
    cdef Py_ssize_t a = _parse_align(align)
    cdef Buffer src = obj if isinstance(obj, Buffer) else _view_of(obj, False)
    src._pin()                      # ``order`` may compare by user code
    try:
        return _copy_buffer(src, _copy_order(src, order), a)
    finally:
        src._unpin()


# --------------------------------------------------------------------------
# Buffers over memory that something else owns (DLPack, mappings)

cdef Buffer from_memory(object owner, char *data, int ndim,
                        const Py_ssize_t *shape, const Py_ssize_t *strides,
                        const char *format, Py_ssize_t itemsize, bint readonly):
    """A Buffer over ``data`` that keeps ``owner`` alive (and nothing else).

    For memory that is not reachable through the buffer protocol, such as a
    consumed DLPack tensor: ``owner`` frees the memory when it is collected,
    which cannot happen before this Buffer (its ``base``) is gone or
    released.  ``strides`` are in bytes; ``format`` may be one the format
    engine cannot read (items are then opaque).  Nothing is copied.
    """
    if itemsize <= 0:
        raise ValueError(f"cannot describe memory with ndim {ndim} and "
                         f"itemsize {itemsize}")
    return _over(owner, data, ndim, shape, strides,
                 _foreign_entry(format, itemsize), readonly)


cdef Buffer _over(object owner, char *data, int ndim, const Py_ssize_t *shape,
                  const Py_ssize_t *strides, tuple entry, bint readonly):
    """The one constructor of Buffers over memory that ``owner`` keeps
    valid (from_memory, from_pointer, from_address).  Checks the layout
    (strides NULL: C-contiguous) and that it fits in the address space."""
    cdef Buffer v = Buffer.__new__(Buffer)
    cdef Py_ssize_t steps[MAX_NDIM]
    cdef Py_ssize_t nbytes = _check_memory(data, ndim, shape, strides,
                                           entry[2], steps)
    _set_dims(v, ndim, shape)
    if ndim:
        memcpy(v._strides, steps, ndim * sizeof(Py_ssize_t))
    v.data = data
    v._fmt, v._format, v.itemsize, v._code, v._parsed = entry
    v.nbytes = nbytes
    v._readonly = readonly
    v._base = owner
    _set_contiguity(v)
    return v


cdef Buffer from_pointer(char *data, int ndim, const Py_ssize_t *shape,
                         const Py_ssize_t *strides, const char *format,
                         Py_ssize_t itemsize, bint readonly,
                         void (*deleter)(void *ctx) noexcept nogil, void *ctx):
    """A Buffer over memory that C code owns; ``deleter(ctx)`` frees it.

    The call takes the memory over: ``deleter(ctx)`` runs exactly once,
    after the Buffer, its views and every export of it (memoryviews, numpy
    arrays, DLPack capsules, unpickled copies of protocol-5 pickles) are
    gone, with the GIL held, in the thread that drops the last reference.
    It also runs when this function raises (before it returns), so the
    caller never frees the memory itself.  ``deleter`` may be NULL.
    ``strides`` (bytes) may be NULL for C-contiguous; ``format`` (NULL:
    ``"B"``) must be one :func:`pybuf.parse_format` reads, of size
    ``itemsize``.  Nothing is copied.
    """
    cdef object owner = _owner_of(deleter, ctx)
    fmt = "B" if format == NULL else (<bytes>format).decode("ascii", "replace")
    cdef tuple entry = _format_entry(fmt)
    if entry[2] != itemsize:
        raise ValueError(f"format {fmt!r} has items of {entry[2]} bytes, "
                         f"not {itemsize}")
    return _over(owner, data, ndim, shape, strides, entry, readonly)


def from_address(address, shape, format="B", *, owner, readonly=False,
                 strides=None):
    """A zero-copy Buffer over the memory at ``address``.

    For memory that no buffer exporter describes: a pointer from ctypes, a
    C library or a system call.  The Buffer keeps ``owner`` alive (its
    ``base``) as long as it, any view of it or any export of it lives, and
    not a moment longer; ``owner`` should be the object whose lifetime keeps
    the memory valid.

    Parameters
    ----------
    address : int
        Address of the first item (with negative strides, the memory
        extends below it).
    shape : int or tuple of int
        Dimensions, as for :class:`Buffer`.
    format : str
        A PEP 3118 format string.
    owner : object
        Required, even as ``None``: the object that keeps the memory valid.
        pybuf cannot check it: if the memory is freed while the Buffer is
        in use, reads return garbage and writes corrupt other data or crash
        the interpreter.
    readonly : bool
        Export the memory as read-only.
    strides : tuple of int, optional
        Bytes to step in each dimension; C-contiguous when omitted.

    Raises
    ------
    ValueError
        Address 0 with a non-zero size, a negative address, a bad shape or
        format, strides of the wrong length, or a layout that reaches
        outside the address space.
    TypeError
        A non-integer address, dimension or stride.
    OverflowError
        A size or stride that does not fit in Py_ssize_t.

    Examples
    --------
    >>> import ctypes, pybuf
    >>> arr = (ctypes.c_int32 * 6)(*range(6))
    >>> b = pybuf.from_address(ctypes.addressof(arr), (2, 3), "i", owner=arr)
    >>> b.tolist()
    [[0, 1, 2], [3, 4, 5]]
    >>> b.base is arr
    True
    """
    cdef Py_ssize_t dims[MAX_NDIM]
    cdef Py_ssize_t steps[MAX_NDIM]
    cdef int ndim = _parse_shape(shape, dims)
    cdef tuple entry = _format_entry(format)
    cdef char *data = _parse_address(address)
    cdef bint given = _parse_strides(strides, ndim, steps)
    return _over(owner, data, ndim, dims, steps if given else NULL, entry,
                 bool(readonly))


def _view_as(type cls, Buffer src):
    """A view of ``src`` (same memory, layout, format and read-only flag)
    that is an instance of ``cls``, a Python subclass of Buffer.

    Lets pure-Python modules (:mod:`pybuf.interop`) add methods such as
    ``flush()`` to the Buffers they build over mappings.  The result holds
    an export of ``src``, like any view.
    """
    if not issubclass(cls, Buffer):
        raise TypeError(f"{cls.__name__} is not a subclass of Buffer")
    return _view_from_layout(src, _layout_of(src), src._readonly, src._entry(),
                             cls.__new__(cls))
