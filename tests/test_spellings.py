"""Equivalent spellings of one item format are one item type everywhere.

``"i"``, ``"1i"``, ``"@i"``, ``"=i"``, ``" i"`` (and ``"<i"`` on a
little-endian machine) describe the same items: indexing, the kernels,
``equal``, ``==``, ``astype``, numpy and DLPack must treat a Buffer of any
of them as a Buffer of the plain code, with numpy as the oracle."""
import sys

import pytest

import pybuf

np = pytest.importorskip("numpy", reason="needs numpy: pip install numpy")

NATIVE = "<" if sys.byteorder == "little" else ">"

FAMILIES = {
    "i": (np.int32, [3, -7, 11, 0, 5]),
    "Q": (np.uint64, [2**63 + 1, 1, 0, 7, 2**40]),
    "d": (np.float64, [1.5, -2.25, 0.0, 3e100, -1e-3]),
    "f": (np.float32, [1.5, -2.25, 0.0, 3.0, 0.125]),
    "?": (np.bool_, [True, False, True, True, False]),
    "Zd": (np.complex128, [1 + 2j, -3j, 0j, 4.5 + 0j, -1 - 1j]),
}


def spellings(code):
    out = [code, "1" + code, "@" + code, "=" + code, " " + code, "@1" + code,
           code + " ", NATIVE + code]
    return out


CASES = [(code, s) for code in FAMILIES for s in spellings(code)]


def make(fmt, values):
    b = pybuf.empty(len(values), fmt)
    for i, v in enumerate(values):
        b[i] = v
    return b


@pytest.mark.parametrize("code, spelling", CASES)
def test_spelling_behaves_as_its_plain_code(code, spelling):
    dtype, values = FAMILIES[code]
    ref = np.array(values, dtype=dtype)
    plain = make(code, values)
    b = make(spelling, values)
    assert b.itemsize == plain.itemsize == ref.itemsize
    # indexing and tolist
    assert b.tolist() == plain.tolist() == ref.tolist()
    assert b[1] == ref[1] and b[-1] == ref[-1]
    # numpy reads the same items
    assert np.array_equal(np.asarray(b), ref)
    assert np.asarray(b).dtype == ref.dtype
    # equal and == against the plain spelling, both ways
    assert pybuf.equal(b, plain) and pybuf.equal(plain, b)
    assert b == plain and plain == b
    assert pybuf.equal(b, ref)
    # kernels
    if code != "Zd":
        assert pybuf.sum(b) == pybuf.sum(plain)
        assert pybuf.min(b) == pybuf.min(plain) == ref.min()
        assert pybuf.max(b) == pybuf.max(plain) == ref.max()
    assert pybuf.dot(b, plain) == pybuf.dot(plain, plain)
    assert np.array_equal(np.asarray(pybuf.astype(b, "d" if code != "Zd" else "Zd")),
                          ref.astype(np.complex128 if code == "Zd" else np.float64))
    assert np.array_equal(np.asarray(pybuf.astype(plain, spelling)), ref)
    out = pybuf.empty(len(values), code)
    pybuf.copyto(out, b)
    assert np.array_equal(np.asarray(out), ref)
    pybuf.copyto(b, pybuf.zeros(len(values), code))
    assert not np.asarray(b).any()
    pybuf.copyto(b, ref)
    assert np.array_equal(np.asarray(b), ref)
    swapped = pybuf.empty(len(values), code)
    pybuf.byteswap(b, out=swapped)
    assert np.array_equal(np.asarray(swapped), ref.byteswap())
    pybuf.fill(b, values[1])
    assert np.array_equal(np.asarray(b), np.full(len(values), ref[1]))
    pybuf.copyto(b, ref)
    # DLPack, both ways
    via = np.from_dlpack(b)
    assert via.dtype == ref.dtype and np.array_equal(via, ref)
    assert via.__array_interface__["data"][0] == b.address
    back = pybuf.from_dlpack(b)
    assert back.format == plain.format or np.asarray(back).dtype == ref.dtype
    assert back.tolist() == ref.tolist()


@pytest.mark.parametrize("fmt", ["2i", "i:x:", "T{i}", ">i" if NATIVE == "<" else "<i",
                                 "c", "P", "g"])
def test_other_items_have_no_dlpack_type(fmt):
    b = pybuf.zeros(2, fmt)
    with pytest.raises(BufferError, match="has no DLPack data type"):
        b.__dlpack__()


# --------------------------------------------------------------------------
# the C reader of formats (pybuf.kernels.format_type, which the kernels and
# Buffer's comparisons use) and the grammar (pybuf.formats) agree

CODES = ["?", "b", "B", "h", "H", "i", "I", "l", "L", "q", "Q", "n", "N",
         "e", "f", "d", "g", "Zf", "Zd", "Zg", "c", "P", "s", "x", "O"]
PREFIXES = ["", "@", "^", "=", "<", ">", "!"]
CORPUS = sorted({p + v for c in CODES for p in PREFIXES
                 for v in (c, "1" + c, " " + c, c + " ", " 1" + c, "2" + c)}
                | {"ii", "T{i}", "i:x:", "(1)i", "(2)d", "3s", "0i", "10i",
                   "T{<i:a:}", "i x", "", " ", "1", "@", "Z", "Zi", "11i"})

# (kind, itemsize) -> TypeId (pybuf/_types.pxd)
TYPE_IDS = {("bool", 1): 1, ("int", 1): 2, ("uint", 1): 3, ("int", 2): 4,
            ("uint", 2): 5, ("int", 4): 6, ("uint", 4): 7, ("int", 8): 8,
            ("uint", 8): 9, ("float", 4): 10, ("float", 8): 11,
            ("complex", 8): 12, ("complex", 16): 13}
FLOAT16, LONGDOUBLE, CLONGDOUBLE = 14, 15, 16


def expected_type(fmt):
    """(TypeId, swapped) of a format's items as pybuf.formats reads it."""
    try:
        f = pybuf.parse_format(fmt)
    except (ValueError, NotImplementedError):
        return 0, False
    if f._scalar() is None:
        return 0, False
    if f.code == "e":
        t = FLOAT16
    elif f.code in ("g", "Zg"):
        native = f.prefix in ("@", "^", "")
        t = (LONGDOUBLE if f.code == "g" else CLONGDOUBLE) if native else 0
    else:
        t = TYPE_IDS.get((f.kind, f.itemsize), 0)
    swapped = bool(t) and f.itemsize > 1 and f.byteorder not in ("|", NATIVE)
    return t, swapped


@pytest.fixture(scope="module")
def c_reader(tmp_path_factory):
    from cybuild import build_extension
    mod = build_extension(tmp_path_factory.mktemp("c_reader"), "c_reader", """
        from pybuf cimport kernels

        def kind(bytes fmt, Py_ssize_t itemsize):
            cdef bint swapped
            cdef int t = kernels.format_type(fmt, itemsize, &swapped)
            return t, bool(swapped) if t else False
    """)
    return mod.kind


def test_c_reader_agrees_with_the_grammar(c_reader):
    wrong = []
    for fmt in CORPUS:
        try:
            size = pybuf.calcsize(fmt)
        except (ValueError, NotImplementedError):
            size = 1
        want = expected_type(fmt)
        got = c_reader(fmt.encode(), size)
        if got != want:
            wrong.append((fmt, size, got, want))
    assert not wrong, wrong
    assert len(CORPUS) > 900


def _ctypes_pairs(n):
    """n ctypes structures {short a; double b} (aligned fields: itemsize
    16, exported as 'T{<h:a:<d:b:}' on a little-endian machine)."""
    import ctypes

    class Pair(ctypes.Structure):
        _fields_ = [("a", ctypes.c_short), ("b", ctypes.c_double)]
    return pybuf.asbuffer((Pair * n)(), writable=True)


STRUCT_SPELLINGS = [
    # (destination, source format): the same stored items, spelled apart
    (_ctypes_pairs, "T{=h:a:6x=d:b:}"),  # ctypes' aligned fields / explicit gap
    (lambda n: pybuf.empty(n, "i i"), "ii"),
    (lambda n: pybuf.empty(n, "<q"), "=q" if sys.byteorder == "little" else "<q"),
]


@pytest.mark.parametrize("make_dst,src_fmt", STRUCT_SPELLINGS)
def test_same_items_one_answer_for_assignment_and_copyto(make_dst, src_fmt):
    """Buffer assignment and ``pybuf.copyto`` ask one question (are the
    items stored alike?) and give one answer: both copy the bytes as they
    are, padding included, when the two spellings store the same items."""
    src = pybuf.zeros(3, src_fmt)
    src.cast("B")[...] = bytes(range(src.nbytes))
    results = []
    for how in ("setitem", "copyto"):
        dst = make_dst(3)
        # (.format is the canonical spelling: "i i" reads as "ii")
        assert dst.itemsize == src.itemsize
        dst.cast("B")[...] = b"\xff" * dst.nbytes
        if how == "setitem":
            dst[...] = src
        else:
            pybuf.copyto(dst, src)
        results.append(dst.tobytes())
    assert results[0] == results[1] == src.tobytes()
