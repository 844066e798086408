"""Benchmark of pybuf's block caches (issue 15): what each cache buys.

Each row times the same work with the cache in question on (pybuf) and
with it bypassed (the baseline), alternating in the same run, as
``PYBUF_NO_CACHE=1`` would at import:

- creating and dropping small Buffers (``empty``/``zeros`` of 64 B to
  16 KiB), with and without the small-block cache (it measured faster up
  to 8 KiB, and no faster at 16 KiB, where it stops);
- a large temporary written once (``empty(n)`` then ``fill``) and a
  conversion's output (``astype``), with and without the large-block
  cache, at 32 and 64 MiB (smaller blocks are not cached: glibc's heap
  reuses them by itself; measured, a cache of 4 and 16 MiB blocks gave a
  ratio of 1.00).

Run ``python -m pybuf.bench.bench_memory [--quick]`` or
``python -m pybuf bench --suite memory``.
"""
from __future__ import annotations

import sys

from pybuf.bench.common import Row, format_table, median_time

import pybuf
from pybuf import _alloc

SUITE = "memory"


def _cache_compare(case, fn, off, *, loops, repeat, nbytes=0):
    """Time ``loops`` calls of ``fn`` with both caches on against the same
    with the caches in ``off`` = (small, big) settings, alternating runs.
    Each run is preceded (untimed) by setting the caches and one warm-up
    call, so that a cache emptied by the switch is filled again: the times
    are of the steady state that repeated work sees."""
    times = ([], [])
    for _ in range(repeat):
        for setting, out in (((True, True), times[0]), (off, times[1])):
            def setup(setting=setting):
                _alloc._set_caching(*setting)
                fn()
            out.append(median_time(fn, repeat=1, number=loops, setup=setup))
    a, b = (sorted(t)[len(t) // 2] for t in times)
    name = "small" if not off[0] else "large"
    return Row(SUITE, case, a, f"{name} cache off", b, nbytes)


def run(quick=False, progress=None):
    say = progress or (lambda what: None)
    repeat = 3 if quick else 7
    before = _alloc._set_caching(True, True)
    rows = []
    try:
        for nbytes in ((1024,) if quick else (64, 1024, 8192, 16384)):
            for make in (pybuf.empty, pybuf.zeros):
                say(f"{make.__name__}({nbytes})")

                rows.append(_cache_compare(
                    f"{make.__name__}({nbytes}) + drop",
                    lambda make=make, nbytes=nbytes: make(nbytes),
                    (False, True), loops=2000, repeat=repeat))
        x = {}
        for mib in ((64,) if quick else (32, 64)):
            n = mib << 20
            say(f"large {mib} MiB")

            def temp(n=n):
                b = pybuf.empty(n)
                b.fill(1)
            rows.append(_cache_compare(f"empty({mib} MiB) + fill + drop",
                                       temp, (True, False), loops=4,
                                       repeat=repeat, nbytes=n))
            x[mib] = pybuf.full(n // 8, 1.0, "d")

            def conv(src=x[mib]):
                pybuf.astype(src, "f")
            rows.append(_cache_compare(f"astype(d -> f, {mib // 2} MiB out)",
                                       conv, (True, False), loops=4,
                                       repeat=repeat, nbytes=n + n // 2))
            del x[mib]
    finally:
        _alloc._set_caching(*before)
    return rows


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv)))
