"""PEP 3118 format strings: parse, size, pack and unpack.

This is the one place where pybuf reads a format string.  The Buffer class
asks it for an itemsize (once per distinct string; the result is cached) and,
for formats without a native fast path, to pack and unpack items.

Interim implementation: formats the :mod:`struct` module understands.  The
full grammar (``T{}``, ``Z``, sub-arrays, ...) is tracked in issue 3.
"""
from __future__ import annotations

import functools
import struct

__all__ = ["Format", "parse_format", "calcsize"]


class Format:
    """A parsed format string (immutable).

    Attributes
    ----------
    format : str
        The format string as given.
    itemsize : int
        Bytes per item.
    alignment : int
        Alignment an item needs in memory.
    """

    __slots__ = ("format", "itemsize", "alignment", "_struct", "_single")

    def __init__(self, fmt: str):
        try:
            st = struct.Struct(fmt)
        except struct.error as exc:
            raise ValueError(f"invalid format {fmt!r}: {exc}") from None
        if st.size == 0:
            raise ValueError(f"invalid format {fmt!r}: itemsize is 0")
        self.format = fmt
        self.itemsize = st.size
        self.alignment = 1
        self._struct = st
        self._single = len(st.unpack(bytes(st.size))) == 1

    def unpack(self, data):
        """Unpack one item from ``itemsize`` bytes."""
        values = self._struct.unpack(data)
        return values[0] if self._single else values

    def pack(self, value) -> bytes:
        """Pack one item to ``itemsize`` bytes."""
        try:
            if self._single:
                return self._struct.pack(value)
            return self._struct.pack(*value)
        except struct.error as exc:
            raise ValueError(f"cannot pack {value!r} as {self.format!r}: {exc}") from None

    def __repr__(self):
        return f"Format({self.format!r})"


@functools.lru_cache(maxsize=1024)
def parse_format(fmt) -> Format:
    """Parse a PEP 3118 format string into a :class:`Format` (cached)."""
    if isinstance(fmt, bytes):
        fmt = fmt.decode("ascii")
    if not isinstance(fmt, str):
        raise TypeError(f"format must be str, not {type(fmt).__name__}")
    return Format(fmt)


def calcsize(fmt) -> int:
    """Itemsize in bytes of format string ``fmt``."""
    return parse_format(fmt).itemsize
