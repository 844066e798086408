"""Introspection for pybuf.describe and ``python -m pybuf info``: raw buffer
requests on any exporter, the named request flags, and how this build was
compiled.  Above pybuf.buffer in the layers (docs/implementation.rst):
nothing below imports it.
"""
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyObject_CheckBuffer
cimport cpython.buffer as pb
from libc.stdint cimport uintptr_t

from pybuf._layout cimport _as_tuple

from pybuf.buffer import DEFAULT_ALIGN

#: Every named buffer request, name -> flags, as CPython's headers define
#: them (for consumers written in Python: describe(), tests).
REQUESTS = {
    "PyBUF_SIMPLE": pb.PyBUF_SIMPLE, "PyBUF_WRITABLE": pb.PyBUF_WRITABLE,
    "PyBUF_FORMAT": pb.PyBUF_FORMAT, "PyBUF_ND": pb.PyBUF_ND,
    "PyBUF_STRIDES": pb.PyBUF_STRIDES,
    "PyBUF_C_CONTIGUOUS": pb.PyBUF_C_CONTIGUOUS,
    "PyBUF_F_CONTIGUOUS": pb.PyBUF_F_CONTIGUOUS,
    "PyBUF_ANY_CONTIGUOUS": pb.PyBUF_ANY_CONTIGUOUS,
    "PyBUF_INDIRECT": pb.PyBUF_INDIRECT,
    "PyBUF_CONTIG": pb.PyBUF_CONTIG, "PyBUF_CONTIG_RO": pb.PyBUF_CONTIG_RO,
    "PyBUF_STRIDED": pb.PyBUF_STRIDED, "PyBUF_STRIDED_RO": pb.PyBUF_STRIDED_RO,
    "PyBUF_RECORDS": pb.PyBUF_RECORDS, "PyBUF_RECORDS_RO": pb.PyBUF_RECORDS_RO,
    "PyBUF_FULL": pb.PyBUF_FULL, "PyBUF_FULL_RO": pb.PyBUF_FULL_RO,
}

cdef extern from "_build.h":
    # CYTHON_HEX_VERSION: defined by the C that Cython generates
    const long CYTHON_HEX_VERSION
    const int PYBUF_BUILT_OPTIMIZED
    const char *PYBUF_COMPILER_VERSION


def _request(obj, int flags):
    """Make one raw buffer request on ``obj`` and report what came back.

    ``PyObject_GetBuffer(obj, &view, flags)`` is called with exactly
    ``flags`` (no validation here: the exporter decides), the fields of the
    ``Py_buffer`` are copied into a dict, and the buffer is released before
    returning, whatever happens.  A field the exporter left NULL is ``None``.
    Used by :func:`pybuf.describe`; not part of the public API.

    Raises
    ------
    TypeError
        ``obj`` does not support the buffer protocol.
    BufferError, ValueError, ...
        Whatever the exporter raises for this request.
    """
    cdef Py_buffer view
    cdef int i
    if not PyObject_CheckBuffer(obj):
        raise TypeError(f"a bytes-like object is required, not "
                        f"'{type(obj).__name__}'")
    PyObject_GetBuffer(obj, &view, flags)
    try:
        return {
            "buf": <size_t><uintptr_t>view.buf,     # unsigned: 32-bit addresses above 2 GiB
            "obj": None if <void *>view.obj == NULL else type(view.obj),
            "len": view.len,
            "readonly": bool(view.readonly),
            "itemsize": view.itemsize,
            "format": None if view.format == NULL
                      else (<bytes>view.format).decode("ascii", "replace"),
            "ndim": view.ndim,
            "shape": None if view.shape == NULL
                     else _as_tuple(view.ndim, view.shape),
            "strides": None if view.strides == NULL
                       else _as_tuple(view.ndim, view.strides),
            "suboffsets": None if view.suboffsets == NULL
                          else _as_tuple(view.ndim, view.suboffsets),
        }
    finally:
        PyBuffer_Release(&view)


def _build_info():
    """How this extension was compiled, as far as the binary knows:
    Cython version, compiler, optimisation, default alignment."""
    cdef long v = CYTHON_HEX_VERSION
    return {
        "cython": f"{(v >> 24) & 0xFF}.{(v >> 16) & 0xFF}.{(v >> 8) & 0xFF}",
        "compiler": (<bytes>PYBUF_COMPILER_VERSION).decode("ascii", "replace"),
        "optimized": bool(PYBUF_BUILT_OPTIMIZED),
        "default_align": DEFAULT_ALIGN,
    }
