# Private to pybuf (not an ABI): DLPack as Cython sees it -- the structs
# and the capsule making of pybuf/_dlpack.h, and the checks and plan of the
# export of a Buffer's memory as a capsule.  No module stands behind it:
# pybuf.buffer (export, Buffer.__dlpack__) and pybuf._dlpack (import,
# from_dlpack) compile it in.
from cpython.number cimport PyNumber_Index
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t

from pybuf._types cimport *

cdef extern from "Python.h":
    long PyLong_AsLongAndOverflow(object obj, int *overflow) except? -1

cdef extern from "_dlpack.h":
    enum:
        DLPACK_MAJOR "PYBUF_DLPACK_MAJOR"
        DLPACK_MINOR "PYBUF_DLPACK_MINOR"
    # DLDeviceType: the CPU and the device types whose memory the CPU can read.
    enum:
        kDLCPU, kDLCUDAHost, kDLROCMHost, kDLCUDAManaged
    # DLDataTypeCode
    enum:
        kDLInt, kDLUInt, kDLFloat, kDLOpaqueHandle, kDLBfloat, kDLComplex, kDLBool
    const uint64_t FLAG_READ_ONLY "PYBUF_DLPACK_READ_ONLY"
    const uint64_t FLAG_IS_COPIED "PYBUF_DLPACK_IS_COPIED"
    const char *NAME "PYBUF_DLPACK_NAME"
    const char *USED_NAME "PYBUF_DLPACK_USED_NAME"
    const char *VNAME "PYBUF_DLPACK_VNAME"
    const char *USED_VNAME "PYBUF_DLPACK_USED_VNAME"

    ctypedef struct DLDevice:
        int32_t device_type
        int32_t device_id
    ctypedef struct DLDataType:
        uint8_t code
        uint8_t bits
        uint16_t lanes
    ctypedef struct DLTensor:
        void *data
        DLDevice device
        int32_t ndim
        DLDataType dtype
        int64_t *shape
        int64_t *strides
        uint64_t byte_offset
    ctypedef struct DLManagedTensor:
        DLTensor dl_tensor
        void (*deleter)(DLManagedTensor *) noexcept nogil
    ctypedef struct DLPackVersion:
        uint32_t major
        uint32_t minor
    ctypedef struct DLManagedTensorVersioned:
        DLPackVersion version
        void (*deleter)(DLManagedTensorVersioned *) noexcept nogil
        uint64_t flags
        DLTensor dl_tensor

    Py_ssize_t pybuf_dlpack_div(Py_ssize_t s, Py_ssize_t n) noexcept nogil
    bint pybuf_dlpack_describable(int ndim, const Py_ssize_t *strides,
                                  const Py_ssize_t *suboffsets,
                                  Py_ssize_t itemsize) noexcept
    object pybuf_dlpack_capsule(object owner, Py_ssize_t *exports, char *data,
                                int ndim, const Py_ssize_t *shape,
                                const Py_ssize_t *strides, Py_ssize_t itemsize,
                                DLDataType dtype, bint versioned, uint64_t flags)


cdef inline int _dlpack_code(int t) noexcept nogil:
    """The DLDataTypeCode of items of TypeId ``t`` (-1: DLPack has none)."""
    if t == TYPE_BOOL:
        return kDLBool
    if t == TYPE_INT8 or t == TYPE_INT16 or t == TYPE_INT32 or t == TYPE_INT64:
        return kDLInt
    if t == TYPE_UINT8 or t == TYPE_UINT16 or t == TYPE_UINT32 or \
            t == TYPE_UINT64:
        return kDLUInt
    if t == TYPE_FLOAT16 or t == TYPE_FLOAT32 or t == TYPE_FLOAT64:
        return kDLFloat
    if t == TYPE_COMPLEX64 or t == TYPE_COMPLEX128:
        return kDLComplex
    return -1


cdef inline bint _dlpack_request(object stream, object max_version,
                                 object dl_device, object copy) except -1:
    """Check the arguments of ``Buffer.__dlpack__`` (see its docstring);
    True when the consumer reads versioned capsules.  They may run user
    code (``__index__``, ``__iter__``), which may release or resize the
    Buffer: the caller reads none of its pointers before."""
    cdef bint versioned = False
    cdef int overflow
    cdef long major_c
    if stream is not None:
        raise BufferError(f"stream must be None for CPU memory, not {stream!r}")
    if dl_device is not None and tuple(dl_device) != (kDLCPU, 0):
        raise BufferError(f"a Buffer cannot be exported to device "
                          f"{tuple(dl_device)}: only (1, 0) (kDLCPU)")
    if type(max_version) is tuple and PyTuple_GET_SIZE(max_version) == 2 \
            and type(<object>PyTuple_GET_ITEM(max_version, 0)) is int \
            and type(<object>PyTuple_GET_ITEM(max_version, 1)) is int:
        # What every consumer passes: two exact ints, read without a call
        # (they run no user code); the same answer as below.
        major_c = PyLong_AsLongAndOverflow(
            <object>PyTuple_GET_ITEM(max_version, 0), &overflow)
        versioned = overflow > 0 or (overflow == 0 and major_c >= 1)
    elif max_version is not None:
        try:
            major, minor = max_version
            major = PyNumber_Index(major)
            PyNumber_Index(minor)
        except (TypeError, ValueError):
            raise TypeError(f"max_version must be a (major, minor) tuple, not "
                            f"{max_version!r}") from None
        versioned = major >= 1
    if copy is not None and copy is not True and copy is not False:
        raise TypeError(f"copy must be True, False or None, not {copy!r}")
    return versioned


cdef inline bint _dlpack_plan(
        int type_id, bint swapped, str fmt, Py_ssize_t itemsize, int ndim,
        const Py_ssize_t *strides, const Py_ssize_t *suboffsets,
        bint readonly, bint versioned, object copy,
        DLDataType *dtype) except -1:
    """How ``Buffer.__dlpack__`` exports a Buffer of this layout and items
    (TypeId, byte order, format as given), for a request checked by
    _dlpack_request: its DLPack data type in ``dtype[0]``, and True when
    the export is of a C-contiguous copy (asked for, or needed), False when
    of the Buffer itself.  Runs no user code."""
    cdef bint describable
    # The item model's reading of the format (before any copy: a bad format
    # is bad anyway), so that every spelling of the same items ("i", "1i",
    # "=i", " i", "<i" on a little-endian machine) has the same type.
    if _dlpack_code(type_id) < 0 or swapped:
        raise BufferError(f"format {fmt!r} has no DLPack data type (DLPack "
                          f"takes native bool, int, uint, float and complex "
                          f"items)")
    dtype.code = <uint8_t>_dlpack_code(type_id)
    dtype.bits = <uint8_t>(8 * itemsize)
    dtype.lanes = 1
    describable = pybuf_dlpack_describable(ndim, strides, suboffsets, itemsize)
    if copy is True or (copy is None and not describable):
        return True                   # a copy is writable: no read-only check
    if not describable:
        raise BufferError("copy=False, but this Buffer's layout cannot be "
                          "described in DLPack without a copy (suboffsets or "
                          "strides that are not whole items)")
    if readonly and not versioned:
        raise BufferError("a read-only Buffer cannot be exported as a legacy "
                          "DLPack capsule, which cannot say read-only: ask for "
                          "max_version=(1, 0), or copy=True")
    return False
