"""pybuf: the Python buffer protocol (PEP 3118), exact and fast.

Share memory between libraries by pointer instead of by copy: an exact
exporter (:class:`Buffer`), GIL-free kernels over any exporter, and format
parsing.  See https://peps.python.org/pep-3118/.
"""
import os as _os

try:
    from pybuf.buffer import (Buffer, asbuffer, copy, empty, from_address, full,
                              memory_info, trim, zeros)
except ModuleNotFoundError as _exc:
    if _exc.name != "pybuf.buffer":
        raise
    # A source checkout's pybuf/ (first on sys.path when Python runs in the
    # checkout's root): its extension modules are built only into the
    # installed copy.
    raise ImportError(
        f"pybuf's extension modules are not built in {__path__[0]}: install "
        "pybuf (`pip install .`) and run from another folder, or build in "
        "place (`python setup.py build_ext --inplace`)") from None

from pybuf.formats import Format, calcsize, parse_format
from pybuf._ops import (ascontiguous, astype, byteswap, copyto, dot, equal,
                        fill, max, min, sum)
from pybuf import _tuning    # applies PYBUF_SIMD (the kernels' SIMD path)
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


def get_include() -> str:
    """Directory to add to a Cython build's include path so that
    ``cimport pybuf.buffer`` (and the other ``.pxd`` files) resolve."""
    return _os.path.dirname(_os.path.abspath(__path__[0]))
