"""The kernels' run-time settings, and what they read of the machine.

Private hooks for tests, benchmarks and ``pybuf info``: the SIMD path (the
environment variable ``PYBUF_SIMD`` is applied when this module is
imported, which ``import pybuf`` does), the persistent worker thread, the
streaming and two-thread thresholds, the cache sizes.  The state lives in
pybuf.kernels, which compiles pybuf/_simd.c in; this module reaches it
through the kernels' private table (pybuf/_kernels_impl.pxd), so that
pybuf.kernels holds no Python-facing code but its C API.
"""
import os

from cpython.pycapsule cimport PyCapsule_GetPointer

from pybuf._kernels_impl cimport KernelsImpl
from pybuf._simd cimport PYBUF_SIMD_NPATHS

import pybuf.kernels

cdef const KernelsImpl *K = <const KernelsImpl *>PyCapsule_GetPointer(
    pybuf.kernels._impl, "pybuf.kernels._impl")


cdef _select_simd(str want, str what, type error):
    cdef int rc = K.simd_select(want.encode("ascii", "replace"))
    if rc == -1:
        raise error(f"{what}={want!r} names no SIMD path of this build; "
                    f"choose one of {', '.join(_simd_paths(False))}")
    if rc == -2:
        raise error(f"{what}={want!r}: this CPU cannot run that SIMD path; "
                    f"it runs {', '.join(_simd_paths())}")


def _simd_path():
    """The name of the SIMD path the kernels use (``sse2``, ``avx2``,
    ``avx512`` on x86-64; ``neon`` or ``generic`` on aarch64; ``generic``
    elsewhere)."""
    return K.simd[0].name.decode("ascii")


def _simd_paths(supported=True):
    """The SIMD paths of this build, narrowest first; with ``supported``
    only those this CPU runs."""
    cdef int k
    return [K.simd_path_name(k).decode("ascii")
            for k in range(PYBUF_SIMD_NPATHS)
            if K.simd_path_name(k) != NULL
            and (not supported or K.simd_path_supported(k))]


def _set_simd_path(name):
    """Switch the kernels to SIMD path ``name`` ('' : the widest) and
    return the previous one (tests and benchmarks; not while another
    thread runs a kernel).  ValueError for a path this CPU cannot run."""
    old = _simd_path()
    _select_simd(name, "path", ValueError)
    return old


def _simd_describe():
    """One line for ``python -m pybuf info``: the SIMD path in use, those
    this CPU runs, and how it was chosen."""
    how = (f"forced by PYBUF_SIMD={os.environ['PYBUF_SIMD']}"
           if os.environ.get("PYBUF_SIMD") else "the widest this CPU runs")
    return (f"{_simd_path()} ({how}; available: {', '.join(_simd_paths())}; "
            f"streaming from {K.stream_bytes[0] >> 10} KiB)")


def _cache_info():
    """Cache sizes in bytes as the kernels see them (0: unknown) and the
    streaming threshold derived from them."""
    return {"l1d": K.cache_size(1), "l2": K.cache_size(2),
            "l3": K.cache_size(3), "last_level": K.cache_size(0),
            "stream_bytes": K.stream_bytes[0]}


def _set_parallel_threshold(nbytes):
    """Set the size from which kernels use two threads (for benchmarks
    and tests; a huge value turns threads off); returns the previous
    value."""
    old = K.parallel_bytes[0]
    K.parallel_bytes[0] = nbytes
    return old


def _set_worker(mode):
    """How two-thread work uses the persistent worker thread: 0 not at all
    (every part on the calling thread; stops the worker), 1 while another
    core is free (the default), 2 always.  Returns the previous mode
    (tests, benchmarks)."""
    if mode not in (0, 1, 2):
        raise ValueError(f"worker mode must be 0, 1 or 2, not {mode!r}")
    return K.worker_enable(mode)


def _worker_running():
    """Whether this process has started the worker thread."""
    return K.worker_running()


def _set_stream_threshold(nbytes):
    """Set the destination size from which non-temporal stores are used
    (for benchmarks); returns the previous value."""
    old = K.stream_bytes[0]
    K.stream_bytes[0] = nbytes
    return old


# PYBUF_SIMD, once, at import.  A bad name fails the import with
# RuntimeError (as numpy does for CPU features it cannot enable), not
# ImportError, which would read as "not built".
_select_simd(os.environ.get("PYBUF_SIMD", ""), "PYBUF_SIMD", RuntimeError)
