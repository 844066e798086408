"""Memory safety: no pointer outlives a check (DESIGN.md "Safety rules").

Every case that could crash runs in a child process, so that a segfault or
an abort fails one test instead of taking the run down.  The families:

- racing threads: release()/resize() against every method that reads or
  writes items, and against GIL-free kernels;
- user callbacks (``__index__``, ``__float__``, ``__eq__``, ``__buffer__``)
  that release, resize or export the Buffer in the middle of a call;
- writes through suboffsets (PIL-style exporters), with numpy as the oracle
  of the values and ``_testbuffer``'s own reader as the check that the
  exporter's pointer table is intact;
- object items ('O'), which pybuf refuses to create, copy or overwrite;
- sizes and capsules at the edges.
"""
import array
import ctypes
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import pybuf
from conftest import requires_testbuffer


def run_child(body, timeout=120):
    """Run ``body`` in a fresh interpreter; it must print OK and exit 0."""
    code = "import sys, threading, pybuf\n" + textwrap.dedent(body) + "\nprint('OK')\n"
    proc = subprocess.run([sys.executable, "-X", "faulthandler", "-c", code],
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("OK"), (
        f"child exited with {proc.returncode}\n--- stdout\n{proc.stdout[-3000:]}"
        f"\n--- stderr\n{proc.stderr[-3000:]}")
    return proc.stdout


# --------------------------------------------------------------------------
# threads

RACE = """
sys.setswitchinterval(1e-6)
b = {make}
stop = False
errors = []
threading.excepthook = lambda args: errors.append(repr(args.exc_value))

def worker():
    n = 0
    while not stop and n < {rounds}:
        n += 1
        try:
            {op}
        except ValueError as e:          # released: the documented error
            assert "released" in str(e), e
            return
        except BufferError:               # a view of b raced with its release
            pass
        except IndexError:                # b was resized under the index
            pass

def killer():
    global stop
    while True:
        try:
            b.{kill}
        except BufferError:               # in use: the documented refusal
            continue
        except ValueError:                # resize on an already released one
            pass
        break
    while {then_release}:
        try:
            b.release()
        except BufferError:
            continue
        break
    stop = True

t1 = threading.Thread(target=worker)
t2 = threading.Thread(target=killer)
t1.start(); t2.start(); t1.join(); t2.join()
assert not errors, errors
assert b.released
"""

STRUCT2D = 'pybuf.Buffer((4096, 16), "T{i:a:d:b:}")'
BIG_D = 'pybuf.zeros((512, 64), "d")'

THREAD_CASES = {
    "tolist-struct": (STRUCT2D, "b.tolist()"),
    "setitem-struct": (STRUCT2D, "b[n % 4096, 3] = (1, 2.0)"),
    "getitem-struct": (STRUCT2D, "b[n % 4096, 5]"),
    "slice-assign-struct": (STRUCT2D, "b[n % 4096] = b[(n + 1) % 4096]"),
    "tobytes": (BIG_D, "b.tobytes()"),
    "copy": (BIG_D, "b.copy(order='F')"),
    "fill": (BIG_D, "b.fill(1.5)"),
    "eq": (BIG_D, "b == b[::1]"),
    "repr": (STRUCT2D, "repr(b)"),
    "transpose-tolist": (BIG_D, "b.T.tolist()"),
    "cast": (BIG_D, "b.cast('B')[7]"),
    "kernel-sum": (BIG_D, "pybuf.sum(b)"),
    "kernel-fill": (BIG_D, "pybuf.fill(b, 2.0)"),
    "kernel-copyto": (BIG_D, "pybuf.copyto(b, b[::-1])"),
    "kernel-astype": (BIG_D, "pybuf.astype(b, 'f')"),
    "kernel-equal": (BIG_D, "pybuf.equal(b, b)"),
    "pickle": (BIG_D, "__import__('pickle').dumps(b, protocol=5)"),
}


@pytest.mark.parametrize("kill", ["release()", "resize(1)"])
@pytest.mark.parametrize("case", sorted(THREAD_CASES))
def test_race_against_release_and_resize(case, kill):
    make, op = THREAD_CASES[case]
    then_release = kill != "release()"
    if kill == "resize(1)" and "struct" in case:
        kill = "resize((1, 1))"
    run_child(RACE.format(make=make, op=op, kill=kill, rounds=300,
                          then_release=then_release))


def test_release_waits_for_a_long_kernel():
    # While a GIL-free kernel runs, release() is refused; afterwards it works.
    run_child("""
        b = pybuf.full(16 << 20, 1.0, "d")
        refused = []
        def killer():
            while True:
                try:
                    b.release()
                    return
                except BufferError:
                    refused.append(1)
        t = threading.Thread(target=killer)
        total = None
        t.start()
        for _ in range(3):
            try:
                total = pybuf.sum(b)
            except ValueError:
                break
        t.join()
        assert total in (None, 16 << 20), total
        assert b.released
    """)


# --------------------------------------------------------------------------
# user callbacks that release, resize or export in the middle of a call

CALLBACK = """
import pickle
b = {make}
before = b.tobytes()

class Evil:
    def __init__(self, value):
        self.value = value
    def act(self):
        {act}
    def __index__(self):
        self.act(); return self.value
    def __float__(self):
        self.act(); return float(self.value)
    def __int__(self):
        self.act(); return self.value
    def __eq__(self, other):
        self.act(); return False
    def __lt__(self, other):
        self.act(); return self.value < other
    def __ge__(self, other):
        self.act(); return self.value >= other
    __hash__ = object.__hash__

try:
    result = {call}
except (BufferError, ValueError, TypeError, IndexError) as e:
    outcome = type(e).__name__
else:
    outcome = "ok"
import gc
result = None                   # a view holds an export of b
gc.collect()
if b.released:
    # The callback ran before the call touched b (an argument parsed
    # first): the call then fails cleanly on the released Buffer.
    assert outcome == "ValueError", outcome
else:
    # b is intact: readable, no stray export, no pin left behind (release
    # works).
    assert b.exports == 0, b.exports
    b.tobytes()
    b.release()
print(outcome)
"""

KILLERS = {
    "release": "b.release()",
    "resize": "b.resize(3)",
    "resize-big": "b.resize(1 << 20)",
    "export": "self.m = memoryview(b)",
}

CALLS = {
    "index-2d": ("pybuf.zeros((8, 4), 'i')", "b[Evil(1), 0]"),
    "index-1d": ("pybuf.zeros(8, 'i')", "b[Evil(1)]"),
    "slice": ("pybuf.zeros(8, 'i')", "b[Evil(1):Evil(5)]"),
    "setitem-float": ("pybuf.zeros(16, 'd')", "b.__setitem__(7, Evil(3))"),
    "setitem-int": ("pybuf.zeros(16, 'q')", "b.__setitem__(7, Evil(3))"),
    "setitem-struct": ("pybuf.zeros(16, 'T{i:a:d:b:}')",
                       "b.__setitem__(7, (Evil(1), Evil(2)))"),
    "setitem-slice": ("pybuf.zeros(16, 'd')", "b.__setitem__(slice(2, 9), Evil(3))"),
    "fill": ("pybuf.zeros(16, 'd')", "b.fill(Evil(3))"),
    "fill-int": ("pybuf.zeros(16, 'i')", "b.fill(Evil(3))"),
    "transpose": ("pybuf.zeros((4, 6), 'd')", "b.transpose(Evil(1), 0)"),
    "reshape": ("pybuf.zeros((4, 6), 'd')", "b.reshape(Evil(6), 4)"),
    "cast": ("pybuf.zeros(16, 'd')", "b.cast('B', (Evil(2), 64))"),
    "tobytes-order": ("pybuf.zeros((4, 6), 'd')", "b.tobytes(order=Evil(0))"),
    "copy-order": ("pybuf.zeros((4, 6), 'd')", "b.copy(order=Evil(0))"),
    "module-copy-align": ("pybuf.zeros(16, 'd')", "pybuf.copy(b, align=Evil(64))"),
    "module-copy-order": ("pybuf.zeros(16, 'd')", "pybuf.copy(b, order=Evil(0))"),
    "resize-shape": ("pybuf.zeros(16, 'd')", "b.resize((Evil(4),))"),
    "kernel-fill": ("pybuf.zeros(16, 'd')", "pybuf.fill(b, Evil(3))"),
    "dlpack-version": ("pybuf.zeros(16, 'd')",
                       "b.__dlpack__(max_version=(Evil(1), 0))"),
    "pickle-protocol": ("pybuf.zeros(16, 'd')", "b.__reduce_ex__(Evil(5))"),
}


@pytest.mark.parametrize("killer", sorted(KILLERS))
@pytest.mark.parametrize("call", sorted(CALLS))
def test_callback_cannot_free_under_a_call(call, killer):
    make, expr = CALLS[call]
    run_child(CALLBACK.format(make=make, call=expr, act=KILLERS[killer]))


@pytest.mark.skipif(sys.version_info < (3, 12), reason="__buffer__ is Python 3.12+")
@pytest.mark.parametrize("killer", sorted(KILLERS))
def test_buffer_callback_in_comparison_and_assignment(killer):
    # Python classes export buffers through __buffer__ from 3.12 on: the
    # other side of ==, of slice assignment and of copyto runs user code.
    body = """
        import gc
        calls = (lambda b: b == X(), lambda b: b.__setitem__(slice(None), X()),
                 lambda b: pybuf.copyto(b, X()), lambda b: pybuf.equal(b, X()),
                 lambda b: pybuf.copyto(X(), b))
        for call in calls:
            b = pybuf.zeros(64, "d")
            class X:
                m = None
                def __buffer__(self, flags):
                    {act}
                    return memoryview(bytearray(64 * 8)).cast("d")
            try:
                call(b)
            except (BufferError, ValueError):
                pass
            X.m = None
            gc.collect()
            assert b.exports == 0
            b.tobytes() if not b.released else None
            b.release()
    """
    run_child(body.format(act=KILLERS[killer].replace("self.m", "X.m")))


def test_resize_refuses_when_its_shape_exports_the_buffer():
    # The shape's __index__ takes a memoryview: resize must see that export
    # (it evaluates the shape before checking) and leave the view valid.
    run_child("""
        b = pybuf.full(16, 7, "B")
        views = []
        class S:
            def __index__(self):
                views.append(memoryview(b))
                return 1 << 20
        try:
            b.resize((S(),))
        except BufferError:
            pass
        else:
            raise AssertionError("resize under a live memoryview")
        assert b.exports == 1 and views[0].tolist() == [7] * 16
        views[0].release()
        b.resize(4)
        assert b.tolist() == [7] * 4
    """)


# --------------------------------------------------------------------------
# writes through suboffsets

SUBOFFSET_WRITES = {
    "fill": "v.fill(3)",
    "column": "v[:, 1] = 5",
    "ellipsis": "v[...] = 7",
    "item": "v[1, 2, 3] = 9",
    "row": "v[1] = 4",
    "strided": "v[:, ::2, 1::2] = 6",
    "reversed": "v[::-1, 1] = 8",
    "assign-same": "v[:] = pybuf.asbuffer(array.array('i', range(100, 124))).cast('B').cast('i', (2, 3, 4))",
    "assign-convert": "v[0] = pybuf.full((3, 4), 2.5, 'd')",
    "assign-struct-path": "v[1, :, 2] = pybuf.asbuffer(array.array('h', [11, 12, 13]))",
    "assign-self": "v[0] = v[1]",
    "assign-self-reversed": "v[:] = v[::-1]",
}


@requires_testbuffer
@pytest.mark.parametrize("case", sorted(SUBOFFSET_WRITES))
def test_writes_follow_suboffsets(case):
    stmt = SUBOFFSET_WRITES[case]
    np_stmt = (stmt.replace("v[", "a[").replace("v.fill(3)", "a.fill(3)")
               .replace("pybuf.asbuffer(array.array('i', range(100, 124))).cast('B').cast('i', (2, 3, 4))",
                        "np.arange(100, 124).reshape(2, 3, 4)")
               .replace("pybuf.full((3, 4), 2.5, 'd')", "np.full((3, 4), 2.5)")
               .replace("pybuf.asbuffer(array.array('h', [11, 12, 13]))",
                        "np.array([11, 12, 13])"))
    run_child(f"""
        import array
        import numpy as np
        from _testbuffer import ndarray, ND_PIL, ND_WRITABLE
        nd = ndarray(list(range(24)), shape=[2, 3, 4], format="i",
                     flags=ND_PIL | ND_WRITABLE)
        v = pybuf.asbuffer(nd)
        assert v.suboffsets
        a = np.arange(24, dtype=np.intc).reshape(2, 3, 4)
        {stmt}
        {np_stmt}
        # _testbuffer reads through its own pointer table: it is intact and
        # holds the values numpy computes on a direct array.
        assert nd.tolist() == a.tolist(), (nd.tolist(), a.tolist())
        assert v.tolist() == a.tolist()
        assert pybuf.copy(v).tolist() == a.tolist()
    """)


@requires_testbuffer
def test_kernels_refuse_suboffsets():
    # The GIL-free kernels take direct memory only: a PIL-style exporter is
    # refused by the buffer request itself, before anything is written.
    from _testbuffer import ndarray, ND_PIL, ND_WRITABLE
    nd = ndarray(list(range(24)), shape=[2, 3, 4], format="i",
                 flags=ND_PIL | ND_WRITABLE)
    v = pybuf.asbuffer(nd)
    for call in (lambda: pybuf.fill(v, 3), lambda: pybuf.copyto(v, v),
                 lambda: pybuf.byteswap(v), lambda: pybuf.fill(nd, 3)):
        with pytest.raises(BufferError):
            call()
    assert nd.tolist() == np.arange(24).reshape(2, 3, 4).tolist()


# --------------------------------------------------------------------------
# object items

def test_object_formats_are_never_owned():
    for fmt in ("O", "2O", "T{i:a:O:b:}", "(2)O"):
        for make in (pybuf.empty, pybuf.zeros, pybuf.Buffer):
            with pytest.raises(TypeError, match="PyObject"):
                make(3, fmt)
        with pytest.raises(TypeError, match="PyObject"):
            pybuf.full(3, 0, fmt)
        with pytest.raises(TypeError, match="PyObject"):
            pybuf.zeros(8 * 16).cast(fmt)
    # a field *named* O is not an object item
    assert pybuf.zeros(2, "T{i:O:}").tolist() == [(0,), (0,)]


def test_object_arrays_are_viewed_but_never_copied_or_written():
    objs = [object() for _ in range(4)]
    a = np.array(objs + [None], dtype=object)[:4]
    counts = [sys.getrefcount(o) for o in objs]
    v = pybuf.asbuffer(a)
    w = pybuf.asbuffer(a, writable=True)
    refused = [
        lambda: pybuf.copy(a), lambda: pybuf.copy(v), lambda: v.copy(),
        lambda: pybuf.astype(a, "O"), lambda: pybuf.astype(pybuf.zeros(4, "q"), "O"),
        lambda: pybuf.copyto(a, a[::-1]), lambda: pybuf.copyto(w, v),
        lambda: pybuf.fill(a, None), lambda: w.fill(None),
        lambda: w.__setitem__(0, None), lambda: w.__setitem__(slice(None), v[::-1]),
        lambda: pybuf.byteswap(a), lambda: pybuf.ascontiguous(a[::2]),
        lambda: pybuf.equal(a, a), lambda: v.cast("B"),
        lambda: __import__("pickle").dumps(v, protocol=5),
        lambda: w.__setitem__(slice(None), pybuf.zeros(4, "q")),
    ]
    for call in refused:
        with pytest.raises(TypeError, match="PyObject|'O'"):
            call()
    assert [sys.getrefcount(o) for o in objs] == counts
    assert all(x is y for x, y in zip(a, objs))
    # Reading raw pointers is allowed (memoryview.tobytes does too).
    assert len(v.tobytes()) == 4 * ctypes.sizeof(ctypes.c_void_p)


def test_copied_object_array_cannot_outlive_its_objects():
    # The report: a copy of an object array read after the source was gone
    # crashed.  Now the copy is refused, so nothing dangles.
    run_child("""
        import numpy as np
        a = np.array([object(), [1, 2], "x"], dtype=object)
        try:
            c = pybuf.copy(a)
        except TypeError:
            c = None
        del a
        assert c is None
    """)


# --------------------------------------------------------------------------
# lesser edges

@pytest.mark.parametrize("align", [2**63, 2**64, -2**63, 2**80])
def test_huge_alignment_is_a_value_error(align):
    with pytest.raises(ValueError, match="align"):
        pybuf.empty(4, align=align)

    class I:
        def __index__(self):
            return align
    with pytest.raises(ValueError, match="align"):
        pybuf.empty(4, align=I())


def test_dlpack_non_capsule_is_a_type_error():
    class P:
        def __dlpack__(self, **kw):
            return 42

        def __dlpack_device__(self):
            return (1, 0)
    with pytest.raises(TypeError, match="capsule"):
        pybuf.from_dlpack(P())


@pytest.mark.parametrize("stride", [2**60, -2**60, 2**62])
def test_dlpack_huge_strides_overflow_cleanly(stride):
    # A producer's strides (in items) times the itemsize must not overflow
    # before the check: OverflowError, and the capsule is left unconsumed.
    # A strided view: every numpy gives its strides (for compact arrays a
    # producer may give NULL, and numpy 2.2 does).
    a = np.zeros((2, 6))[:, ::2]
    capsule = a.__dlpack__(max_version=(1, 0))
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype = ctypes.c_void_p
    get.argtypes = [ctypes.py_object, ctypes.c_char_p]
    base = get(capsule, b"dltensor_versioned")
    # DLManagedTensorVersioned: version (8), manager_ctx, deleter, flags
    # (8 each), then DLTensor: data, device (8), ndim + dtype (8), shape,
    # strides.
    strides_ptr = ctypes.c_void_p.from_address(base + 32 + 8 + 8 + 8 + 8).value
    assert strides_ptr
    ctypes.c_int64.from_address(strides_ptr).value = stride
    with pytest.raises(OverflowError):
        pybuf.from_dlpack(capsule)
    del capsule                     # its destructor frees numpy's tensor


@pytest.mark.parametrize("fmt,values", [
    ("q", [2**63 - 1, 1]), ("q", [-2**63, -1]), ("l", [2**62, 2**62, 2**62]),
    ("i", [2**31 - 1] * 5), ("b", [-128] * 9),
])
def test_integer_sum_wraps_as_numpy(fmt, values):
    a = np.array(values, dtype=np.dtype(fmt))
    with np.errstate(over="ignore"):
        expected = int(np.sum(a))
    assert pybuf.sum(a) == expected
    assert pybuf.sum(array.array(fmt, values)) == expected
    big = np.tile(a, (16 << 20) // a.nbytes + 1)    # the threaded path too
    with np.errstate(over="ignore"):
        assert pybuf.sum(big) == int(np.sum(big))


def test_integer_dot_wraps_as_numpy():
    a = np.array([2**62, 2**62, 3], dtype=np.int64)
    b = np.array([4, 4, -1], dtype=np.int64)
    with np.errstate(over="ignore"):
        assert pybuf.dot(a, b) == int(np.dot(a, b))


def test_garbage_collected_views_give_their_exports_back():
    # A view reachable only from a reference cycle is freed by the garbage
    # collector; the exporter must still see PyBuffer_Release (its export
    # count back to 0, a bytearray resizable again), whatever order the
    # collector clears the cycle in.
    import gc
    b = pybuf.zeros(64)
    data = bytearray(64)

    class Holder:
        pass
    for i in range(200):
        h = Holder()
        h.h = h
        h.view = b[i % 8:]
        h.foreign = pybuf.asbuffer(data)[i % 8:]
        del h
    gc.collect()
    assert b.exports == 0
    data.extend(b"x")               # no export left on the bytearray
    b.release()
