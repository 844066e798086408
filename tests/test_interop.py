"""Zero-copy transport: pickle 5 (in process, multiprocessing, Dask), file
mappings, named shared memory, and the numpy / PyTorch routes.

DLPack itself is tested in test_dlpack.py.  No test here may leave a
shared-memory segment behind: an autouse fixture compares the shared-memory
directory before and after each test.
"""
import concurrent.futures
import gc
import multiprocessing
import os
import pickle
import sys

import numpy as np
import pytest

import pybuf

sys.path.insert(0, os.path.dirname(__file__))
import _interop_workers as workers  # noqa: E402

from conftest import requires_torch, torch

SHM_DIR = "/dev/shm"
FORK = multiprocessing.get_context("fork") if sys.platform != "win32" else None


def _segments():
    if not os.path.isdir(SHM_DIR):
        return set()
    return {n for n in os.listdir(SHM_DIR) if n.startswith("pybuf_")}


@pytest.fixture(autouse=True)
def no_leaked_segments():
    """Fail a test that leaves a segment of its own in /dev/shm.  Only
    segments this process created count (``interop._LINKED``): another
    test run on the same machine may be creating its own meanwhile."""
    from pybuf import interop
    before = _segments()
    yield
    gc.collect()
    leaked = (_segments() - before) & set(interop._LINKED)
    for name in leaked:                   # clean up, then fail
        interop._unlink_name(name)
    assert not leaked, f"leaked shared-memory segments: {sorted(leaked)}"


def arange(shape, fmt="d"):
    b = pybuf.empty(shape, fmt)
    a = np.asarray(b)
    a[...] = np.arange(a.size).reshape(a.shape)
    return b


# --- pickle 5 ------------------------------------------------------------------

def _layouts():
    b = arange((6, 8))
    return {
        "C": b,
        "F": arange((8, 6)).T,
        "readonly": b.toreadonly(),
        "strided": b[1:5, ::3],
        "readonly-strided": b.toreadonly()[::-2, 1::2],
        "0-d": b[2, 3:4].reshape(()),
        "empty": b[:0],
        "int8": arange(100, "b"),
    }


@pytest.mark.parametrize("layout", sorted(_layouts()))
@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_pickle_round_trip(layout, protocol):
    x = _layouts()[layout]
    y = pickle.loads(pickle.dumps(x, protocol=protocol))
    assert type(y) is pybuf.Buffer
    assert y == x and y.shape == x.shape and y.format == x.format
    assert y.readonly == x.readonly
    if not x.readonly:
        y.fill(1)                        # writable for real


@pytest.mark.parametrize("layout", sorted(_layouts()))
def test_pickle5_out_of_band_copies_nothing(layout):
    x = _layouts()[layout]
    buffers = []
    data = pickle.dumps(x, protocol=5, buffer_callback=buffers.append)
    assert len(buffers) == 1 and len(data) < 200 + 2 * len(x.format)
    raw = buffers[0].raw()
    if x.contiguous:
        assert pybuf.asbuffer(raw).address == x.address or x.nbytes == 0
    else:
        assert raw.nbytes == x.nbytes    # made contiguous, once
    y = pickle.loads(data, buffers=buffers)
    assert y == x and y.readonly == x.readonly
    if x.contiguous and x.nbytes:
        assert y.address == x.address    # the unpickled Buffer is a view
        assert y.strides == x.strides


def _frames(x):
    """(pickle, frame bytes) of ``x`` pickled out of band."""
    buffers = []
    data = pickle.dumps(x, protocol=5, buffer_callback=buffers.append)
    return data, bytes(buffers[0].raw())


def _frame_kinds(raw):
    """The same bytes as the frames transports hand to ``loads``."""
    return {
        "bytes": raw,                                        # read-only
        "bytearray": bytearray(raw),
        "memoryview": memoryview(bytearray(raw)),
        "readonly memoryview": memoryview(bytearray(raw)).toreadonly(),
        "PickleBuffer": pickle.PickleBuffer(bytearray(raw)),
        "numpy": np.frombuffer(bytearray(raw), np.uint8),
        "readonly numpy": np.frombuffer(raw, np.uint8),
    }


@pytest.mark.parametrize("layout", ["C", "F", "0-d", "int8", "readonly"])
@pytest.mark.parametrize("kind", sorted(_frame_kinds(b"")))
def test_pickle5_writability_follows_the_frame(layout, kind):
    # numpy's rule, with numpy as the oracle: the unpickled object views the
    # frame (no copy) and is read-only exactly when the frame is, or when it
    # was pickled read-only.
    x = _layouts()[layout]
    data, raw = _frames(x)
    frame = _frame_kinds(raw)[kind]
    y = pickle.loads(data, buffers=[frame])
    assert type(y) is pybuf.Buffer and y == x
    assert (y.shape, y.format, y.strides) == (x.shape, x.format, x.strides)
    assert y.address == pybuf.asbuffer(frame).address          # a view
    a_data, a_raw = _frames(np.asarray(x))
    assert a_raw == raw
    a = pickle.loads(a_data, buffers=[_frame_kinds(raw)[kind]])
    assert y.readonly == (not a.flags.writeable)
    assert y.readonly == (pybuf.asbuffer(frame).readonly or x.readonly)
    if y.readonly:
        with pytest.raises(BufferError):
            y[(0,) * y.ndim] = 1
        w = y.copy()                     # what a writer does
        w[(0,) * w.ndim] = 1
        assert not w.readonly and w.address != y.address and y == x
    else:
        y[(0,) * y.ndim] = 1             # writes land in the frame
        again = pickle.loads(data, buffers=[frame])
        assert again[(0,) * y.ndim] == 1


def test_pickle5_frame_that_cannot_be_viewed_is_copied():
    x = arange((4, 6), "d")
    data, raw = _frames(x)
    # Not contiguous: copied once into an owned, aligned block.
    spread = bytearray(2 * len(raw))
    strided = memoryview(spread)[::2]
    strided[:] = raw
    for frame, readonly in ((strided, False), (strided.toreadonly(), True)):
        y = pickle.loads(data, buffers=[frame])
        assert y == x and y.readonly == readonly and y.address % 64 == 0
        assert not (pybuf.asbuffer(spread).address <= y.address
                    < pybuf.asbuffer(spread).address + len(spread))
    # Misaligned for its items (8-byte doubles one byte off): an aligned
    # copy; the same frame for bytes ('B' items) is viewed.
    block = bytearray(len(raw) + 1)
    shifted = memoryview(block)[1:]
    shifted[:] = raw
    assert pybuf.asbuffer(shifted).address % 8
    for frame, readonly in ((shifted, False), (shifted.toreadonly(), True)):
        y = pickle.loads(data, buffers=[frame])
        assert y == x and y.readonly == readonly and y.address % 64 == 0
    b_data, _ = _frames(pybuf.asbuffer(raw).cast("B"))
    assert pickle.loads(b_data, buffers=[shifted]).address == \
        pybuf.asbuffer(shifted).address
    # A frame of the wrong size cannot be this Buffer at all.
    for wrong in (raw[:-8], raw + bytes(8), b""):
        with pytest.raises(ValueError, match="cannot unpickle a Buffer"):
            pickle.loads(data, buffers=[wrong])


def test_pickle_in_band_and_old_protocols_stay_writable():
    # In band the data is in the pickle: protocols 0-4 carry bytes, copied
    # once so that a writable Buffer stays writable (protocol 5 in band
    # carries a bytearray, used as it is).
    x = arange(16, "i")
    for protocol in range(6):
        y = pickle.loads(pickle.dumps(x, protocol=protocol))
        assert y == x and not y.readonly
        y[0] = 7
        assert x[0] == 0
        r = pickle.loads(pickle.dumps(x.toreadonly(), protocol=protocol))
        assert r == x and r.readonly
    # A protocol-5 pickle made before the frame rule (its call to _rebuild
    # has no flag) loads as it did then.
    from pybuf.buffer import _rebuild
    raw = _frames(x)[1]
    y = _rebuild(raw, "i", (16,), "C", False)
    assert y == x and not y.readonly


def test_pickle5_numpy_interop():
    # A Buffer and a numpy array pickle to the same out-of-band frame size.
    x = arange(1000)
    bufs_b, bufs_n = [], []
    pickle.dumps(x, protocol=5, buffer_callback=bufs_b.append)
    pickle.dumps(np.asarray(x), protocol=5, buffer_callback=bufs_n.append)
    assert bufs_b[0].raw().nbytes == bufs_n[0].raw().nbytes == x.nbytes


@pytest.mark.parametrize("layout", ["C", "F", "readonly", "readonly-strided"])
def test_multiprocessing(layout):
    x = _layouts()[layout]
    with FORK.Pool(1) as pool:
        kind, shape, fmt, readonly, _, data = pool.apply(workers.describe, (x,))
        back = pool.apply(workers.echo, (x,))
    assert (kind, shape, fmt, readonly) == ("Buffer", x.shape, x.format, x.readonly)
    assert data == x.tobytes()
    assert back == x and back.readonly == x.readonly


def test_process_pool_executor_spawn():
    x = arange(1000, "q")
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as ex:
        y = ex.submit(workers.negate, x).result(timeout=60)
        r = ex.submit(workers.echo, x[::7].toreadonly()).result(timeout=60)
    assert y.tolist() == [-v for v in x.tolist()]
    assert r == x[::7] and r.readonly


# --- Dask ------------------------------------------------------------------------

def test_dask_distributed_64mib():
    distributed = pytest.importorskip(
        "distributed", reason="needs Dask's distributed: pip install distributed")
    from distributed.protocol import deserialize, serialize

    n = 64 << 20
    b = pybuf.empty(n, "B")
    np.asarray(b)[:] = np.arange(n, dtype=np.uint32).astype(np.uint8)

    # Dask's pickle serializer carries the memory as a frame of its own,
    # which is b's memory itself: nothing copied on the way out.
    header, frames = serialize(b)
    big = [f for f in frames if memoryview(f).nbytes == n]
    assert len(big) == 1 and sum(memoryview(f).nbytes for f in frames) < n + 4096
    assert pybuf.asbuffer(big[0]).address == b.address
    assert deserialize(header, frames) == b

    def invert(x):                       # runs in a worker process
        import numpy
        import pybuf
        y = pybuf.copy(x)
        numpy.bitwise_not(numpy.asarray(y), out=numpy.asarray(y))
        return y

    def worker_kernels(x):               # pybuf's kernels, in a worker
        import pybuf
        return {"view": x.base is not None, "shape": x.shape,
                "sum": pybuf.sum(x), "min": pybuf.min(x), "max": pybuf.max(x),
                "equal": pybuf.equal(x, pybuf.copy(x))}

    # Generous connect timeouts: worker processes start slowly on a loaded
    # two-core machine.
    import dask
    with dask.config.set({"distributed.comm.timeouts.connect": "120s"}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1,
                                  processes=True, dashboard_address=None,
                                  silence_logs=50) as cluster, \
            distributed.Client(cluster, timeout=60) as client:
        data = client.scatter(b)         # sent once, as out-of-band frames
        result = client.submit(invert, data).result(timeout=60)
        again = client.submit(lambda x: x, data).result(timeout=60)
        # Kernels run on the scattered Buffer where it lives, as it arrived:
        # a view of the frame the worker received, not a copy.
        stats = client.submit(worker_kernels, data).result(timeout=60)
        # Several at once: a scatter of a list, then gather.
        parts = client.scatter([b[: n // 2], b[n // 2:].cast("q"),
                                b[:4096].cast("i").toreadonly()])
        gathered = client.gather([client.submit(lambda x: x, p)
                                  for p in parts] + parts)
    assert isinstance(result, pybuf.Buffer) and result.shape == (n,)
    np.testing.assert_array_equal(np.asarray(result), ~np.asarray(b))
    assert again == b
    a = np.asarray(b)
    assert stats["view"] and stats["sum"] == int(a.sum(dtype=np.uint64))
    assert (stats["min"], stats["max"]) == (a.min(), a.max())
    assert stats["equal"] and stats["shape"] == (n,)
    expected = [b[: n // 2], b[n // 2:].cast("q"),
                b[:4096].cast("i").toreadonly()]
    for got, want in zip(gathered, expected * 2):
        assert type(got) is pybuf.Buffer and got == want
        assert (got.shape, got.format) == (want.shape, want.format)
    assert gathered[2].readonly and gathered[5].readonly


# --- memmap ----------------------------------------------------------------------

@pytest.fixture
def datafile(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(np.arange(1024, dtype="<f8").tobytes())
    return path


def _mapped(path):
    if not os.path.exists("/proc/self/maps"):
        pytest.skip("needs /proc/self/maps to see mappings")
    with open("/proc/self/maps") as f:
        return str(path) in f.read()


def test_memmap_read(datafile):
    m = pybuf.memmap(datafile, "d")
    assert isinstance(m, pybuf.MemmapBuffer) and isinstance(m, pybuf.Buffer)
    assert m.shape == (1024,) and m.readonly and m.mode == "r"
    assert m[5] == 5.0 and m[-1] == 1023.0
    a = np.asarray(m)
    assert not a.flags.writeable and a.ctypes.data == m.address
    with pytest.raises(BufferError):
        m[0] = 1.0
    with pytest.raises(BufferError):
        pybuf.asbuffer(m, writable=True)
    with pytest.raises((BufferError, TypeError)):
        memoryview(m)[0] = 1.0
    m2 = pybuf.memmap(datafile, "d", (4, 4), offset=8 * 10)
    assert m2[0].tolist() == [10.0, 11.0, 12.0, 13.0]
    m3 = pybuf.memmap(datafile, "B", 3, offset=4097)      # unaligned offset
    assert m3.tobytes() == datafile.read_bytes()[4097:4100]
    del a
    for x in (m, m2, m3):
        x.close()


def test_memmap_write_modes(datafile, tmp_path):
    m = pybuf.memmap(datafile, "d", mode="r+")
    m[0] = -1.0
    m.flush()
    assert np.frombuffer(datafile.read_bytes(), "<f8")[0] == -1.0
    m.close()

    c = pybuf.memmap(datafile, "d", (2,), mode="c")
    c[1] = 42.0                          # private to this process
    assert c[1] == 42.0
    c.flush()
    c.close()
    assert np.frombuffer(datafile.read_bytes(), "<f8")[1] == 1.0

    new = tmp_path / "new.bin"
    w = pybuf.memmap(new, "i", (3, 4), mode="w+")
    assert w.tolist() == [[0] * 4] * 3
    np.asarray(w)[...] = np.arange(12).reshape(3, 4)
    w.flush()
    del w
    gc.collect()
    assert np.fromfile(new, "i").tolist() == list(range(12))

    # r+ grows the file when the shape needs more bytes.
    g = pybuf.memmap(new, "i", 20, mode="r+", offset=8)
    g[-1] = 7
    g.close()
    assert os.path.getsize(new) == 88 and np.fromfile(new, "i")[-1] == 7
    with pybuf.memmap(new, "i", mode="readwrite") as h:   # numpy's long name
        assert h[2] == 2


def test_memmap_lifetime(datafile):
    m = pybuf.memmap(datafile, "d", mode="r+")
    view = m[10:20]
    arr = np.asarray(m)
    with pytest.raises(BufferError):
        m.close()                        # exported: left intact
    assert m[3] == 3.0 and _mapped(datafile)
    del arr
    with pytest.raises(BufferError):
        m.close()
    del m
    gc.collect()
    assert view[0] == 10.0 and _mapped(datafile)    # the view keeps it mapped
    view[0] = 99.0
    del view
    gc.collect()
    assert not _mapped(datafile)         # last one gone: unmapped
    assert np.frombuffer(datafile.read_bytes(), "<f8")[10] == 99.0

    m = pybuf.memmap(datafile, "d")
    m.close()
    assert not _mapped(datafile) and m.released
    with pytest.raises(ValueError):
        m[0]
    with pytest.raises(ValueError):
        m.flush()


def test_memmap_bad_input(datafile, tmp_path):
    size = datafile.stat().st_size
    with pytest.raises(ValueError, match="offset"):
        pybuf.memmap(datafile, offset=-1)
    with pytest.raises(ValueError, match="beyond the end"):
        pybuf.memmap(datafile, "d", 1025)
    with pytest.raises(ValueError, match="beyond the end"):
        pybuf.memmap(datafile, "d", 2, mode="c", offset=size - 8)
    with pytest.raises(ValueError, match="end"):
        pybuf.memmap(datafile, offset=size)
    with pytest.raises(ValueError, match="whole number"):
        pybuf.memmap(datafile, "d", offset=3)
    with pytest.raises(ValueError, match="mode"):
        pybuf.memmap(datafile, mode="a")
    with pytest.raises(ValueError, match="shape"):
        pybuf.memmap(tmp_path / "x.bin", mode="w+")
    with pytest.raises(ValueError):
        pybuf.memmap(datafile, "d", -3)
    with pytest.raises(ValueError):
        pybuf.memmap(datafile, "d", 0)
    with pytest.raises(FileNotFoundError):
        pybuf.memmap(tmp_path / "missing.bin")
    with pytest.raises(TypeError):
        pybuf.MemmapBuffer(3)
    assert datafile.stat().st_size == size and not _mapped(datafile)


# --- shared memory ------------------------------------------------------------

def test_shared_attach_same_process():
    b = pybuf.shared((3, 4), "i")
    try:
        assert b.creator and b.tolist() == [[0] * 4] * 3
        assert os.path.exists(os.path.join(SHM_DIR, b.name))
        other = pybuf.attach(b.name, (3, 4), "i")
        assert not other.creator and other.address != b.address
        other[1, 2] = 12
        assert b[1, 2] == 12
        np.asarray(b)[2, 3] = -7
        assert other[2, 3] == -7
        smaller = pybuf.attach(b.name, 5, "B")
        assert smaller[0] == 0
        other.close()
        smaller.close()
    finally:
        b.unlink()
    assert not os.path.exists(os.path.join(SHM_DIR, b.name))
    b[0, 0] = 1                          # still mapped after unlink
    assert b[0, 0] == 1
    with pytest.raises(FileNotFoundError):
        pybuf.attach(b.name, (3, 4), "i")
    b.unlink()                           # a second unlink does nothing
    b.close()


def test_shared_across_processes():
    with pybuf.shared(1000, "d") as b:
        with FORK.Pool(1) as pool:
            # Pickled by name: the child maps the same memory.
            kind, creator, value = pool.apply(workers.write_shared, (b, 3, 2.5))
            assert (kind, creator, value) == ("SharedBuffer", False, 2.5)
            assert b[3] == 2.5
            pool.apply(workers.write_attached, (b.name, 1000, "d", 999, -1.0))
            assert b[999] == -1.0
        assert len(pickle.dumps(b)) < 200
    assert b.released and b.name not in _segments()


def test_shared_spawned_process():
    ctx = multiprocessing.get_context("spawn")
    with pybuf.shared((4, 4), "f") as b, \
            concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as ex:
        ex.submit(workers.write_shared, b, (1, 1), 5.0).result(timeout=60)
        assert b[1, 1] == 5.0


def test_shared_views_keep_mapping():
    b = pybuf.shared(64, "B", name=f"pybuf_test_{os.getpid()}")
    assert b.name == f"pybuf_test_{os.getpid()}"
    view = b[8:16]
    with pytest.raises(BufferError):
        b.close()
    b.unlink()
    del b
    gc.collect()
    view[0] = 200
    assert view[0] == 200
    del view


def test_shared_bad_input():
    with pytest.raises(FileNotFoundError):
        pybuf.attach("pybuf_no_such_segment", 10)
    with pybuf.shared(16, "B") as b:
        with pytest.raises(FileExistsError):
            pybuf.shared(16, "B", name=b.name)
        with pytest.raises(ValueError, match="fewer"):
            pybuf.attach(b.name, 17)
    for bad in ("", "a/b", "x" * 300):
        with pytest.raises(ValueError, match="name"):
            pybuf.shared(4, name=bad)
    with pytest.raises(TypeError):
        pybuf.shared(4, name=3)
    with pytest.raises(ValueError):
        pybuf.shared(-1)
    with pytest.raises(ValueError):
        pybuf.shared(4, "not a format")
    with pytest.raises(TypeError):
        pybuf.SharedBuffer(4)
    # the longest name this platform's shm_open takes, in bytes
    longest = 30 if sys.platform == "darwin" else 200
    with pybuf.shared(4, name="n" * longest) as b:
        assert b.name == "n" * longest
    for bad in ("n" * (longest + 1), "\u00e9" * (longest // 2 + 1)):
        with pytest.raises(ValueError, match=f"1 to {longest} bytes"):
            pybuf.shared(4, name=bad)


def test_shared_memory_missing_is_clear(monkeypatch):
    """Where CPython has no _posixshmem (Windows), shared() and attach()
    say what to use instead; nothing is left behind."""
    monkeypatch.setitem(sys.modules, "_posixshmem", None)   # import fails
    for call in (lambda: pybuf.shared(4), lambda: pybuf.attach("pybuf_x", 4)):
        with pytest.raises(NotImplementedError, match="multiprocessing.shared_memory"):
            call()


def test_shared_copy_does_not_share():
    import copy
    with pybuf.shared(4, "i") as b:
        for c in (copy.copy(b), copy.deepcopy(b)):
            assert type(c) is pybuf.Buffer and c == b
            c[0] = 1
            assert b[0] == 0


def test_shared_zero_size():
    with pybuf.shared((0, 3), "d") as b:
        assert b.shape == (0, 3) and b.nbytes == 0
        e = pybuf.attach(b.name, (0, 3), "d")
        assert e.tolist() == []
        e.close()


def test_unlink_leftovers_at_exit():
    from pybuf import interop
    b = pybuf.shared(8)
    name = b.name
    b.close()
    assert name in _segments()
    interop._unlink_leftovers()          # what atexit runs
    assert name not in _segments()


# --- shared memory, the Windows backend -----------------------------------------
# Windows cannot run here: its backend (interop._WindowsShm) runs against a
# stand-in for _winapi that keeps named mappings as Windows does -- a
# mapping lives while a handle or a view (mmap) of it is open, mmap's
# tagname alone makes a new one -- with files in a temporary folder as the
# memory, and records every call.

class FakeWinapi:
    INVALID_HANDLE_VALUE = 2 ** 64 - 1
    NULL = 0
    PAGE_READWRITE = 0x04
    FILE_MAP_READ = 0x04
    ERROR_ALREADY_EXISTS = 183
    PAGE = 4096

    def __init__(self, folder):
        self.folder = folder
        self.calls = []
        self.objects = {}          # name -> {"size", "handles", "views"}
        self.handles = {}          # handle -> name
        self.views = {}            # address -> name
        self.last_error = 0
        self._next = 100

    def _new_handle(self, name):
        self._next += 4
        self.handles[self._next] = name
        self.objects[name]["handles"] += 1
        return self._next

    def _make(self, name, size):
        # a section backed by the paging file has whole pages
        with open(self.folder / name, "wb") as f:
            f.truncate(-(-size // self.PAGE) * self.PAGE)
        self.objects[name] = {"size": size, "handles": 0, "views": []}

    def _collect(self, name):
        obj = self.objects.get(name)
        if obj and obj["handles"] == 0 and all(m.closed for m in obj["views"]):
            del self.objects[name]
            os.remove(self.folder / name)

    def alive(self, name):
        self._collect(name)
        return name in self.objects

    def CreateFileMapping(self, file, attributes, protect, high, low, name):
        self.calls.append(("CreateFileMapping", file, attributes, protect, high, low, name))
        self._collect(name)
        self.last_error = self.ERROR_ALREADY_EXISTS if name in self.objects else 0
        if not self.last_error:
            self._make(name, (high << 32) | low)
        return self._new_handle(name)

    def GetLastError(self):
        return self.last_error

    def OpenFileMapping(self, access, inherit, name):
        self.calls.append(("OpenFileMapping", access, inherit, name))
        self._collect(name)
        if name not in self.objects:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return self._new_handle(name)

    def MapViewOfFile(self, handle, access, high, low, n):
        self.calls.append(("MapViewOfFile", handle, access, high, low, n))
        address = 0x10000 * (len(self.views) + 1)
        self.views[address] = self.handles[handle]
        return address

    def VirtualQuerySize(self, address):
        size = self.objects[self.views[address]]["size"]
        return -(-size // self.PAGE) * self.PAGE          # whole pages

    def UnmapViewOfFile(self, address):
        self.calls.append(("UnmapViewOfFile", address))
        del self.views[address]

    def CloseHandle(self, handle):
        self.calls.append(("CloseHandle", handle))
        name = self.handles.pop(handle)
        self.objects[name]["handles"] -= 1
        self._collect(name)

    def mmap(self, fileno, length, *, tagname):
        """Windows' mmap.mmap(-1, length, tagname=name)."""
        import mmap
        assert fileno == -1
        self.calls.append(("mmap", length, tagname))
        self._collect(tagname)
        if tagname not in self.objects:
            self._make(tagname, length)
        with open(self.folder / tagname, "r+b") as f:
            m = mmap.mmap(f.fileno(), length)
        self.objects[tagname]["views"].append(m)
        return m

    def open_handles(self):
        return len(self.handles)


@pytest.fixture
def windows(tmp_path, monkeypatch):
    """pybuf.shared/attach on the Windows backend, over FakeWinapi."""
    from pybuf import interop
    fake = FakeWinapi(tmp_path)
    monkeypatch.setattr(interop, "_shm", lambda: interop._WindowsShm(fake, fake.mmap))
    return fake


def test_windows_shared_attach(windows):
    from pybuf import interop
    b = pybuf.shared((3, 4), "i")
    name = b.name
    # one named mapping of exactly the bytes asked for, its handle closed
    # once the mmap holds the mapping
    create = [c for c in windows.calls if c[0] == "CreateFileMapping"]
    assert create == [("CreateFileMapping", windows.INVALID_HANDLE_VALUE, 0,
                       windows.PAGE_READWRITE, 0, 48, name)]
    assert ("mmap", 48, name) in windows.calls
    assert windows.open_handles() == 0 and windows.alive(name)
    assert name not in interop._LINKED           # nothing to unlink at exit
    assert b.creator and b.tolist() == [[0] * 4] * 3

    windows.calls.clear()
    other = pybuf.attach(name, (3, 4), "i")
    assert [c[0] for c in windows.calls] == [
        "OpenFileMapping", "MapViewOfFile", "UnmapViewOfFile", "mmap", "CloseHandle"]
    assert windows.calls[0] == ("OpenFileMapping", windows.FILE_MAP_READ, False, name)
    assert ("mmap", 4096, name) in windows.calls     # the whole page
    assert windows.open_handles() == 0 and not windows.views
    other[1, 2] = 12
    assert b[1, 2] == 12
    np.asarray(b)[2, 3] = -7
    assert other[2, 3] == -7
    # pickling sends the name; the receiver attaches
    again = pickle.loads(pickle.dumps(b))
    assert not again.creator and again[2, 3] == -7
    again.close()

    # the size check reads whole pages on Windows
    pybuf.attach(name, 4096, "B").close()
    with pytest.raises(ValueError, match="4096 bytes, fewer than the 4097"):
        pybuf.attach(name, 4097, "B")
    with pytest.raises(FileExistsError):
        pybuf.shared(4, name=name)
    assert windows.open_handles() == 0                # closed on error too

    # unlink is a no-op: the mapping lives while a process maps it ...
    b.unlink()
    b.unlink()
    other.close()
    pybuf.attach(name, 4).close()
    b.close()
    # ... and goes with the last view
    assert not windows.alive(name)
    with pytest.raises(FileNotFoundError):
        pybuf.attach(name, 4)


def test_windows_shared_with_block_and_views(windows):
    with pybuf.shared(64, "B", name="pybuf_win_test") as b:
        view = b[8:16]
        with pytest.raises(BufferError):
            b.close()
        del view
    assert b.released and not windows.alive("pybuf_win_test")


def test_windows_names_and_sizes(windows):
    from pybuf import interop
    # a backslash separates a kernel namespace from the name: refused
    for bad in ("", "a/b", "Local\\x", "x" * 201):
        with pytest.raises(ValueError, match="name"):
            pybuf.shared(4, name=bad)
    assert not windows.calls
    with pybuf.shared((0, 3), "d") as b:                 # at least one byte
        assert b.nbytes == 0
        assert windows.calls[0][4:6] == (0, 1)
    # sizes past 4 GiB: high and low halves (the mapping itself not made)
    shm = interop._WindowsShm(windows, lambda fileno, n, tagname: ("mapped", n))
    assert shm.create("pybuf_big", (5 << 32) + 7) == (("mapped", (5 << 32) + 7),
                                                      (5 << 32) + 7)
    assert windows.calls[-2][4:6] == (5, 7)


# --- numpy and PyTorch routes --------------------------------------------------

def test_numpy_asarray_shares():
    b = pybuf.zeros((3, 3), "d")
    a = np.asarray(b)
    assert a.ctypes.data == b.address
    a[2, 1] = 4.0
    assert b[2, 1] == 4.0
    b[0, 0] = 9
    assert a[0, 0] == 9


def test_asbuffer_of_numpy_shares():
    a = np.zeros(5, np.int32)
    b = pybuf.asbuffer(a, writable=True)
    b[1] = 3
    assert a[1] == 3


@requires_torch
def test_torch_frombuffer_shares():
    b = pybuf.zeros(8, "f")
    t = torch.frombuffer(b, dtype=torch.float32)
    assert t.data_ptr() == b.address
    t[3] = 1.5
    assert b[3] == 1.5
    b[0] = 2.0
    assert t[0].item() == 2.0
    del t
    gc.collect()


@requires_torch
def test_torch_from_dlpack_shares():
    b = pybuf.zeros((2, 2), "q")
    t = torch.from_dlpack(b)
    t[0, 1] = 5
    assert b[0, 1] == 5


@requires_torch
def test_asbuffer_of_tensor_numpy_shares():
    t = torch.zeros(6, dtype=torch.float64)
    b = pybuf.asbuffer(t.numpy(), writable=True)
    assert b.address == t.data_ptr()
    b[4] = 8.0
    assert t[4].item() == 8.0
    t[0] = -1
    assert b[0] == -1.0


# --- the docs page --------------------------------------------------------------

def test_docs_interop_page_runs():
    import doctest
    page = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
        __file__))), "docs", "interop.rst")
    if not os.path.exists(page):
        pytest.skip("no docs/ folder next to the tests: run them from a "
                    "pybuf checkout or its sdist")
    result = doctest.testfile(page, module_relative=False,
                              optionflags=doctest.ELLIPSIS |
                              doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 40


@pytest.mark.parametrize("make", [
    lambda shape, tmp: pybuf.memmap(tmp / "new.bin", "d", shape, mode="w+"),
    lambda shape, tmp: pybuf.shared(shape, "d"),
    lambda shape, tmp: pybuf.attach("pybuf-no-such-segment", shape, "d"),
], ids=["memmap", "shared", "attach"])
@pytest.mark.parametrize("shape,error", [
    ((1,) * 65, ValueError),              # more dimensions than a Buffer has
    ((2**40, 2**40), OverflowError),      # the size does not fit in Py_ssize_t
    ((3, -1), ValueError),
    ((2, 1.5), TypeError),
    ("12", TypeError),
])
def test_mapped_shapes_are_checked_as_buffer_checks_them(make, shape, error,
                                                        tmp_path):
    """memmap, shared and attach read a shape with Buffer's own checks
    (one home: pybuf._layout), before anything is created or mapped."""
    with pytest.raises(error):
        pybuf.Buffer(shape, "d")
    with pytest.raises(error):
        make(shape, tmp_path)
    assert not (tmp_path / "new.bin").exists()
