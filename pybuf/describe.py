"""``describe()``: everything an exporter says about its memory, in words.

:func:`describe` makes real buffer requests on any exporter (numpy, memoryview,
bytes, mmap, CPython's ``_testbuffer``, pybuf Buffers ...), starting with the
most permissive one, and returns a :class:`BufferInfo`: the ``Py_buffer``
fields the exporter filled in, what the format means, the contiguity, and
which request succeeded.  Printed, it is a table; for a small buffer it also
draws a memory map showing which byte offsets belong to which element.
"""
from __future__ import annotations

import dataclasses
import html
import itertools
import math
import re
import struct
import sys
from typing import TYPE_CHECKING, Optional, Tuple, Union

from pybuf import _introspect
from pybuf._introspect import REQUESTS
from pybuf.formats import parse_format

if TYPE_CHECKING:
    from pybuf._typing import Exporter

__all__ = ["BufferInfo", "describe", "REQUESTS"]

_FORMAT, _ND = REQUESTS["PyBUF_FORMAT"], REQUESTS["PyBUF_ND"]

# What describe() tries, most permissive first.  Each step gives up one
# thing an exporter may refuse to provide: suboffsets (INDIRECT), strides,
# then the format.  Read-only requests, because asking for WRITABLE would
# fail on read-only memory and tell nothing more.
_FALLBACK = (
    ("PyBUF_FULL_RO", REQUESTS["PyBUF_FULL_RO"]),
    ("PyBUF_RECORDS_RO", REQUESTS["PyBUF_RECORDS_RO"]),
    ("PyBUF_ND | PyBUF_FORMAT", _ND | _FORMAT),
    ("PyBUF_STRIDED_RO", REQUESTS["PyBUF_STRIDED_RO"]),
    ("PyBUF_CONTIG_RO", REQUESTS["PyBUF_CONTIG_RO"]),
    ("PyBUF_SIMPLE", REQUESTS["PyBUF_SIMPLE"]),
)

# The memory map is drawn only when it fits on a screen.
_MAP_MAX_ITEMS = 64
_MAP_MAX_CELLS = 256


@dataclasses.dataclass(frozen=True)
class BufferInfo:
    """What one buffer request on an exporter returned, and what it means.

    Produced by :func:`describe`.  Printing it (``str``) gives a table and,
    for small buffers, a memory map; in a notebook ``_repr_html_`` draws the
    same as HTML.

    Attributes
    ----------
    exporter : str
        Type of the object described, e.g. ``"numpy.ndarray"``.
    request : str
        The request that succeeded, e.g. ``"PyBUF_FULL_RO"``.
    flags : int
        Its flag bits.
    format : str or None
        The format string the exporter gave, or None when it left it NULL
        (which means unsigned bytes, ``"B"``).
    meaning : str
        The format in words, e.g. ``"little-endian int32"``.
    itemsize : int
        Bytes per element (1 when the request did not include
        ``PyBUF_ND``: a consumer must then read plain bytes).
    ndim : int
        Number of dimensions.
    shape : tuple of int
        Elements per dimension (``(len,)`` when the request did not include
        ``PyBUF_ND``).
    strides : tuple of int
        Bytes from one element to the next along each dimension (C-contiguous
        ones when the exporter gave none).
    suboffsets : tuple of int or None
        PIL-style indirection, or None when the memory is direct.
    readonly : bool
        Whether the exporter forbids writes.
    nbytes : int
        ``len`` of the buffer: ``prod(shape) * itemsize``.
    c_contiguous, f_contiguous : bool
        Contiguity as :c:func:`PyBuffer_IsContiguous` judges it.
    address : int
        ``buf``: the address of the first element (index ``(0, ..., 0)``).
    span : int or None
        Bytes from the lowest to the highest byte any element occupies
        (``nbytes`` for contiguous data, more for strided views, 0 when there
        are no elements); None for indirect (suboffset) memory, which is not
        one block.
    offset : int or None
        Where the first element lies within that span: 0 unless some stride
        is negative.
    null : tuple of str
        The pointer fields of the ``Py_buffer`` the exporter left NULL, among
        ``"format"``, ``"shape"``, ``"strides"``, ``"suboffsets"``: what the
        request did not ask for (or, for a 0-d buffer, shape and strides).
    """

    exporter: str
    request: str
    flags: int
    format: Optional[str]
    meaning: str
    itemsize: int
    ndim: int
    shape: Tuple[int, ...]
    strides: Tuple[int, ...]
    suboffsets: Optional[Tuple[int, ...]]
    readonly: bool
    nbytes: int
    c_contiguous: bool
    f_contiguous: bool
    address: int
    span: Optional[int]
    offset: Optional[int]
    null: Tuple[str, ...]

    @property
    def size(self) -> int:
        """Number of elements."""
        return math.prod(self.shape)

    @property
    def contiguous(self) -> bool:
        """C- or Fortran-contiguous."""
        return self.c_contiguous or self.f_contiguous

    # --- text -------------------------------------------------------------

    def _rows(self):
        """(field, value, comment) for the table, shared by text and HTML."""
        fmt = "NULL (means 'B')" if self.format is None else repr(self.format)
        if self.suboffsets is None:
            sub, sub_note = "NULL", "direct memory"
        else:
            sub, sub_note = str(self.suboffsets), "indirect (PIL-style) memory"
        layout = ("C and F" if self.c_contiguous and self.f_contiguous else
                  "C" if self.c_contiguous else "F" if self.f_contiguous
                  else "no")
        if self.span is None:
            span = "-"
            span_note = "indirect: the elements are not in one block"
        else:
            span = f"{self.span} bytes"
            if self.span == 0:
                span_note = "no elements"
            elif self.span == self.nbytes:
                span_note = "no gaps"
            elif self.span > self.nbytes:
                span_note = f"{self.span - self.nbytes} bytes of gaps"
            else:
                span_note = "elements overlap (zero strides)"
            if self.offset:
                span_note += f"; the first element is at +{self.offset}"
        return [
            ("exporter", self.exporter, f"answered {self.request}"),
            ("format", fmt, self.meaning),
            ("itemsize", str(self.itemsize), "bytes per element"),
            ("ndim", str(self.ndim), ""),
            ("shape", str(self.shape),
             f"{self.size} element{'' if self.size == 1 else 's'}"),
            ("strides", str(self.strides), "bytes per step along each axis"),
            ("suboffsets", sub, sub_note),
            ("readonly", str(self.readonly), ""),
            ("nbytes", str(self.nbytes), "len: prod(shape) * itemsize"),
            ("contiguous", layout, ""),
            ("address", f"{self.address:#x}", "buf: the first element"),
            ("span", span, span_note),
            ("left NULL", ", ".join(self.null) or "-",
             "Py_buffer fields the exporter left NULL"),
        ]

    def __str__(self):
        rows = self._rows()
        width = max(len(v) for _, v, _ in rows)
        lines = [f"{k:<11} {v:<{width}}  {c}".rstrip() for k, v, c in rows]
        lines.extend(self.memory_map())
        return "\n".join(lines)

    def memory_map(self) -> list[str]:
        """The memory map as a list of text lines (empty when not drawn).

        One cell is ``g`` bytes, ``g`` the largest size that divides the
        itemsize and every stride; each element's first cell shows its
        index, its other cells ``--``; ``.`` marks bytes in the span that
        belong to no element (the gaps of a strided view).  The last line
        lists the element offsets in index order, which walk backwards
        where a stride is negative.
        """
        m = self._map()
        if isinstance(m, str):
            return [f"memory map: {m}"] if m else []
        cells, g, per_row, walk, shared = m
        w = max(len(c) for c in cells)
        lines = [f"memory map: {self.span} bytes from {self.address - self.offset:#x}"
                 f", one cell = {g} byte{'s' if g > 1 else ''}, '.' = gap"]
        ow = len(str(len(cells) * g))
        for start in range(0, len(cells), per_row):
            row = " ".join(f"{c:^{w}}" for c in cells[start:start + per_row])
            lines.append(f"  +{start * g:<{ow}d}  {row}".rstrip())
        shown = " ".join(f"+{o}" for o in walk[:16])
        more = " ..." if len(walk) > 16 else ""
        lines.append(f"  element offsets in index order: {shown}{more}")
        if shared:
            lines.append("  '*': bytes shared by several elements (zero or "
                         "overlapping strides)")
        return lines

    def _map(self):
        """Cells of the memory map, or a string saying why there is none."""
        if self.suboffsets is not None:
            return "not drawn: indirect memory is not one block"
        n = self.size
        if n == 0:
            return ""
        if n > _MAP_MAX_ITEMS:
            return ""
        g = self.itemsize
        for s in self.strides:
            g = math.gcd(g, s)
        g = g or 1
        ncells = self.span // g
        if ncells > _MAP_MAX_CELLS:
            return ""
        cells = ["."] * ncells
        walk = []
        shared = False
        for idx in itertools.product(*(range(k) for k in self.shape)):
            off = self.offset + sum(i * s for i, s in zip(idx, self.strides))
            walk.append(off)
            label = ",".join(map(str, idx)) if self.ndim else "()"
            first = off // g
            if cells[first] == "--":      # inside an earlier element
                cells[first] = label + "*"
                shared = True
                continue
            if cells[first] != ".":
                shared = True
                if not cells[first].endswith("*"):
                    cells[first] += "*"
                continue
            cells[first] = label
            for c in range(first + 1, first + self.itemsize // g):
                if cells[c] == ".":
                    cells[c] = "--"
        w = max(len(c) for c in cells)
        fit = max(1, 64 // (w + 1))
        longest = max((abs(s) // g for s in self.strides), default=0)
        per_row = longest if 1 < longest <= fit else fit
        return cells, g, per_row, walk, shared

    # --- notebooks --------------------------------------------------------

    def _repr_html_(self):
        esc = html.escape
        out = ['<div class="pybuf-describe"><table>']
        for k, v, c in self._rows():
            out.append(f"<tr><th style='text-align:left'>{esc(k)}</th>"
                       f"<td><code>{esc(v)}</code></td><td>{esc(c)}</td></tr>")
        out.append("</table>")
        m = self._map()
        if isinstance(m, str):
            if m:
                out.append(f"<p>memory map {esc(m)}</p>")
        else:
            cells, g, per_row, walk, _ = m
            out.append(f"<p>memory map: one cell = {g} byte(s); grey = gap</p>"
                       "<table style='border-collapse:collapse;font-family:monospace'>")
            for start in range(0, len(cells), per_row):
                out.append(f"<tr><td style='padding:0 6px'>+{start * g}</td>")
                for i, c in enumerate(cells[start:start + per_row]):
                    first = start + i == self.offset // g
                    bg = "#ddd" if c == "." else "#fc9" if first else "#bdf"
                    out.append(f"<td style='border:1px solid #888;padding:0 4px;"
                               f"background:{bg}'>{esc(c)}</td>")
                out.append("</tr>")
            out.append("</table>")
        out.append("</div>")
        return "".join(out)


def describe(obj: Exporter, *, request: Union[None, str, int] = None) -> BufferInfo:
    """Describe the memory any buffer exporter hands out.

    Asks ``obj`` for ``PyBUF_FULL_RO`` (format, shape, strides and
    suboffsets; read-only access suffices) and, if the exporter refuses
    with ``BufferError``, for ever simpler requests down to ``PyBUF_SIMPLE``.
    The buffer is released before returning: nothing stays exported.

    Parameters
    ----------
    obj : object
        Any object that supports the buffer protocol.
    request : str or int, optional
        Make exactly this request instead: a name from :data:`REQUESTS`
        (``"PyBUF_ND"``, or just ``"ND"``) or raw flag bits.  Shows what an
        exporter gives, or refuses, for one particular request.

    Returns
    -------
    BufferInfo
        Print it for a table and, for small buffers, a memory map.

    Raises
    ------
    TypeError
        ``obj`` does not export a buffer.
    BufferError
        The exporter refused every request (or the one given).
    ValueError
        Unknown ``request`` name, or whatever the exporter raises, e.g. for a
        released memoryview or Buffer.

    Examples
    --------
    >>> import pybuf
    >>> info = pybuf.describe(b"abcd")
    >>> info.exporter, info.format, info.shape, info.readonly
    ('bytes', 'B', (4,), True)
    >>> pybuf.describe(pybuf.zeros((2, 3), "<i")[:, ::-2]).strides
    (12, -8)
    """
    steps = _FALLBACK if request is None else (_parse_request(request),)
    exporter = _type_name(type(obj))
    last = None
    for name, flags in steps:
        try:
            raw = _introspect._request(obj, flags)
        except TypeError:
            if _supports_buffer(obj):
                raise
            raise TypeError(f"describe() needs an object that exports a buffer "
                            f"(PEP 3118); {exporter} does not") from None
        except BufferError as exc:
            last = exc
            continue
        return _info(exporter, name, flags, raw)
    if request is not None:
        raise BufferError(f"{exporter} refused {steps[0][0]}: {last}") from last
    raise BufferError(f"{exporter} refused every buffer request from "
                      f"PyBUF_FULL_RO down to PyBUF_SIMPLE: {last}") from last


def _supports_buffer(obj):
    try:
        memoryview(obj).release()
    except TypeError:
        return False
    except Exception:
        return True
    return True


def _parse_request(request):
    if isinstance(request, bool) or not isinstance(request, (str, int)):
        raise TypeError(f"request must be a name or int flags, not "
                        f"{type(request).__name__}")
    if isinstance(request, int):
        names = [k for k, v in REQUESTS.items() if v == request]
        return (names[0] if names else f"flags {request:#x}"), request
    key = request.strip().upper()
    if not key.startswith("PYBUF_"):
        key = "PYBUF_" + key
    for name, flags in REQUESTS.items():
        if name.upper() == key:
            return name, flags
    raise ValueError(f"unknown buffer request {request!r}; expected one of "
                     f"{', '.join(REQUESTS)}")


def _type_name(cls):
    mod = getattr(cls, "__module__", "") or ""
    if mod == "builtins":
        return cls.__qualname__
    if mod == "pybuf.buffer":     # defined there, exported from pybuf
        mod = "pybuf"
    return f"{mod}.{cls.__qualname__}"


def _info(exporter, name, flags, raw):
    itemsize = raw["itemsize"]
    length = raw["len"]
    shape = raw["shape"]
    if raw["ndim"] == 0:
        ndim, shape = 0, ()          # a scalar: shape and strides are NULL
    elif shape is None:
        # No PyBUF_ND: CPython's documentation tells the consumer to ignore
        # itemsize and read len bytes, one dimension.
        ndim, itemsize, shape = 1, 1, (length,)
    else:
        ndim = raw["ndim"]
    strides = raw["strides"]
    if strides is None:
        strides = _c_strides(shape, itemsize)
    sub = raw["suboffsets"]
    direct = sub is None or all(s < 0 for s in sub)
    lo = hi = 0
    empty = 0 in shape
    for n, s in zip(shape, strides):
        if n > 0:
            lo += min(0, (n - 1) * s)
            hi += max(0, (n - 1) * s)
    if not direct:
        span = offset = None
    elif empty:
        span, offset = 0, 0
    else:
        span, offset = hi - lo + itemsize, -lo
    return BufferInfo(
        exporter=exporter,
        request=name,
        flags=flags,
        format=raw["format"],
        meaning=format_meaning(raw["format"], itemsize),
        itemsize=itemsize,
        ndim=ndim,
        shape=tuple(shape),
        strides=tuple(strides),
        suboffsets=sub,
        readonly=raw["readonly"],
        nbytes=length,
        c_contiguous=direct and _contiguous(shape, strides, itemsize, length, "C"),
        f_contiguous=direct and _contiguous(shape, strides, itemsize, length, "F"),
        address=raw["buf"],
        span=span,
        offset=offset,
        null=tuple(k for k in ("format", "shape", "strides", "suboffsets")
                   if raw[k] is None),
    )


def _c_strides(shape, itemsize):
    strides = []
    s = itemsize
    for n in reversed(shape):
        strides.append(s)
        s *= max(n, 1)
    return tuple(reversed(strides))


def _contiguous(shape, strides, itemsize, length, order):
    """CPython's rule: no elements, or every dimension longer than one has
    the stride a packed layout in that order would give it."""
    if length == 0:
        return True
    dims = list(zip(shape, strides))
    if order == "C":
        dims.reverse()
    expected = itemsize
    for n, s in dims:
        if n > 1 and s != expected:
            return False
        expected *= n
    return True


# --- formats in words -------------------------------------------------------
# The words come from the parsed Format (pybuf.formats is the one place
# that reads format strings); this only names what it found.

_ORDER_WORDS = {
    "<": "little-endian", ">": "big-endian", "@": "native",
    "=": f"{sys.byteorder}-endian", "^": "native unaligned",
}
_PLAIN_WORDS = {"?": "bool", "c": "char (1-byte bytes)", "P": "void pointer",
                "O": "Python object pointer", "g": "long double",
                "Zg": "complex long double"}


def format_meaning(fmt: Optional[str], itemsize: int) -> str:
    """A format string in words: ``"<i"`` is ``"little-endian int32"``.

    Falls back to ``"N-byte items"`` for a format the engine
    (:func:`pybuf.parse_format`) does not read.
    """
    if fmt is None:
        return ("unsigned bytes (no format: 'B' implied)" if itemsize == 1
                else f"{itemsize}-byte items (no format given)")
    try:
        return _words(parse_format(fmt))
    except (ValueError, NotImplementedError):
        return f"{itemsize}-byte items"


def _words(f):
    if f.kind == "struct":
        parts, end = [], 0
        for field in f.fields:
            if field.offset > end:
                gap = field.offset - end
                parts.append(f"{gap} pad byte{'s' if gap > 1 else ''}")
            word = _words(field.format)
            if field.shape:
                word = f"({','.join(map(str, field.shape))}) array of {word}"
            parts.append(word + (f" {field.name}" if field.name else ""))
            n = 1
            for d in field.shape:
                n *= d
            end = field.offset + n * field.format.itemsize
        return "struct {" + ", ".join(parts) + "}"
    if f.kind == "void":
        return f"{f.itemsize} pad byte{'s' if f.itemsize > 1 else ''}"
    n = 1
    for d in f.shape:
        n *= d
    if f.code in ("s", "p", "u", "w"):
        size = f.itemsize // n
    else:       # the value's own size: the item may carry padding
        size = parse_format((f.prefix or "@") + f.code).itemsize
    word = _scalar_word(f.code, f.prefix, size)
    if f.kind == "array":
        word = f"({','.join(map(str, f.shape))}) array of {word}"
    pad = f.itemsize - n * size
    return word + (f" + {pad} pad byte{'s' if pad > 1 else ''}" if pad > 0 else "")


def _scalar_word(code, prefix, size):
    if code in ("s", "p"):
        return f"{size}-byte {'bytes' if code == 's' else 'Pascal string'}"
    if code in ("u", "w"):
        return f"UCS-{2 if code == 'u' else 4} string of {size // (2 if code == 'u' else 4)}"
    if code in ("b", "B"):
        return "int8" if code == "b" else "uint8"
    word = _PLAIN_WORDS.get(code)
    if word is None:
        kind = ("complex" if code[0] == "Z" else "float" if code in "efd"
                else "uint" if code.isupper() else "int")
        word = f"{kind}{8 * size}"
    if code in ("?", "c", "O"):
        return word
    return f"{_ORDER_WORDS.get(prefix, 'mixed-order')} {word}"
