"""DLPack import: :func:`from_dlpack` takes a capsule from any CPU
producer (numpy, torch, pybuf) and returns a Buffer over the producer's
memory.  The export (``Buffer.__dlpack__``) sits below, in pybuf.buffer,
and both read the structs of pybuf/_dlpack.h.

Ownership, as the DLPack standard sets it:

* A capsule named ``"dltensor"`` / ``"dltensor_versioned"`` owns its tensor:
  if it is collected unconsumed, its destructor calls the tensor's deleter.
* A consumer renames it ``"used_dltensor"`` / ``"used_dltensor_versioned"``
  and from then on owns the tensor: it calls the deleter exactly once, when
  it no longer needs the memory.  Here that is when the Buffer (and every
  view and export of it) is gone.
"""
cimport cython
from libc.string cimport strcmp

from pybuf._types cimport MAX_NDIM
from pybuf.buffer cimport Buffer, _over
from pybuf.buffer import copy as _copy
from pybuf._items cimport _foreign_entry
from pybuf._dlpack_c cimport *

import sys

cdef extern from "Python.h":
    ctypedef struct PyObject
    ctypedef struct _TypeObject "PyTypeObject":
        const char *tp_name
    const unsigned long Py_TPFLAGS_HEAPTYPE
    bint PyType_HasFeature(type tp, unsigned long feature)
    const size_t PY_VECTORCALL_ARGUMENTS_OFFSET
    const Py_ssize_t PY_SSIZE_T_MAX
    bint PyCapsule_CheckExact(object o)
    void *PyCapsule_GetPointer(object capsule, const char *name) except? NULL
    const char *PyCapsule_GetName(object capsule) except? NULL
    int PyCapsule_SetName(object capsule, const char *name) except -1
    object PyObject_VectorcallMethod(object name, PyObject **args,
                                     size_t nargsf, PyObject *kwnames)
    object PyObject_Vectorcall(object callable, PyObject **args,
                               size_t nargsf, PyObject *kwnames)


# The formats of the Buffers a consumer gets, by DLPack data type
# (DLDataTypeCode, bits), and each one's entry (pybuf._items), read as
# _foreign_entry reads an exporter's format: once, here, not per capsule.
cdef tuple _FORMATS = (
    (kDLBool, 8, b"?"),
    (kDLInt, 8, b"b"), (kDLInt, 16, b"h"), (kDLInt, 32, b"i"),
    (kDLInt, 64, b"q"),
    (kDLUInt, 8, b"B"), (kDLUInt, 16, b"H"), (kDLUInt, 32, b"I"),
    (kDLUInt, 64, b"Q"),
    (kDLFloat, 16, b"e"), (kDLFloat, 32, b"f"), (kDLFloat, 64, b"d"),
    (kDLComplex, 64, b"Zf"), (kDLComplex, 128, b"Zd"),
)
cdef tuple _ENTRIES = tuple([_foreign_entry(<bytes>f, bits // 8)
                             for code, bits, f in _FORMATS])


cdef inline int _entry_index(int code, int bits) noexcept:
    """Index in _FORMATS and _ENTRIES of a DLPack data type; -1: none."""
    cdef int k
    if code == kDLBool:
        return 0 if bits == 8 else -1
    if code == kDLInt or code == kDLUInt:
        k = 1 if code == kDLInt else 5
        if bits == 8:
            return k
        if bits == 16:
            return k + 1
        if bits == 32:
            return k + 2
        return k + 3 if bits == 64 else -1
    if code == kDLFloat:
        return 9 if bits == 16 else 10 if bits == 32 else 11 if bits == 64 else -1
    if code == kDLComplex:
        return 12 if bits == 64 else 13 if bits == 128 else -1
    return -1


cdef int _check_formats() except -1:
    """_entry_index and _FORMATS agree (checked once, at import)."""
    for i, (code, bits, f) in enumerate(_FORMATS):
        if _entry_index(code, bits) != i:
            raise SystemError(f"pybuf._dlpack: _entry_index({code}, {bits})")
    return 0


_check_formats()


cdef dict _CODE_NAMES = {
    kDLInt: "int", kDLUInt: "uint", kDLFloat: "float", kDLBool: "bool",
    kDLOpaqueHandle: "opaque handle", kDLBfloat: "bfloat", kDLComplex: "complex",
}

cdef dict _DEVICE_NAMES = {
    1: "CPU", 2: "CUDA", 3: "CUDA host", 4: "OpenCL", 7: "Vulkan", 8: "Metal",
    9: "VPI", 10: "ROCm", 11: "ROCm host", 12: "ExtDev", 13: "CUDA managed",
    14: "oneAPI", 15: "WebGPU", 16: "Hexagon", 17: "MAIA",
}


# --------------------------------------------------------------------------
# consumer

@cython.final
@cython.freelist(8)
cdef class DLPackOwner:
    """Owner of a consumed DLPack tensor: calls its deleter exactly once,
    when collected.  It is the ``base`` of the Buffer :func:`from_dlpack`
    returns, so it lives as long as that Buffer and its views."""
    cdef DLManagedTensor *_legacy
    cdef DLManagedTensorVersioned *_versioned
    # A str, which refers to nothing: the owner takes no part in the
    # garbage collector (no cycle can pass through it), which numpy's
    # capsules do not either.
    cdef readonly str producer_type

    def __dealloc__(self):
        cdef DLManagedTensor *m = self._legacy
        cdef DLManagedTensorVersioned *mv = self._versioned
        self._legacy = NULL
        self._versioned = NULL
        if mv != NULL and mv.deleter != NULL:
            mv.deleter(mv)
        if m != NULL and m.deleter != NULL:
            m.deleter(m)

    def __repr__(self):
        return f"<pybuf DLPack tensor from {self.producer_type}>"


cdef str _device_name(int device_type):
    return _DEVICE_NAMES.get(device_type, f"device type {device_type}")


cdef bint _cpu_readable(int device_type):
    return device_type in (kDLCPU, kDLCUDAHost, kDLROCMHost, kDLCUDAManaged)


cdef Buffer _consume(object capsule, str producer, bint *copied):
    """A Buffer over the tensor of a DLPack capsule, which it consumes;
    ``copied[0]``: the producer flagged the tensor as a copy made for this
    consumer (versioned capsules only).  ``producer``: the name of its
    type, or ``"capsule"``."""
    cdef const char *name
    cdef DLManagedTensor *m = NULL
    cdef DLManagedTensorVersioned *mv = NULL
    cdef DLTensor *t
    cdef Py_ssize_t shape[MAX_NDIM]
    cdef Py_ssize_t strides[MAX_NDIM]
    cdef Py_ssize_t itemsize, s, limit
    cdef int i, k
    cdef bint readonly = False
    cdef DLPackOwner owner
    cdef Buffer result
    if not PyCapsule_CheckExact(capsule):
        raise TypeError(f"__dlpack__ of {producer} returned "
                        f"{type(capsule).__name__}, not a DLPack capsule")
    name = PyCapsule_GetName(capsule)
    if name == NULL:
        name = b""
    if strcmp(name, VNAME) == 0:
        mv = <DLManagedTensorVersioned *>PyCapsule_GetPointer(capsule, VNAME)
        if mv.version.major != DLPACK_MAJOR:
            # Not consumed: the capsule keeps the tensor and frees it.
            raise BufferError(f"DLPack version {mv.version.major}."
                              f"{mv.version.minor} is not supported (pybuf "
                              f"reads 1.x)")
        t = &mv.dl_tensor
        readonly = (mv.flags & FLAG_READ_ONLY) != 0
        copied[0] = (mv.flags & FLAG_IS_COPIED) != 0
    elif strcmp(name, NAME) == 0:
        m = <DLManagedTensor *>PyCapsule_GetPointer(capsule, NAME)
        t = &m.dl_tensor
        copied[0] = False
    elif strcmp(name, USED_NAME) == 0 or strcmp(name, USED_VNAME) == 0:
        raise BufferError("this DLPack capsule was already consumed (a capsule "
                          "can be consumed once)")
    else:
        raise TypeError(f"not a DLPack capsule: capsule named {<bytes>name!r}")

    if not _cpu_readable(t.device.device_type):
        raise BufferError(f"DLPack tensor is on {_device_name(t.device.device_type)}"
                          f" (device {t.device.device_type}, id "
                          f"{t.device.device_id}): pybuf can only view memory "
                          f"the CPU can read")
    k = _entry_index(t.dtype.code, t.dtype.bits)
    if k < 0 or t.dtype.lanes != 1:
        kind = _CODE_NAMES.get(t.dtype.code, f"code {t.dtype.code}")
        raise BufferError(f"DLPack data type {kind}{t.dtype.bits}"
                          f"{'x' + str(t.dtype.lanes) if t.dtype.lanes != 1 else ''}"
                          f" has no PEP 3118 format")
    if t.ndim < 0 or t.ndim > MAX_NDIM:
        raise BufferError(f"DLPack tensor has {t.ndim} dimensions (at most "
                          f"{MAX_NDIM})")
    itemsize = t.dtype.bits // 8
    limit = pybuf_dlpack_div(PY_SSIZE_T_MAX, itemsize)   # of a stride, in items
    s = itemsize
    for i in range(t.ndim - 1, -1, -1):
        if t.shape[i] < 0:
            raise BufferError(f"DLPack tensor has negative shape {t.shape[i]}")
        if t.shape[i] > PY_SSIZE_T_MAX or (t.strides != NULL and (
                t.strides[i] > limit or t.strides[i] < -limit)):
            raise OverflowError(f"DLPack tensor's shape or strides do not fit "
                                f"in Py_ssize_t (dimension {i})")
        shape[i] = <Py_ssize_t>t.shape[i]
        if t.strides != NULL:
            strides[i] = <Py_ssize_t>t.strides[i] * itemsize
            continue
        # strides NULL: compact row-major
        strides[i] = s
        if shape[i] > 1 and s > PY_SSIZE_T_MAX // shape[i]:
            # Saturate: the size check of from_memory raises OverflowError
            # unless another dimension is 0 (then no stride is ever used).
            s = PY_SSIZE_T_MAX
        else:
            s *= shape[i] if shape[i] > 0 else 1

    owner = DLPackOwner.__new__(DLPackOwner)
    owner.producer_type = producer
    # as from_memory(..., format, itemsize, ...), with the entry read once
    result = _over(owner, <char *>t.data + t.byte_offset, t.ndim, shape,
                   strides, <tuple>_ENTRIES[k], readonly)
    # Everything checked and built: take ownership (rename, then the owner
    # calls the deleter once).  Before this line an error leaves the capsule
    # owning the tensor, and its destructor frees it.
    if mv != NULL:
        PyCapsule_SetName(capsule, USED_VNAME)
        owner._versioned = mv
    else:
        PyCapsule_SetName(capsule, USED_NAME)
        owner._legacy = m
    return result


class NotDLPackProducer(AttributeError, TypeError):
    """Raised by :func:`from_dlpack` for an object with no ``__dlpack__``:
    an AttributeError, as the array API standard says, and a TypeError, as
    for any other argument of the wrong kind (and as pybuf raised before)."""


cdef tuple _requested_device(object device):
    """The DLPack device a ``device`` argument names: None, ``"cpu"`` or a
    ``(device_type, device_id)`` pair, as ``__dlpack_device__`` gives."""
    if device is None:
        return None
    if isinstance(device, str):
        if device.lower() == "cpu":
            return (kDLCPU, 0)
        raise ValueError(f"device {device!r}: pybuf has only the CPU (\"cpu\" "
                         f"or (1, 0))")
    try:
        device_type, device_id = device
        device_type, device_id = int(device_type), int(device_id)
    except (TypeError, ValueError):
        raise TypeError(f"device must be None, 'cpu' or a (device_type, "
                        f"device_id) pair, not {device!r}") from None
    if (device_type, device_id) != (kDLCPU, 0):
        raise BufferError(f"device ({device_type}, {device_id}) "
                          f"({_device_name(device_type)}): pybuf's Buffers "
                          f"live in CPU memory only (1, 0)")
    return (kDLCPU, 0)


def from_dlpack(x, /, *, device=None, copy=None):
    """A Buffer with the data of any DLPack producer: the array API
    standard's ``from_dlpack``.

    Parameters
    ----------
    x : object
        An object with ``__dlpack__`` and ``__dlpack_device__`` (a numpy
        array, a torch tensor, a Buffer, ...), or a DLPack capsule.
    device : None, "cpu" or (device_type, device_id), optional
        Where the result lives: pybuf's Buffers are in CPU memory, so the
        only device is ``"cpu"``, ``(1, 0)``.  None (the default): where
        ``x`` is, which must then be memory the CPU reads.  Given, it is
        passed on to the producer (``dl_device``), which may copy there.
    copy : bool or None, optional
        True: always a copy, which the Buffer owns.  False: never a copy;
        ``BufferError`` where the producer would have to make one.  None
        (the default): the producer's memory, shared, when it can be.

    Returns
    -------
    Buffer
        Sharing the producer's memory unless a copy was asked for or
        needed; read-only when the producer said so (versioned capsules).
        A shared Buffer's ``base`` owns the tensor and calls the producer's
        deleter once, when the Buffer, its views and exports are gone.

    Raises
    ------
    AttributeError
        ``x`` has no ``__dlpack__`` (and is no DLPack capsule); the
        exception is also a TypeError.
    BufferError
        Memory the CPU cannot read (and no copy allowed or possible), a
        data type with no PEP 3118 format (bfloat16, vector lanes, ...), an
        unsupported DLPack version, a capsule already consumed; a device
        other than the CPU.
    ValueError, TypeError
        A ``device`` that is not None, ``"cpu"`` or a device pair.

    Notes
    -----
    The producer is asked with the keywords of DLPack 1.0 and the 2023.12
    standard (``max_version``, ``dl_device``, ``copy``); a producer from
    before them, which takes none, is asked again without, and ``copy=True``
    is then made here.  Such producers never copy, so ``copy=False`` holds.

    Examples
    --------
    >>> import numpy as np, pybuf
    >>> a = np.arange(6, dtype=np.float32).reshape(2, 3)
    >>> b = pybuf.from_dlpack(a)
    >>> b.shape, b.format, b.address == a.ctypes.data
    ((2, 3), 'f', True)
    >>> pybuf.from_dlpack(a, copy=True).address == a.ctypes.data
    False
    """
    cdef bint copied = False
    cdef object dl_device = None
    cdef type tp = type(x)
    cdef str name
    cdef object method
    if device is not None:
        dl_device = _requested_device(device)
    if copy is not None and copy is not True and copy is not False:
        raise TypeError(f"copy must be True, False or None, not {copy!r}")
    if PyCapsule_CheckExact(x):
        # already exported: shared as it is, copied when asked
        result = _consume(x, "capsule", &copied)
        return _copy(result) if copy and not copied else result
    name = _cpu_producer(tp)
    if name is None:
        name = tp.__name__
        if not hasattr(x, "__dlpack__"):
            raise NotDLPackProducer(f"'{name}' object has no attribute "
                                    f"'__dlpack__': it is not a DLPack producer")
        if dl_device is None and hasattr(x, "__dlpack_device__"):
            device_type, device_id = x.__dlpack_device__()
            if not _cpu_readable(int(device_type)):
                raise BufferError(f"{name} is on "
                                  f"{_device_name(int(device_type))} (device "
                                  f"{int(device_type)}, id {device_id}): pybuf "
                                  f"can only view memory the CPU can read (pass "
                                  f"device='cpu' to ask the producer for a copy)")
        method = None
    else:
        method = _buffer_dlpack if tp is Buffer else _ndarray_dlpack
    result = _consume(_ask(x, method, dl_device, copy), name, &copied)
    if copy and not copied:
        # the producer did not copy (it was not asked, or did not say so)
        result = _copy(result)
    return result


# What from_dlpack asks a producer: x.__dlpack__(max_version=(1, 0)), with
# dl_device= and copy= when given, as a vectorcall with constant keyword
# names (no dict, no bound method).  The names are interned, so that a
# producer's argument parser finds them by identity.
cdef str _DLPACK = sys.intern("__dlpack__")
cdef tuple _MAX_VERSION = (DLPACK_MAJOR, DLPACK_MINOR)
cdef tuple _KW = (sys.intern("max_version"),)
cdef tuple _KW_DEVICE = (sys.intern("max_version"), sys.intern("dl_device"))
cdef tuple _KW_COPY = (sys.intern("max_version"), sys.intern("copy"))
cdef tuple _KW_BOTH = (sys.intern("max_version"), sys.intern("dl_device"),
                       sys.intern("copy"))


cdef object _ask(object x, object method, object dl_device, object copy):
    """``x.__dlpack__(max_version=..., [dl_device=...], [copy=...])``, or,
    if that raises TypeError (a producer from before DLPack 1.0 takes none
    of these keywords), ``x.__dlpack__()``.  ``method``: None, or the
    ``__dlpack__`` of ``type(x)``, called with ``x`` first, as the lookup
    would find it (see _cpu_producer)."""
    cdef PyObject *args[4]
    cdef tuple kwnames = _KW
    args[0] = <PyObject *>x
    args[1] = <PyObject *>_MAX_VERSION
    if dl_device is not None and copy is not None:
        args[2] = <PyObject *>dl_device
        args[3] = <PyObject *>copy
        kwnames = _KW_BOTH
    elif dl_device is not None:
        args[2] = <PyObject *>dl_device
        kwnames = _KW_DEVICE
    elif copy is not None:
        args[2] = <PyObject *>copy
        kwnames = _KW_COPY
    try:
        if method is not None:
            # no PY_VECTORCALL_ARGUMENTS_OFFSET: args[-1] is not ours
            return PyObject_Vectorcall(method, args, 1, <PyObject *>kwnames)
        return PyObject_VectorcallMethod(_DLPACK, args,
                                         1 | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                         <PyObject *>kwnames)
    except TypeError:
        return PyObject_VectorcallMethod(_DLPACK, args,
                                         1 | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                         NULL)


# numpy.ndarray, once _cpu_producer has met it, and the __dlpack__ of it and
# of Buffer: static (immutable) types, whose instances have no __dict__, so
# that x.__dlpack__ is always this function called with x (the lookup of
# the method by name is skipped).
cdef type _ndarray = None
cdef object _ndarray_dlpack = None
cdef object _buffer_dlpack = Buffer.__dict__["__dlpack__"]


cdef inline str _cpu_producer(type tp):
    """The name of ``tp`` if every object of exactly that type is a DLPack
    producer in CPU memory, so that from_dlpack need not ask
    ``__dlpack_device__``: pybuf's Buffer, and numpy's ndarray (numpy has
    no other device; a static type, so no Python class can take its
    name).  None for anything else, subclasses included: they are asked.
    Were this wrong, _consume still refuses a tensor the CPU cannot
    read."""
    global _ndarray, _ndarray_dlpack
    if tp is Buffer:
        return "Buffer"
    if tp is _ndarray:
        return "ndarray"
    if _ndarray is None and not PyType_HasFeature(tp, Py_TPFLAGS_HEAPTYPE) \
            and strcmp((<_TypeObject *>tp).tp_name, "numpy.ndarray") == 0:
        method = tp.__dict__.get("__dlpack__")
        if method is None:
            return None             # numpy before 1.22: no DLPack at all
        _ndarray, _ndarray_dlpack = tp, method
        return "ndarray"
    return None
