"""DLPack exchange for Buffer: the C structs, capsule making and consuming.

Producer side: :func:`to_dlpack` (behind ``Buffer.__dlpack__``) wraps a
buffer export of the Buffer in a ``DLManagedTensor`` (legacy) or
``DLManagedTensorVersioned`` (DLPack 1.x) and puts it in a capsule.
Consumer side: :func:`from_dlpack` takes a capsule from any CPU producer
(numpy, torch, pybuf) and returns a Buffer over the producer's memory.

Ownership, as the DLPack standard sets it:

* A capsule named ``"dltensor"`` / ``"dltensor_versioned"`` owns its tensor:
  if it is collected unconsumed, its destructor calls the tensor's deleter.
* A consumer renames it ``"used_dltensor"`` / ``"used_dltensor_versioned"``
  and from then on owns the tensor: it calls the deleter exactly once, when
  it no longer needs the memory.  Here that is when the Buffer (and every
  view and export of it) is gone.

The structs follow the layout of ``dlpack.h`` (DLPack 1.0); they are
declared here, not included, so the build needs no header.
"""
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_RECORDS_RO
from cpython.ref cimport PyObject
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport malloc, free

from pybuf._types cimport MAX_NDIM
from pybuf.buffer cimport Buffer, from_memory

import operator
import sys

cdef extern from "Python.h":
    const Py_ssize_t PY_SSIZE_T_MAX
    int Py_IsInitialized() nogil
    ctypedef void (*PyCapsule_Destructor)(PyObject *) noexcept
    object PyCapsule_New(void *pointer, const char *name,
                         PyCapsule_Destructor destructor)
    bint PyCapsule_IsValid(PyObject *capsule, const char *name) noexcept
    bint PyCapsule_CheckExact(object o)
    void *PyCapsule_GetPointer(object capsule, const char *name) except? NULL
    void *PyCapsule_GetPointerRaw "PyCapsule_GetPointer" (
        PyObject *capsule, const char *name) noexcept
    const char *PyCapsule_GetName(object capsule) except? NULL
    int PyCapsule_SetName(object capsule, const char *name) except -1
    void PyErr_WriteUnraisable(PyObject *obj)


# --------------------------------------------------------------------------
# dlpack.h, version 1.0

cdef enum:
    DLPACK_MAJOR = 1
    DLPACK_MINOR = 0

# DLDeviceType: the CPU and the device types whose memory the CPU can read.
cdef enum:
    kDLCPU = 1
    kDLCUDAHost = 3
    kDLROCMHost = 11
    kDLCUDAManaged = 13

# DLDataTypeCode
cdef enum:
    kDLInt = 0
    kDLUInt = 1
    kDLFloat = 2
    kDLOpaqueHandle = 3
    kDLBfloat = 4
    kDLComplex = 5
    kDLBool = 6

cdef enum:
    FLAG_READ_ONLY = 1        # DLPACK_FLAG_BITMASK_READ_ONLY
    FLAG_IS_COPIED = 2        # DLPACK_FLAG_BITMASK_IS_COPIED

cdef struct DLDevice:
    int32_t device_type
    int32_t device_id

cdef struct DLDataType:
    uint8_t code
    uint8_t bits
    uint16_t lanes

cdef struct DLTensor:
    void *data
    DLDevice device
    int32_t ndim
    DLDataType dtype
    int64_t *shape
    int64_t *strides
    uint64_t byte_offset

cdef struct DLManagedTensor:
    DLTensor dl_tensor
    void *manager_ctx
    void (*deleter)(DLManagedTensor *) noexcept nogil

cdef struct DLPackVersion:
    uint32_t major
    uint32_t minor

cdef struct DLManagedTensorVersioned:
    DLPackVersion version
    void *manager_ctx
    void (*deleter)(DLManagedTensorVersioned *) noexcept nogil
    uint64_t flags
    DLTensor dl_tensor


# What a capsule made here owns, in one malloc block: the managed tensor
# (either kind), the buffer export that keeps the Buffer alive, and the
# shape and strides arrays the tensor points at.
cdef struct _Export:
    DLManagedTensor legacy
    DLManagedTensorVersioned versioned
    Py_buffer view
    int64_t dims[2 * MAX_NDIM]


cdef const char *NAME = b"dltensor"
cdef const char *USED_NAME = b"used_dltensor"
cdef const char *VNAME = b"dltensor_versioned"
cdef const char *USED_VNAME = b"used_dltensor_versioned"

cdef str _NATIVE_ORDER = "<" if sys.byteorder == "little" else ">"

# single-char format code -> DLDataTypeCode; the width is the itemsize.
cdef dict _CODES = {
    "?": kDLBool,
    "b": kDLInt, "h": kDLInt, "i": kDLInt, "l": kDLInt, "q": kDLInt, "n": kDLInt,
    "B": kDLUInt, "H": kDLUInt, "I": kDLUInt, "L": kDLUInt, "Q": kDLUInt, "N": kDLUInt,
    "e": kDLFloat, "f": kDLFloat, "d": kDLFloat,
    "Zf": kDLComplex, "Zd": kDLComplex,
}

# (DLDataTypeCode, bits) -> format of the Buffer a consumer gets.
cdef dict _FORMATS = {
    (kDLBool, 8): b"?",
    (kDLInt, 8): b"b", (kDLInt, 16): b"h", (kDLInt, 32): b"i", (kDLInt, 64): b"q",
    (kDLUInt, 8): b"B", (kDLUInt, 16): b"H", (kDLUInt, 32): b"I", (kDLUInt, 64): b"Q",
    (kDLFloat, 16): b"e", (kDLFloat, 32): b"f", (kDLFloat, 64): b"d",
    (kDLComplex, 64): b"Zf", (kDLComplex, 128): b"Zd",
}

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
# producer

cdef DLDataType _dtype_of(Buffer b) except *:
    """The DLDataType of a Buffer's items; BufferError naming the format
    when DLPack has no such type (structs, chars, pointers, byte-swapped).

    Read from the Buffer's own reading of its format (its native code, else
    its parsed Format), not from the string again: every spelling of the
    same items (``"i"``, ``"1i"``, ``"@i"``, ``"=i"``, ``" i"``, ``"<i"``
    on a little-endian machine) has the same type."""
    cdef DLDataType t
    fmt = b._fmt
    code = None
    if b._code:
        code = chr(b._code)
    elif b._parsed is not None and b._parsed._scalar() is not None and \
            b._parsed.byteorder in ("|", _NATIVE_ORDER):
        code = b._parsed.code
    kind = _CODES.get(code)
    if kind is None or b.itemsize > 32:
        raise BufferError(f"format {fmt!r} has no DLPack data type (DLPack takes "
                          f"native bool, int, uint, float and complex items)")
    t.code = <uint8_t>kind
    t.bits = <uint8_t>(8 * b.itemsize)
    t.lanes = 1
    return t


cdef bint _describable(Buffer b):
    """Whether DLPack can describe the layout: direct memory, strides in
    whole items."""
    cdef int i
    if b._suboffsets != NULL:
        return False
    for i in range(b.ndim):
        if b._strides[i] % b.itemsize:
            return False
    return True


cdef void _release_export(_Export *e) noexcept nogil:
    # Deleters may be called from any thread, with or without the GIL (torch
    # frees tensors from its own threads); after interpreter shutdown the
    # memory can only be leaked.
    if not Py_IsInitialized():
        return
    with gil:
        PyBuffer_Release(&e.view)
    free(e)


cdef void _delete_legacy(DLManagedTensor *m) noexcept nogil:
    _release_export(<_Export *>m.manager_ctx)


cdef void _delete_versioned(DLManagedTensorVersioned *m) noexcept nogil:
    _release_export(<_Export *>m.manager_ctx)


cdef void _capsule_destructor(PyObject *capsule) noexcept:
    """Free a capsule's tensor if nobody consumed it (name unchanged).  A
    consumed capsule's tensor belongs to its consumer: nothing to do."""
    cdef DLManagedTensor *m
    cdef DLManagedTensorVersioned *mv
    if PyCapsule_IsValid(capsule, VNAME):
        mv = <DLManagedTensorVersioned *>PyCapsule_GetPointerRaw(capsule, VNAME)
        if mv.deleter != NULL:
            mv.deleter(mv)
    elif PyCapsule_IsValid(capsule, NAME):
        m = <DLManagedTensor *>PyCapsule_GetPointerRaw(capsule, NAME)
        if m.deleter != NULL:
            m.deleter(m)


def to_dlpack(Buffer b, stream, max_version, dl_device, copy):
    """The capsule ``Buffer.__dlpack__`` returns (see its docstring)."""
    cdef DLDataType dtype
    cdef _Export *e
    cdef DLTensor *t
    cdef int i
    cdef bint versioned
    b._check()
    if stream is not None:
        raise BufferError(f"stream must be None for CPU memory, not {stream!r}")
    if dl_device is not None:
        if tuple(dl_device) != (kDLCPU, 0):
            raise BufferError(f"a Buffer cannot be exported to device "
                              f"{tuple(dl_device)}: only (1, 0) (kDLCPU)")
    if max_version is None:
        versioned = False
    else:
        try:
            major, minor = max_version
            major = operator.index(major)
            operator.index(minor)
        except (TypeError, ValueError):
            raise TypeError(f"max_version must be a (major, minor) tuple, not "
                            f"{max_version!r}") from None
        versioned = major >= 1
    if copy is not None and copy is not True and copy is not False:
        raise TypeError(f"copy must be True, False or None, not {copy!r}")
    dtype = _dtype_of(b)           # before any copy: a bad format is bad anyway
    copied = False
    if copy is True or (copy is None and not _describable(b)):
        b = b.copy()
        copied = True
    elif not _describable(b):
        raise BufferError("copy=False, but this Buffer's layout cannot be "
                          "described in DLPack without a copy (suboffsets or "
                          "strides that are not whole items)")
    if b._readonly and not versioned:
        raise BufferError("a read-only Buffer cannot be exported as a legacy "
                          "DLPack capsule, which cannot say read-only: ask for "
                          "max_version=(1, 0), or copy=True")

    e = <_Export *>malloc(sizeof(_Export))
    if e == NULL:
        raise MemoryError()
    try:
        PyObject_GetBuffer(b, &e.view, PyBUF_RECORDS_RO)
    except BaseException:
        free(e)
        raise
    # From here on, e holds an export of b: the deleter gives it back.
    t = &e.versioned.dl_tensor if versioned else &e.legacy.dl_tensor
    t.data = e.view.buf
    t.device.device_type = kDLCPU
    t.device.device_id = 0
    t.ndim = b.ndim
    t.dtype = dtype
    t.shape = &e.dims[0]
    t.strides = &e.dims[MAX_NDIM]
    t.byte_offset = 0
    for i in range(b.ndim):
        t.shape[i] = b._shape[i]
        t.strides[i] = b._strides[i] // b.itemsize
    if versioned:
        e.versioned.version.major = DLPACK_MAJOR
        e.versioned.version.minor = DLPACK_MINOR
        e.versioned.manager_ctx = e
        e.versioned.deleter = _delete_versioned
        e.versioned.flags = ((FLAG_READ_ONLY if b._readonly else 0) |
                             (FLAG_IS_COPIED if copied else 0))
        try:
            return PyCapsule_New(&e.versioned, VNAME, _capsule_destructor)
        except BaseException:
            _delete_versioned(&e.versioned)
            raise
    e.legacy.manager_ctx = e
    e.legacy.deleter = _delete_legacy
    try:
        return PyCapsule_New(&e.legacy, NAME, _capsule_destructor)
    except BaseException:
        _delete_legacy(&e.legacy)
        raise


# --------------------------------------------------------------------------
# consumer

cdef class DLPackOwner:
    """Owner of a consumed DLPack tensor: calls its deleter exactly once,
    when collected.  It is the ``base`` of the Buffer :func:`from_dlpack`
    returns, so it lives as long as that Buffer and its views."""
    cdef DLManagedTensor *_legacy
    cdef DLManagedTensorVersioned *_versioned
    cdef readonly object producer_type

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


cdef Buffer _consume(object capsule, object producer_type):
    cdef const char *name
    cdef DLManagedTensor *m = NULL
    cdef DLManagedTensorVersioned *mv = NULL
    cdef DLTensor *t
    cdef Py_ssize_t shape[MAX_NDIM]
    cdef Py_ssize_t strides[MAX_NDIM]
    cdef Py_ssize_t itemsize, s
    cdef int i
    cdef bint readonly = False
    cdef DLPackOwner owner
    cdef Buffer result
    if not PyCapsule_CheckExact(capsule):
        raise TypeError(f"__dlpack__ of {producer_type} returned "
                        f"{type(capsule).__name__}, not a DLPack capsule")
    name = PyCapsule_GetName(capsule)
    pyname = b"" if name == NULL else <bytes>name
    if pyname == VNAME:
        mv = <DLManagedTensorVersioned *>PyCapsule_GetPointer(capsule, VNAME)
        if mv.version.major != DLPACK_MAJOR:
            # Not consumed: the capsule keeps the tensor and frees it.
            raise BufferError(f"DLPack version {mv.version.major}."
                              f"{mv.version.minor} is not supported (pybuf "
                              f"reads 1.x)")
        t = &mv.dl_tensor
        readonly = (mv.flags & FLAG_READ_ONLY) != 0
    elif pyname == NAME:
        m = <DLManagedTensor *>PyCapsule_GetPointer(capsule, NAME)
        t = &m.dl_tensor
    elif pyname in (USED_NAME, USED_VNAME):
        raise BufferError("this DLPack capsule was already consumed (a capsule "
                          "can be consumed once)")
    else:
        raise TypeError(f"not a DLPack capsule: capsule named {pyname!r}")

    if not _cpu_readable(t.device.device_type):
        raise BufferError(f"DLPack tensor is on {_device_name(t.device.device_type)}"
                          f" (device {t.device.device_type}, id "
                          f"{t.device.device_id}): pybuf can only view memory "
                          f"the CPU can read")
    fmt = _FORMATS.get((t.dtype.code, t.dtype.bits))
    if fmt is None or t.dtype.lanes != 1:
        kind = _CODE_NAMES.get(t.dtype.code, f"code {t.dtype.code}")
        raise BufferError(f"DLPack data type {kind}{t.dtype.bits}"
                          f"{'x' + str(t.dtype.lanes) if t.dtype.lanes != 1 else ''}"
                          f" has no PEP 3118 format")
    if t.ndim < 0 or t.ndim > MAX_NDIM:
        raise BufferError(f"DLPack tensor has {t.ndim} dimensions (at most "
                          f"{MAX_NDIM})")
    itemsize = t.dtype.bits // 8
    s = itemsize
    for i in range(t.ndim - 1, -1, -1):       # strides NULL: compact row-major
        if t.shape[i] < 0:
            raise BufferError(f"DLPack tensor has negative shape {t.shape[i]}")
        if t.shape[i] > PY_SSIZE_T_MAX or (t.strides != NULL and (
                t.strides[i] > PY_SSIZE_T_MAX // itemsize or
                t.strides[i] < -(PY_SSIZE_T_MAX // itemsize))):
            raise OverflowError(f"DLPack tensor's shape or strides do not fit "
                                f"in Py_ssize_t (dimension {i})")
        shape[i] = <Py_ssize_t>t.shape[i]
        strides[i] = <Py_ssize_t>t.strides[i] * itemsize if t.strides != NULL else s
        if shape[i] > 1 and s > PY_SSIZE_T_MAX // shape[i]:
            # Saturate: the size check of from_memory raises OverflowError
            # unless another dimension is 0 (then no stride is ever used).
            s = PY_SSIZE_T_MAX
        else:
            s *= shape[i] if shape[i] > 0 else 1

    owner = DLPackOwner.__new__(DLPackOwner)
    owner.producer_type = producer_type
    result = from_memory(owner, <char *>t.data + t.byte_offset, t.ndim, shape,
                         strides, <bytes>fmt, itemsize, readonly)
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


def from_dlpack(obj):
    """A zero-copy Buffer over the memory of any CPU DLPack producer.

    Parameters
    ----------
    obj : object
        An object with ``__dlpack__`` and ``__dlpack_device__`` (a numpy
        array, a torch tensor, a Buffer, ...), or a DLPack capsule.

    Returns
    -------
    Buffer
        Shares the producer's memory; read-only when the producer said so
        (versioned capsules only).  Its ``base`` owns the tensor and calls
        the producer's deleter once, when the Buffer, its views and exports
        are all gone; until then the producer's memory stays valid.

    Raises
    ------
    BufferError
        Memory the CPU cannot read, a data type with no PEP 3118 format
        (bfloat16, vector lanes, ...), an unsupported DLPack version, or a
        capsule already consumed.
    TypeError
        ``obj`` is neither a DLPack producer nor a DLPack capsule.

    Examples
    --------
    >>> import numpy as np, pybuf
    >>> a = np.arange(6, dtype=np.float32).reshape(2, 3)
    >>> b = pybuf.from_dlpack(a)
    >>> b.shape, b.format, b.address == a.ctypes.data
    ((2, 3), 'f', True)
    """
    if PyCapsule_CheckExact(obj):
        return _consume(obj, "capsule")
    if not hasattr(obj, "__dlpack__"):
        raise TypeError(f"'{type(obj).__name__}' is not a DLPack producer "
                        f"(no __dlpack__ method)")
    if hasattr(obj, "__dlpack_device__"):
        device_type, device_id = obj.__dlpack_device__()
        if not _cpu_readable(int(device_type)):
            raise BufferError(f"{type(obj).__name__} is on "
                              f"{_device_name(int(device_type))} (device "
                              f"{int(device_type)}, id {device_id}): pybuf can "
                              f"only view memory the CPU can read")
    try:
        capsule = obj.__dlpack__(max_version=(DLPACK_MAJOR, DLPACK_MINOR))
    except TypeError:
        # A producer older than DLPack 1.0 takes no max_version.
        capsule = obj.__dlpack__()
    return _consume(capsule, type(obj).__name__)
