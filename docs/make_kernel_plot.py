"""Run the warm kernel sweep on every SIMD path this CPU runs and draw the
speedup figure of the performance page (``_static/kernels-warm.png``, with
the tables in ``_static/bench-kernels-warm.txt``).

Run from the repository root: ``python docs/make_kernel_plot.py [RUNS]``.
Needs numpy and matplotlib, takes about a minute per path and run.  Each
figure is numpy's median time over pybuf's, interleaved (above 1: pybuf is
faster), and of RUNS (default 3) sweeps the median.
"""
import os
import platform
import sys

import pybuf
from pybuf import _tuning
from pybuf.bench import bench_kernels

HERE = os.path.dirname(os.path.abspath(__file__))


def measure(runs=3):
    """{path: rows} for every path, the widest last; each row is the run
    with the median speedup of ``runs`` sweeps (the paths interleaved, so
    that a change of load on the machine touches them all)."""
    results = {}
    old = _tuning._simd_path()
    try:
        for i in range(runs):
            for path in _tuning._simd_paths():
                _tuning._set_simd_path(path)
                print(f"run {i + 1}/{runs}, path {path} ...", file=sys.stderr,
                      flush=True)
                results.setdefault(path, []).append(bench_kernels.warm())
    finally:
        _tuning._set_simd_path(old)
    return {path: [sorted(same, key=lambda r: r.speedup)[len(same) // 2]
                   for same in zip(*sweeps)]
            for path, sweeps in results.items()}


def speedups(rows):
    """{kernel: [(bytes, speedup)]} from warm rows."""
    out = {}
    for r in rows:
        head = r.case.split(" [")[0][len("warm "):]
        kernel, number, unit = head.rsplit(" ", 2)
        nbytes = int(number) << (10 if unit == "KiB" else 20)
        out.setdefault(kernel, []).append((nbytes, r.speedup))
    return out


def main():
    results = measure(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
    with open(os.path.join(HERE, "_static", "bench-kernels-warm.txt"), "w") as f:
        f.write("\n\n".join(bench_kernels.warm_table(rows)
                            for rows in results.values()) + "\n")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 4.2),
                             sharey=True, squeeze=False)
    for ax, (path, rows) in zip(axes[0], results.items()):
        for kernel, pts in speedups(rows).items():
            ax.plot(*zip(*pts), "-o", markersize=3, label=kernel)
        sizes = sorted({n for pts in speedups(rows).values() for n, _ in pts})
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log", base=2)
        ax.set_xticks(sizes, [f"{n >> 10} KiB" if n < 1 << 20 else f"{n >> 20} MiB"
                              for n in sizes])
        ax.set_title(f"SIMD path: {path}", fontsize=10)
        ax.set_xlabel("float64 operand size (warm)")
        ax.grid(True, which="major", alpha=0.3)
    axes[0][0].set_ylabel("numpy time / pybuf time (above 1: pybuf faster)")
    axes[0][-1].legend(fontsize=7)
    fig.suptitle(f"pybuf kernels against numpy, data in cache (pybuf "
                 f"{pybuf.__version__}, numpy {bench_kernels.np.__version__}, "
                 f"{platform.machine()})", fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(HERE, "_static", "kernels-warm.png"), dpi=100)


if __name__ == "__main__":
    main()
