"""Format engine benchmarks: format cache, native and struct tolist.

Run ``python -m pybuf.bench.bench_formats`` (``--quick`` for a short run).
Targets (issue 3): a Buffer with a format seen before costs a cache lookup
(``empty(1024, "d")`` within 10% of ``empty(1024, "B")``); ``tolist()`` of
10**6 native items within 1.5x of ``memoryview.tolist()``; unpacking 10**6
struct items within 1.5x of ``struct.iter_unpack``.
"""
from __future__ import annotations

import struct
import sys

import pybuf
from pybuf.bench.common import Row, compare, format_table

SUITE = "formats"


def run(quick=False) -> list[Row]:
    """Time the format-related paths against same-run baselines."""
    n = 10**5 if quick else 10**6
    repeat = 3 if quick else 7
    rows = []

    pybuf.empty(1024, "d")
    pybuf.empty(1024, "B")                  # both formats are cached now
    rows.append(compare(SUITE, 'empty(1024, "d") (cached format)',
                        lambda: pybuf.empty(1024, "d"),
                        'empty(1024, "B")', lambda: pybuf.empty(1024, "B"),
                        target="<= 1.10", repeat=repeat))

    for fmt in ("d", "i", "B"):
        b = pybuf.empty(n, fmt)
        b.fill(3)
        m = memoryview(b)
        rows.append(compare(SUITE, f"tolist {n} '{fmt}'", b.tolist,
                            "memoryview.tolist", m.tolist, nbytes=b.nbytes,
                            target="<= 1.5", repeat=repeat, number=1))
        m.release()

    b = pybuf.empty(n, "<i")            # standard size, native byte order
    b.fill(3)
    m = memoryview(b).cast("B").cast("i")
    rows.append(compare(SUITE, f"tolist {n} '<i'", b.tolist,
                        "memoryview.tolist", m.tolist, nbytes=b.nbytes,
                        repeat=repeat, number=1))
    m.release()

    for fmt, sfmt in (("T{<i:x:d:y:}", "<id"), ("lh", "@lh6x"), (">d", ">d")):
        b = pybuf.zeros(n, fmt)
        raw = b.tobytes()
        rows.append(compare(SUITE, f"tolist {n} '{fmt}'", b.tolist,
                            f"struct.iter_unpack {sfmt!r}",
                            lambda raw=raw, sfmt=sfmt: list(struct.iter_unpack(sfmt, raw)),
                            nbytes=b.nbytes, target="<= 1.5", repeat=repeat,
                            number=1))
    return rows


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv)))
