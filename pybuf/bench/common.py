"""Timing harness shared by every benchmark suite in :mod:`pybuf.bench`.

Each suite is a module ``bench_*.py`` with a ``run(quick=False)`` function
that returns a list of :class:`Row`; run with ``python -m`` it prints its
table.
Every row compares a pybuf operation with a baseline measured in the same
run (numpy, memoryview, memmove ...), as a ratio of median times.  The
machine is shared and noisy: read the ratios, not the absolute times.
"""
from __future__ import annotations

import dataclasses
import gc
import glob
import sys
import time

_EVICT = None
# The command line's progress line: called with (case, baseline) as each
# comparison starts, and with a note for the user (see set_progress).
_progress = None
_note = None


def set_progress(progress, note=None):
    """Call ``progress(case, baseline)`` as each comparison starts and
    ``note(text)`` for each remark a suite makes (``None``: stop)."""
    global _progress, _note
    _progress, _note = progress, note


def report(case, baseline):
    """Tell the progress callback (if any) that a comparison starts."""
    if _progress is not None:
        _progress(case, baseline)


def note(text):
    """A remark for the user (e.g. rows skipped, and why), on stderr."""
    if _note is not None:
        _note(text)
    else:
        print(text, file=sys.stderr, flush=True)


def last_level_cache():
    """Bytes of the largest CPU cache (Linux sysfs), or None if unknown."""
    sizes = []
    for path in glob.glob("/sys/devices/system/cpu/cpu0/cache/index*/size"):
        try:
            with open(path) as f:
                text = f.read().strip()
        except OSError:
            continue
        scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
        digits = text.rstrip("KMG")
        if digits.isdigit():
            sizes.append(int(digits) * scale)
    return max(sizes, default=None)


def eviction_size():
    """How much evict_caches reads: twice the last-level cache (at least
    64 MiB), or 512 MiB when the cache size is unknown."""
    llc = last_level_cache()
    return 512 << 20 if llc is None else max(2 * llc, 64 << 20)


def evict_caches(nbytes=None):
    """Read a block larger than the last-level cache (``eviction_size()``
    bytes by default), so that the next timed call starts with cold caches
    (untimed)."""
    global _EVICT
    if nbytes is None:
        nbytes = eviction_size()
    if _EVICT is None or len(_EVICT) < nbytes:
        _EVICT = bytearray(nbytes)
        _EVICT[::4096] = b"\1" * len(range(0, nbytes, 4096))
    # find() of a byte that is not there reads every byte of the block
    # (memchr: several times faster than count(), which loops byte by byte).
    _EVICT.find(b"\2")


def median_time(fn, *, repeat=7, number=1, setup=None, cold=False):
    """Median over ``repeat`` runs of the seconds one call of ``fn`` takes
    (each run times ``number`` calls).  ``setup`` runs untimed before each
    run; ``cold`` evicts the caches before each run."""
    times = []
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            if setup is not None:
                setup()
            if cold:
                evict_caches()
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            times.append((time.perf_counter() - t0) / number)
    finally:
        if gc_was:
            gc.enable()
    times.sort()
    return times[len(times) // 2]


def auto_number(fn, target=0.02):
    """Calls per run so that one run lasts about ``target`` seconds."""
    number = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        if time.perf_counter() - t0 >= target or number >= 1 << 20:
            return number
        number *= 4


@dataclasses.dataclass
class Row:
    """One comparison: pybuf's time against a baseline's, same run."""
    suite: str
    case: str
    pybuf_s: float
    baseline: str
    baseline_s: float
    nbytes: int = 0           # bytes pybuf reads and writes (for GB/s); 0: none
    target: str = ""          # e.g. "<= 0.6" (ratio pybuf/baseline)

    @property
    def ratio(self):
        """pybuf time / baseline time (below 1: pybuf is faster)."""
        return self.pybuf_s / self.baseline_s if self.baseline_s else float("inf")

    @property
    def speedup(self):
        """baseline time / pybuf time (above 1: pybuf is faster)."""
        return self.baseline_s / self.pybuf_s if self.pybuf_s else float("inf")

    @property
    def gbps(self):
        return self.nbytes / self.pybuf_s / 1e9 if self.nbytes and self.pybuf_s else None

    def as_dict(self):
        d = dataclasses.asdict(self)
        d.update(ratio=self.ratio, speedup=self.speedup, gbps=self.gbps)
        return d


def compare(suite, case, pybuf_fn, baseline, baseline_fn, *, nbytes=0,
            target="", repeat=7, cold=False, number=None, settle=0.0):
    """Time ``pybuf_fn`` and ``baseline_fn`` and return a :class:`Row`.

    The runs of the two alternate (A B A B ...), so that a change in the
    load of a shared machine during the measurement affects both sides
    alike; each side's time is the median of its ``repeat`` runs.  A run is
    ``number`` calls; by default one call with ``cold`` (which evicts the
    caches before each run), else as many as last about 20 ms, counted for
    each side (a side 1000x slower than the other would otherwise run for
    20 s).  ``settle`` seconds of idling precede every run of either side,
    for baselines that leave threads busy after they return (OpenBLAS's
    threads spin for about 0.1 s after each call, holding a core the next
    run would use): each side is then timed as it runs in a loop of its
    own calls.
    """
    report(case, baseline)
    if number is not None:
        numbers = (number, number)
    elif cold:
        numbers = (1, 1)
    else:
        numbers = (auto_number(pybuf_fn), auto_number(baseline_fn))
    times = ([], [])
    for _ in range(repeat):
        for fn, k, out in ((pybuf_fn, numbers[0], times[0]),
                           (baseline_fn, numbers[1], times[1])):
            if settle:
                time.sleep(settle)
            out.append(median_time(fn, repeat=1, number=k, cold=cold))
    a, b = (sorted(t)[len(t) // 2] for t in times)
    return Row(suite, case, a, baseline, b, nbytes, target)


def format_table(rows):
    """Rows as a plain-text table."""
    def fmt_t(s):
        for unit, scale in (("s", 1), ("ms", 1e-3), ("us", 1e-6)):
            if s >= scale:
                return f"{s / scale:7.3f} {unit}"
        return f"{s * 1e9:7.1f} ns"
    lines = [f"{'case':<44} {'pybuf':>11} {'baseline':<24} {'base time':>11} "
             f"{'ratio':>7} {'GB/s':>6}  target"]
    for r in rows:
        g = f"{r.gbps:6.2f}" if r.gbps else "     -"
        lines.append(f"{r.case:<44} {fmt_t(r.pybuf_s):>11} {r.baseline:<24} "
                     f"{fmt_t(r.baseline_s):>11} {r.ratio:7.3f} {g}  {r.target}")
    return "\n".join(lines)
