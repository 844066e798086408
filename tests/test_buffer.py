"""The Buffer class: construction, items, views, lifetimes, pickling."""
import array
import gc
import mmap
import pickle
import struct
import sys
import weakref

import pytest

import pybuf
from conftest import producers, requires_testbuffer

np = pytest.importorskip("numpy", reason="needs numpy: pip install numpy")

NATIVE = "?cbBhHiIlLqQnNfdP"


# --- construction ----------------------------------------------------------

@pytest.mark.parametrize("make", [pybuf.Buffer, pybuf.empty, pybuf.zeros,
                                  lambda s, f, **k: pybuf.full(s, 1, f, **k)])
@pytest.mark.parametrize("shape", [(), 0, 1, 7, (0,), (3, 0), (2, 3), (2, 1, 4)])
@pytest.mark.parametrize("align", [1, 8, 64, 4096])
def test_alignment_and_layout(make, shape, align):
    b = make(shape, "d", align=align)
    assert b.address % align == 0
    shape_t = (shape,) if isinstance(shape, int) else shape
    assert b.shape == shape_t and b.ndim == len(shape_t)
    ref = np.empty(shape_t, "d")
    if ref.size:            # numpy 2.4 zeroes every stride of an empty array
        assert b.strides == ref.strides
    else:
        assert b.strides == np.empty([max(d, 1) for d in shape_t], "d").strides
    assert b.nbytes == ref.nbytes and b.size == ref.size and b.itemsize == 8
    assert b.base is None and b.exports == 0 and not b.readonly
    assert b.c_contiguous and b.contiguous
    assert b.f_contiguous == ref.flags.f_contiguous


def test_fortran_order():
    b = pybuf.zeros((2, 3, 4), "i", order="F")
    assert b.strides == np.zeros((2, 3, 4), "i", order="F").strides
    assert b.f_contiguous and not b.c_contiguous


def test_zeros_and_full_values():
    assert pybuf.zeros((2, 2), "d").tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert pybuf.Buffer(3, "i").tolist() == [0, 0, 0]
    assert pybuf.full((2, 3), 7, "h").tolist() == [[7] * 3] * 2
    assert pybuf.full((), 2.5, "f").tolist() == 2.5


@pytest.mark.parametrize("args, exc", [
    (((-1,),), ValueError),
    (((2, -3),), ValueError),
    (((1,) * 65,), ValueError),
    (((2 ** 62, 2 ** 62),), OverflowError),
    (((2 ** 40, 2 ** 40, 0),), OverflowError),
    ((2 ** 63,), OverflowError),
    ((2 ** 60,), MemoryError),
    (("3",), TypeError),
    (((2.0,),), TypeError),
    ((3, "zz"), ValueError),
    ((3, ""), ValueError),
    ((3, 5), TypeError),
])
def test_bad_construction(args, exc):
    for make in (pybuf.Buffer, pybuf.empty, pybuf.zeros):
        with pytest.raises(exc):
            make(*args)


@pytest.mark.parametrize("align", [0, -64, 3, 48, 2 ** 31])
def test_bad_alignment(align):
    with pytest.raises(ValueError, match="align"):
        pybuf.empty(4, align=align)


@pytest.mark.parametrize("order", ["K", "A", "", None, 1])
def test_bad_order(order):
    with pytest.raises(ValueError, match="order"):
        pybuf.empty(4, order=order)


def test_init_twice_is_refused():
    b = pybuf.Buffer(4)
    with pytest.raises(TypeError):
        b.__init__(8)
    assert b.shape == (4,)


def test_uninitialised_buffer_is_safe():
    b = pybuf.Buffer.__new__(pybuf.Buffer)
    for op in (lambda: b.shape, lambda: memoryview(b), lambda: b[0], b.tolist,
               lambda: len(b), b.copy, lambda: b.ndim):
        with pytest.raises(ValueError):
            op()
    assert "uninitialised" in repr(b)


# --- items: what memoryview gives -----------------------------------------

def _values(code, n, rng):
    if code == "?":
        return [bool(rng.integers(2)) for _ in range(n)]
    if code == "c":
        return [bytes([int(rng.integers(256))]) for _ in range(n)]
    if code in "fd":
        return [float(np.float32(rng.normal())) for _ in range(n)]
    size = struct.calcsize(code)
    if code in "bhilqn":
        lo, hi = -(1 << (8 * size - 1)), (1 << (8 * size - 1))
    else:
        lo, hi = 0, 1 << (8 * size)
    return [int(x) for x in rng.integers(lo, hi, size=n, dtype=np.int64 if size < 8
                                          else np.uint64 if lo == 0 else np.int64)]


@pytest.mark.parametrize("code", list(NATIVE) + ["@i", "@d"])
def test_items_match_memoryview(code):
    rng = np.random.default_rng(ord(code[-1]))
    vals = _values(code[-1], 12, rng)
    b = pybuf.Buffer((3, 4), code)
    m = memoryview(bytearray(b.nbytes)).cast(code, (3, 4))
    for i in range(3):
        for j in range(4):
            b[i, j] = vals[4 * i + j]
            m[i, j] = vals[4 * i + j]
    assert b.tolist() == m.tolist()
    assert b.tobytes() == m.tobytes()
    assert b == m and m == b
    assert b[2, 3] == m[2, 3] and b[-1, -1] == m[-1, -1]
    assert [b[1, j] for j in range(4)] == m.tolist()[1]


@pytest.mark.parametrize("code, value, exc", [
    ("B", 256, ValueError), ("B", -1, ValueError), ("b", 128, ValueError),
    ("h", 1 << 15, ValueError), ("Q", -1, ValueError), ("q", 1 << 63, ValueError),
    ("Q", 1 << 64, ValueError), ("B", 1.5, TypeError), ("i", "3", TypeError),
    ("d", "x", TypeError), ("c", b"ab", ValueError), ("c", 1, TypeError),
])
def test_bad_item_values(code, value, exc):
    b = pybuf.zeros(2, code)
    m = memoryview(bytearray(b.nbytes)).cast(code)
    with pytest.raises(exc):
        b[0] = value
    with pytest.raises(exc):              # memoryview agrees on the error type
        m[0] = value
    assert b.tobytes() == bytes(b.nbytes)  # nothing written


def test_item_limits_roundtrip():
    for code in "bhilqBHILQnN":
        size = struct.calcsize(code)
        lo, hi = ((-(1 << (8 * size - 1)), (1 << (8 * size - 1)) - 1)
                  if code.islower() else (0, (1 << (8 * size)) - 1))
        b = pybuf.Buffer(2, code)
        b[0], b[1] = lo, hi
        assert b.tolist() == [lo, hi] == memoryview(b).tolist()


def test_float_and_bool_conversions():
    b = pybuf.Buffer(3, "d")
    b[0], b[1], b[2] = 3, True, np.float32(0.5)
    assert b.tolist() == [3.0, 1.0, 0.5]
    f = pybuf.Buffer(1, "f")
    f[0] = 1e300                  # as memoryview: inf
    assert f[0] == float("inf")
    q = pybuf.Buffer(2, "?")
    q[0], q[1] = 5, []
    assert q.tolist() == [True, False]


def test_zero_d_items():
    b = pybuf.full((), 3, "i")
    assert b[()] == 3 and b.tolist() == 3
    b[()] = 4
    assert b[...].tolist() == 4 and b[...].ndim == 0
    with pytest.raises(TypeError):
        len(b)
    with pytest.raises(IndexError):
        b[0]
    m = memoryview(b)
    assert m.shape == () and m[()] == 4


# --- indexing and views --------------------------------------------------------

def _numbered(shape, fmt="i"):
    n = int(np.prod(shape))
    b = pybuf.Buffer(shape, fmt)
    np.asarray(b)[...] = np.arange(n).reshape(shape)
    return b


INDICES = [
    0, -1, 2, slice(None), slice(1, None), slice(None, None, -1),
    slice(None, None, -2), slice(5, 1, -2), slice(10, 20), slice(-100, 100, 3),
    (1, 2), (slice(None), 0), (..., 1), (0, ...), (1, ..., 3), (...,),
    (slice(None, None, 2), slice(None, None, -1)), (slice(3, 3), 1),
    (slice(None), slice(None), slice(1, 3)), (-1, -1, -1), (..., slice(None, None, -3)),
]


@pytest.mark.parametrize("index", INDICES, ids=repr)
def test_indexing_matches_numpy(index):
    b = _numbered((4, 5, 6))
    ref = np.arange(120, dtype="i").reshape(4, 5, 6)
    got, want = b[index], ref[index]
    if isinstance(got, pybuf.Buffer):
        assert got.shape == want.shape and got.strides == want.strides
        assert got.tolist() == want.tolist()
        assert np.shares_memory(np.asarray(got), np.asarray(b)) or got.nbytes == 0
        assert got.base is b
    else:
        assert got == want


@pytest.mark.parametrize("index, exc", [
    (4, IndexError), (-5, IndexError), ((0, 0, 0, 0), IndexError),
    ((..., ...), IndexError), (slice(None, None, 0), ValueError),
    (1.0, TypeError), ("a", TypeError), ([0, 1], TypeError), (None, TypeError),
    (2 ** 70, IndexError),
])
def test_bad_indices(index, exc):
    b = _numbered((4, 5, 6))
    with pytest.raises(exc):
        b[index]
    with pytest.raises(exc):
        b[index] = 0
    assert b.exports == 0


def test_views_share_memory_and_hold_their_source():
    b = _numbered((4, 6))
    v = b[1:, ::-2]
    assert b.exports == 1
    v[0, 0] = -7
    assert b[1, 5] == -7
    with pytest.raises(BufferError):
        b.release()
    w = v[::2]
    assert v.exports == 1 and w.base is v
    del v                          # w still holds v, which still holds b
    gc.collect()
    with pytest.raises(BufferError):
        b.release()
    del w
    assert b.exports == 0
    b.release()


def test_setitem_slices():
    b = _numbered((4, 6))
    ref = np.arange(24, dtype="i").reshape(4, 6)
    b[1:3, ::2] = 0
    ref[1:3, ::2] = 0
    assert b.tolist() == ref.tolist()
    b[0] = np.array([9, 8, 7, 6, 5, 4], dtype="i")
    ref[0] = [9, 8, 7, 6, 5, 4]
    assert b.tolist() == ref.tolist()
    b[:, 0] = array.array("i", [1, 2, 3, 4])
    ref[:, 0] = [1, 2, 3, 4]
    assert b.tolist() == ref.tolist()
    b[3] = np.arange(6, dtype="d")          # numeric conversion
    ref[3] = np.arange(6)
    assert b.tolist() == ref.tolist()
    with pytest.raises(ValueError, match="shape"):
        b[0] = np.arange(5, dtype="i")
    assert b.tolist() == ref.tolist()


def test_setitem_overlapping_is_memmove():
    b = _numbered((10,))
    ref = np.arange(10, dtype="i")
    b[1:] = b[:-1]
    ref[1:] = ref[:-1].copy()
    assert b.tolist() == ref.tolist()
    b[::-1] = b
    ref[::-1] = ref.copy()
    assert b.tolist() == ref.tolist()


def test_reshape():
    b = _numbered((4, 6))
    assert b.reshape(3, 8).tolist() == np.arange(24).reshape(3, 8).tolist()
    assert b.reshape((2, -1, 3)).shape == (2, 4, 3)
    assert b.reshape(24).base is b
    t = b.T
    assert t.reshape(6, 2, 2).strides == np.asarray(b).T.reshape(6, 2, 2).strides
    with pytest.raises(ValueError, match="without a copy"):
        t.reshape(24)
    with pytest.raises(ValueError):
        b.reshape(5, 5)
    with pytest.raises(ValueError):
        b.reshape(-1, -1)
    z = pybuf.empty((0, 3))
    assert z.reshape(3, 0, 7).shape == (3, 0, 7)
    s = b[::2, ::3]
    with pytest.raises(ValueError, match="without a copy"):
        s.reshape(4)                    # numpy would copy here
    assert not np.shares_memory(np.asarray(b)[::2, ::3].reshape(4), np.asarray(b))
    assert s.reshape(2, 1, 2).strides == np.asarray(b)[::2, ::3].reshape(2, 1, 2).strides


def test_transpose():
    b = _numbered((2, 3, 4))
    ref = np.arange(24, dtype="i").reshape(2, 3, 4)
    for axes in [(), (2, 0, 1), (0, 2, 1), (-1, 0, 1)]:
        got = b.transpose(*axes)
        assert got.tolist() == ref.transpose(*axes).tolist()
        assert got.strides == ref.transpose(*axes).strides
    assert b.transpose((1, 0, 2)).shape == (3, 2, 4)
    assert b.T.f_contiguous
    for bad in [(0, 1), (0, 0, 1), (0, 1, 3)]:
        with pytest.raises(ValueError):
            b.transpose(*bad)


def test_cast():
    b = _numbered((2, 3), "i")
    c = b.cast("B")
    assert c.shape == (24,) and c.tobytes() == b.tobytes()
    d = c.cast("h", (3, 4))
    assert d.tolist() == np.asarray(b).view("h").reshape(3, 4).tolist()
    assert b.cast("i", ()).shape == () if b.nbytes == 4 else True
    one = pybuf.zeros(1, "d")
    assert one.cast("d", ()).ndim == 0
    assert b.cast("q", (1, 3, 1)).shape == (1, 3, 1)
    with pytest.raises(ValueError, match="C-contiguous"):
        b.T.cast("B")
    with pytest.raises(ValueError):
        b.cast("d")                 # 24 bytes are 3 doubles: fine; 5 are not
        pybuf.zeros(5).cast("d")
    with pytest.raises(ValueError):
        b.cast("B", (5,))
    with pytest.raises(ValueError):
        b.cast("zz")


def test_toreadonly():
    b = _numbered((3,))
    r = b.toreadonly()
    assert r.readonly and not b.readonly and r.base is b
    with pytest.raises(BufferError):
        r[0] = 1
    with pytest.raises(BufferError):
        r.fill(1)
    with pytest.raises(ValueError, match="read-only"):
        np.asarray(r)[0] = 1
    assert r[1:].readonly
    m = memoryview(r)
    assert m.readonly
    m.release()


# --- lifetime ---------------------------------------------------------------

def test_export_counting_and_release():
    b = pybuf.zeros(16)
    m1, m2 = memoryview(b), memoryview(b)
    a = np.asarray(b)
    assert b.exports == 3
    for op in (b.release, lambda: b.resize(32), lambda: b.__exit__(None, None, None)):
        with pytest.raises(BufferError):
            op()
    m1.release(); m2.release(); del a
    assert b.exports == 0
    b.resize((2, 4))
    assert b.shape == (2, 4)
    b.release()
    b.release()                        # idempotent, as memoryview.release
    for op in (lambda: b.shape, lambda: b[0], lambda: memoryview(b), b.tolist,
               b.tobytes, lambda: b.fill(0), lambda: b.reshape(8), b.copy,
               lambda: b.cast("B"), lambda: len(b), lambda: b == b"",
               lambda: b.resize(3), lambda: b.address, lambda: b.ndim,
               lambda: b.nbytes, lambda: pickle.dumps(b), lambda: b.T,
               lambda: pybuf.asbuffer(b), lambda: pybuf.copy(b)):
        with pytest.raises(ValueError, match="released"):
            op()
    assert "released" in repr(b)


def test_context_manager():
    with pybuf.empty(8) as b:
        b.fill(1)
    assert b.released
    with pytest.raises(BufferError):
        with pybuf.empty(8) as b2:
            m = memoryview(b2)
    m.release()
    b2.release()


def test_resize_keeps_data_and_zero_fills():
    b = _numbered((6,))
    b.resize(8)
    assert b.tolist() == [0, 1, 2, 3, 4, 5, 0, 0]
    b.resize((2, 2))
    assert b.tolist() == [[0, 1], [2, 3]]
    assert b.address % 64 == 0
    f = pybuf.zeros((2, 3), "i", order="F")
    f.resize((3, 3))
    assert f.f_contiguous
    with pytest.raises(ValueError, match="owns"):
        b[1:].resize(1)
    with pytest.raises(ValueError):
        b.resize(-1)
    assert b.tolist() == [[0, 1], [2, 3]]


def test_memory_is_freed():
    b = pybuf.zeros(10)
    r = weakref.ref(b)
    v = b[2:]
    del b
    assert r() is not None               # the view keeps its source
    del v
    assert r() is None


# --- asbuffer, copy -------------------------------------------------------

def _producers():
    """The shared producers (tests/conftest.py) of a few arrays: 2-d and
    strided float64, bytes (also read-only), int32, int16 (read-only)."""
    nd = np.arange(24, dtype="d").reshape(4, 6)
    raw = np.frombuffer(bytearray(b"abcdef"), dtype="B")
    for label, a in [("", nd), ("-strided", nd[::2, ::-2]), ("-bytes", raw),
                     ("-readonly-bytes", np.frombuffer(b"abcdef", dtype="B")),
                     ("-int", np.arange(10, dtype="i")),
                     ("-readonly", np.frombuffer(b"\x01" * 16, dtype="h"))]:
        for name, obj, writable in producers(a):
            yield name + label, obj, writable


@pytest.mark.parametrize("name, obj, writable", list(_producers()),
                         ids=[p[0] for p in _producers()])
def test_asbuffer_is_zero_copy(name, obj, writable):
    ref = memoryview(obj)
    b = pybuf.asbuffer(obj)
    assert b.base is obj
    assert b.shape == ref.shape and b.strides == ref.strides
    assert b.format == ref.format and b.readonly == ref.readonly == (not writable)
    assert b.tolist() == ref.tolist()
    assert b == ref
    c = pybuf.copy(obj)
    assert c.base is None and c.tolist() == ref.tolist() and c.format == ref.format
    assert c.c_contiguous and c.address % 64 == 0
    if writable:
        w = pybuf.asbuffer(obj, writable=True)
        flat = w.cast("B") if w.c_contiguous else w
        idx = (0,) * flat.ndim
        old = flat[idx]
        flat[idx] = b"\x01" if flat.format == "c" else 1
        assert ref[(0,) * ref.ndim] == (memoryview(obj)[(0,) * ref.ndim])
        flat[idx] = old
        del w, flat
    else:
        with pytest.raises(BufferError):
            pybuf.asbuffer(obj, writable=True)
    del b, c
    ref.release()


def test_asbuffer_holds_the_exporter():
    ba = bytearray(100)
    b = pybuf.asbuffer(ba)
    with pytest.raises(BufferError):
        ba.extend(b"x")
    v = b[10:]
    del b
    with pytest.raises(BufferError):    # the view still holds it
        ba.extend(b"x")
    del v
    ba.extend(b"x")                     # released exactly when all are gone
    m = mmap.mmap(-1, 4096)
    b = pybuf.asbuffer(m)
    m2 = memoryview(b)
    b2 = b
    del b
    with pytest.raises(BufferError):
        m.close()
    m2.release()
    del b2
    m.close()


def test_asbuffer_errors():
    for obj in (1, "text", [1, 2], None, object()):
        with pytest.raises(TypeError):
            pybuf.asbuffer(obj)
        with pytest.raises(TypeError):
            pybuf.copy(obj)


@requires_testbuffer
def test_copy_of_suboffsets_and_negative_strides():
    import _testbuffer as tb
    nd = tb.ndarray(list(range(24)), shape=[2, 3, 4], format="i", flags=tb.ND_PIL)
    c = pybuf.copy(nd)
    assert c.tolist() == nd.tolist() and c.suboffsets == () and c.format == "i"
    f = pybuf.copy(nd, order="F")
    assert f.tolist() == nd.tolist() and f.f_contiguous
    v = pybuf.asbuffer(nd)
    assert v[1, 2].tolist() == nd.tolist()[1][2]
    assert v[:, ::-1, 1:3].tolist() == np.array(nd.tolist())[:, ::-1, 1:3].tolist()
    assert pybuf.copy(v[::-1, 1]).tolist() == np.array(nd.tolist())[::-1, 1].tolist()
    assert v[1, 2, 3] == 23
    with pytest.raises(ValueError):
        v.T


def test_copy_orders_and_tobytes():
    a = np.arange(24, dtype="h").reshape(2, 3, 4)[:, ::-1, ::2]
    b = pybuf.asbuffer(a)
    for order in "CFA":
        assert b.tobytes(order) == a.tobytes(order)
        c = b.copy(order)
        assert np.array_equal(np.asarray(c), a)
    assert b.copy("F").f_contiguous
    with pytest.raises(ValueError):
        b.tobytes("X")


# --- comparison, repr, pickle ------------------------------------------------

def test_equality_like_memoryview():
    b = _numbered((2, 3))
    assert b == np.arange(6, dtype="i").reshape(2, 3)
    assert b == np.arange(6, dtype="d").reshape(2, 3)     # values, as memoryview
    assert b != np.arange(6, dtype="i")                   # shape differs
    assert b != _numbered((3, 2))
    assert not (b == "abc") and b != 3
    nan = pybuf.full(2, float("nan"), "d")
    assert nan != nan and not (nan == nan)
    with pytest.raises(TypeError):
        hash(b)


def test_repr():
    b = _numbered((2, 3))
    r = repr(b)
    assert "shape=(2, 3)" in r and "format='i'" in r and "C-contiguous" in r
    assert "[[0, 1, 2], [3, 4, 5]]" in r
    big = pybuf.zeros(1000, "d")
    assert "..." in repr(big) and len(repr(big)) < 200
    assert "readonly" in repr(b.toreadonly()) and "strided" in repr(b[:, ::2])


@pytest.mark.parametrize("protocol", range(2, pickle.HIGHEST_PROTOCOL + 1))
@pytest.mark.parametrize("view", ["c", "f", "strided", "readonly", "0d", "empty"])
def test_pickle_inband(protocol, view):
    base = _numbered((4, 6))
    b = {"c": base, "f": base.T, "strided": base[::2, ::-3],
         "readonly": base.toreadonly(), "0d": base[1, 1, ...],
         "empty": base[:0]}[view]
    r = pickle.loads(pickle.dumps(b, protocol=protocol))
    assert r == b and r.shape == b.shape and r.format == b.format
    assert r.readonly == b.readonly
    if not r.readonly and r.size:
        first = b[(0,) * b.ndim]
        r[(0,) * r.ndim] = -1           # a writable, independent copy
        assert r[(0,) * r.ndim] == -1 and b[(0,) * b.ndim] == first


def test_pickle5_out_of_band_copies_nothing():
    b = _numbered((4, 6))
    bufs = []
    data = pickle.dumps(b, protocol=5, buffer_callback=bufs.append)
    assert len(bufs) == 1 and len(data) < 200
    r = pickle.loads(data, buffers=bufs)
    assert r == b and r.address == b.address          # same memory
    r[0, 0] = 99
    assert b[0, 0] == 99
    for view in (b.T, b.toreadonly()):
        bufs = []
        r = pickle.loads(pickle.dumps(view, protocol=5, buffer_callback=bufs.append),
                         buffers=bufs)
        assert r == view and r.address == view.address and r.readonly == view.readonly
    bufs = []
    s = b[::2, ::2]                                    # contiguous once
    r = pickle.loads(pickle.dumps(s, protocol=5, buffer_callback=bufs.append),
                     buffers=bufs)
    assert r == s and r.c_contiguous


def test_recycled_small_blocks_are_zeroed_and_aligned():
    # Small blocks are recycled through a cache: a zeroed buffer must not
    # see a previous buffer's bytes.
    for size in (1, 63, 64, 1000, 2500, 2600, 9000, 16000, 17000):
        for align in (1, 64, 256):
            dirty = [pybuf.full(size, 0xAB, "B", align=align) for _ in range(12)]
            del dirty
            fresh = [pybuf.zeros(size, "B", align=align) for _ in range(12)]
            for b in fresh:
                assert b.tobytes() == bytes(size) and b.address % align == 0


def test_release_from_another_thread_during_a_copy_is_refused():
    # A copy runs without the GIL; a release racing with it must raise,
    # never free the memory under the copy.
    import threading
    b = pybuf.zeros(64 << 20)
    errors, stop = [], threading.Event()

    def releaser():
        while not stop.is_set():
            try:
                b.release()
            except BufferError:
                pass
            except ValueError:
                pass
            else:
                errors.append("released")
                return

    t = threading.Thread(target=releaser)
    t.start()
    try:
        for _ in range(5):
            try:
                b.copy()
            except ValueError:           # released between two copies: fine
                break
    finally:
        stop.set()
        t.join()
    assert not errors or b.released


def test_opaque_foreign_format_compares_by_bytes():
    nd = np.zeros(3, dtype=[("a", "<i4"), ("b", "u1", (3,))])
    b = pybuf.asbuffer(nd)
    assert b.itemsize == nd.itemsize and b.shape == (3,)
    assert pybuf.copy(nd).tobytes() == nd.tobytes()


def test_reused_large_blocks_never_leak_into_zeros():
    # A freed large block may be handed to the next empty() that fits it
    # (no page faults for repeated temporaries), never to zeros().
    for size in (2 << 20, 3 << 20):
        dirty = pybuf.full(4 << 20, 0xCD, "B")
        del dirty
        z = pybuf.zeros(size, "B")
        assert z.tobytes() == bytes(size)
        e = pybuf.empty(size, "B")
        e.fill(1)
        assert e.address % 64 == 0 and e.tobytes() == b"\1" * size
        del z, e


def _one_d_exporters():
    """1-d exporters whose ``b[i]`` takes the exact-int path: owned,
    strided, reversed, and (with _testbuffer) a PIL-style indirect one."""
    base = list(range(-20, 20, 3))
    out = [("owned", pybuf.copy(np.array(base, "q"))),
           ("strided", pybuf.asbuffer(np.array(base * 2, "q"), writable=True)[::2]),
           ("reversed", pybuf.asbuffer(np.array(base, "q"), writable=True)[::-1])]
    try:
        import _testbuffer as tb
    except ImportError:
        return out
    nd = tb.ndarray(base, shape=[len(base)], format="q",
                    flags=tb.ND_PIL | tb.ND_WRITABLE)
    out.append(("indirect", pybuf.asbuffer(nd, writable=True)))
    return out


@pytest.mark.parametrize("kind,b", _one_d_exporters(), ids=lambda x: x if
                         isinstance(x, str) else "")
def test_int_index_of_1d_matches_memoryview(kind, b):
    """b[i] and b[i] = x with an exact int (the fast path) read and write
    the item memoryview reads, at every index, negative ones included, and
    raise what the general path raises out of range."""
    n = len(b)
    mv = memoryview(b)
    for i in range(-n, n):
        assert b[i] == mv[i]
        b[i] = 1000 + i
        assert mv[i] == 1000 + i == b[i]
    for bad in (n, -n - 1, 2**70, -2**70):
        with pytest.raises(IndexError):
            b[bad]
        with pytest.raises(IndexError):
            b[bad] = 0
    with pytest.raises(BufferError):
        b.toreadonly()[0] = 1
    assert b[True] == b[1]                  # bool: the general path
