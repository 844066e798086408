"""pybuf: the Python buffer protocol (PEP 3118), exact and fast.

Share memory between libraries by pointer instead of by copy: an exact
exporter (:class:`Buffer`), GIL-free kernels over any exporter, and format
parsing.  See https://peps.python.org/pep-3118/.
"""
import os as _os
import sys as _sys


def _use_installed_copy():
    """Point this package at an installed, compiled pybuf.

    Running ``python -m pybuf`` or ``python -m pytest`` in the root of a
    source checkout imports this file from the checkout, whose extension
    modules were never compiled in place (``pip install .`` compiles them
    into site-packages).  Rather than fail, use the installed copy; the
    checkout's own ``.py`` files are then not used at all.
    """
    here = _os.path.dirname(_os.path.abspath(__file__))
    for entry in _sys.path:
        candidate = _os.path.join(_os.path.abspath(entry or _os.curdir), "pybuf")
        if candidate != here and _os.path.isdir(candidate) and any(
                name.startswith("buffer.") and name.endswith((".so", ".pyd"))
                for name in _os.listdir(candidate)):
            __path__[:] = [candidate]
            return
    raise ImportError("pybuf's extension modules are not built: run "
                      "`pip install .` (or `python setup.py build_ext --inplace`)")


try:
    from pybuf import buffer as _buffer
except ImportError:
    _use_installed_copy()

from pybuf.buffer import (Buffer, asbuffer, copy, empty, from_address, full,
                          memory_info, trim, zeros)
from pybuf.formats import Format, calcsize, parse_format
from pybuf.kernels import (ascontiguous, astype, byteswap, copyto, dot, equal,
                           fill, max, min, sum)
from pybuf._dlpack import from_dlpack
from pybuf.interop import MemmapBuffer, SharedBuffer, attach, memmap, shared
from pybuf.describe import BufferInfo, describe

__version__ = "0.1.0"

__all__ = [
    "Buffer",
    "BufferInfo",
    "Format",
    "MemmapBuffer",
    "SharedBuffer",
    "asbuffer",
    "ascontiguous",
    "astype",
    "attach",
    "byteswap",
    "calcsize",
    "copy",
    "copyto",
    "describe",
    "dot",
    "empty",
    "equal",
    "fill",
    "from_address",
    "from_dlpack",
    "full",
    "get_include",
    "max",
    "memmap",
    "memory_info",
    "min",
    "parse_format",
    "shared",
    "sum",
    "trim",
    "zeros",
    "__version__",
]


def get_include():
    """Directory to add to a Cython build's include path so that
    ``cimport pybuf.buffer`` (and the other ``.pxd`` files) resolve."""
    return _os.path.dirname(_os.path.abspath(__path__[0]))
