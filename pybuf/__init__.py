"""pybuf: the Python buffer protocol (PEP 3118), exact and fast.

Share memory between libraries by pointer instead of by copy: an exact
exporter (:class:`Buffer`), GIL-free kernels over any exporter, and format
parsing.  See https://peps.python.org/pep-3118/.
"""
from pybuf.buffer import Buffer, asbuffer, copy, empty, full, zeros
from pybuf.formats import Format, calcsize, parse_format

__version__ = "0.1.0"

__all__ = [
    "Buffer",
    "Format",
    "asbuffer",
    "calcsize",
    "copy",
    "empty",
    "full",
    "get_include",
    "parse_format",
    "zeros",
    "__version__",
]


def get_include():
    """Directory to add to a Cython build's include path so that
    ``cimport pybuf.buffer`` (and the other ``.pxd`` files) resolve."""
    import os
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
