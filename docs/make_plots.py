"""Measure sharing against copying and draw the figure of "Why a buffer
protocol" (``_static/share-vs-copy.png`` and ``.csv``).

Run ``python docs/make_plots.py`` with pybuf installed.  Needs numpy and
matplotlib.  The committed figure was made on the machine named in the CSV;
rerun it to see your own.
"""
import csv
import os
import platform

HERE = os.path.dirname(os.path.abspath(__file__))

import numpy as np  # noqa: E402

import pybuf  # noqa: E402
from pybuf.bench.common import auto_number, median_time  # noqa: E402

SIZES = [1 << 10, 1 << 14, 1 << 18, 1 << 22, 1 << 26]


def measure():
    rows = []
    for n in SIZES:
        b = pybuf.zeros(n)
        ways = {
            "memoryview(b)  [share]": lambda: memoryview(b).release(),
            "np.asarray(b)  [share]": lambda: np.asarray(b),
            "bytes(b)  [copy]": lambda: bytes(b),
            "b.copy()  [copy]": lambda: b.copy(),
        }
        for name, fn in ways.items():
            t = median_time(fn, repeat=7, number=auto_number(fn, 0.01))
            rows.append({"bytes": n, "operation": name, "seconds": t})
            print(f"{n:>10} {name:<24} {t * 1e6:12.3f} us", flush=True)
    return rows


def main():
    rows = measure()
    with open(os.path.join(HERE, "_static", "share-vs-copy.csv"), "w",
              newline="") as f:
        w = csv.writer(f)
        w.writerow(["size", "operation", "median time (us)"])
        for r in rows:
            w.writerow([_size(r["bytes"]), r["operation"],
                        f"{r['seconds'] * 1e6:.3f}"])
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4))
    for name in dict.fromkeys(r["operation"] for r in rows):
        pts = [(r["bytes"], r["seconds"] * 1e6) for r in rows
               if r["operation"] == name]
        style = "-o" if "share" in name else "--s"
        ax.plot(*zip(*pts), style, label=name)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(SIZES, [_size(n) for n in SIZES])
    ax.set_xlabel("buffer size")
    ax.set_ylabel("median time per call (us)")
    ax.set_title(f"Sharing costs the same at every size; copying grows\n"
                 f"(pybuf {pybuf.__version__}, Python "
                 f"{platform.python_version()}, {platform.machine()})",
                 fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(HERE, "_static", "share-vs-copy.png"), dpi=100)


def _size(n):
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n // scale} {unit}"
    return f"{n} B"


if __name__ == "__main__":
    main()
