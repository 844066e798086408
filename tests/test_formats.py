"""The format engine (pybuf.formats) and Buffer items of every format.

Oracles: the struct module (sizes, offsets, packing) and numpy (its own
PEP 3118 reader and exporter), over format corpora that hypothesis
generates; random strings and mutations for the error paths.
"""
import ctypes
import math
import os
import pickle
import random
import struct
import sys

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import pybuf
from pybuf import Format, calcsize, parse_format

# Fixed examples by default (seeded, repeatable); PYBUF_FORMAT_EXAMPLES=5000
# explores further with fresh random examples.
_EXAMPLES = int(os.environ.get("PYBUF_FORMAT_EXAMPLES", "0")) or None
SETTINGS = settings(max_examples=_EXAMPLES or 300, deadline=None,
                    derandomize=_EXAMPLES is None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.filter_too_much])
NATIVE_BO = "<" if sys.byteorder == "little" else ">"


def _np():
    return pytest.importorskip("numpy", reason="needs numpy: pip install numpy")


def _np_reader(np):
    """numpy's own PEP 3118 reader (private; the test skips without it)."""
    for mod in ("numpy._core._internal", "numpy.core._internal"):
        try:
            return __import__(mod, fromlist=["_dtype_from_pep3118"])._dtype_from_pep3118
        except (ImportError, AttributeError):
            continue
    pytest.skip("numpy's _dtype_from_pep3118 is not available")


def same(a, b):
    """Equal values, NaN equal to NaN and -0.0 unequal to 0.0."""
    return repr(a) == repr(b)


# --------------------------------------------------------------------------
# corpora

STRUCT_NATIVE = "?cbBhHiIlLqQnNefdPspx"
STRUCT_STANDARD = "?cbBhHiIlLqQefdspx"


@st.composite
def struct_formats(draw):
    """Formats the struct module reads: one leading prefix, counts, spaces."""
    prefix = draw(st.sampled_from(["", "@", "=", "<", ">", "!"]))
    codes = STRUCT_NATIVE if prefix in ("", "@") else STRUCT_STANDARD
    parts = []
    for _ in range(draw(st.integers(1, 8))):
        count = draw(st.sampled_from(["", "", "", "0", "1", "2", "3", "7", "12"]))
        sep = draw(st.sampled_from(["", "", "", " "]))
        code = draw(st.sampled_from(codes))
        if code == "p" and count == "0":
            count = ""              # struct.unpack("0p") is a CPython bug
        parts.append(sep + count + code)
    fmt = prefix + "".join(parts)
    assume(struct.calcsize(fmt) > 0)
    return fmt


NP_CODES = list("?cbBhHiIlLqQefdswOx") + ["Zf", "Zd"]
NP_NATIVE_ONLY = ["g", "Zg"]
NAMES = ["a", "b", "x", "y", "f0", "f1", "long_name", "with space", "br{ce}"]


@st.composite
def pep_items(draw, state, depth, codes):
    items = []
    used = set()
    for _ in range(draw(st.integers(1, 4))):
        text = draw(st.sampled_from(["", "", "", "", "(2)", "(1)", "(2,3)", "(3,1,2)"]))
        prefix = draw(st.sampled_from(["", "", "", "@", "=", "<", ">", "!", "^"]))
        if prefix:
            state[0] = ">" if prefix == "!" else prefix
        text += prefix + draw(st.sampled_from(["", "", "", "1", "2", "3"]))
        if depth < 3 and draw(st.integers(0, 4)) == 0:
            text += "T{" + draw(pep_items(state, depth + 1, codes)) + "}"
        else:
            pool = codes + (NP_NATIVE_ONLY if state[0] in "@^" else [])
            text += draw(st.sampled_from(pool))
        name = draw(st.sampled_from([None, None] + NAMES))
        if name is not None and name not in used:
            used.add(name)
            text += f":{name}:"
        items.append(text)
    return "".join(items)


@st.composite
def pep_formats(draw, codes=NP_CODES):
    """Nested formats with names, sub-arrays, prefixes (numpy's grammar)."""
    return draw(pep_items(["@"], 0, codes))


ALPHABET = "@=<>!^(),:{}T?cbBhHiIlLqQnNefdgspPOxuwZtX&0123456789 \t"


def mutate(text, edits):
    chars = list(text)
    for where, op, ch in edits:
        i = where % (len(chars) + 1)
        if op == "del" and chars:
            del chars[min(i, len(chars) - 1)]
        elif op == "ins":
            chars.insert(i, ch)
        elif chars:
            chars[min(i, len(chars) - 1)] = ch
    return "".join(chars)


edits = st.lists(st.tuples(st.integers(0, 200), st.sampled_from(["del", "ins", "rep"]),
                           st.sampled_from(ALPHABET)), min_size=1, max_size=4)


# --------------------------------------------------------------------------
# struct as the oracle

def _struct_alignment(fmt):
    """Largest native alignment of the items of a struct-module format."""
    body = fmt.lstrip("@")
    align = 1
    for ch in body:
        if ch.isalpha() or ch == "?":
            align = max(align, struct.calcsize("@c" + ch) - struct.calcsize("@" + ch))
    return align


@SETTINGS
@given(struct_formats(), st.randoms(use_true_random=False))
def test_struct_differential(fmt, rnd):
    f = parse_format(fmt)
    size = struct.calcsize(fmt)
    if fmt[:1] in "=<>!":
        assert f.itemsize == size
    else:
        # struct omits the trailing padding a C struct (and numpy) has:
        # pad with a zero-count item of the largest alignment.
        align = _struct_alignment(fmt)
        code = {1: "b", 2: "h", 4: "i", 8: "q"}[align]
        assert f.itemsize == struct.calcsize(fmt + "0" + code)
        assert f.alignment == align
    assert calcsize(fmt) == f.itemsize
    raw = bytes(rnd.getrandbits(8) for _ in range(f.itemsize))
    theirs = struct.unpack(fmt, raw[:size])
    mine = f.unpack(raw)
    assert same(mine, theirs[0] if len(theirs) == 1 else theirs)
    assert f.pack(mine) == struct.pack(fmt, *theirs) + bytes(f.itemsize - size)
    assert same(f.unpack_from(b"12" + raw, 2), mine)
    assert [repr(v) for v in f.iter_unpack(raw * 3)] == [repr(mine)] * 3


@SETTINGS
@given(struct_formats())
def test_struct_formats_round_trip(fmt):
    f = parse_format(fmt)
    g = parse_format(str(f))
    assert g == f and hash(g) == hash(f) and str(g) == str(f)
    assert (g.itemsize, g.alignment, g.fields) == (f.itemsize, f.alignment, f.fields)


# --------------------------------------------------------------------------
# numpy as the oracle

@SETTINGS
@given(pep_formats(), st.sampled_from([(), 3, (2, 3)]))
def test_numpy_differential(fmt, shape):
    np = _np()
    reader = _np_reader(np)
    f = parse_format(fmt)
    try:
        expected = reader(fmt)
    except (ValueError, NotImplementedError, RuntimeError, TypeError):
        return                       # numpy does not read it: nothing to agree on
    assert f.itemsize == expected.itemsize
    assert f.to_dtype() == expected
    if f.has_objects:
        return                       # numpy would read raw pointers as objects
    arr = np.asarray(pybuf.empty(shape, fmt))
    ref = np.empty(shape, f.to_dtype())
    assert arr.dtype == ref.dtype and arr.shape == ref.shape


@SETTINGS
@given(pep_formats(), st.sampled_from(["", " ", "  "]))
def test_generated_round_trip(fmt, ws):
    f = parse_format(fmt)
    spaced = ws.join(_split_items(fmt)) if ws else fmt
    assert parse_format(spaced) == f
    g = parse_format(str(f))
    assert g == f and str(g) == str(f)
    assert (g.itemsize, g.alignment, g.kind, g.fields) == (f.itemsize, f.alignment,
                                                         f.kind, f.fields)
    if not f.has_objects and f.itemsize <= 4096:
        zero = f.unpack(bytes(f.itemsize))
        assert f.pack(zero) == bytes(f.itemsize)
        assert same(g.unpack(f.pack(zero)), zero)


def _split_items(fmt):
    """Cut a generated format between top-level items (for whitespace)."""
    out, depth, cur = [], 0, ""
    i = 0
    while i < len(fmt):
        ch = fmt[i]
        cur += ch
        if ch == ":" :
            end = fmt.index(":", i + 1)
            cur += fmt[i + 1:end + 1]
            i = end + 1
            if depth == 0:
                out.append(cur)
                cur = ""
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        i += 1
    out.append(cur)
    return [p for p in out if p]


def _leaves(value, out):
    """Scalars of a value in memory order (tuples and lists flattened)."""
    if getattr(value, "ndim", 0):            # numpy leaves some sub-arrays as arrays
        value = value.tolist()
    if isinstance(value, (tuple, list)):
        for v in value:
            _leaves(v, out)
    elif isinstance(value, bytes):
        out.append(value.rstrip(b"\0"))       # numpy strips 'S' padding
    elif isinstance(value, (str, bool, int)):
        out.append(value)
    elif isinstance(value, complex) or type(value).__name__.startswith("clong") \
            or type(value).__name__.startswith("complex"):
        out.append(complex(value))
    else:
        out.append(float(value))
    return out


@settings(SETTINGS, max_examples=_EXAMPLES or 200)
@given(pep_formats([c for c in NP_CODES if c not in "xO"]), st.integers(0, 2**32))
def test_numpy_reads_the_same_values(fmt, seed):
    np = _np()
    reader = _np_reader(np)
    f = parse_format(fmt)
    try:
        dt = reader(fmt)
    except (ValueError, NotImplementedError, RuntimeError, TypeError):
        return
    raw = bytearray(random.Random(seed).randbytes(f.itemsize * 2))
    if "w" in fmt:
        raw = bytearray(len(raw))       # random UCS-4 is mostly no characters
    b = pybuf.asbuffer(raw).cast(fmt)
    a = np.frombuffer(bytes(raw), dtype=dt)
    with np.errstate(all="ignore"):
        theirs = _leaves(a.tolist(), [])
    assert [repr(v) for v in _leaves(b.tolist(), [])] == [repr(v) for v in theirs]
    # and what pybuf writes, numpy reads back the same
    value = b[0]
    b[1] = value
    assert bytes(raw[f.itemsize:]) == f.pack(value)


NUMPY_DTYPES = [
    "?", "b", "B", "<h", ">h", "<H", ">H", "<i", ">i", "<I", ">I", "<q", ">q",
    "<Q", ">Q", "l", "L", "<e", ">e", "<f", ">f", "<d", ">d", "<F", ">F", "<D",
    ">D", "g", "G", "S1", "S7", "<U3", ">U2", "V4",
    [("a", "<i4"), ("b", ">f8")],
    {"names": ["a", "b"], "formats": ["u1", "<f8"], "offsets": [0, 8], "itemsize": 16},
    {"names": ["a", "b"], "formats": ["u1", "<f8"], "offsets": [4, 8], "itemsize": 24},
    [("x", [("p", "<i2"), ("q", ">i8")]), ("y", "S3"), ("z", "<c16", (2,))],
    [("m", "<f4", (2, 3)), ("n", "?")],
    ("<i4", (2, 3)),
    [("s", [("t", "u1", (3,)), ("u", ">u2")], (2,))],
]


@pytest.mark.parametrize("spec", NUMPY_DTYPES, ids=str)
@pytest.mark.parametrize("aligned", [False, True])
def test_numpy_copy_round_trip(spec, aligned):
    np = _np()
    dt = np.dtype(spec, align=aligned) if isinstance(spec, list) else np.dtype(spec)
    rng = random.Random(7)
    raw = bytes(rng.getrandbits(8) for _ in range(dt.itemsize * 6))
    a = np.ndarray((2, 3), dtype=dt, buffer=bytearray(raw))   # sub-arrays expand
    try:
        m = memoryview(a)
    except (ValueError, BufferError):
        pytest.skip(f"numpy does not export {dt}")
    f = parse_format(m.format)
    assert f.itemsize <= m.itemsize      # numpy may leave trailing padding out
    c = pybuf.copy(a)
    back = np.asarray(c)
    if a.dtype.kind == "V" and a.dtype.names is None:
        # numpy exports raw void as "Nx" and reads that back as an empty
        # struct: it does not round-trip through numpy alone either
        assert back.dtype == np.asarray(m).dtype
    else:
        assert back.dtype == a.dtype
    assert back.shape == a.shape
    assert back.tobytes() == a.tobytes()
    if f.itemsize == m.itemsize:
        assert f.to_dtype() == np.asarray(m).dtype
    g = Format.from_dtype(a.dtype)
    assert g.itemsize == a.dtype.itemsize
    if a.dtype.kind != "V" or a.dtype.names is not None:
        assert g.to_dtype() == a.dtype
    # the items, read by pybuf, are the items numpy has
    if a.dtype.char in "gG":
        with np.errstate(all="ignore"):
            ref = a.astype(complex if a.dtype.kind == "c" else float)
        assert same(c.tolist(), ref.tolist())
    elif a.dtype.names is None and a.dtype.kind not in "VU":
        assert same(c.tolist(), a.tolist())
    elif a.dtype.names is not None:
        for i in range(2):
            for j in range(3):
                assert same(c[i, j], g.unpack(a[i, j].tobytes()))


def test_numpy_struct_items_match():
    np = _np()
    a = np.zeros(4, dtype=[("a", "<i4"), ("b", ">f8"), ("c", "S3")])
    a["a"] = [1, -2, 3, -4]
    a["b"] = [0.5, 1.5, -2.5, 1e300]
    a["c"] = [b"x", b"yz", b"abc", b""]
    b = pybuf.asbuffer(a)
    # numpy strips the NULs that pad an 'S' value; pybuf keeps them, as struct
    ref = [(x, y, z.ljust(3, b"\0")) for x, y, z in a.tolist()]
    assert b.tolist() == ref
    assert b[::-2].tolist() == ref[::-2]
    w = pybuf.asbuffer(a, writable=True)
    w[1] = (7, 8.0, b"q")
    assert tuple(a[1].tolist()) == (7, 8.0, b"q")


def test_from_dtype_errors():
    np = _np()
    with pytest.raises(ValueError, match="':'"):
        Format.from_dtype([("a:b", "i4")])
    with pytest.raises(ValueError, match="overlapping"):
        Format.from_dtype({"names": ["a", "b"], "formats": ["<i4", "<i4"],
                           "offsets": [0, 2], "itemsize": 8})
    with pytest.raises(ValueError):
        Format.from_dtype("M8[s]")


# --------------------------------------------------------------------------
# bad input

@SETTINGS
@given(st.one_of(st.text(alphabet=ALPHABET, max_size=30), st.text(max_size=12)))
def test_random_strings(text):
    _parse_or_fail_cleanly(text)


@SETTINGS
@given(st.one_of(pep_formats(), struct_formats()), edits)
def test_mutations(fmt, ed):
    _parse_or_fail_cleanly(mutate(fmt, ed))


def _parse_or_fail_cleanly(text):
    try:
        f = parse_format(text)
    except ValueError as exc:
        assert "position" in str(exc)
        return
    except NotImplementedError as exc:
        assert any(repr(c) in str(exc) for c in "t&X")
        return
    g = parse_format(str(f))
    assert g == f and str(g) == str(f) and g.itemsize == f.itemsize
    if f.itemsize <= 4096 and not f.has_objects:
        assert f.pack(f.unpack(bytes(f.itemsize))) == bytes(f.itemsize)


BAD = [
    ("", "empty"),
    ("   ", "empty"),
    ("T{}", "empty struct"),
    ("T{i", "not closed"),
    ("iT{i:a:", "not closed"),
    ("i}", "unbalanced '}'"),
    ("(2,3", "not closed"),
    ("(2,3)", "missing type code"),
    ("(0)i", "positive"),
    ("(2,-1)i", "dimension"),
    ("(,)i", "dimension"),
    ("(2,)i", "dimension"),
    ("99999999999999999999i", "too large"),
    ("(4294967296,4294967296)d", "does not fit"),
    ("9223372036854775807d", "does not fit"),
    ("T{4611686018427387904d}", "does not fit"),
    ("i:a", "not closed"),
    ("T{i:a:b:}", "not closed"),        # a name cannot hold a ':'
    ("(-1)i", "dimension"),
    ("i::", "empty field name"),
    ("T{i:a:d:a:}", "duplicate"),
    ("Zq", "'Z'"),
    ("i<", "missing type code"),
    ("<>i", "two byte-order"),
    ("k", "unknown type code 'k'"),
    ("2 i", "unexpected ' '"),
    ("T i", "'T' must be followed"),
    ("<n", "no standard size"),
    ("=g", "no standard size"),
    (">Zg", "no standard size"),
    ("!P", "no standard size"),
    ("0i", "0 bytes"),
    ("i\u00e9", "not printable ASCII"),
    ("i\0", "not printable ASCII"),
    ("T{" * 70 + "i" + "}" * 70, "nested"),
]


@pytest.mark.parametrize("fmt, what", BAD)
def test_bad_formats(fmt, what):
    with pytest.raises(ValueError, match="position") as info:
        parse_format(fmt)
    assert what in str(info.value)
    with pytest.raises(ValueError):
        pybuf.empty(1, fmt)


@pytest.mark.parametrize("fmt, code", [("t", "t"), ("3t", "t"), ("i&d", "&"),
                                       ("X{}", "X"), ("T{i:a:X{}:f:}", "X")])
def test_not_portable_codes(fmt, code):
    with pytest.raises(NotImplementedError, match=repr(code)):
        parse_format(fmt)


@pytest.mark.parametrize("obj", [None, 1, 1.5, ["i"], object()])
def test_not_a_string(obj):
    with pytest.raises(TypeError):
        parse_format(obj)


# --------------------------------------------------------------------------
# the Format object

def test_format_object():
    f = parse_format("T{<i:x:d:y:}")
    assert parse_format("T{<i:x:d:y:}") is f and Format("T{<i:x:d:y:}") is f
    assert f.itemsize == 12 and f.alignment == 1 and f.kind == "struct"
    assert [(fd.name, fd.offset, str(fd.format), fd.shape) for fd in f.fields] == \
        [("x", 0, "<i", ()), ("y", 4, "<d", ())]
    assert f.byteorder == "<" and f.prefix == "<"
    assert pickle.loads(pickle.dumps(f)) is f
    assert {f: 1}[parse_format("T{ <i:x: <d:y: }")] == 1
    with pytest.raises(AttributeError):
        f.itemsize = 3
    assert repr(f) == "Format('T{<i:x:d:y:}')"


@pytest.mark.parametrize("fmt, size, align, kind, canonical", [
    ("d", 8, 8, "float", "d"),
    ("@d", 8, 8, "float", "d"),
    ("1d", 8, 8, "float", "d"),
    ("<i", 4, 1, "int", "<i"),
    ("!h", 2, 1, "int", ">h"),
    ("=L", 4, 1, "uint", "=L"),
    ("^q", 8, 1, "int", "^q"),
    ("di", 16, 8, "struct", "di"),            # trailing padding, as sizeof()
    ("id", 16, 8, "struct", "id"),
    ("^di", 12, 1, "struct", "^di"),
    ("=di", 12, 1, "struct", "=di"),
    ("ci", 8, 4, "struct", "ci"),
    ("T{ci}c", 12, 4, "struct", "T{ci}c"),   # sizeof(struct {struct {char; int;}; char;})
    ("T{ci}ci", 16, 4, "struct", "T{ci}ci"),
    ("T{<i}d", 12, 1, "struct", "T{<i}d"),    # the prefix stays in force (numpy)
    ("Zf", 8, 4, "complex", "Zf"),
    ("<Zd", 16, 1, "complex", "<Zd"),
    ("e", 2, 2, "float", "e"),
    ("?", 1, 1, "bool", "?"),
    ("5s", 5, 1, "bytes", "5s"),
    ("10p", 10, 1, "bytes", "10p"),
    ("3w", 12, 4, "str", "3w"),
    ("2u", 4, 2, "str", "2u"),
    ("(2, 3)d", 48, 8, "array", "(2,3)d"),
    ("(2)<3h", 12, 1, "array", "(2)<3h"),
    ("<(2)3h", 12, 1, "array", "(2)<3h"),
    ("3i", 12, 4, "struct", "3i"),
    ("2i:a:", 8, 4, "struct", "2i:a:"),
    ("4x", 4, 1, "void", "4x"),
    ("b0i", 4, 4, "int", "b0i"),
    ("O", struct.calcsize("P"), struct.calcsize("P"), "object", "O"),
    ("P", struct.calcsize("P"), struct.calcsize("P"), "pointer", "P"),
    ("g", ctypes.sizeof(ctypes.c_longdouble), ctypes.alignment(ctypes.c_longdouble),
     "float", "g"),
])
def test_layouts(fmt, size, align, kind, canonical):
    f = parse_format(fmt)
    assert (f.itemsize, f.alignment, f.kind, str(f)) == (size, align, kind, canonical)
    assert calcsize(fmt) == size


def test_nested_fields():
    f = parse_format("T{(2)T{i:a:Zf:b:}:s:d:t:}")
    assert f.itemsize == 32 and f.alignment == 8
    (s, t) = f.fields
    assert (s.name, s.offset, s.shape, t.name, t.offset) == ("s", 0, (2,), "t", 24)
    assert [fd.name for fd in s.format.fields] == ["a", "b"]
    v = (((1, 2 + 3j), (4, 5j)), 6.5)
    assert f.unpack(f.pack(v)) == v


@pytest.mark.parametrize("fmt, value", [
    ("?", True), ("c", b"z"), ("b", -128), ("B", 255), ("<h", -2), (">H", 65535),
    ("<q", -2**63), (">Q", 2**64 - 1), ("n", -5), ("N", 5), ("P", 12345),
    ("e", 0.5), (">e", -65504.0), ("<f", 1.5), (">d", -0.0), ("d", math.inf),
    ("Zf", 1.5 - 2j), (">Zd", complex(1e300, -1e-300)), ("g", 1.25), ("Zg", 1 + 2j),
    ("^g", -3.0), ("5s", b"abcde"), ("5s", b"ab\0\0\0"), ("4p", b"abc"),
    ("3w", "a\u00e9\U0001f600"), (">2u", "\u00e9z"), ("(2,3)>h", ((1, 2, 3), (4, 5, 6))),
    ("(2)2s", (b"ab", b"cd")), ("lh", (7, -3)), ("T{<i:x:d:y:}", (1, 2.5)),
    ("T{i}", (5,)), ("<i>i", (1, 2)), ("3c", (b"a", b"b", b"c")), ("2Zd", (1j, 2 + 0j)),
    ("T{?:a:(2)T{e}:b:}", (True, ((0.5,), (1.0,)))),
])
def test_pack_unpack(fmt, value):
    f = parse_format(fmt)
    data = f.pack(value)
    assert len(data) == f.itemsize
    assert same(f.unpack(data), value)


def test_pack_byte_order():
    assert parse_format(">i").pack(1) == b"\0\0\0\1"
    assert parse_format("<i").pack(1) == b"\1\0\0\0"
    assert parse_format("!Zf").pack(1j) == struct.pack(">ff", 0, 1)
    assert parse_format("<i>h").pack((1, 2)) == b"\1\0\0\0\0\2"
    assert parse_format("T{>h:a:<h:b:}").pack((1, 1)) == b"\0\1\1\0"
    assert parse_format(">2u").pack("a") == b"\0a\0\0"


@pytest.mark.parametrize("fmt, value, exc", [
    ("i", "x", TypeError), ("i", 2**31, ValueError), ("B", -1, ValueError),
    ("d", "1.5", TypeError), ("Zd", "1+2j", TypeError), ("c", b"ab", ValueError),
    ("c", "a", TypeError), ("3s", b"abcd", ValueError), ("3s", "abc", TypeError),
    ("3p", b"abc", ValueError), ("2w", "abc", ValueError), ("u", "\U0001f600", ValueError),
    ("u", b"a", TypeError), ("ii", (1,), ValueError), ("ii", 1, TypeError),
    ("(2)i", (1, 2, 3), ValueError), ("T{ii}", ((1, 2),), ValueError),
    ("e", 1e10, ValueError), ("O", None, TypeError),
])
def test_pack_errors(fmt, value, exc):
    with pytest.raises(exc):
        parse_format(fmt).pack(value)


def test_objects_are_never_read():
    f = parse_format("T{O:o:i:n:}")
    assert f.itemsize == 2 * struct.calcsize("P") and f.has_objects
    with pytest.raises(TypeError, match="PyObject"):
        f.unpack(bytes(f.itemsize))
    with pytest.raises(TypeError, match="PyObject"):
        pybuf.zeros(2, "O")             # never owned: see test_safety.py
    b = pybuf.asbuffer(_np().array([1, 2], dtype=object), writable=True)
    assert "<opaque>" in repr(b)
    with pytest.raises(TypeError, match="PyObject"):
        b[0]
    with pytest.raises(TypeError, match="PyObject"):
        b[0] = 1


def test_unpack_length_checked():
    with pytest.raises(ValueError):
        parse_format("i").unpack(b"abc")
    with pytest.raises(ValueError):
        parse_format("<i>h").unpack(b"abc")
    with pytest.raises(ValueError):
        list(parse_format("i").iter_unpack(b"abcde"))


# --------------------------------------------------------------------------
# Buffer items of every format

BUFFER_CASES = [
    ("<i", [1, -2, 2**31 - 1, -2**31]),
    (">d", [1.5, -0.0, math.inf, 1e-300]),
    ("lh", [(1, 2), (-3, 4), (2**40, -2**15)]),
    ("T{<i:x:d:y:}", [(1, 2.5), (-7, -0.5)]),
    ("Zd", [1 + 2j, -3j, 0j]),
    ("e", [0.5, -2.0, 65504.0]),
    ("5s", [b"abcde", b"ab\0\0\0", b"\0" * 5]),
    ("(2,3)h", [((1, 2, 3), (4, 5, 6)), ((0, -1, 0), (7, 8, 9))]),
    ("T{(2)i:a:>Zf:b:}", [((1, 2), 1j), ((3, 4), -1 + 0j)]),
    ("3w", ["abc", "\u00e9", ""]),
    ("?", [True, False]),
    ("=q", [2**62, -1]),
]


@pytest.mark.parametrize("fmt, values", BUFFER_CASES, ids=[c[0] for c in BUFFER_CASES])
def test_buffer_items(fmt, values):
    f = parse_format(fmt)
    n = len(values)
    b = pybuf.zeros(n, fmt)
    for i, v in enumerate(values):
        b[i] = v
    for i, v in enumerate(values):
        assert same(b[i], v)
    assert same(b.tolist(), values)
    assert b.tobytes() == b"".join(f.pack(v) for v in values)
    assert b == b.copy()
    assert b == pybuf.asbuffer(b.tobytes()).cast(fmt)
    other = b.copy()
    other[0] = values[1]
    assert not (b == other) and b != other
    assert same(b[::-1].tolist(), values[::-1])
    assert fmt in repr(b)
    # 2-d, strided in the last dimension (the gather path) and transposed
    m = pybuf.zeros((3, 2 * n), fmt)
    m[1, ::2] = b
    assert same(m[1, ::2].tolist(), values)
    zero = f.unpack(bytes(f.itemsize))
    assert same(m.T.tolist()[0], [zero, values[0], zero])
    assert same(m.tolist()[1][::2], values)
    # full(), fill()
    assert same(pybuf.full(3, values[0], fmt).tolist(), [values[0]] * 3)


@pytest.mark.parametrize("fmt, values", BUFFER_CASES, ids=[c[0] for c in BUFFER_CASES])
def test_buffer_items_seen_by_numpy(fmt, values):
    np = _np()
    f = parse_format(fmt)
    b = pybuf.zeros(len(values), fmt)
    for i, v in enumerate(values):
        b[i] = v
    a = np.asarray(b)
    assert a.tobytes() == b.tobytes()
    if f.kind in ("int", "float", "complex", "bool"):
        assert same(a.tolist(), values)
    elif f.kind == "bytes":              # numpy strips the padding NULs
        assert a.tolist() == [v.rstrip(b"\0") for v in values]


def test_buffer_struct_memoryview_cannot():
    # memoryview cannot read these items; pybuf can, through any view
    b = pybuf.zeros((2, 2), "T{<i:x:d:y:}")
    b[1, 0] = (3, 0.25)
    m = memoryview(b)
    with pytest.raises(NotImplementedError):
        m.tolist()
    v = pybuf.asbuffer(m)
    assert v[1, 0] == (3, 0.25)
    assert v.tolist() == [[(0, 0.0), (0, 0.0)], [(3, 0.25), (0, 0.0)]]


def test_standard_formats_use_the_native_fast_path():
    # same items as the native code: equal to a native buffer of the values
    b = pybuf.zeros(4, "<i" if NATIVE_BO == "<" else ">i")
    b[:] = pybuf.full(4, 9, "i")
    assert b.tolist() == [9] * 4
    assert b == pybuf.full(4, 9, "i")


def test_ctypes_padded_struct():
    class S(ctypes.Structure):
        _fields_ = [("a", ctypes.c_double), ("b", ctypes.c_int)]
    arr = (S * 2)()
    arr[1].a, arr[1].b = 3.5, 7
    assert memoryview(arr).itemsize == ctypes.sizeof(S)
    b = pybuf.asbuffer(arr)
    assert b.tolist() == [(0.0, 0), (3.5, 7)]


def test_bulk_tolist_large():
    n = 10**4
    b = pybuf.zeros(n, "T{<i:x:d:y:}")
    b[n - 1] = (5, 6.5)
    assert b.tolist() == list(struct.iter_unpack("<id", b.tobytes()))
    d = pybuf.full((2, n), 1.5, ">d")
    assert d.tolist() == [[1.5] * n] * 2


@pytest.mark.parametrize("code", list("?cbBhHiIlLqQnNfdP"))
def test_native_tolist_matches_memoryview(code):
    rng = random.Random(ord(code))
    size = struct.calcsize(code)
    raw = bytearray(rng.getrandbits(8) for _ in range(size * 60))
    if code == "?":
        raw = bytearray(b % 2 for b in raw)     # memoryview reads only 0 and 1 as bool
    b = pybuf.asbuffer(raw, writable=True).cast(code, (6, 10))
    m = memoryview(raw).cast(code, (6, 10))
    assert b.tolist() == m.tolist()
    assert b[:, ::-3].tolist() == [row[::-3] for row in m.tolist()]
    assert b.T.tolist() == [list(col) for col in zip(*m.tolist())]
    assert b == m


# --------------------------------------------------------------------------
# CPython 3.14's complex codes "F" and "D" (3.15 and numpy: "Zf", "Zd")

def _struct_reads(code):
    try:
        struct.calcsize(code)
        return True
    except struct.error:
        return False


@pytest.mark.parametrize("alias, canon", [
    ("F", "Zf"), ("D", "Zd"), ("<D", "<Zd"), (">F", ">Zf"), ("2D", "2Zd"),
    ("T{D:z:i:n:}", "T{Zd:z:i:n:}"), ("(2)F", "(2)Zf"),
])
def test_complex_codes_of_cpython_314(alias, canon):
    f = parse_format(alias)
    assert f == parse_format(canon) and str(f) == canon
    assert f.itemsize == parse_format(canon).itemsize
    values = {"F": 1.5 - 2j, "D": -0.25 + 1e300j}
    # the running CPython's struct is the oracle where it reads the code
    for code, v in values.items():
        g = parse_format(code)
        assert g.unpack(g.pack(v)) == v
        for spelling in (code, "Z" + code.lower()):
            if _struct_reads(spelling):
                assert g.pack(v) == struct.pack(spelling, v)
                assert struct.unpack(spelling, g.pack(v)) == (v,)


def test_complex_codes_in_buffers_and_kernels():
    b = pybuf.zeros(3, "D")
    assert b.format == memoryview(b).format == "Zd" and b.itemsize == 16
    b[1] = 2 - 3j
    assert b.tolist() == [0j, 2 - 3j, 0j]
    assert pybuf.sum(b) == 2 - 3j
    c = pybuf.astype(b, "F")
    assert c.format == "Zf" and c.tolist() == [0j, 2 - 3j, 0j]
    np = pytest.importorskip("numpy", reason="needs numpy: pip install numpy")
    assert np.asarray(b).dtype == np.complex128 and np.asarray(c).dtype == np.complex64
    # an exporter that says "D" (CPython 3.14's ctypes; here a cast view)
    raw = pybuf.Buffer(2, "d")
    raw[0], raw[1] = 1.0, 2.0
    z = pybuf.asbuffer(raw).cast("D")
    assert z.tolist() == [1 + 2j] and z.format == "Zd"


@pytest.mark.skipif(not hasattr(ctypes, "c_double_complex"),
                    reason="ctypes has complex types from CPython 3.14")
def test_ctypes_complex_arrays_read_as_complex():
    arr = (ctypes.c_double_complex * 3)(1 + 2j, -3j, 4)
    b = pybuf.asbuffer(arr)
    assert b.tolist() == [1 + 2j, -3j, 4 + 0j]          # not opaque bytes
    assert b.format in ("Zd", "<Zd", ">Zd") and pybuf.sum(b) == 5 - 1j
    f = (ctypes.c_float_complex * 2)(1 + 1j, 2)
    assert pybuf.asbuffer(f).tolist() == [1 + 1j, 2 + 0j]


@pytest.mark.parametrize("fmt", ["x", "=3x", "<4x", "@2x"])
def test_an_item_of_padding_only_reads_as_its_bytes_as_numpy_reads_void(fmt):
    """A chosen difference from struct: ``struct.unpack("3x", ...)`` gives
    ``()`` (padding packs nothing), but an item that is nothing but ``x``
    reads as its bytes, as numpy reads ``V``, so that its data survives
    ``tolist()`` / ``pack`` and Buffer item access."""
    np = pytest.importorskip("numpy", reason="needs numpy: pip install numpy")
    f = parse_format(fmt)
    raw = bytes(range(1, f.itemsize + 1))
    assert struct.unpack(fmt, raw) == ()
    assert f.kind == "void"
    assert f.unpack(raw) == raw
    assert f.pack(raw) == raw
    assert list(f.iter_unpack(raw * 2)) == [raw, raw]
    assert np.frombuffer(raw, f"V{f.itemsize}")[0].tobytes() == raw
    b = pybuf.empty(2, fmt)
    b[0] = raw
    assert b[0] == raw and b.tolist()[0] == raw
    assert np.asarray(b)[0].tobytes() == raw
