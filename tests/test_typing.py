"""pybuf as a user's type checker sees it: mypy --strict (from PyPI), run
on a script that uses every public name correctly (no error, and the script
runs), and on one that passes objects that export no buffer (each call
reported).  Stubs type "any exporter" as ``collections.abc.Buffer``
(``typing_extensions.Buffer`` before 3.12)."""
import os
import subprocess
import sys
import textwrap

import pytest

import pybuf

pytest.importorskip("mypy", reason="needs mypy: pip install mypy")
pytest.importorskip("numpy", reason="needs numpy: pip install numpy")

GOOD = '''
import array
import ctypes
import os
import pickle
import tempfile

import numpy as np

import pybuf

b: pybuf.Buffer = pybuf.Buffer((2, 3), "d")
e: pybuf.Buffer = pybuf.empty(4, "i", order="C", align=64)
z: pybuf.Buffer = pybuf.zeros((2, 2), "f")
f: pybuf.Buffer = pybuf.full(3, 1.5, "d")
a = np.arange(6, dtype=np.float64)
arr = array.array("d", [1.0, 2.0, 3.0])
raw = bytearray(16)
for x in (a, arr, raw, memoryview(raw), b"abc", b):
    v: pybuf.Buffer = pybuf.asbuffer(x)
    c: pybuf.Buffer = pybuf.copy(x, order="F")
fl = pybuf.ascontiguous(b.T, "C")
t = pybuf.astype(a, "f")
pybuf.fill(raw, 7)
pybuf.copyto(z, np.ones((2, 2), np.float32))
s = pybuf.sum(a) + pybuf.min(arr) + pybuf.max(b)
d = pybuf.dot(a, a)
same: bool = pybuf.equal(a, pybuf.copy(a))
swapped = pybuf.byteswap(a.copy())      # the same array back: an ndarray
kind: str = swapped.dtype.kind
into: pybuf.Buffer = pybuf.byteswap(a, out=pybuf.empty(6, "d"))
fmt: pybuf.Format = pybuf.parse_format("<2h")
n: int = pybuf.calcsize("T{i:a:d:b:}") + fmt.itemsize
item = fmt.unpack(fmt.pack((1, 2)))
info: pybuf.BufferInfo = pybuf.describe(a[::2])
text: str = str(info) + "".join(info.memory_map())
addr = pybuf.from_address(a.ctypes.data, 6, "d", owner=a)
dl: pybuf.Buffer = pybuf.from_dlpack(a, copy=True, device="cpu")
back = np.from_dlpack(dl)
cap = b.__dlpack__(max_version=(1, 0))
dl2 = pybuf.from_dlpack(cap)
inc: str = pybuf.get_include()
mem: dict[str, int] = pybuf.memory_info()
freed: int = pybuf.trim()
with pybuf.shared((2,), "i") as sh:
    sb: pybuf.SharedBuffer = pybuf.attach(sh.name, (2,), "i")
    sb.close()
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "m.bin")
    with pybuf.memmap(path, "d", (4,), mode="w+") as mm:
        mb: pybuf.MemmapBuffer = mm
        mb.flush()
ver: str = pybuf.__version__
shape: tuple[int, ...] = b.shape
rows = b[0].tolist()
pickled = pickle.loads(pickle.dumps(b, protocol=5))
ct = pybuf.asbuffer((ctypes.c_double * 3)())
print("ok", len(shape), n)
'''

BAD = '''
import pybuf

pybuf.sum({"a": 1})
pybuf.asbuffer([1, 2, 3])
pybuf.copyto("text", b"bytes")
pybuf.describe(3.5)
pybuf.from_dlpack(object())
'''


def _mypy(tmp_path, name, source, version):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    # run where the checkout's pybuf/ is not on the path: the installed
    # package, its stubs and py.typed are what mypy reads
    return subprocess.run([sys.executable, "-m", "mypy", "--strict",
                           "--no-incremental", "--cache-dir", os.devnull,
                           "--python-version", version, str(path)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=600)


# Checked as code for these versions, whatever runs the tests: the stubs'
# branches for collections.abc.Buffer (3.12+) and typing_extensions' (before)
# and types.CapsuleType (3.13+).  numpy's stubs call an ndarray a buffer
# (__buffer__) from 3.12 on only, so the sample with numpy is checked as
# 3.12 code and newer.
@pytest.mark.parametrize("version", ["3.12", "3.13"])
def test_mypy_strict_accepts_every_public_name_used_right(tmp_path, version):
    used = set(pybuf.__all__)
    missing = {n for n in used if n not in GOOD}
    assert not missing, f"the sample does not use {missing}"
    p = _mypy(tmp_path, "good", GOOD, version)
    assert p.returncode == 0, p.stdout + p.stderr
    run = subprocess.run([sys.executable, str(tmp_path / "good.py")],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 0 and run.stdout.startswith("ok"), run.stdout + run.stderr


@pytest.mark.parametrize("version", ["3.10", "3.12"])
def test_mypy_strict_reports_non_exporters(tmp_path, version):
    p = _mypy(tmp_path, "bad", BAD, version)
    assert p.returncode == 1, p.stdout + p.stderr
    errors = [line for line in p.stdout.splitlines() if ": error:" in line]
    lines = sorted({int(line.split(":")[1]) for line in errors})
    assert lines == [4, 5, 6, 7, 8], p.stdout          # every call, no other
    assert all("[arg-type]" in line for line in errors), p.stdout


@pytest.mark.skipif(sys.version_info < (3, 12), reason="collections.abc.Buffer is Python 3.12+")
def test_buffer_is_a_collections_abc_buffer():
    """PEP 688 at run time: a Buffer is a collections.abc.Buffer."""
    import collections.abc
    assert issubclass(pybuf.Buffer, collections.abc.Buffer)
    assert isinstance(pybuf.zeros(2), collections.abc.Buffer)
    assert not isinstance({}, collections.abc.Buffer)


def test_typing_extensions_buffer_at_run_time():
    """typing_extensions.Buffer is collections.abc.Buffer from 3.12 on (a
    Buffer is one by itself); before, pybuf does not import
    typing_extensions to register, and the documented line does it."""
    pytest.importorskip("typing_extensions", reason="pip install typing_extensions")
    code = textwrap.dedent("""
        import pybuf, typing_extensions as te
        b = pybuf.zeros(2)
        before = isinstance(b, te.Buffer)
        te.Buffer.register(pybuf.Buffer)
        print(before, isinstance(b, te.Buffer), isinstance({}, te.Buffer))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, cwd="/")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(sys.version_info >= (3, 12)), "True", "False"]
    # pybuf itself never imports it
    probe = subprocess.run(
        [sys.executable, "-c", "import sys, pybuf; print('typing_extensions' in sys.modules)"],
        capture_output=True, text=True, cwd="/")
    assert probe.stdout.strip() == "False", probe.stderr
