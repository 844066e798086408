/* _dlpack.h -- DLPack for pybuf: the structs of dlpack.h (DLPack 1.0),
 * declared here so that the build needs no dlpack.h, and the export of a
 * Buffer's memory as a DLPack capsule.
 *
 * pybuf/buffer.pyx exports (Buffer.__dlpack__, through
 * pybuf_dlpack_capsule); pybuf/_dlpack.pyx, above it, consumes capsules
 * (pybuf.from_dlpack) with the same structs.
 *
 * Ownership, as the DLPack standard sets it: a capsule named "dltensor" /
 * "dltensor_versioned" owns its tensor, and if it is collected unconsumed
 * its destructor calls the tensor's deleter.  A consumer renames it
 * "used_dltensor" / "used_dltensor_versioned" and from then on owns the
 * tensor: it calls the deleter exactly once, when it no longer needs the
 * memory.  A tensor made here holds an export of the Buffer (a reference
 * and one count of its exports) until its deleter runs. */
#ifndef PYBUF_DLPACK_H
#define PYBUF_DLPACK_H

#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PYBUF_DLPACK_MAJOR 1
#define PYBUF_DLPACK_MINOR 0

/* DLDeviceType: the CPU and the device types whose memory the CPU can
   read. */
enum { kDLCPU = 1, kDLCUDAHost = 3, kDLROCMHost = 11, kDLCUDAManaged = 13 };

/* DLDataTypeCode */
enum {
    kDLInt = 0, kDLUInt = 1, kDLFloat = 2, kDLOpaqueHandle = 3,
    kDLBfloat = 4, kDLComplex = 5, kDLBool = 6
};

/* DLPACK_FLAG_BITMASK_READ_ONLY, DLPACK_FLAG_BITMASK_IS_COPIED */
#define PYBUF_DLPACK_READ_ONLY ((uint64_t)1)
#define PYBUF_DLPACK_IS_COPIED ((uint64_t)2)

typedef struct {
    int32_t device_type;
    int32_t device_id;
} DLDevice;

typedef struct {
    uint8_t code;
    uint8_t bits;
    uint16_t lanes;
} DLDataType;

typedef struct {
    void *data;
    DLDevice device;
    int32_t ndim;
    DLDataType dtype;
    int64_t *shape;
    int64_t *strides;
    uint64_t byte_offset;
} DLTensor;

typedef struct DLManagedTensor {
    DLTensor dl_tensor;
    void *manager_ctx;
    void (*deleter)(struct DLManagedTensor *self);
} DLManagedTensor;

typedef struct {
    uint32_t major;
    uint32_t minor;
} DLPackVersion;

typedef struct DLManagedTensorVersioned {
    DLPackVersion version;
    void *manager_ctx;
    void (*deleter)(struct DLManagedTensorVersioned *self);
    uint64_t flags;
    DLTensor dl_tensor;
} DLManagedTensorVersioned;

#define PYBUF_DLPACK_NAME "dltensor"
#define PYBUF_DLPACK_USED_NAME "used_dltensor"
#define PYBUF_DLPACK_VNAME "dltensor_versioned"
#define PYBUF_DLPACK_USED_VNAME "used_dltensor_versioned"

/* What a capsule made here owns, in one block: the managed tensor (either
   kind), the export that keeps the Buffer and its memory alive (a
   reference and one count of the Buffer's exports, which is what its
   __getbuffer__ / __releasebuffer__ take and give back, without the
   Py_buffer), and, right after the struct, the shape and strides arrays
   the tensor points at (ndim entries each: the block is sized to the
   tensor, and a small block comes from pymalloc). */
typedef struct {
    DLManagedTensor legacy;
    DLManagedTensorVersioned versioned;
    PyObject *owner;
    Py_ssize_t *exports;
} pybuf_dlpack_export;

/* Where the arrays start: after the struct, aligned to 8 bytes (i686
   aligns the struct's uint64_t members to 4 only). */
#define PYBUF_DLPACK_DIMS_AT ((sizeof(pybuf_dlpack_export) + 7) & ~(size_t)7)

/* s / n and s % n (n > 0) by a constant for the usual item sizes: a 64-bit
   idiv costs tens of cycles, and an export or an import divided a stride
   by the item size several times (a third of Buffer.__dlpack__'s own
   time, perf said). */
static inline Py_ssize_t
pybuf_dlpack_div(Py_ssize_t s, Py_ssize_t n)
{
    switch (n) {
    case 1: return s;
    case 2: return s / 2;
    case 4: return s / 4;
    case 8: return s / 8;
    case 16: return s / 16;
    default: return s / n;
    }
}

static inline Py_ssize_t
pybuf_dlpack_mod(Py_ssize_t s, Py_ssize_t n)
{
    switch (n) {
    case 1: return 0;
    case 2: return s % 2;
    case 4: return s % 4;
    case 8: return s % 8;
    case 16: return s % 16;
    default: return s % n;
    }
}

/* Whether DLPack can describe a layout: direct memory, strides in whole
   items. */
static inline int
pybuf_dlpack_describable(int ndim, const Py_ssize_t *strides,
                         const Py_ssize_t *suboffsets, Py_ssize_t itemsize)
{
    int i;
    if (suboffsets != NULL)
        return 0;
    for (i = 0; i < ndim; i++)
        if (pybuf_dlpack_mod(strides[i], itemsize))
            return 0;
    return 1;
}

/* Deleters may be called from any thread, with or without the GIL (torch
   frees tensors from its own threads); after interpreter shutdown the
   memory can only be leaked.  The block comes from PyMem_Malloc (the
   capsule is made with the GIL held), so it is freed with the GIL held
   too, as numpy frees its own. */
static inline void
pybuf_dlpack_release(pybuf_dlpack_export *e)
{
    PyGILState_STATE gil;
    if (!Py_IsInitialized())
        return;
    gil = PyGILState_Ensure();
    *e->exports -= 1;           /* before the reference: it may be the last */
    Py_DECREF(e->owner);
    PyMem_Free(e);
    PyGILState_Release(gil);
}

static inline void
pybuf_dlpack_delete_legacy(DLManagedTensor *m)
{
    pybuf_dlpack_release((pybuf_dlpack_export *)m->manager_ctx);
}

static inline void
pybuf_dlpack_delete_versioned(DLManagedTensorVersioned *m)
{
    pybuf_dlpack_release((pybuf_dlpack_export *)m->manager_ctx);
}

/* Free a capsule's tensor if nobody consumed it (name unchanged).  A
   consumed capsule's tensor belongs to its consumer: nothing to do. */
static inline void
pybuf_dlpack_capsule_destructor(PyObject *capsule)
{
    /* The name read once; a consumed capsule ("used_...", the common
       case) is told by its first character, without a call. */
    const char *name = PyCapsule_GetName(capsule);
    if (name == NULL || name[0] != 'd')
        return;
    if (strcmp(name, PYBUF_DLPACK_VNAME) == 0) {
        DLManagedTensorVersioned *mv = (DLManagedTensorVersioned *)
            PyCapsule_GetPointer(capsule, PYBUF_DLPACK_VNAME);
        if (mv != NULL && mv->deleter != NULL)
            mv->deleter(mv);
    }
    else if (strcmp(name, PYBUF_DLPACK_NAME) == 0) {
        DLManagedTensor *m = (DLManagedTensor *)
            PyCapsule_GetPointer(capsule, PYBUF_DLPACK_NAME);
        if (m != NULL && m->deleter != NULL)
            m->deleter(m);
    }
}

/* A new capsule holding a CPU tensor over the memory of a pybuf Buffer,
   ``owner``: ``data``, ``ndim``, ``shape``, ``strides`` (bytes, whole
   items: see pybuf_dlpack_describable) and ``itemsize`` are its layout and
   ``exports`` its export count, which the capsule holds one of (with a
   reference) until its deleter runs.  Items of type ``dtype``;
   "dltensor_versioned" with ``flags`` when ``versioned``, else a legacy
   "dltensor".  The caller has the GIL and runs no Python code between
   reading the layout and this call.  NULL with an exception set on
   failure, and then nothing is held. */
static inline PyObject *
pybuf_dlpack_capsule(PyObject *owner, Py_ssize_t *exports, char *data,
                     int ndim, const Py_ssize_t *shape,
                     const Py_ssize_t *strides, Py_ssize_t itemsize,
                     DLDataType dtype, int versioned, uint64_t flags)
{
    DLTensor *t;
    PyObject *capsule;
    int i;
    pybuf_dlpack_export *e;
    if (ndim < 0 || ndim > PyBUF_MAX_NDIM || itemsize <= 0
            || (ndim > 0 && (shape == NULL || strides == NULL))) {
        PyErr_SetString(PyExc_BufferError, "the Buffer's layout cannot be "
                        "described in DLPack");
        return NULL;
    }
    e = (pybuf_dlpack_export *)PyMem_Malloc(PYBUF_DLPACK_DIMS_AT
                                         + 2 * (size_t)ndim * sizeof(int64_t));
    if (e == NULL)
        return PyErr_NoMemory();
    /* From here on, e holds an export: its deleter gives it back. */
    Py_INCREF(owner);
    e->owner = owner;
    e->exports = exports;
    *exports += 1;
    e->legacy.manager_ctx = e->versioned.manager_ctx = e;
    e->legacy.deleter = pybuf_dlpack_delete_legacy;
    e->versioned.deleter = pybuf_dlpack_delete_versioned;
    t = versioned ? &e->versioned.dl_tensor : &e->legacy.dl_tensor;
    t->data = data;
    t->device.device_type = kDLCPU;
    t->device.device_id = 0;
    t->ndim = ndim;
    t->dtype = dtype;
    t->shape = (int64_t *)((char *)e + PYBUF_DLPACK_DIMS_AT);
    t->strides = t->shape + ndim;
    t->byte_offset = 0;
    for (i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        t->strides[i] = pybuf_dlpack_div(strides[i], itemsize);
    }
    if (versioned) {
        e->versioned.version.major = PYBUF_DLPACK_MAJOR;
        e->versioned.version.minor = PYBUF_DLPACK_MINOR;
        e->versioned.flags = flags;
        capsule = PyCapsule_New(&e->versioned, PYBUF_DLPACK_VNAME,
                                pybuf_dlpack_capsule_destructor);
    }
    else {
        capsule = PyCapsule_New(&e->legacy, PYBUF_DLPACK_NAME,
                                pybuf_dlpack_capsule_destructor);
    }
    if (capsule == NULL)
        pybuf_dlpack_delete_legacy(&e->legacy);
    return capsule;
}

#endif
