"""PEP 3118 format strings: parse, size, pack and unpack, numpy dtypes.

This is the one place where pybuf reads a format string.  The Buffer class
asks it for an itemsize (once per distinct string; the result is cached) and,
for formats without a native fast path, to pack and unpack items.

The grammar is PEP 3118's, read the way numpy reads it:

* byte-order / size prefixes ``@ = < > ! ^`` (``^``: native sizes, no
  alignment).  A prefix may stand before any item, also inside ``T{}``, and
  stays in force until the next one -- also past the ``}`` of a struct, as
  in numpy.  The default is ``@``.
* an item is ``[(d0,d1,...)][prefix][count]code[:name:]`` where ``code`` is
  one of ``? c b B h H i I l L q Q n N e f d g s p P O x u w``, ``Zf Zd Zg``
  (``F`` and ``D``, CPython 3.14's spellings, read as ``Zf`` and ``Zd``)
  or a struct ``T{items}``.  Whitespace may separate items.
* ``t`` (bits), ``&`` (pointers) and ``X{}`` (functions) have no portable
  meaning: :class:`NotImplementedError`.

Layout: under ``@`` every item is aligned as the C compiler aligns it and a
struct (also the whole format) is padded at its end to a multiple of its
alignment, like ``sizeof`` of a C struct and like numpy (numpy issue 7797).
The :mod:`struct` module omits that trailing padding: ``struct.calcsize("di")``
is 12, a C struct ``{double; int;}`` and ``pybuf.calcsize("di")`` are 16.
Under ``= < > !`` sizes are standard and nothing is aligned; ``^`` keeps
native sizes without alignment.

Values: numbers are Python numbers, ``?`` a bool, ``e``/``g`` floats, ``Z``
complex, ``c``/``s``/``p`` bytes (``s`` keeps its NUL padding, as in
:mod:`struct`), ``u``/``w`` str (UCS-2/UCS-4, trailing NULs stripped, as numpy
reads ``U``).  A named ``x`` field is a value, its bytes (numpy's void
field); so is an item that is nothing but ``x`` (numpy's ``V``); other
``x`` bytes are padding and read as nothing.  A repeat count on an
unnamed item repeats it (``"2i"`` reads like ``"ii"``, as in :mod:`struct`);
on a named item or one with a sub-array shape it is the innermost sub-array
dimension (as numpy reads it).  A format with several values reads as a
tuple, a struct as a (nested) tuple, a sub-array as nested tuples.
``O`` items are raw ``PyObject *`` pointers: they are sized but never read or
written.
"""
from __future__ import annotations

import array
import collections
import math
import struct
import sys
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    from pybuf._typing import Exporter

__all__ = ["Format", "Field", "parse_format", "calcsize"]

_PREFIXES = "@=<>!^"
_STANDARD = "=<>"
_NATIVE_BO = "<" if sys.byteorder == "little" else ">"
_MAX_DEPTH = 64                     # nesting of T{} (keeps recursion bounded)
_MAX_SIZE = sys.maxsize

# Codes, by what their values are.
_INT = "bhilqn"
_UINT = "BHILQNP"
_STRINGS = "spuwx"                  # the count is part of one element
_CODES = set("?cbBhHiIlLqQnNefdgspPOxuw") | {"Zf", "Zd", "Zg"}
_UNSUPPORTED = {"t": "bit fields", "&": "pointers", "X": "function pointers"}
# CPython 3.14's struct (and its ctypes' exports) spell float and double
# complex "F" and "D"; 3.15, numpy and PEP 3118 spell them "Zf" and "Zd",
# which is what pybuf exports (numpy reads no "D").
_COMPLEX_ALIASES = {"F": "Zf", "D": "Zd"}
_NATIVE_ONLY = {"n", "N", "P", "g", "Zg"}

# Standard sizes (prefixes = < > !).  'O' is a pointer whatever the prefix,
# as numpy reads it.
_STD_SIZE = {"?": 1, "c": 1, "b": 1, "B": 1, "h": 2, "H": 2, "i": 4, "I": 4,
             "l": 4, "L": 4, "q": 8, "Q": 8, "e": 2, "f": 4, "d": 8, "s": 1,
             "p": 1, "x": 1, "Zf": 8, "Zd": 16, "u": 2, "w": 4,
             "O": struct.calcsize("P")}

_native_cache = {}


def _native(code):
    """(size, alignment) of one ``code`` item as the C compiler lays it out."""
    hit = _native_cache.get(code)
    if hit is not None:
        return hit
    if code in ("g", "Zg"):
        # struct knows no long double; ctypes asks the compiler.
        import ctypes
        size, align = ctypes.sizeof(ctypes.c_longdouble), ctypes.alignment(ctypes.c_longdouble)
    else:
        base = {"O": "P", "u": "H", "w": "I", "Zf": "f", "Zd": "d"}.get(code, code)
        size = struct.calcsize("@" + base)
        # offset of the member in struct {char c; T x;} is its alignment
        align = struct.calcsize("@c" + base) - size
    if code[0] == "Z":
        size *= 2
    _native_cache[code] = hit = (size, align)
    return hit


def _unit(code, mode):
    """(size, alignment) of one unit of ``code`` under ``mode``."""
    if mode in "@^":
        return _native(code)
    return _STD_SIZE[code], _STD_SIZE[code]


Field = collections.namedtuple("Field", "name offset format shape")
Field.__doc__ = """One field of a struct format.

Attributes
----------
name : str or None
    The ``:name:`` given in the format, or None.
offset : int
    Bytes from the start of the item.
format : Format
    The format of one element of the field.
shape : tuple of int
    Sub-array shape (``()`` for a single element).
"""


class _Item:
    """One parsed item: a leaf code or a ``T{}`` struct, with its layout."""
    __slots__ = ("code", "mode", "count", "shape", "name", "sub", "offset",
                 "elsize", "nelem", "pos", "sub_align")

    def size(self):
        return self.elsize * self.nelem


def _prod(dims):
    n = 1
    for d in dims:
        n *= d
    return n


class _Parser:
    """Recursive-descent reader of one format string (see module docstring)."""

    def __init__(self, text, aligned=False, trailing="all"):
        self.s = text
        self.i = 0
        self.state = "@"            # sticky prefix, as numpy's stream keeps it
        # Readings other than numpy's (see Format._reading): ``aligned``
        # lays out '<' and '>' items with native sizes and alignment, as
        # ctypes means them; ``trailing`` says which structs get padding
        # at their end: "all" (C), "inner" (not the whole format, as
        # struct and memoryview lay it out) or "none" (no struct: numpy
        # exports a nested struct without it).
        self.aligned = aligned
        self.trailing = trailing

    def unit(self, code, mode):
        if self.aligned and mode in "<>":
            return _native(code)
        return _unit(code, mode)

    def aligns(self):
        return self.state == "@" or (self.aligned and self.state in "<>")

    def fail(self, what, pos=None):
        pos = self.i if pos is None else pos
        raise ValueError(f"invalid format {self.s!r}: {what} at position {pos}")

    def skip_ws(self):
        s, i = self.s, self.i
        while i < len(s) and s[i] in " \t\n\r\f\v":
            i += 1
        self.i = i

    def number(self, what):
        s, start = self.s, self.i
        i = start
        while i < len(s) and s[i].isdigit():
            i += 1
        self.i = i
        if i == start:
            return None
        if i - start > 19 or int(s[start:i]) > _MAX_SIZE:
            self.fail(f"{what} {s[start:i]} is too large", start)
        return int(s[start:i])

    def items(self, depth, open_pos):
        """Items up to the end (depth 0) or the ``}`` closing a ``T{``.
        Returns (items, size, alignment)."""
        s = self.s
        items = []
        names = set()
        offset = 0
        common = 1
        while True:
            self.skip_ws()
            if self.i >= len(s):
                if depth:
                    self.fail(f"'T{{' opened at position {open_pos} is not "
                              f"closed (missing '}}')", self.i)
                break
            if s[self.i] == "}":
                if not depth:
                    self.fail("unbalanced '}'")
                self.i += 1
                break
            it = self.item(depth)
            if it.sub is not None:
                align = it.sub_align
            else:
                align = self.unit(it.code, it.mode)[1]
            if self.aligns():
                # numpy's rule: an item is aligned when the prefix in force
                # after it (for a struct: after its '}') is '@'.
                offset += -offset % align
                common = common * align // math.gcd(common, align)
            it.offset = offset
            offset += it.size()
            if offset > _MAX_SIZE:
                self.fail("itemsize does not fit in Py_ssize_t", it.pos)
            if it.name is not None:
                if it.name in names:
                    self.fail(f"duplicate field name {it.name!r}", it.pos)
                names.add(it.name)
            items.append(it)
        if depth and not items:
            self.fail("empty struct 'T{}'", open_pos)
        if self.aligns() and (self.trailing == "all"
                              or (depth and self.trailing == "inner")):
            offset += -offset % common      # trailing padding, as sizeof()
        if offset > _MAX_SIZE:
            self.fail("itemsize does not fit in Py_ssize_t", open_pos)
        return items, offset, common

    def item(self, depth):
        s = self.s
        it = _Item()
        it.pos = start = self.i
        prefix = None
        if s[self.i] in _PREFIXES:
            prefix = s[self.i]
            self.i += 1
        shape = ()
        if self.i < len(s) and s[self.i] == "(":
            shape = self.dims()
        if self.i < len(s) and s[self.i] in _PREFIXES:
            if prefix is not None:
                self.fail("two byte-order prefixes for one item")
            prefix = s[self.i]
            self.i += 1
        if prefix is not None:
            self.state = ">" if prefix == "!" else prefix
            self.skip_ws()          # struct reads "< i" like "<i"
        count = self.number("repeat count")
        if self.i >= len(s):
            self.fail("missing type code" + (" after repeat count" if count is not None
                                            else " after prefix"))
        c = s[self.i]
        it.sub = None
        if c == "T":
            if s[self.i + 1:self.i + 2] != "{":
                self.fail("'T' must be followed by '{'")
            if depth >= _MAX_DEPTH:
                self.fail(f"structs nested more than {_MAX_DEPTH} deep")
            open_pos = self.i
            self.i += 2
            it.sub, it.elsize, it.sub_align = self.items(depth + 1, open_pos)
            it.code = "T"
        elif c == "Z":
            z = s[self.i:self.i + 2]
            if z not in _CODES:
                self.fail("'Z' must be followed by 'f', 'd' or 'g'")
            it.code = z
            self.i += 2
        elif c in _COMPLEX_ALIASES:
            it.code = _COMPLEX_ALIASES[c]       # read as, and spelled, "Zf"/"Zd"
            self.i += 1
        elif c in _CODES:
            it.code = c
            self.i += 1
        elif c in _UNSUPPORTED:
            raise NotImplementedError(
                f"format {s!r}: code {c!r} ({_UNSUPPORTED[c]}) at position "
                f"{self.i} has no portable meaning and is not supported")
        elif c in "{}:()" or c.isspace() or c in _PREFIXES:
            self.fail(f"unexpected {c!r}" + (" after repeat count" if count is not None else ""))
        else:
            self.fail(f"unknown type code {c!r}")
        it.mode = self.state
        if it.sub is None:
            if it.mode in _STANDARD and it.code in _NATIVE_ONLY and not (
                    self.aligned and it.mode == _NATIVE_BO):
                self.fail(f"code {it.code!r} has no standard size (use it "
                          f"with '@' or '^', not {it.mode!r})", start)
            unit = self.unit(it.code, it.mode)[0]
        it.count = 1 if count is None else count
        it.shape = shape
        if self.i < len(s) and s[self.i] == ":":
            end = s.find(":", self.i + 1)
            if end < 0:
                self.fail("field name is not closed by ':'")
            name = s[self.i + 1:end]
            if not name:
                self.fail("empty field name")
            if not name.isprintable():
                self.fail(f"field name {name!r} is not printable")
            it.name = name
            self.i = end + 1
        else:
            it.name = None
        n = _prod(shape)
        if it.sub is None and it.code in _STRINGS:
            it.elsize = unit * it.count
            it.nelem = n
        else:
            if it.sub is None:
                it.elsize = unit
            it.nelem = n * it.count
        if it.elsize * it.nelem > _MAX_SIZE:
            self.fail("itemsize does not fit in Py_ssize_t", start)
        return it

    def dims(self):
        s = self.s
        open_pos = self.i
        self.i += 1
        dims = []
        while True:
            self.skip_ws()
            pos = self.i
            d = self.number("sub-array dimension")
            if d is None:
                if self.i >= len(s):
                    self.fail(f"'(' opened at position {open_pos} is not closed")
                self.fail(f"expected a sub-array dimension, got {s[self.i]!r}")
            if d <= 0:
                self.fail("sub-array dimensions must be positive", pos)
            dims.append(d)
            if _prod(dims) > _MAX_SIZE:
                self.fail("sub-array size does not fit in Py_ssize_t", pos)
            self.skip_ws()
            if self.i >= len(s):
                self.fail(f"'(' opened at position {open_pos} is not closed")
            if s[self.i] == ")":
                self.i += 1
                return tuple(dims)
            if s[self.i] != ",":
                self.fail(f"expected ',' or ')' in sub-array shape, got {s[self.i]!r}")
            self.i += 1


def _emit(items, state, out):
    """Canonical text of ``items``; ``state`` is a one-element list holding
    the prefix in force (emitted only where it changes)."""
    for it in items:
        if it.shape:
            out.append("(" + ",".join(map(str, it.shape)) + ")")
        if it.sub is None and it.mode != state[0]:
            out.append(it.mode)
            state[0] = it.mode
        if it.count != 1:
            out.append(str(it.count))
        if it.sub is not None:
            out.append("T{")
            _emit(it.sub, state, out)
            out.append("}")
        else:
            out.append(it.code)
        if it.name is not None:
            out.append(":" + it.name + ":")


def _leaves(items):
    for it in items:
        if it.sub is None:
            yield it
        else:
            yield from _leaves(it.sub)


def _explicit(items, size, out, state=None):
    """Text of laid-out ``items`` with every offset explicit: each leaf has
    a prefix that aligns nothing (its byte order, ``<`` or ``>``; ``^``
    for long doubles), the gaps are ``x`` padding.  ``state`` holds the
    prefix in force (written only where it changes)."""
    if state is None:
        state = [None]
    pos = 0
    for it in items:
        if it.sub is None and it.code == "x" and it.name is None:
            continue                    # padding: the gaps say it
        if it.offset > pos:
            out.append(f"{it.offset - pos}x")
        if it.shape:
            out.append("(" + ",".join(map(str, it.shape)) + ")")
        if it.sub is not None:
            out.append("T{" if it.count == 1 else f"{it.count}T{{")
            _explicit(it.sub, it.elsize, out, state)
            out.append("}")
        else:
            code = it.code
            prefix = _NATIVE_BO if it.mode in "@=^" else it.mode
            if code in ("g", "Zg"):
                if prefix != _NATIVE_BO:
                    raise ValueError("a long double of foreign byte order")
                prefix = "^"
            elif code in _INT + _UINT:
                code = {1: "b", 2: "h", 4: "i", 8: "q"}[it.elsize]
                if it.code in _UINT:
                    code = code.upper()
            if prefix != state[0]:
                out.append(prefix)
                state[0] = prefix
            out.append((str(it.count) if it.count != 1 else "") + code)
        if it.name is not None:
            out.append(f":{it.name}:")
        pos = it.offset + it.size()
    if size > pos:
        out.append(f"{size - pos}x")


def _walk(items, base=0):
    """(offset, item) of every leaf item, structs and their sub-arrays
    unrolled, offsets from the start of the item."""
    for it in items:
        if it.sub is not None:
            for k in range(it.nelem):
                yield from _walk(it.sub, base + it.offset + k * it.elsize)
        else:
            yield base + it.offset, it


def _layout(items):
    """(offset, size, byte order) of every value, nested offsets resolved."""
    return [(off, it.elsize, _NATIVE_BO if it.mode in "@=^" else it.mode)
            for off, it in _walk(items) if it.code != "x"]


def _spelled_out(items, size):
    """The Format of laid-out ``items`` of ``size`` bytes, spelled out (see
    :meth:`Format._reading`); None when no PEP 3118 text says it."""
    out = []
    try:
        if (len(items) == 1 and items[0].sub is not None and items[0].count == 1
                and not items[0].shape and items[0].name is None):
            # one T{}: padding at the end goes inside it, so that numpy
            # reads back the same struct
            out.append("T{")
            _explicit(items[0].sub, size, out)
            out.append("}")
        else:
            _explicit(items, size, out)
        f = parse_format("".join(out))
    except (ValueError, KeyError):
        return None
    if f.itemsize != size or _layout(f._items) != _layout(items):
        return None
    return f


# --------------------------------------------------------------------------
# values: a flat struct.Struct plus a tree that groups its values

def _ld_struct():
    import ctypes
    return ctypes.c_longdouble


def _read_ld(raw):
    return _ld_struct().from_buffer_copy(raw).value


def _ld_value_bytes():
    # An x87 extended long double holds its value in 10 of its 12 or 16
    # bytes; elsewhere (IEEE quad, double-double, plain double) all count.
    import ctypes
    import platform
    size = ctypes.sizeof(ctypes.c_longdouble)
    x86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686", "x86")
    return 10 if x86 and size in (12, 16) else size


def _write_ld(value):
    # Some ctypes versions copy the whole C long double, padding included,
    # from an uninitialised stack slot: zero the bytes that hold no value.
    ld = _ld_struct()
    out = bytearray(_native("g")[0])
    ld.from_buffer(out).value = _as_float(value)
    keep = _ld_value_bytes()
    out[keep:] = bytes(len(out) - keep)
    return bytes(out)


def _as_float(v):
    if isinstance(v, (str, bytes, bytearray)):
        raise TypeError(f"a number is required, not {type(v).__name__}")
    return float(v)


def _as_complex(v):
    if isinstance(v, (str, bytes, bytearray)):
        raise TypeError(f"a number is required, not {type(v).__name__}")
    return complex(v)


def _decode_units(raw, unit, order):
    n = len(raw) // unit
    codes = struct.unpack(f"{order}{n}{'H' if unit == 2 else 'I'}", raw)
    # Reading never fails (repr of uninitialised memory must work): a unit
    # that is no code point reads as U+FFFD.
    text = "".join([chr(c) if c <= 0x10FFFF else "\ufffd" for c in codes])
    return text.rstrip("\0")            # NUL-padded, as numpy reads 'U'


def _encode_units(value, nchars, unit, order, code):
    if not isinstance(value, str):
        raise TypeError(f"format {code!r} needs a str, not {type(value).__name__}")
    if len(value) > nchars:
        raise ValueError(f"str of length {len(value)} does not fit in "
                         f"{nchars} {code!r} characters")
    codes = list(map(ord, value))
    if unit == 2 and codes and max(codes) > 0xFFFF:
        raise ValueError(f"{value!r} has characters outside UCS-2")
    codes += [0] * (nchars - len(codes))
    return struct.pack(f"{order}{nchars}{'H' if unit == 2 else 'I'}", *codes)


# Slot kinds of the value tree.
_ID, _CONV, _NEST, _TUPLE, _OBJ = range(5)


class _Plan:
    """How to unpack and pack items of one Format with :mod:`struct`."""
    __slots__ = ("runs", "whole", "top", "mode", "pack_mode", "objects", "array_code",
                 "void")

    def __init__(self, fmt):
        pieces = []                 # (offset, byte order, struct code text)
        self.objects = False
        # an item of padding only reads as its bytes, as numpy reads 'V'
        self.void = fmt.kind == "void"
        slots = self.level(fmt._items, 0, pieces)
        self.top = slots[0] if len(slots) == 1 else (_TUPLE, slots)
        # One struct.Struct per run of equal byte order, 'x' in the gaps.
        runs = []
        pos = 0
        for off, bo, text in pieces:
            if not runs or runs[-1][1] != bo:
                start = off if runs else 0          # the first run covers the head
                runs.append([start, bo, [], start])
            run = runs[-1]
            if off > run[3]:
                run[2].append(f"{off - run[3]}x")
            run[2].append(text)
            run[3] = off + struct.calcsize("<" + text)
            pos = run[3]
        if not runs:
            runs.append([0, "<", [], 0])
        last = runs[-1]
        if fmt.itemsize > pos:
            last[2].append(f"{fmt.itemsize - pos}x")
        self.runs = []
        for off, bo, parts, _ in runs:
            st = struct.Struct(bo + "".join(parts))
            self.runs.append((off, st, len(st.unpack(bytes(st.size)))))
        self.whole = self.runs[0][1] if len(self.runs) == 1 else None
        # Fast modes: the flat struct values are the value ("flat") or its
        # only element ("single"); bytes need no conversion when read.
        self.mode = self.pack_mode = "tree"
        plain = (_ID,)
        if self.objects:
            self.mode = self.pack_mode = "objects"
        elif self.top[0] in (_ID, _CONV) and len(self.top) == 3 and self.top[1] is None:
            self.mode = "single"
        elif self.top[0] == _TUPLE and all(
                s == plain or (s[0] == _CONV and len(s) == 3 and s[1] is None)
                for s in self.top[1]):
            self.mode = "flat"
        self.array_code = None
        if self.top == plain:
            self.mode = self.pack_mode = "single"
            kind = fmt.kind
            if kind in ("int", "uint", "float") and fmt._scalar() is not None:
                for tc in ("bBhHiIlLqQ" if kind != "float" else "fd"):
                    arr = array.array(tc)
                    if arr.itemsize == fmt.itemsize and (kind == "float" or
                                                         (tc.isupper() == (kind == "uint"))):
                        self.array_code = tc
                        break
        elif self.top[0] == _TUPLE and all(s == plain for s in self.top[1]):
            self.pack_mode = "flat"

    def level(self, items, base, pieces):
        """Slots (value readers) of one struct level; fills ``pieces``."""
        slots = []
        for it in items:
            off = base + it.offset
            if it.sub is not None:
                # the struct's pieces once per element; its reader is the same
                elem = (_TUPLE, self.level(it.sub, off, pieces if it.nelem else []))
                for k in range(1, it.nelem):
                    self.level(it.sub, off + k * it.elsize, pieces)
            else:
                elem = self.leaf(it, off, pieces)
            if elem is None:            # padding
                continue
            if it.name is None and not it.shape and (it.sub is not None or it.code not in _STRINGS):
                slots.extend([elem] * it.count)     # struct-style repetition
            else:
                shape = it.shape
                if it.count != 1 and (it.sub is not None or it.code not in _STRINGS):
                    shape = shape + (it.count,)
                slots.append((_NEST, shape, elem) if shape else elem)
        return slots

    def leaf(self, it, off, pieces):
        code, mode, n = it.code, it.mode, it.nelem
        bo = _NATIVE_BO if mode in "@=^" else mode
        size = it.elsize
        if code == "x" and it.name is None and not self.void:
            return None                 # padding
        if code in "spuwx":
            # a named 'x' field is kept, as bytes (numpy's void field)
            if code in "uw":
                text = f"{size}s"
                unit = 2 if code == "u" else 4
                elem = (_CONV, lambda raw, u=unit, o=bo: _decode_units(raw, u, o),
                        lambda v, k=it.count, u=unit, o=bo, c=code: _encode_units(v, k, u, o, c))
            else:
                # struct.unpack("0p") fails inside CPython; "0s" reads the
                # same empty bytes.
                text = f"{size}{code if size and code != 'x' else 's'}"
                elem = (_CONV, None, _check_bytes(code, it.count))
            pieces.append((off, bo, text * n if n > 1 else text))
            return elem
        if code == "O":
            self.objects = True
            pieces.append((off, bo, f"{n * size}x"))
            return (_OBJ,)
        if code in ("g", "Zg"):
            half = size if code == "g" else size // 2
            if half == 8:               # long double is double here
                text = "d" if code == "g" else "dd"
            else:
                text = f"{half}s" if code == "g" else f"{half}s{half}s"
            pieces.append((off, bo, text * n if n > 1 else text))
            if code == "g":
                return (_ID,) if half == 8 else (_CONV, _read_ld, _write_ld)
            if half == 8:
                return (_CONV, _make_complex, _split_complex, 2)
            return (_CONV, _read_ld_complex, _write_ld_complex, 2)
        if code in ("Zf", "Zd"):
            pieces.append((off, bo, f"{2 * n}{code[1]}"))
            return (_CONV, _make_complex, _split_complex, 2)
        if code in _INT + _UINT:
            letter = {1: "b", 2: "h", 4: "i", 8: "q"}[size]
            if code in _UINT:
                letter = letter.upper()
            text = letter
        else:
            text = code                 # ? c e f d: same size in struct's standard mode
        pieces.append((off, bo, f"{n}{text}" if n != 1 else text))
        if code == "c":
            return (_CONV, None, _check_char)
        return (_ID,)


def _read_ld_complex(a, b):
    return complex(_read_ld(a), _read_ld(b))


def _write_ld_complex(v):
    z = _as_complex(v)
    return [_write_ld(z.real), _write_ld(z.imag)]


_first = itemgetter(0)


def _make_complex(a, b):
    return complex(a, b)


def _split_complex(v):
    z = _as_complex(v)
    return [z.real, z.imag]


def _check_char(v):
    if not isinstance(v, bytes):        # as memoryview and struct
        raise TypeError(f"format 'c' needs a bytes object of length 1, not "
                        f"{type(v).__name__}")
    if len(v) != 1:
        raise ValueError(f"format 'c' needs a bytes object of length 1, not {v!r}")
    return v


def _check_bytes(code, count):
    room = count if code in "sx" else max(count - 1, 0)

    def check(v):
        if not isinstance(v, (bytes, bytearray)):
            raise TypeError(f"format {count}{code} needs bytes, not {type(v).__name__}")
        if len(v) > room:
            # struct would cut it silently; losing data is an error here
            raise ValueError(f"{len(v)} bytes do not fit in format '{count}{code}'")
        return v
    return check


def _read(slot, it):
    kind = slot[0]
    if kind == _ID:
        return next(it)
    if kind == _CONV:
        if len(slot) > 3:
            return slot[1](next(it), next(it))
        v = next(it)
        return v if slot[1] is None else slot[1](v)
    if kind == _TUPLE:
        return tuple([_read(s, it) for s in slot[1]])
    if kind == _NEST:
        return _read_nest(slot[1], slot[2], it)
    raise _object_error()


def _read_nest(shape, elem, it):
    if len(shape) == 1:
        return tuple([_read(elem, it) for _ in range(shape[0])])
    return tuple([_read_nest(shape[1:], elem, it) for _ in range(shape[0])])


def _write(slot, value, out):
    kind = slot[0]
    if kind == _ID:
        out.append(value)
    elif kind == _CONV:
        v = slot[2](value)
        if len(slot) > 3:
            out.extend(v)
        else:
            out.append(v)
    elif kind == _TUPLE:
        subs = slot[1]
        _check_seq(value, len(subs), "struct")
        for s, v in zip(subs, value):
            _write(s, v, out)
    elif kind == _NEST:
        _write_nest(slot[1], slot[2], value, out)
    else:
        raise _object_error()


def _write_nest(shape, elem, value, out):
    _check_seq(value, shape[0], "sub-array")
    for v in value:
        if len(shape) == 1:
            _write(elem, v, out)
        else:
            _write_nest(shape[1:], elem, v, out)


def _check_seq(value, n, what):
    if isinstance(value, (str, bytes, bytearray)) or not hasattr(value, "__len__"):
        raise TypeError(f"a {what} value must be a tuple or list of {n} "
                        f"items, not {type(value).__name__}")
    if len(value) != n:
        raise ValueError(f"a {what} value needs {n} items, got {len(value)}")


def _object_error():
    return TypeError("items of format 'O' are raw PyObject pointers: pybuf "
                     "never reads or writes them")


def _struct_error(exc, value, fmt):
    msg = str(exc)
    cls = TypeError if ("required argument is not" in msg or "must be" in msg
                        or "requires a bytes" in msg) else ValueError
    return cls(f"cannot pack {value!r} as format {fmt!r}: {msg}")


# --------------------------------------------------------------------------

class Format:
    """A parsed PEP 3118 format string (immutable, hashable).

    Create one with :func:`parse_format` (or ``Format(fmt)``, the same
    cached object).  Two Formats are equal when their canonical strings
    (``str(fmt)``) are equal.

    Attributes
    ----------
    itemsize : int
        Bytes per item, trailing padding included.
    alignment : int
        Alignment the item needs (1 unless native ``@`` alignment applies).
    kind : str
        ``"bool"``, ``"int"``, ``"uint"``, ``"float"``, ``"complex"``,
        ``"bytes"``, ``"str"``, ``"pointer"``, ``"object"`` for one scalar;
        ``"array"`` for one sub-array (``"(2,3)d"``); ``"struct"`` for
        anything with several values, names or ``T{}``; ``"void"`` for
        padding only.
    code : str or None
        The type code of a scalar or sub-array format (``"Zd"``, ``"s"``).
    shape : tuple of int
        Sub-array shape of an ``"array"`` format, else ``()``.
    fields : tuple of Field
        For ``"struct"`` formats: (name, offset, format, shape) per value,
        in order (a ``T{}`` that is the whole format is looked into).
    prefix : str or None
        The prefix in force for every item (``"@"``, ``"="``, ``"<"``,
        ``">"``, ``"^"``; ``"!"`` reads as ``">"``), None when mixed.
    byteorder : str or None
        ``"<"`` or ``">"`` (native resolved), ``"|"`` when it does not
        matter (1-byte values only), None when mixed.
    has_objects : bool
        Contains ``O`` items, which are never read or written.

    Examples
    --------
    >>> f = parse_format("T{<i:x:d:y:}")
    >>> f.itemsize, [fd.name for fd in f.fields]
    (12, ['x', 'y'])
    >>> f.unpack(f.pack((1, 2.5)))
    (1, 2.5)
    >>> calcsize("di"), str(parse_format("! 2h"))
    (16, '>2h')
    """

    __slots__ = ("_items", "itemsize", "alignment", "_text", "_plan", "_hash",
                 "_info")
    itemsize: int
    alignment: int

    def __new__(cls, fmt):
        return parse_format(fmt)

    @classmethod
    def _make(cls, items, size, align):
        self = object.__new__(cls)
        out = []
        _emit(items, ["@"], out)
        text = "".join(out)
        setattr_ = object.__setattr__
        setattr_(self, "_items", tuple(items))
        setattr_(self, "itemsize", size)
        setattr_(self, "alignment", align)
        setattr_(self, "_text", text)
        setattr_(self, "_hash", hash(("pybuf.Format", text)))
        setattr_(self, "_plan", None)
        setattr_(self, "_info", None)
        return self

    def __setattr__(self, name, value):
        raise AttributeError("Format objects are immutable")

    __delattr__ = __setattr__

    def __reduce__(self):
        return parse_format, (self._text,)

    def __eq__(self, other):
        if not isinstance(other, Format):
            return NotImplemented
        return self._text == other._text

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self):
        return self._hash

    def __str__(self):
        return self._text

    def __repr__(self):
        return f"Format({self._text!r})"

    @property
    def format(self) -> str:
        """The canonical format string (same as ``str(self)``)."""
        return self._text

    # --- description ----------------------------------------------------

    def _describe(self):
        info = self._info
        if info is not None:
            return info
        values = [it for it in self._items
                  if not (it.sub is None and it.code == "x" and it.name is None)
                  and not (it.count == 0 and it.name is None and not it.shape
                           and (it.sub is not None or it.code not in _STRINGS))]
        nvalues = sum(1 if (it.name is not None or it.shape or
                            (it.sub is None and it.code in _STRINGS)) else it.count
                      for it in values)
        leaves = list(_leaves(self._items))
        modes = {it.mode for it in leaves}
        prefix = modes.pop() if len(modes) == 1 else None
        orders = {(_NATIVE_BO if it.mode in "@=^" else it.mode) for it in leaves
                  if it.code not in "?cbBsxp"}
        byteorder = "|" if not orders else (orders.pop() if len(orders) == 1 else None)
        objects = any(it.code == "O" for it in leaves)
        code, shape, fields = None, (), ()
        if nvalues == 0:
            kind = "void"
        elif (nvalues == 1 and values[0].sub is None and values[0].name is None):
            it = values[0]
            code = it.code
            if it.shape or (it.count != 1 and code not in _STRINGS):
                kind = "array"
                shape = it.shape + ((it.count,) if it.count != 1 and code not in _STRINGS else ())
            else:
                kind = _KINDS[code]
        else:
            kind = "struct"
            fields = tuple(self._fields())
        info = (kind, code, shape, fields, prefix, byteorder, objects)
        object.__setattr__(self, "_info", info)
        return info

    def _fields(self):
        items, base = self._items, 0
        values = [it for it in items
                  if not (it.sub is None and it.code == "x" and it.name is None)]
        if (len(values) == 1 and values[0].sub is not None and values[0].name is None
                and not values[0].shape and values[0].count == 1):
            items, base = values[0].sub, values[0].offset      # look into T{}
        for it in items:
            if it.sub is None and it.code == "x" and it.name is None:
                continue
            if it.sub is not None:
                f = Format._make(it.sub, it.elsize, it.sub_align)
            elif it.elsize == 0:        # "0s": a value, but no valid format alone
                leaf = _Item()
                for slot in _Item.__slots__:
                    setattr(leaf, slot, getattr(it, slot, None))
                leaf.offset, leaf.name, leaf.shape, leaf.nelem = 0, None, (), 1
                f = Format._make([leaf], 0, 1)
            else:
                prefix = "" if it.mode == "@" else it.mode
                count = str(it.count) if it.code in _STRINGS and it.count != 1 else ""
                f = parse_format(prefix + count + it.code)
            if it.name is None and not it.shape and (it.sub is not None or it.code not in _STRINGS):
                for k in range(it.count):
                    yield Field(None, base + it.offset + k * it.elsize, f, ())
            else:
                shape = it.shape
                if it.count != 1 and (it.sub is not None or it.code not in _STRINGS):
                    shape = shape + (it.count,)
                yield Field(it.name, base + it.offset, f, shape)

    kind = property(lambda self: self._describe()[0], doc="Item kind (see class docstring).")
    code = property(lambda self: self._describe()[1], doc="Type code of a scalar or sub-array format.")
    shape = property(lambda self: self._describe()[2], doc="Sub-array shape of an 'array' format.")
    fields = property(lambda self: self._describe()[3], doc="Fields of a 'struct' format.")
    prefix = property(lambda self: self._describe()[4], doc="Prefix in force for every item, or None.")
    byteorder = property(lambda self: self._describe()[5], doc="'<', '>', '|' or None (mixed).")
    has_objects = property(lambda self: self._describe()[6], doc="Contains 'O' items.")

    # --- values -----------------------------------------------------------

    def _get_plan(self):
        plan = self._plan
        if plan is None:
            plan = _Plan(self)
            object.__setattr__(self, "_plan", plan)
        return plan

    def unpack(self, data: Exporter) -> Any:
        """One item from exactly ``itemsize`` bytes (any bytes-like object).

        Returns a scalar for a one-value format, else a tuple (nested for
        ``T{}`` and sub-arrays).

        Raises
        ------
        ValueError
            ``data`` is not ``itemsize`` bytes long.
        TypeError
            The format has ``O`` items (raw object pointers).
        """
        plan = self._get_plan()
        if plan.whole is not None:
            try:
                flat = plan.whole.unpack(data)
            except struct.error as exc:
                raise ValueError(f"cannot unpack format {self._text!r}: {exc}") from None
        else:
            mv = memoryview(data).cast("B")
            if len(mv) != self.itemsize:
                raise ValueError(f"cannot unpack format {self._text!r}: needs "
                                 f"{self.itemsize} bytes, got {len(mv)}")
            flat = ()
            for off, st, _ in plan.runs:
                flat += st.unpack_from(mv, off)
        mode = plan.mode
        if mode == "flat":
            return flat
        if mode == "single":
            return flat[0]
        if mode == "objects":
            raise _object_error()
        return _read(plan.top, iter(flat))

    def unpack_from(self, buffer: Exporter, offset: int = 0) -> Any:
        """One item read from ``buffer`` at byte ``offset`` (no copy)."""
        mv = memoryview(buffer).cast("B")
        if offset < 0 or offset + self.itemsize > len(mv):
            raise ValueError(f"format {self._text!r} needs {self.itemsize} bytes at "
                             f"offset {offset}; the buffer has {len(mv)}")
        return self.unpack(mv[offset:offset + self.itemsize])

    def iter_unpack(self, buffer: Exporter) -> Iterator[Any]:
        """Iterator over the items of a bytes-like object of a multiple of
        ``itemsize`` bytes, like :func:`struct.iter_unpack` (one
        ``struct`` call per item where the format allows)."""
        plan = self._get_plan()
        if plan.mode == "objects":
            raise _object_error()
        mv = memoryview(buffer).cast("B")
        if len(mv) % self.itemsize:
            raise ValueError(f"buffer of {len(mv)} bytes is not a multiple of "
                             f"itemsize {self.itemsize}")
        if plan.whole is not None:
            if plan.array_code is not None:
                # a numeric scalar: array.array converts in C
                arr = array.array(plan.array_code)
                arr.frombytes(mv)
                if self.byteorder != _NATIVE_BO:
                    arr.byteswap()
                return iter(arr.tolist())
            it = plan.whole.iter_unpack(mv)
            if plan.mode == "flat":
                return it
            if plan.mode == "single":
                return map(_first, it)
            top = plan.top
            return (_read(top, iter(t)) for t in it)
        n = self.itemsize
        return (self.unpack(mv[i:i + n]) for i in range(0, len(mv), n))

    def pack(self, value: Any) -> bytes:
        """``value`` as ``itemsize`` bytes (padding bytes are zero).

        Raises
        ------
        TypeError
            A value of the wrong type, or the format has ``O`` items.
        ValueError
            A value out of range, too long, or of the wrong length.
        """
        plan = self._get_plan()
        mode = plan.pack_mode
        if mode == "objects":
            raise _object_error()
        if mode == "single":
            flat = [value]
        elif mode == "flat":
            _check_seq(value, len(plan.top[1]), "struct")
            flat = value
        else:
            flat = []
            _write(plan.top, value, flat)
        try:
            if plan.whole is not None:
                return plan.whole.pack(*flat)
            out = bytearray(self.itemsize)
            k = 0
            for off, st, n in plan.runs:
                st.pack_into(out, off, *flat[k:k + n])
                k += n
            return bytes(out)
        except struct.error as exc:
            raise _struct_error(exc, value, self._text) from None
        except OverflowError as exc:
            raise ValueError(f"cannot pack {value!r} as format {self._text!r}: "
                             f"{exc}") from None

    def _scalar(self):
        """The one leaf item when the format is exactly one scalar (no
        padding, count, shape or name), else None."""
        items = self._items
        if (len(items) != 1 or items[0].sub is not None or items[0].count != 1
                or items[0].shape or items[0].name is not None
                or items[0].elsize != self.itemsize):
            return None
        return items[0]

    def _native_alias(self):
        """The single native code (as memoryview reads it) whose items are
        exactly this format's, e.g. ``"i"`` for ``"<i"`` on a
        little-endian machine; None when there is none."""
        kind, code = self.kind, self.code
        if self._scalar() is None:
            return None
        if kind in ("bool", "bytes") and code in "?c" and self.itemsize == 1:
            return code
        if kind not in ("int", "uint", "float", "pointer") or code in ("e", "g"):
            return None
        if self.byteorder not in ("|", _NATIVE_BO):
            return None
        if kind == "pointer":
            return "P" if self.prefix in "@^" else None
        letters = "fd" if kind == "float" else ("bhiq" if kind == "int" else "BHIQ")
        for letter in letters:
            if _native(letter)[0] == self.itemsize:
                return letter
        return None

    @classmethod
    def _reading(cls, fmt, itemsize):
        """The Format of another exporter's items: ``fmt`` read so that an
        item is ``itemsize`` bytes, or None when no reading gives that.

        PEP 3118 makes the exporter's itemsize authoritative, and exporters
        disagree about layout.  The readings tried, in order:

        1. numpy's and C's (this module's): the format as parsed;
        2. struct's and memoryview's: no padding at the end of the whole
           format (``"di"`` is 12 bytes); then none at the end of any
           ``T{}`` either (numpy exports a nested aligned struct so);
        3. ctypes': ``<`` and ``>`` items with native sizes and alignment
           (ctypes exports ``struct {short a; double b;}`` as
           ``"T{<h:a:<d:b:}"`` with itemsize 16, ``b`` at offset 8);
        4. padding at the end up to ``itemsize`` for a struct (ctypes and
           numpy leave out padding the dtype or structure has there).

        A reading other than the first comes back spelled out (standard
        sizes, explicit ``x`` padding), so that its canonical string reads
        the same in pybuf, numpy and struct.
        """
        f = parse_format(fmt)
        if f.itemsize == itemsize:
            return f
        text = f._text
        for aligned, trailing in ((False, "inner"), (False, "none"), (True, "all")):
            try:
                items, size, _ = _Parser(text, aligned, trailing).items(0, 0)
            except (ValueError, NotImplementedError):
                continue
            if size == itemsize:
                return _spelled_out(items, size)
        if f.itemsize < itemsize and f.kind == "struct":
            return _spelled_out(f._items, itemsize)
        return None

    def _storage_key(self):
        """What the bytes of an item mean, as a hashable key: the offset,
        storage code and count of every value, struct nesting, names and
        padding aside.  Formats whose items are stored alike have the same
        key (``"ii"`` and ``"i i"``, ctypes' ``"T{<h:a:<d:b:}"`` and
        numpy's ``"T{h:a:xxxxxxd:b:}"``)."""
        out = []
        for off, it in _walk(self._items):
            code = it.code
            if code == "x" and it.name is None and self.kind != "void":
                continue
            if code in "?cbBspx":
                code, order = ("s" if code in "cx" else code), "|"
            else:
                order = _NATIVE_BO if it.mode in "@=^" else it.mode
                if code in _INT + _UINT:
                    letter = {1: "b", 2: "h", 4: "i", 8: "q"}[it.elsize]
                    code = letter.upper() if it.code in _UINT else letter
            size = it.elsize * (it.nelem if code in _STRINGS else 1)
            count = 1 if code in _STRINGS else it.nelem
            out.append((off, order, code, size, count))
        return tuple(sorted(out))

    def _swap_units(self):
        """(offset, unit, count) runs of the bytes numpy's byteswap reverses
        in an item: each number by itself, a complex by halves, a str by
        characters; bytes, bools, pointers to objects and padding stay."""
        out = []
        for off, it in _walk(self._items):
            code = it.code
            if code in "?cbBspxO":
                continue
            if code in "uw":
                unit = 2 if code == "u" else 4
                count = it.elsize // unit * it.nelem
            elif code[0] == "Z":
                unit, count = it.elsize // 2, 2 * it.nelem
            else:
                unit, count = it.elsize, it.nelem
            out.append((off, unit, count))
        return sorted(out)

    def _padding(self):
        """Offsets of the bytes of an item that hold no value (alignment
        gaps, unnamed ``x``, padding at the end), in order.  An item of
        padding only is its bytes (numpy's ``V``): no padding."""
        if self.kind == "void":
            return ()
        used = bytearray(self.itemsize)
        for off, it in _walk(self._items):
            if not (it.code == "x" and it.name is None):
                used[off:off + it.size()] = b"\1" * it.size()
        return tuple(i for i, u in enumerate(used) if not u)

    # --- numpy --------------------------------------------------------------

    def to_dtype(self) -> Any:
        """The numpy dtype numpy gives a buffer of this format.

        Follows numpy's own reading of PEP 3118 (unnamed fields are
        ``f0, f1, ...``; a repeat count is a sub-array), so that
        ``np.asarray(pybuf.empty(n, fmt)).dtype == fmt.to_dtype()``
        (numpy expands a sub-array dtype into extra dimensions).  Codes
        numpy does not read map to the nearest dtype (``n``/``N``/``P`` to
        ``intp``/``uintp``).

        Raises
        ------
        ValueError
            The format has a code numpy has no dtype for (``p``, ``u``).
        ImportError
            numpy is not installed.
        """
        import numpy as np
        state = ["@"]
        dt, _ = _np_struct(np, self._items, False, state)
        return dt

    @classmethod
    def from_dtype(cls, dtype: Any) -> Format:
        """The Format of a numpy dtype, with its offsets, padding, byte
        order and sub-arrays (``from_dtype(d).to_dtype() == d`` for the
        dtypes numpy can export).

        Raises
        ------
        ValueError
            The dtype has no PEP 3118 form (datetimes, overlapping fields,
            field names with ':').
        """
        import numpy as np
        return parse_format(_dtype_text(np, np.dtype(dtype)))


_KINDS = {"?": "bool", "c": "bytes", "s": "bytes", "p": "bytes", "x": "bytes", "e": "float",
          "f": "float", "d": "float", "g": "float", "Zf": "complex",
          "Zd": "complex", "Zg": "complex", "u": "str", "w": "str",
          "P": "pointer", "O": "object"}
_KINDS.update({c: "int" for c in _INT})
_KINDS.update({c: "uint" for c in "BHILQN"})

# numpy's PEP 3118 tables (numpy/_core/_internal.py), what numpy makes of
# each code under a native (@ ^) or standard (= < > !) prefix.
_NP_NATIVE = {"?": "?", "c": "S1", "b": "b", "B": "B", "h": "h", "H": "H",
              "i": "i", "I": "I", "l": "l", "L": "L", "q": "q", "Q": "Q",
              "e": "e", "f": "f", "d": "d", "g": "g", "Zf": "F", "Zd": "D",
              "Zg": "G", "s": "S", "w": "U", "O": "O", "x": "V",
              # not read by numpy; nearest equivalents
              "n": "intp", "N": "uintp", "P": "uintp"}
_NP_STANDARD = {"?": "?", "c": "S1", "b": "b", "B": "B", "h": "i2", "H": "u2",
                "i": "i4", "I": "u4", "l": "i4", "L": "u4", "q": "i8", "Q": "u8",
                "e": "f2", "f": "f", "d": "d", "Zf": "F", "Zd": "D", "s": "S",
                "w": "U", "O": "O", "x": "V"}


def _np_struct(np, items, is_sub, state):
    """numpy's layout algorithm over parsed items; returns (dtype, align)."""
    names, formats, offsets = [], [], []
    offset = 0
    common = 1
    for it in items:
        count = it.count
        if it.sub is not None:
            value, align = _np_struct(np, it.sub, True, state)
        else:
            state[0] = it.mode
            table = _NP_NATIVE if it.mode in "@^" else _NP_STANDARD
            char = table.get(it.code)
            if char is None:
                raise ValueError(f"format code {it.code!r} has no numpy dtype")
            if char in "SUV":
                char += str(count)
                count = 1
            bo = "=" if it.mode in "@^" else it.mode
            if char in ("intp", "uintp"):
                value = np.dtype(getattr(np, char)).newbyteorder(bo)
            else:
                value = np.dtype(bo + char)
            align = value.alignment
        if state[0] == "@":
            offset += -offset % align
            common = common * align // math.gcd(common, align)
        if count != 1:
            value = np.dtype((value, (count,)))
        if it.shape:
            value = np.dtype((value, it.shape))
        if not (it.sub is None and it.code == "x" and it.name is None):
            names.append(it.name)
            formats.append(value)
            offsets.append(offset)
        offset += value.itemsize
    itemsize = offset
    if state[0] == "@":
        itemsize += -offset % common
    if (names == [None] and offsets[0] == 0 and itemsize == formats[0].itemsize
            and not is_sub):
        return formats[0], common
    for i, name in enumerate(names):
        if name is None:
            j = 0
            while f"f{j}" in names:
                j += 1
            names[i] = f"f{j}"
    return np.dtype({"names": names, "formats": formats, "offsets": offsets,
                     "itemsize": itemsize}), common


def _dtype_text(np, dt):
    """A format string for numpy dtype ``dt``: standard sizes and explicit
    'x' padding, so that offsets come out exactly."""
    if dt.subdtype is not None:
        base, shape = dt.subdtype
        return "(" + ",".join(map(str, shape)) + ")" + _dtype_text(np, base)
    if dt.names is not None:
        parts = ["T{"]
        pos = 0
        for name, (sub, off) in sorted(((n, dt.fields[n][:2]) for n in dt.names),
                                       key=lambda f: f[1][1]):
            if not isinstance(name, str) or ":" in name or not name.isascii() \
                    or not name.isprintable() or not name:
                raise ValueError(f"field name {name!r} cannot appear in a "
                                 f"PEP 3118 format (empty, not printable "
                                 f"ASCII, or has a ':')")
            if off < pos:
                raise ValueError(f"dtype {dt} has overlapping fields")
            if off > pos:
                parts.append(f"{off - pos}x")
            parts.append(_dtype_text(np, sub) + f":{name}:")
            pos = off + sub.itemsize
        if dt.itemsize > pos:
            parts.append(f"{dt.itemsize - pos}x")
        parts.append("}")
        return "".join(parts)
    bo = dt.byteorder
    prefix = {"=": "=", "|": "=", "<": "<", ">": ">"}[bo]
    if bo == _NATIVE_BO:
        prefix = "="
    kind, size = dt.kind, dt.itemsize
    if kind == "b":
        return "=?"
    if kind in "iu":
        code = {1: "b", 2: "h", 4: "i", 8: "q"}.get(size)
        if code is None:
            raise ValueError(f"dtype {dt} has no PEP 3118 format")
        return prefix + (code.upper() if kind == "u" else code)
    if kind == "f":
        if size == _native("g")[0] and dt == np.dtype(np.longdouble).newbyteorder(bo):
            return ("^" if prefix == "=" else prefix) + "g"
        code = {2: "e", 4: "f", 8: "d"}.get(size)
    elif kind == "c":
        if size == _native("Zg")[0] and dt == np.dtype(np.clongdouble).newbyteorder(bo):
            return ("^" if prefix == "=" else prefix) + "Zg"
        code = {8: "Zf", 16: "Zd"}.get(size)
    elif kind == "S":
        return f"={size}s"
    elif kind == "U":
        return f"{prefix}{size // 4}w"
    elif kind == "V":
        return f"{size}x"
    elif kind == "O":
        return "=O"
    else:
        code = None
    if code is None:
        raise ValueError(f"dtype {dt} has no PEP 3118 format")
    return prefix + code


# --------------------------------------------------------------------------

_CACHE = {}
_CACHE_MAX = 4096


def parse_format(fmt: str) -> Format:
    """Parse a PEP 3118 format string into a :class:`Format` (cached).

    Parameters
    ----------
    fmt : str
        The format (``bytes`` are read as ASCII).

    Returns
    -------
    Format
        The same object for the same string, while it stays cached.

    Raises
    ------
    TypeError
        ``fmt`` is not a str.
    ValueError
        The string is not a valid format; the message says what is wrong
        and at which position.
    NotImplementedError
        ``t``, ``&`` or ``X{}`` codes, which have no portable meaning.

    Examples
    --------
    >>> parse_format("(2,3)<h").itemsize
    12
    """
    if type(fmt) is str:
        hit = _CACHE.get(fmt)
        if hit is not None:
            return hit
    text = fmt
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("latin-1")
    if not isinstance(text, str):
        raise TypeError(f"format must be a str, not {type(fmt).__name__}")
    for i, ch in enumerate(text):
        if not (" " <= ch <= "~" or ch in "\t\n\r\f\v"):
            raise ValueError(f"invalid format {text!r}: character {ch!r} at "
                             f"position {i} is not printable ASCII")
    p = _Parser(text)
    items, size, align = p.items(0, 0)
    if not items:
        raise ValueError(f"invalid format {text!r}: empty format (no item at "
                         f"position 0)")
    if size == 0:
        raise ValueError(f"invalid format {text!r}: items of 0 bytes (from "
                         f"position 0)")
    result = Format._make(items, size, align)
    if type(fmt) is str and len(_CACHE) < _CACHE_MAX:
        _CACHE[fmt] = result
    return result


def calcsize(fmt: str) -> int:
    """Itemsize in bytes of format string ``fmt`` (see :func:`parse_format`).

    Unlike :func:`struct.calcsize`, a format under native alignment ``@``
    includes its trailing padding, as C's ``sizeof`` does.
    """
    return parse_format(fmt).itemsize
