"""Benchmark of the Buffer exporter (issue 2): creation, sharing, typed
memoryview acquisition, each against a baseline timed in the same run.

- ``pybuf.empty(n)`` for 8 B, 1 KiB, 1 MiB against ``np.empty``,
  ``bytearray`` (which zero-fills) and ``cython.view.array``;
- ``memoryview(b)`` and ``np.asarray(b)``, a Buffer against an ndarray;
- acquiring a typed memoryview (``double[:] v = obj``) in Cython, from a
  Buffer against from an ndarray.

``cython.view.array`` and typed memoryviews exist only in compiled code, so a
small helper extension is compiled the first time (cached in the temporary
directory); without Cython or a C compiler those rows are skipped with a note.
``--quick`` uses the helper only when an earlier run has compiled it.

Run ``python -m pybuf.bench.bench_buffer [--quick]`` or
``python -m pybuf bench --suite buffer``.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile

import numpy as np

import pybuf
from pybuf.bench.common import compare, format_table, note

SUITE = "buffer"

_HELPER = '''
# cython: language_level=3, boundscheck=False, wraparound=False
from cython.view cimport array as cvarray

def view_array(Py_ssize_t n):
    """A new cython.view.array of n bytes (not initialised)."""
    return cvarray(shape=(n,), itemsize=1, format="B", mode="c")

def acquire(obj, Py_ssize_t n):
    """Acquire a typed memoryview of obj n times (C loop, no Python call
    per acquisition): the per-acquisition cost is the time over n."""
    cdef double[:] v
    cdef Py_ssize_t i, total = 0
    for i in range(n):
        v = obj
        total += v.shape[0]
    return total
'''


def _helper(build=True):
    """Compile (once, unless ``build`` is false) and import the helper;
    return (module, None) or (None, reason)."""
    digest = hashlib.sha1((_HELPER + sys.version).encode()).hexdigest()[:12]
    where = os.path.join(tempfile.gettempdir(), f"pybuf-bench-{digest}")
    name = "_bench_buffer_helper"

    def load():
        for fn in os.listdir(where):
            if fn.startswith(name + ".") and fn.endswith((".so", ".pyd")):
                spec = importlib.util.spec_from_file_location(
                    name, os.path.join(where, fn))
                mod = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(mod)
                return mod
        return None

    os.makedirs(where, exist_ok=True)
    mod = load()
    if mod is not None:
        return mod, None
    if not build:
        return None, ("--quick does not compile the Cython helper "
                      "(a run without --quick does, once)")
    with open(os.path.join(where, name + ".pyx"), "w") as f:
        f.write(_HELPER)
    with open(os.path.join(where, "setup.py"), "w") as f:
        f.write("from setuptools import Extension, setup\n"
                "from Cython.Build import cythonize\n"
                f"setup(ext_modules=cythonize([Extension({name!r}, "
                f"[{name + '.pyx'!r}], extra_compile_args=['-O2'])]))\n")
    try:
        proc = subprocess.run([sys.executable, "setup.py", "build_ext",
                               "--inplace", "-q"], cwd=where,
                              capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"cannot compile the Cython helper: {exc}"
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return None, f"cannot compile the Cython helper (Cython and a C compiler needed): {last}"
    return load(), None


def run(quick=False):
    """Return the comparison rows (see :mod:`pybuf.bench.common`)."""
    repeat = 3 if quick else 15
    rows = []
    helper, why = _helper(build=not quick)
    if helper is None:
        note(f"bench_buffer: skipping the cython.view.array and "
             f"typed-memoryview rows: {why}")

    sizes = [(8, "8 B"), (1 << 10, "1 KiB"), (1 << 20, "1 MiB")]
    for n, label in sizes:
        target = "<= 0.6" if n == 1 << 10 else ""
        rows.append(compare(SUITE, f"pybuf.empty({label})",
                            lambda: pybuf.empty(n), "np.empty",
                            lambda: np.empty(n, np.uint8),
                            target=target, repeat=repeat))
        rows.append(compare(SUITE, f"pybuf.empty({label})",
                            lambda: pybuf.empty(n), "bytearray (zero-fills)",
                            lambda: bytearray(n), repeat=repeat))
        if helper is not None:
            va = helper.view_array
            rows.append(compare(SUITE, f"pybuf.empty({label})",
                                lambda: pybuf.empty(n), "cython.view.array",
                                lambda: va(n), repeat=repeat))

    b = pybuf.zeros(128, "d")          # 1 KiB of float64 each
    a = np.zeros(128, "d")
    ba = bytearray(1024)
    rows.append(compare(SUITE, "memoryview(Buffer)", lambda: memoryview(b),
                        "memoryview(ndarray)", lambda: memoryview(a),
                        target="<= 0.75", repeat=repeat))
    asarray = np.asarray
    rows.append(compare(SUITE, "np.asarray(Buffer)", lambda: asarray(b),
                        "np.asarray(ndarray)", lambda: asarray(a),
                        repeat=repeat))
    rows.append(compare(SUITE, "np.asarray(Buffer)", lambda: asarray(b),
                        "np.asarray(bytearray)", lambda: asarray(ba),
                        repeat=repeat))
    if helper is not None:
        acquire = helper.acquire
        k = 1000
        row = compare(SUITE, "typed memoryview from Buffer",
                      lambda: acquire(b, k), "from ndarray",
                      lambda: acquire(a, k), target="<= 0.7", repeat=repeat)
        row.pybuf_s /= k
        row.baseline_s /= k
        rows.append(row)
    return rows


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv)))
