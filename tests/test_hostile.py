"""A catalogue of hostile calls, run in a subprocess so that a crash
(segfault, abort) fails this test instead of taking the run down.

Every call must raise one of the exceptions DESIGN.md names for it; the
process must then exit normally, with memory use flat across repetitions.
"""
import os
import subprocess
import sys
import textwrap

import pybuf.buffer

CATALOGUE = textwrap.dedent(r'''
    import gc, mmap, pickle, resource, sys
    import pybuf

    b = pybuf.zeros((4, 6), "i")

    def catalogue():
        ro = b.toreadonly()
        rel = pybuf.zeros(3); rel.release()
        exported = pybuf.zeros(8); m = memoryview(exported)
        yield "negative dim", ValueError, lambda: pybuf.empty((2, -1))
        yield "ndim 65", ValueError, lambda: pybuf.empty((1,) * 65)
        yield "overflow", OverflowError, lambda: pybuf.empty((1 << 40, 1 << 40))
        yield "overflow itemsize", OverflowError, lambda: pybuf.empty(1 << 61, "d")
        yield "huge alloc", MemoryError, lambda: pybuf.empty(1 << 60)
        yield "align 0", ValueError, lambda: pybuf.empty(4, align=0)
        yield "align 3", ValueError, lambda: pybuf.empty(4, align=3)
        yield "order", ValueError, lambda: pybuf.empty(4, order="Z")
        yield "format", ValueError, lambda: pybuf.empty(4, "not a format")
        yield "format type", TypeError, lambda: pybuf.empty(4, 3)
        yield "shape type", TypeError, lambda: pybuf.empty("3")
        yield "no buffer", TypeError, lambda: pybuf.asbuffer(object())
        yield "no buffer copy", TypeError, lambda: pybuf.copy(42)
        yield "index range", IndexError, lambda: b[4]
        yield "index range neg", IndexError, lambda: b[0, -7]
        yield "too many", IndexError, lambda: b[0, 0, 0]
        yield "step 0", ValueError, lambda: b[::0]
        yield "bad key", TypeError, lambda: b["x"]
        yield "write ro", BufferError, lambda: ro.__setitem__((0, 0), 1)
        yield "fill ro", BufferError, lambda: ro.fill(1)
        yield "writable on ro", BufferError, lambda: pybuf.asbuffer(b"abc", writable=True)
        yield "released item", ValueError, lambda: rel[0]
        yield "released view", ValueError, lambda: memoryview(rel)
        yield "released tolist", ValueError, lambda: rel.tolist()
        yield "released slice", ValueError, lambda: rel[1:]
        yield "released pickle", ValueError, lambda: pickle.dumps(rel, protocol=5)
        yield "release exported", BufferError, lambda: exported.release()
        yield "resize exported", BufferError, lambda: exported.resize(16)
        yield "resize view", ValueError, lambda: b[1:].resize(2)
        yield "cast size", ValueError, lambda: b.cast("d", (5,))
        yield "cast strided", ValueError, lambda: b[:, ::2].cast("B")
        yield "reshape size", ValueError, lambda: b.reshape(5, 5)
        yield "transpose axes", ValueError, lambda: b.transpose(0, 0)
        yield "item range", ValueError, lambda: b.__setitem__((0, 0), 1 << 40)
        yield "item type", TypeError, lambda: b.__setitem__((0, 0), "x")
        yield "assign shape", ValueError, lambda: b.__setitem__(0, bytearray(3))
        yield "bad flags", BufferError, lambda: exported.__buffer__(0x100) if hasattr(exported, "__buffer__") else (_ for _ in ()).throw(BufferError())
        yield "init twice", TypeError, lambda: b.__init__(3)
        # Allocate a MiB, then fail: the block must be freed (checked below).
        yield "full bad value", TypeError, lambda: pybuf.full(1 << 20, "x")
        yield "full out of range", ValueError, lambda: pybuf.full(1 << 20, 256)
        yield "copy bad order", ValueError, lambda: pybuf.copy(bytearray(1 << 20), order="Q")

    def run_once():
        seen = 0
        for name, exc, call in catalogue():
            try:
                call()
            except exc:
                seen += 1
            else:
                raise SystemExit(f"{name}: no {exc.__name__} raised")
        return seen

    n = run_once()
    gc.collect()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(300):
        run_once()
    gc.collect()
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert b.exports == 0, b.exports
    print(n, grown)
''')


def test_hostile_catalogue_in_subprocess():
    cwd = os.path.dirname(os.path.dirname(pybuf.buffer.__file__))
    proc = subprocess.run([sys.executable, "-c", CATALOGUE], capture_output=True,
                          text=True, cwd=cwd, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    count, grown_kib = map(int, proc.stdout.split())
    assert count >= 41
    assert grown_kib < 20 * 1024, f"memory grew by {grown_kib} KiB: a leak"
