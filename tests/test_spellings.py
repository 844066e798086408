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
