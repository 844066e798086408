"""Kernel benchmarks: pybuf's kernels against numpy and against memmove.

Every timed call starts with cold caches (``evict_caches`` reads a block
larger than the last-level cache, untimed): warm 64 MiB timings on a
machine with a large shared L3 are 1.2-3.5x optimistic.  Each case gives

* the ratio to numpy's equivalent (the issue's targets, below), and
* the ratio to ``ctypes.memmove`` of the same bytes (the operation's main
  operand copied once): how close the kernel runs to memory speed.

Ratios are pybuf time / baseline time: below 1, pybuf is faster.  A size
sweep from 1 KiB to 256 MiB follows for copyto, fill and sum, then a warm
sweep (``warm``: the data in cache, 4 KiB to 16 MiB) of every kernel
against numpy, whose case names say the SIMD path the kernels used
(``python -m pybuf.bench.bench_kernels --warm`` runs it alone and prints it
as a table of numpy time / pybuf time).

Run ``python -m pybuf.bench.bench_kernels`` (``--quick``: small sizes, for
iterating).  numpy's BLAS (``dot``) may be slowed or pinned by
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE in the environment; they are reported,
never changed.
"""
from __future__ import annotations

import ctypes
import os
import sys
import time

import numpy as np  # noqa: E402

import pybuf  # noqa: E402
from pybuf.bench.common import Row, compare, format_table, median_time  # noqa: E402

SUITE = "kernels"
MiB = 1 << 20
# Seconds to idle before each timed run of np.dot and of pybuf.dot: after
# a call, OpenBLAS's threads spin for about 0.1 s and hold the core that
# pybuf's worker thread would use (see compare's ``settle``).
BLAS_SETTLE = 0.15


def _memmove_row(case, fn, nbytes, moved, repeat, target=""):
    """fn (which reads and writes ``moved`` bytes in all, for the GB/s
    column) against memmove of ``nbytes`` between two scratch blocks."""
    src = np.ones(nbytes, np.uint8)
    dst = np.empty(nbytes, np.uint8)
    s, d = src.ctypes.data, dst.ctypes.data
    return compare(SUITE, case, fn, "memmove same bytes",
                   lambda: ctypes.memmove(d, s, nbytes), nbytes=moved,
                   target=target, repeat=repeat, cold=True)


def _tag_path(rows):
    """Name the SIMD path the kernels used in each row's case."""
    for r in rows:
        r.case += f" [{simd_path()}]"
    return rows


def targets(nbytes=64 * MiB, repeat=7):
    """The issue's target table: each kernel on ``nbytes`` of float64."""
    rng = np.random.default_rng(0)
    n = nbytes // 8
    a = rng.standard_normal(n)
    b = rng.standard_normal(n)
    out = np.empty_like(a)
    half = np.empty(n // 2)
    rows = []

    def add(case, fn, baseline, base_fn, target, moved, memmove_target="",
            settle=0.0):
        rows.append(compare(SUITE, case, fn, baseline, base_fn, nbytes=moved,
                            target=target, repeat=repeat, cold=True,
                            settle=settle))
        rows.append(_memmove_row(case, fn, nbytes, moved, repeat, memmove_target))

    add("copyto contiguous f8", lambda: pybuf.copyto(out, a),
        "np.copyto", lambda: np.copyto(out, a), "", 2 * nbytes,
        memmove_target="<= 0.667 (>= 1.5x memmove)")
    rows.append(compare(SUITE, "copy f8 (new buffer)", lambda: pybuf.copy(a),
                        "ndarray.copy()", lambda: a.copy(), nbytes=2 * nbytes,
                        repeat=repeat, cold=True))
    add("fill f8", lambda: pybuf.fill(out, 1.5),
        "ndarray.fill", lambda: out.fill(1.5), "<= 0.5", nbytes)
    add("sum f8", lambda: pybuf.sum(a), "np.sum", lambda: np.sum(a),
        "<= 0.87 (>= 1.15x)", nbytes)
    add("min f8", lambda: pybuf.min(a), "np.min", lambda: np.min(a),
        "<= 0.87 (>= 1.15x)", nbytes)
    add("max f8", lambda: pybuf.max(a), "np.max", lambda: np.max(a),
        "<= 0.87 (>= 1.15x)", nbytes)
    add("dot f8", lambda: pybuf.dot(a, b), "np.dot (BLAS)",
        lambda: np.dot(a, b), "<= 1.0", 2 * nbytes, settle=BLAS_SETTLE)
    time.sleep(BLAS_SETTLE)
    add("astype f8->f4 (new buffer)", lambda: pybuf.astype(a, "f"),
        "ndarray.astype", lambda: a.astype(np.float32), "<= 0.667 (>= 1.5x)",
        nbytes + nbytes // 2)
    f4 = np.empty(n, np.float32)
    rows.append(compare(SUITE, "astype f8->f4 (existing buffer: copyto)",
                        lambda: pybuf.copyto(f4, a), "np.copyto unsafe",
                        lambda: np.copyto(f4, a, casting="unsafe"),
                        nbytes=nbytes + nbytes // 2, repeat=repeat, cold=True))
    m = a.reshape(4096, n // 4096)
    add(f"transpose copy 4096x{n // 4096} f8", lambda: pybuf.ascontiguous(m.T),
        "np.ascontiguousarray(a.T)", lambda: np.ascontiguousarray(m.T),
        "<= 0.4 (>= 2.5x)", 2 * nbytes)
    add("byteswap f8 (new buffer)",
        lambda: pybuf.byteswap(a, out=pybuf.empty(a.shape, "d")),
        "ndarray.byteswap()", lambda: a.byteswap(), "<= 0.5 (>= 2x)",
        2 * nbytes)
    rows.append(compare(SUITE, "byteswap f8 (existing buffer)",
                        lambda: pybuf.byteswap(a, out=out),
                        "copy + byteswap(inplace)",
                        lambda: (np.copyto(out, a), out.byteswap(inplace=True)),
                        nbytes=2 * nbytes, repeat=repeat, cold=True))
    add("strided copy a[::2] -> contiguous", lambda: pybuf.copyto(half, a[::2]),
        "np.copyto", lambda: np.copyto(half, a[::2]), "<= 1.0", nbytes)
    small = a[:1024].copy()
    rows.append(compare(SUITE, "sum of 1024 f8 (whole call)",
                        lambda: pybuf.sum(small), "np.sum",
                        lambda: np.sum(small), nbytes=small.nbytes,
                        target="<= 0.5", repeat=repeat))
    return _tag_path(rows)


def sweep(sizes, repeat=5):
    """copyto, fill and sum from small to large, cold caches; copyto also
    against memmove of the same bytes (glibc's memmove switches to
    streaming stores itself somewhere between 32 and 64 MiB here, which
    is why the ratio to it jumps there)."""
    rows = []
    for nbytes in sizes:
        n = max(nbytes // 8, 1)
        a = np.random.default_rng(1).standard_normal(n)
        out = np.empty_like(a)
        label = f"{nbytes // 1024} KiB" if nbytes < MiB else f"{nbytes // MiB} MiB"
        cold = nbytes >= 256 * 1024
        number = None if cold else 1
        for case, fn, base, base_fn, moved in (
                ("copyto", lambda: pybuf.copyto(out, a), "np.copyto",
                 lambda: np.copyto(out, a), 2 * a.nbytes),
                ("fill", lambda: pybuf.fill(out, 2.0), "ndarray.fill",
                 lambda: out.fill(2.0), a.nbytes),
                ("sum", lambda: pybuf.sum(a), "np.sum", lambda: np.sum(a),
                 a.nbytes)):
            if cold:
                rows.append(compare(SUITE, f"sweep {case} {label}", fn, base,
                                    base_fn, nbytes=moved, repeat=repeat,
                                    cold=True))
            else:
                rows.append(compare(SUITE, f"sweep {case} {label} (warm)", fn,
                                    base, base_fn, nbytes=moved,
                                    repeat=repeat, number=number))
        if cold:
            rows.append(_memmove_row(f"sweep copyto {label}",
                                     lambda: pybuf.copyto(out, a), a.nbytes,
                                     2 * a.nbytes, repeat))
        del a, out
    return _tag_path(rows)


def simd_path():
    """The SIMD path pybuf's kernels use in this process (``sse2`` for a
    build without runtime dispatch)."""
    hooks = getattr(pybuf, "_tuning", pybuf.kernels)   # (before 0.1.0: kernels)
    return getattr(hooks, "_simd_path", lambda: "sse2")()


def warm(sizes=(4 * 1024, 256 * 1024, 4 * MiB, 16 * MiB), repeat=7):
    """Each kernel on float64 data already in cache (the call repeated on
    the same operands), interleaved with numpy's equivalent.  The case
    names the SIMD path in use; ``Row.speedup`` (numpy / pybuf) is the
    figure the performance page plots."""
    path = simd_path()
    rows = []
    for nbytes in sizes:
        n = nbytes // 8
        rng = np.random.default_rng(2)
        a = rng.standard_normal(n)
        b = rng.standard_normal(n)
        out = np.empty_like(a)
        f4 = np.empty(n, np.float32)
        half = np.empty(n // 2)
        sw = a.copy()
        label = f"{nbytes // 1024} KiB" if nbytes < MiB else f"{nbytes // MiB} MiB"
        for case, fn, base, base_fn, moved in (
                ("sum", lambda: pybuf.sum(a), "np.sum", lambda: np.sum(a),
                 nbytes),
                ("min", lambda: pybuf.min(a), "np.min", lambda: np.min(a),
                 nbytes),
                ("max", lambda: pybuf.max(a), "np.max", lambda: np.max(a),
                 nbytes),
                ("copyto", lambda: pybuf.copyto(out, a), "np.copyto",
                 lambda: np.copyto(out, a), 2 * nbytes),
                ("fill", lambda: pybuf.fill(out, 1.5), "ndarray.fill",
                 lambda: out.fill(1.5), nbytes),
                ("convert f8->f4", lambda: pybuf.copyto(f4, a),
                 "np.copyto unsafe",
                 lambda: np.copyto(f4, a, casting="unsafe"),
                 nbytes + nbytes // 2),
                ("strided a[::2]", lambda: pybuf.copyto(half, a[::2]),
                 "np.copyto", lambda: np.copyto(half, a[::2]), nbytes),
                ("byteswap in place", lambda: pybuf.byteswap(sw, out=sw),
                 "byteswap(inplace)", lambda: sw.byteswap(inplace=True),
                 2 * nbytes),
                # last, and followed by a pause: OpenBLAS's threads spin
                # on after np.dot, holding the core other rows would use
                ("dot", lambda: pybuf.dot(a, b), "np.dot (BLAS)",
                 lambda: np.dot(a, b), 2 * nbytes)):
            blas = case == "dot"
            rows.append(compare(SUITE, f"warm {case} {label} [{path}]", fn,
                                base, base_fn, nbytes=moved, repeat=repeat,
                                settle=BLAS_SETTLE if blas else 0.0))
            if blas:
                time.sleep(BLAS_SETTLE)
        del a, b, out, f4, half, sw
    return rows


def warm_table(rows):
    """The warm rows as a kernel x size table of speedups (numpy time /
    pybuf time: above 1, pybuf is faster), titled with the SIMD path."""
    cells, sizes, paths = {}, [], set()
    for r in rows:
        head, path = r.case[len("warm "):].rstrip("]").rsplit(" [", 1)
        kernel, number, unit = head.rsplit(" ", 2)
        size = f"{number} {unit}"
        if size not in sizes:
            sizes.append(size)
        paths.add(path)
        cells.setdefault(kernel, {})[size] = r.speedup
    lines = [f"warm, numpy time / pybuf time (SIMD path: {', '.join(sorted(paths))})",
             f"{'kernel':<20}" + "".join(f"{s:>9}" for s in sizes)]
    for kernel, row in cells.items():
        lines.append(f"{kernel:<20}" + "".join(f"{row[s]:9.2f}" for s in sizes))
    return "\n".join(lines)


def run(quick=False):
    """All rows: the target table (64 MiB; 4 MiB when ``quick``), the
    cold size sweep (1 KiB .. 256 MiB; .. 4 MiB when ``quick``) and the
    warm sweep (4 KiB .. 16 MiB; .. 256 KiB when ``quick``)."""
    if quick:
        rows = targets(4 * MiB, repeat=3)
        rows += sweep([1024, 64 * 1024, 4 * MiB], repeat=3)
        rows += warm((4 * 1024, 256 * 1024), repeat=3)
    else:
        rows = targets(64 * MiB, repeat=7)
        rows += sweep([1024, 16 * 1024, 256 * 1024, 4 * MiB, 16 * MiB,
                       32 * MiB, 64 * MiB, 256 * MiB], repeat=5)
        rows += warm()
    return rows


def environment_note():
    notes = [f"{k}={os.environ[k]}" for k in ("OPENBLAS_CORETYPE",
                                              "OPENBLAS_L2_SIZE",
                                              "OPENBLAS_NUM_THREADS",
                                              "OMP_NUM_THREADS")
             if k in os.environ]
    if notes:
        return ("note: " + ", ".join(notes) + " set: numpy's BLAS (np.dot) "
                "runs with them, which may slow it")
    return ""


if __name__ == "__main__":
    if "--warm" in sys.argv:
        rows = warm()
        print(format_table(rows))
        print(warm_table(rows))
        sys.exit(0)
    rows = run(quick="--quick" in sys.argv)
    print(format_table(rows))
    note = environment_note()
    if note:
        print(note)
    print("ratio = pybuf time / baseline time (below 1: pybuf faster); "
          "cold caches; median of repetitions")
