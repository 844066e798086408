"""Memory that others own: from_address (Python) and from_pointer (C).

from_address is zero-copy, honours strides and readonly, checks what every
constructor checks, and keeps its owner alive exactly as long as any user
of the memory lives.  from_pointer's deleter runs exactly once, never
early, through views, memoryviews, numpy arrays, DLPack and pickle, and
over 2,000 create/drop cycles (a compiled extension counts the calls)."""
import ctypes
import gc
import pickle
import random
import weakref

import pytest

import pybuf
from cybuild import build_extension

np = pytest.importorskip("numpy", reason="needs numpy: pip install numpy")


class Owner:
    """Owns a ctypes array; a weak reference tells when it is collected."""

    def __init__(self, n, ctype=ctypes.c_double):
        self.array = (ctype * n)()
        self.address = ctypes.addressof(self.array)


def users(b):
    """Every kind of user of a Buffer's memory, one of each."""
    out = {"view": b[::2], "readonly view": b.toreadonly(),
           "memoryview": memoryview(b), "ndarray": np.asarray(b),
           "dlpack": np.from_dlpack(b)}
    bufs = []
    data = pickle.dumps(b, protocol=5, buffer_callback=bufs.append)
    out["unpickled"] = pickle.loads(data, buffers=bufs)
    return out


def expected_items(user):
    """What users() of a Buffer over 0.0, 1.0, ... 7.0 see."""
    items = [float(i) for i in range(8)]
    return items[::2] if user == "view" else items


# --- from_address -------------------------------------------------------------

def test_from_address_is_zero_copy():
    o = Owner(6)
    b = pybuf.from_address(o.address, (2, 3), "d", owner=o)
    assert b.address == o.address and b.base is o
    assert (b.shape, b.strides, b.format, b.readonly) == ((2, 3), (24, 8), "d", False)
    o.array[4] = 2.5                        # a write through ctypes ...
    assert b[1, 1] == 2.5
    b[0, 2] = -1.0                          # ... and through the Buffer
    assert o.array[2] == -1.0
    a = np.asarray(b)
    assert a.ctypes.data == o.address and a.flags.writeable
    a[1, 2] = 9.0
    assert o.array[5] == 9.0
    assert memoryview(b).tolist() == [[0.0, 0.0, -1.0], [0.0, 2.5, 9.0]]


@pytest.mark.parametrize("seed", range(20))
def test_from_address_honours_strides(seed):
    rng = random.Random(seed)
    base = np.arange(4096, dtype=np.int32)
    ndim = rng.randint(1, 3)
    shape = tuple(rng.randint(0 if seed % 7 == 0 else 1, 5) for _ in range(ndim))
    strides = tuple(rng.choice([-1, 1]) * 4 * rng.randint(0, 12) for _ in range(ndim))
    start = 2048 * 4                        # room either side of the start
    addr = base.ctypes.data + start
    b = pybuf.from_address(addr, shape, "i", owner=base, strides=strides)
    oracle = np.lib.stride_tricks.as_strided(base[2048:], shape, strides)
    assert b.shape == shape
    if b.size:
        assert b.strides == strides and b.address == addr
    assert b.tolist() == oracle.tolist()
    assert np.asarray(b).tolist() == oracle.tolist()
    assert b.c_contiguous == oracle.flags.c_contiguous or b.size == 0


def test_from_address_readonly():
    o = Owner(4)
    o.array[:] = [1.0, 2.0, 3.0, 4.0]
    r = pybuf.from_address(o.address, 4, "d", owner=o, readonly=True)
    assert r.readonly and memoryview(r).readonly
    assert not np.asarray(r).flags.writeable
    with pytest.raises(BufferError):
        r[0] = 5.0
    with pytest.raises(BufferError):
        r.fill(0.0)
    with pytest.raises(BufferError):
        pybuf.asbuffer(r, writable=True)
    with pytest.raises(BufferError):
        pybuf.copyto(r, pybuf.zeros(4, "d"))
    assert list(o.array) == [1.0, 2.0, 3.0, 4.0]
    w = pybuf.from_address(o.address, 4, "d", owner=o, readonly=0)
    assert not w.readonly


@pytest.mark.parametrize("user", ["view", "readonly view", "memoryview",
                                  "ndarray", "dlpack", "unpickled"])
def test_from_address_keeps_its_owner_alive_exactly_as_needed(user):
    o = Owner(8)
    o.array[:] = range(8)
    alive = weakref.ref(o)
    b = pybuf.from_address(o.address, 8, "d", owner=o)
    held = users(b)[user]
    del o, b
    gc.collect()
    assert alive() is not None              # the user still needs the memory
    assert np.asarray(held).tolist() == expected_items(user)
    del held
    assert alive() is None                  # and not a moment longer


def test_from_address_owner_dropped_on_release_and_by_every_user():
    o = Owner(4)
    alive = weakref.ref(o)
    b = pybuf.from_address(o.address, 4, "d", owner=o)
    all_users = users(b)
    del o
    for name in list(all_users):
        assert alive() is not None, name
        del all_users[name]
    assert alive() is not None              # b itself
    b.release()
    assert alive() is None and b.released


def test_from_address_owner_is_keyword_required():
    arr = (ctypes.c_uint8 * 4)(1, 2, 3, 4)
    with pytest.raises(TypeError, match="owner"):
        pybuf.from_address(ctypes.addressof(arr), 4)
    with pytest.raises(TypeError):
        pybuf.from_address(ctypes.addressof(arr), 4, "B", arr)
    b = pybuf.from_address(ctypes.addressof(arr), 4, owner=None)
    assert b.base is None and b.tolist() == [1, 2, 3, 4]


@pytest.mark.parametrize("args, kwargs, exc", [
    ((0, 4), {}, ValueError),                           # NULL, 4 bytes
    ((0, (2, 3), "d"), {}, ValueError),
    ((-8, 4), {}, ValueError),
    ((2 ** 64, 4), {}, OverflowError),
    ((1.5, 4), {}, TypeError),
    (("0x1000", 4), {}, TypeError),
    ((4096, -1), {}, ValueError),
    ((4096, (2, "3")), {}, TypeError),
    ((4096, (1,) * 65), {}, ValueError),
    ((4096, 4, "not a format"), {}, ValueError),
    ((4096, 4, 7), {}, TypeError),
    ((4096, 4), {"strides": (8, 8)}, ValueError),       # wrong length
    ((4096, (2, 2)), {"strides": (8,)}, ValueError),
    ((4096, 4), {"strides": ("8",)}, TypeError),
    ((4096, 4), {"strides": (2 ** 70,)}, OverflowError),
    ((4096, 4, "d"), {"strides": (-8192,)}, ValueError),  # below address 0
    ((2 ** 64 - 16, 4, "d"), {}, ValueError),             # past the top
    ((4096, 2 ** 62, "d"), {}, OverflowError),
    ((4096, (2, 2 ** 62)), {"strides": (2 ** 62, 1)}, OverflowError),
])
def test_from_address_checks_like_every_constructor(args, kwargs, exc):
    with pytest.raises(exc):
        pybuf.from_address(*args, owner=None, **kwargs)


def test_from_address_zero_size_and_null():
    b = pybuf.from_address(0, 0, "d", owner=None)
    assert b.shape == (0,) and b.nbytes == 0 and b.tolist() == []
    assert memoryview(b).tolist() == []
    e = pybuf.from_address(0, (3, 0), owner=None)
    assert e.shape == (3, 0) and np.asarray(e).shape == (3, 0)
    s = pybuf.from_address(4096, (), "d", owner=None, strides=())
    assert s.shape == () and s.nbytes == 8          # made, never read


def test_from_address_formats_and_bytes_like_format():
    o = Owner(4, ctypes.c_int16)
    o.array[:] = [1, -2, 3, -4]
    b = pybuf.from_address(o.address, 2, "T{<h:a:<h:b:}", owner=o)
    assert b.itemsize == 4 and b.tolist() == [(1, -2), (3, -4)]
    h = pybuf.from_address(o.address, 4, ">h", owner=o)
    assert h.tolist() == [int.from_bytes(x.to_bytes(2, "little", signed=True),
                                         "big", signed=True)
                          for x in [1, -2, 3, -4]]


# --- from_pointer (C) ------------------------------------------------------------

EXTENSION = """
from libc.stdlib cimport malloc, free
from pybuf.buffer cimport Buffer, from_pointer

cdef extern from "Python.h":
    int PyGILState_Check() nogil

DEF SLOTS = 8192
cdef long calls[SLOTS]
cdef int without_gil = 0
cdef double static_data[16]

cdef struct Block:
    double *data
    int slot

cdef void release_block(void *ctx) noexcept nogil:
    # Counts, then frees (and so a second call would be a double free).
    global without_gil
    cdef Block *b = <Block *>ctx
    if not PyGILState_Check():
        without_gil += 1
    calls[b.slot] += 1
    free(b.data)
    free(b)


def make(int slot, shape, strides=None, bint readonly=False, fmt=b"d",
         Py_ssize_t itemsize=8, bint deleter=True):
    # A Buffer over malloc'd doubles 0, 1, 2, ...; release_block frees them.
    cdef Py_ssize_t dims[8]
    cdef Py_ssize_t steps[8]
    cdef Py_ssize_t n = 1, i
    cdef int ndim = len(shape)
    cdef const char *cfmt = NULL
    if fmt is not None:
        cfmt = fmt                 # fmt (bytes) outlives the call
    for i in range(ndim):
        dims[i] = shape[i]
        n *= shape[i]
        if strides is not None:
            steps[i] = strides[i]
    if strides is not None:
        n *= 4                     # room for the strided layouts used
    cdef Block *b = <Block *>malloc(sizeof(Block))
    b.data = <double *>malloc(max(n, 1) * sizeof(double))
    b.slot = slot
    for i in range(n):
        b.data[i] = i
    if not deleter:
        release_block(b)
        return from_pointer(<char *>static_data, ndim, dims, NULL, cfmt,
                            itemsize, readonly, NULL, NULL)
    return from_pointer(<char *>b.data, ndim, dims,
                        steps if strides is not None else NULL, cfmt, itemsize,
                        readonly, release_block, b)


def count(int slot):
    return calls[slot]


def total():
    cdef long s = 0
    for i in range(SLOTS):
        s += calls[i]
    return s


def calls_without_gil():
    return without_gil
"""


@pytest.fixture(scope="module")
def ext(tmp_path_factory):
    pytest.importorskip("Cython", reason="needs Cython: pip install Cython")
    return build_extension(tmp_path_factory.mktemp("frompointer"),
                           "frompointer", EXTENSION)


_slots = iter(range(1, 8192))


def test_from_pointer_basic(ext):
    slot = next(_slots)
    b = ext.make(slot, (2, 3))
    assert isinstance(b, pybuf.Buffer)
    assert (b.shape, b.strides, b.format, b.readonly, b.c_contiguous) == \
        ((2, 3), (24, 8), "d", False, True)
    assert b.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    b[1, 2] = 50.0
    assert np.asarray(b)[1, 2] == 50.0
    assert ext.count(slot) == 0
    del b
    assert ext.count(slot) == 1
    assert ext.calls_without_gil() == 0     # the GIL is held, as documented


def test_from_pointer_strides_and_readonly(ext):
    slot = next(_slots)
    b = ext.make(slot, (3, 2), (8, 48), readonly=True)   # Fortran order, gaps
    assert b.strides == (8, 48) and not b.c_contiguous and b.readonly
    assert b.tolist() == [[0.0, 6.0], [1.0, 7.0], [2.0, 8.0]]
    assert not np.asarray(b).flags.writeable
    with pytest.raises(BufferError):
        b[0, 0] = 1.0
    del b
    assert ext.count(slot) == 1


@pytest.mark.parametrize("user", ["view", "readonly view", "memoryview",
                                  "ndarray", "dlpack", "unpickled"])
def test_deleter_runs_once_after_the_last_user(ext, user):
    slot = next(_slots)
    b = ext.make(slot, (8,))
    everyone = users(b)
    held = everyone.pop(user)
    del everyone, b
    gc.collect()
    assert ext.count(slot) == 0             # never early
    assert np.asarray(held).tolist() == expected_items(user)
    del held
    assert ext.count(slot) == 1             # exactly once
    gc.collect()
    assert ext.count(slot) == 1


def test_deleter_runs_at_release(ext):
    slot = next(_slots)
    b = ext.make(slot, (4,))
    m = memoryview(b)
    with pytest.raises(BufferError):
        b.release()
    assert ext.count(slot) == 0
    m.release()
    b.release()
    assert ext.count(slot) == 1
    del b
    assert ext.count(slot) == 1


def _random_users(ext, slot, rng):
    """A from_pointer Buffer and 0 to 4 users made from it or from each
    other, in random order (no other reference survives this call)."""
    b = ext.make(slot, (rng.randint(0, 6), 3))
    held = [b]
    for _ in range(rng.randint(0, 4)):
        src = rng.choice(held)
        if not isinstance(src, pybuf.Buffer):
            src = b
        kind = rng.choice(["view", "memoryview", "ndarray", "T", "cast"])
        if kind == "view":
            held.append(src[::-1])
        elif kind == "memoryview":
            held.append(memoryview(src))
        elif kind == "ndarray":
            held.append(np.asarray(src))
        elif kind == "T":
            held.append(src.T)
        else:
            held.append(b.cast("B"))
    rng.shuffle(held)
    return held


def test_deleter_runs_once_over_2000_cycles(ext):
    rng = random.Random(15)
    slots = [next(_slots) for _ in range(40)]
    before = ext.total()
    for cycle in range(2000):
        slot = slots[cycle % len(slots)]
        expected = ext.count(slot)
        held = _random_users(ext, slot, rng)
        while held:
            assert ext.count(slot) == expected, cycle    # never early
            held.pop()
        assert ext.count(slot) == expected + 1, cycle    # exactly once
    assert ext.total() - before == 2000


def test_null_deleter_and_errors_run_the_deleter_once(ext):
    b = ext.make(next(_slots), (4,), deleter=False)
    assert b.shape == (4,)
    del b
    slot = next(_slots)
    with pytest.raises(ValueError, match="itemsize|bytes"):
        ext.make(slot, (4,), itemsize=4)             # "d" is 8 bytes
    assert ext.count(slot) == 1                      # taken over, freed once
    slot = next(_slots)
    with pytest.raises(ValueError):
        ext.make(slot, (2, -1))
    assert ext.count(slot) == 1
    slot = next(_slots)
    with pytest.raises(ValueError):
        ext.make(slot, (3,), fmt=b"not a format")
    assert ext.count(slot) == 1
    slot = next(_slots)
    b = ext.make(slot, (2,), fmt=None, itemsize=1)   # NULL format: "B"
    assert b.format == "B" and b.shape == (2,)
    del b
    assert ext.count(slot) == 1


def test_from_pointer_memory_is_not_pybufs(ext):
    before = pybuf.memory_info()["allocated"]
    b = ext.make(next(_slots), (1000,))
    assert pybuf.memory_info()["allocated"] == before
    with pytest.raises(ValueError, match="owns its memory"):
        b.resize(10)
