"""Zero-copy interop: what sharing costs against copying, in one run.

* Sharing a Buffer with numpy (DLPack, ``np.asarray``) and with
  ``memoryview`` at 1 KiB and at 256 MiB, against ``bytes()`` and
  ``Buffer.copy()`` of the same data.  Sharing is O(1): the 256 MiB rows
  against the 1 KiB ones stay near 1, copies grow with the size.
* DLPack exchange against numpy's own (``np.from_dlpack(ndarray)``, numpy
  importing numpy's export), warm, at 1 KiB and at 256 MiB: numpy
  importing a Buffer and pybuf importing an ndarray; the target is at most
  the time numpy takes with itself (ratio <= 1).
* A pickle-5 round trip (``dumps`` + ``loads``) of 256 MiB with out-of-band
  buffers, against the same in band and against numpy's out-of-band round
  trip.
* Handing 256 MiB to another process: through ``pybuf.shared`` (the child
  attaches by name) against pickling it through a pipe.

Run ``python -m pybuf.bench.bench_interop [--quick] [--dlpack]``;
``--quick`` uses 32 MiB and fewer repeats, ``--dlpack`` runs the DLPack
rows alone.  Sizes are in the case names; no GB/s column,
since the point is that nothing is read.
"""
from __future__ import annotations

import multiprocessing
import pickle
import sys

import numpy as np

import pybuf
from pybuf.bench.common import (Row, auto_number, compare, format_table,
                                median_time, report)

SUITE = "interop"
KIB = 1 << 10
MIB = 1 << 20


def _filled(nbytes):
    b = pybuf.empty(nbytes, "B")
    np.asarray(b)[:] = 7
    return b


def _sizes(quick):
    return (KIB, (32 if quick else 256) * MIB)


def _label(n):
    return f"{n // MIB} MiB" if n >= MIB else f"{n // KIB} KiB"


def _compare_each(case, fn, baseline, baseline_fn, *, nbytes=0, repeat=5,
                  target=""):
    """As common.compare, but each side runs its own number of calls per
    run: a sub-microsecond share and a 256 MiB copy cannot share one."""
    report(case, baseline)
    a = median_time(fn, repeat=repeat, number=auto_number(fn))
    b = median_time(baseline_fn, repeat=repeat, number=auto_number(baseline_fn))
    return Row(SUITE, case, a, baseline, b, nbytes, target)


def sharing_rows(quick=False):
    """O(1) sharing against copies that grow with the size."""
    rows = []
    small, big = _sizes(quick)
    bufs = {n: _filled(n) for n in (small, big)}
    arrays = {n: np.asarray(b) for n, b in bufs.items()}
    # case -> (share, baseline name, baseline); each takes the size.
    cases = {
        "np.from_dlpack(b)": (lambda n: np.from_dlpack(bufs[n]),
                              "bytes(b)", lambda n: bytes(bufs[n])),
        "np.asarray(b)": (lambda n: np.asarray(bufs[n]),
                          "b.copy()", lambda n: bufs[n].copy()),
        "memoryview(b)": (lambda n: memoryview(bufs[n]).release(),
                          "bytes(b)", lambda n: bytes(bufs[n])),
        "pybuf.from_dlpack(ndarray)": (lambda n: pybuf.from_dlpack(arrays[n]),
                                       "ndarray.copy()", lambda n: arrays[n].copy()),
    }
    repeat = 3 if quick else 5
    for n in (small, big):
        for case, (share, base, copy) in cases.items():
            rows.append(_compare_each(
                f"{case} {_label(n)}", lambda s=share, n=n: s(n), base,
                lambda c=copy, n=n: c(n), repeat=repeat,
                target="<< 1 at the large size"))
    # The same operation at both sizes: near 1 when it does not touch the
    # data (O(1)), large for a copy.
    for case, (share, base, copy) in cases.items():
        rows.append(_compare_each(
            f"{case}: {_label(big)} / {_label(small)}",
            lambda s=share: s(big), f"same at {_label(small)}",
            lambda s=share: s(small), repeat=repeat, target="~1 (O(1))"))
    rows.append(_compare_each(
        f"bytes(b): {_label(big)} / {_label(small)}", lambda: bytes(bufs[big]),
        f"same at {_label(small)}", lambda: bytes(bufs[small]), repeat=repeat,
        target="grows with size"))
    return rows


def dlpack_rows(quick=False):
    """DLPack exchange in either direction against numpy with itself.

    Each pair runs interleaved (common.compare: A B A B ..., medians), so a
    change in the machine's load hits both sides; the baseline is numpy's
    ``from_dlpack`` of numpy's own export in the same run.  Short runs
    (2000 calls, under a millisecond) and many of them: the two sides differ
    by a few percent, less than a shared machine's load changes over the
    20 ms runs of the default.  Warm: the same producer each call, as when
    a library hands the same array around.
    """
    rows = []
    repeat = 31 if quick else 101
    for n in _sizes(quick):
        b = _filled(n)
        a = np.full(n, 7, np.uint8)
        baseline = "np.from_dlpack(ndarray)"
        rows.append(compare(
            SUITE, f"np.from_dlpack(Buffer) {_label(n)}",
            lambda b=b: np.from_dlpack(b), baseline,
            lambda a=a: np.from_dlpack(a), repeat=repeat, number=2000,
            target="<= 1.0"))
        rows.append(compare(
            SUITE, f"pybuf.from_dlpack(ndarray) {_label(n)}",
            lambda a=a: pybuf.from_dlpack(a), baseline,
            lambda a=a: np.from_dlpack(a), repeat=repeat, number=2000,
            target="<= 1.0"))
        del a, b
    return rows


def _round_trip(obj, out_of_band):
    if out_of_band:
        buffers = []
        data = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
        return pickle.loads(data, buffers=buffers)
    return pickle.loads(pickle.dumps(obj, protocol=5))


def pickle_rows(quick=False):
    n = _sizes(quick)[1]
    b = _filled(n)
    a = np.full(n, 7, np.uint8)
    repeat = 3 if quick else 5
    return [
        compare(SUITE, f"pickle5 out-of-band {_label(n)}",
                lambda: _round_trip(b, True), "pickle5 in-band",
                lambda: _round_trip(b, False), repeat=repeat,
                number=1, target="<< 1"),
        compare(SUITE, f"pickle5 out-of-band {_label(n)}",
                lambda: _round_trip(b, True), "numpy out-of-band",
                lambda: _round_trip(a, True), repeat=repeat,
                target="~1"),
    ]


def _child(conn):
    """Serve the parent: receive a Buffer (or a SharedBuffer pickled by
    name), touch its first and last byte, answer."""
    while True:
        b = conn.recv()
        if b is None:
            return
        conn.send(b[0] + b[len(b) - 1])
        if isinstance(b, pybuf.SharedBuffer):
            b.close()
        del b


def process_rows(quick=False):
    n = _sizes(quick)[1]
    # spawn, not fork: it exists on every platform, and the child is a new
    # interpreter whatever threads (numpy's BLAS, a caller's) this one runs
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_child, args=(child,), daemon=True)
    proc.start()
    b = _filled(n)
    try:
        with pybuf.shared(n, "B") as s:
            np.asarray(s)[:] = 7

            def via_shared():
                parent.send(s)           # pickles as (name, shape, format)
                return parent.recv()

            def via_pipe():
                parent.send(b)           # pickles the data
                return parent.recv()

            assert via_shared() == via_pipe() == 14
            row = compare(SUITE, f"to another process {_label(n)}: shared",
                          via_shared, "pickled through a pipe", via_pipe,
                          repeat=3 if quick else 5, number=1,
                          target="<< 1")
    finally:
        parent.send(None)
        proc.join(30)
    return [row]


def run(quick=False):
    """All interop rows (see the module docstring)."""
    return (dlpack_rows(quick) + sharing_rows(quick) + pickle_rows(quick)
            + process_rows(quick))


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    rows = dlpack_rows(quick) if "--dlpack" in sys.argv else run(quick=quick)
    print(format_table(rows))
