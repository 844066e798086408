"""The ``python -m pybuf`` command line: demo, describe, bench, info.

Every command has ``--help``.  A usage error (unknown command or option, a
bad ``--format``, ``--shape`` or ``--index``) prints one line to stderr and
exits with status 2; no traceback reaches the user.
"""
from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import os
import platform
import re
import sys
import time

import pybuf


class UsageError(Exception):
    """Bad command-line input found after parsing: one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (argparse prints the whole
    usage block first, which buries the message)."""

    def error(self, message):
        raise UsageError(f"{self.prog}: error: {message} (see --help)")


def _timeit(fn, repeat=7, number=1):
    """Median seconds per call of ``fn`` over ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number)
    times.sort()
    return times[len(times) // 2]


def _fmt_time(seconds):
    for unit, scale in (("s", 1), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _fmt_size(nbytes):
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if nbytes >= scale:
            return f"{nbytes / scale:g} {unit}"
    return f"{nbytes} B"


# --- demo -------------------------------------------------------------------

def cmd_demo(args, out=sys.stdout):
    """The talk's demo: one Buffer, shared by pointer, seen everywhere."""
    if args.mib < 1:
        raise UsageError("python -m pybuf demo: error: --mib must be at least 1")
    nbytes = args.mib << 20
    say = lambda *a: print(*a, file=out, flush=True)  # noqa: E731

    say(f"Step 1. Allocate {args.mib} MiB of float64 with pybuf.zeros.")
    buf = pybuf.zeros(nbytes // 8, "d")
    say(f"   {buf!r}")
    say(f"   address {buf.address:#x} (a multiple of 64: "
        f"{buf.address % 64 == 0})")

    say("Step 2. Share it with every consumer that is installed (no copies).")
    mv = memoryview(buf)
    consumers = {"memoryview": mv}
    addresses = {"pybuf.Buffer": buf.address,
                 "memoryview": pybuf.describe(mv).address}
    try:
        import numpy as np
    except ImportError:
        np = None
        say("   numpy is not installed: skipping numpy")
    if np is not None:
        arr = np.asarray(buf)
        consumers["numpy"] = arr
        addresses["numpy"] = arr.__array_interface__["data"][0]
    try:
        import torch
    except ImportError:
        torch = None
        say("   PyTorch is not installed: skipping torch")
    if torch is not None:
        tensor = torch.frombuffer(buf, dtype=torch.float64)
        consumers["torch"] = tensor
        addresses["torch"] = tensor.data_ptr()
    for name, addr in addresses.items():
        say(f"   {name:<13} sees address {addr:#x}")
    same = len(set(addresses.values())) == 1
    say(f"   all see one block of memory: {same} "
        f"(the Buffer counts {buf.exports} live exports)")

    say("Step 3. Write through one consumer, read through all the others.")
    mv[0] = 42.0
    seen = {"pybuf.Buffer": buf[0]}
    seen.update((name, float(c[0])) for name, c in consumers.items())
    for name, value in seen.items():
        say(f"   {name:<13} item 0 = {value}")
    writes_seen = all(v == 42.0 for v in seen.values())
    if np is not None:
        consumers["numpy"][-1] = -1.0
        last = buf[len(buf) - 1]
        say(f"   numpy wrote item -1; pybuf.Buffer reads {last}")
        writes_seen = writes_seen and last == -1.0

    say("Step 4. Share against copy, at several sizes (median times).")
    say(f"   {'size':>9}  {'share (memoryview)':>19}  {'copy (Buffer.copy)':>19}"
        f"  {'copy/share':>10}")
    sizes = sorted({1 << 10, 1 << 20, nbytes})
    ratios = []
    for size in sizes:
        part = buf[:size // 8]
        share = _timeit(lambda: memoryview(part).release(), repeat=7, number=200)
        copy = _timeit(lambda: part.copy(), repeat=5,
                       number=max(1, (1 << 22) // size))
        ratios.append(copy / share)
        say(f"   {_fmt_size(size):>9}  {_fmt_time(share):>19}  "
            f"{_fmt_time(copy):>19}  {copy / share:>9,.0f}x")
        part.release()

    say("Step 5. describe() a strided view: 12 items as 3x4, every other row,")
    say("        columns reversed (a negative stride).")
    view = buf[:12].reshape(3, 4)[::2, ::-1]
    for line in str(pybuf.describe(view)).splitlines():
        say(f"   {line}")
    view.release()

    del consumers, seen
    if torch is not None:
        del tensor
    if np is not None:
        del arr
    mv.release()
    ok = same and writes_seen
    say(f"Summary: {args.mib} MiB shared by pointer with "
        f"{len(addresses) - 1} consumer(s) at one address, writes seen "
        f"everywhere: {'yes' if ok else 'NO'}; sharing {_fmt_size(nbytes)} "
        f"costs 1/{ratios[-1]:,.0f} of copying it.")
    return 0 if ok else 1


# --- describe ---------------------------------------------------------------

def _parse_shape(text):
    """``"3,4"`` -> ``(3, 4)``; ``""`` or ``"()"`` -> ``()``."""
    body = text.strip().strip("()").strip()
    if not body:
        return ()
    parts = [p.strip() for p in body.split(",")]
    if parts[-1] == "":              # "3," is the 1-tuple
        parts.pop()
    if not parts or not all(re.fullmatch(r"\d+", p) for p in parts):
        raise UsageError(f"python -m pybuf describe: error: bad --shape "
                         f"{text!r}: expected non-negative integers separated "
                         f"by commas, e.g. 3,4")
    return tuple(int(p) for p in parts)


def _parse_index(text):
    """numpy-style index text (``"::2,1:"``, ``"...,0"``, ``"-1"``) -> key."""
    def bad(why):
        return UsageError(f"python -m pybuf describe: error: bad --index "
                          f"{text!r}: {why}")

    def number(s):
        s = s.strip()
        if s == "":
            return None
        if not re.fullmatch(r"[+-]?\d+", s):
            raise bad(f"{s!r} is not an integer")
        return int(s)

    key = []
    for part in text.split(","):
        part = part.strip()
        if part == "...":
            key.append(Ellipsis)
        elif ":" in part:
            bits = part.split(":")
            if len(bits) > 3:
                raise bad(f"{part!r} has more than two colons")
            key.append(slice(*(number(b) for b in bits)))
        elif part == "":
            raise bad("empty index between commas")
        else:
            key.append(number(part))
    return key[0] if len(key) == 1 else tuple(key)


def cmd_describe(args, out=sys.stdout):
    """Build a buffer from the arguments and print describe() of it."""
    shape = _parse_shape(args.shape)
    key = _parse_index(args.index) if args.index is not None else None
    try:
        buf = pybuf.zeros(shape, args.format, order=args.order)
    except (ValueError, TypeError, NotImplementedError) as exc:
        what = "--format" if "format" in str(exc) else "--shape"
        raise UsageError(f"python -m pybuf describe: error: bad {what}: {exc}")
    except (OverflowError, MemoryError) as exc:
        raise UsageError(f"python -m pybuf describe: error: bad --shape "
                         f"{args.shape!r}: {exc or 'too large'}")
    if key is not None:
        try:
            buf = buf[key]
        except (IndexError, ValueError, TypeError) as exc:
            raise UsageError(f"python -m pybuf describe: error: bad --index "
                             f"{args.index!r}: {exc}")
        if not isinstance(buf, pybuf.Buffer):   # an int index gave an item
            raise UsageError(f"python -m pybuf describe: error: bad --index "
                             f"{args.index!r}: selects one item, not a view "
                             f"(add ':' or '...')")
    target = buf
    if args.via == "memoryview":
        target = memoryview(buf)
    elif args.via == "numpy":
        try:
            import numpy as np
        except ImportError:
            raise UsageError("python -m pybuf describe: error: --via numpy "
                             "needs numpy, which is not installed")
        target = np.asarray(buf)
    try:
        info = pybuf.describe(target, request=args.request)
    except ValueError as exc:
        raise UsageError(f"python -m pybuf describe: error: bad --request: {exc}")
    except BufferError as exc:
        print(f"BufferError: {exc}", file=out)
        return 1
    print(info, file=out)
    return 0


# --- bench ------------------------------------------------------------------

_TARGET = re.compile(r"^\s*(<=|>=|<|>)\s*([0-9.]+)\s*(x?)")


def target_met(row):
    """True/False when ``row.target`` can be judged, else None.

    ``"<= 0.6"`` is judged on the ratio (pybuf time / baseline time);
    ``">= 2x"`` (with an ``x``) on the speedup (baseline time / pybuf time).
    """
    m = _TARGET.match(row.target or "")
    if not m:
        return None
    op, limit, x = m.groups()
    try:
        limit = float(limit)
    except ValueError:
        return None
    value = row.speedup if x else row.ratio
    return {"<=": value <= limit, ">=": value >= limit,
            "<": value < limit, ">": value > limit}[op]


def find_suites(folder, names=()):
    """Paths of the ``bench_*.py`` files in ``folder`` (optionally only
    those whose name, with or without ``bench_``, is in ``names``)."""
    if not os.path.isdir(folder):
        raise UsageError(f"python -m pybuf bench: error: no benchmark folder "
                         f"{folder!r}: run from a pybuf checkout or pass --dir")
    found = sorted(f for f in os.listdir(folder)
                   if f.startswith("bench_") and f.endswith(".py"))
    if names:
        wanted = {n if n.startswith("bench_") else "bench_" + n for n in names}
        wanted = {n[:-3] if n.endswith(".py") else n for n in wanted}
        missing = wanted - {f[:-3] for f in found}
        if missing:
            raise UsageError(f"python -m pybuf bench: error: no suite "
                             f"{', '.join(sorted(missing))} in {folder!r} "
                             f"(have: {', '.join(f[6:-3] for f in found)})")
        found = [f for f in found if f[:-3] in wanted]
    if not found:
        raise UsageError(f"python -m pybuf bench: error: no bench_*.py "
                         f"suites in {folder!r}")
    return [os.path.join(folder, f) for f in found]


def _load_suite(path):
    folder = os.path.dirname(os.path.abspath(path))
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(f"pybuf_bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    # Suites import the shared harness as ``common``, from their own folder.
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(folder)
    return module


def run_suites(paths, quick=False, err=sys.stderr):
    """Run each suite, showing progress on ``err``; return (rows, failures)."""
    rows, failures = [], []
    for n, path in enumerate(paths, 1):
        name = os.path.basename(path)
        print(f"[{n}/{len(paths)}] {name} ...", file=err, flush=True)
        t0 = time.perf_counter()
        try:
            module = _load_suite(path)
            run = module.run
            kwargs = {"quick": quick}
            if "progress" in inspect.signature(run).parameters:
                kwargs["progress"] = lambda case: print(
                    f"      {case}", file=err, flush=True)
            got = list(run(**kwargs))
        except Exception as exc:      # one broken suite must not stop the rest
            failures.append((name, f"{type(exc).__name__}: {exc}"))
            print(f"      FAILED: {type(exc).__name__}: {exc}", file=err, flush=True)
            continue
        rows.extend(got)
        print(f"      {len(got)} comparisons in {time.perf_counter() - t0:.1f} s",
              file=err, flush=True)
    return rows, failures


def ratio_table(rows):
    """The comparison rows as a text table, one section per suite."""
    def t(s):
        return _fmt_time(s) if s else "-"
    lines = []
    head = (f"{'case':<42} {'pybuf':>9}  {'baseline':<26} {'baseline':>9} "
            f"{'ratio':>7} {'GB/s':>6}  {'target':<8} met")
    suite = None
    for r in rows:
        if r.suite != suite:
            suite = r.suite
            if lines:
                lines.append("")
            lines += [f"== {suite} ==", head]
        met = target_met(r)
        mark = "" if met is None else "yes" if met else "NO"
        gbps = getattr(r, "gbps", None)     # pybuf's bytes moved per second
        g = f"{gbps:6.1f}" if gbps else "     -"
        lines.append(f"{r.case:<42} {t(r.pybuf_s):>9}  {r.baseline:<26} "
                     f"{t(r.baseline_s):>9} {r.ratio:>7.3f} {g}  {r.target:<8} {mark}")
    judged = [target_met(r) for r in rows]
    judged = [m for m in judged if m is not None]
    if judged:
        lines.append("")
        lines.append(f"targets met: {sum(judged)} of {len(judged)}  "
                     f"(ratio = pybuf time / baseline time; below 1 is faster)")
    return "\n".join(lines)


def plot_rows(rows, path):
    """A bar chart of the ratios (log scale), one bar per comparison."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    labels = [f"{r.case} / {r.baseline}" for r in rows]
    ratios = [r.ratio for r in rows]
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(rows) + 1.2))
    colors = [{None: "#999", True: "#3a7", False: "#d54"}[target_met(r)]
              for r in rows]
    ax.barh(range(len(rows)), ratios, color=colors)
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xlabel("pybuf time / baseline time (log; left of 1 = pybuf faster)")
    ax.set_title(f"pybuf {pybuf.__version__} benchmarks")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def cmd_bench(args, out=sys.stdout):
    """Run the benchmark suites and print the ratio table."""
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise UsageError("python -m pybuf bench: error: --plot needs "
                             "matplotlib (pip install matplotlib)")
    for opt, path in (("--json", args.json), ("--plot", args.plot)):
        # Fail before a long run, not after it.
        if path and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise UsageError(f"python -m pybuf bench: error: {opt} {path!r}: "
                             f"no such directory")
    paths = find_suites(args.dir, args.suite)
    rows, failures = run_suites(paths, quick=args.quick)
    print(ratio_table(rows), file=out)
    for name, why in failures:
        print(f"suite {name} failed: {why}", file=out)
    if args.json:
        doc = {"pybuf": pybuf.__version__,
               "python": platform.python_version(),
               "machine": platform.machine(),
               "processor": platform.processor(),
               "quick": args.quick,
               "failures": [{"suite": n, "error": w} for n, w in failures],
               "rows": [r.as_dict() for r in rows]}
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)
        print(f"wrote {args.json}", file=out)
    if args.plot and rows:
        plot_rows(rows, args.plot)
        print(f"wrote {args.plot}", file=out)
    return 1 if failures else 0


# --- info -------------------------------------------------------------------

def cmd_info(args, out=sys.stdout):
    """Version, build and include path."""
    import sysconfig
    from pybuf import buffer
    build = buffer._build_info()
    say = lambda k, v: print(f"{k + ':':<26} {v}", file=out)  # noqa: E731
    say("pybuf", f"{pybuf.__version__} ({os.path.dirname(buffer.__file__)})")
    say("Python", f"{platform.python_version()} "
        f"({platform.python_implementation()}, {sys.executable})")
    say("built with Cython", build["cython"])
    say("C compiler", build["compiler"])
    cflags = sysconfig.get_config_var("CFLAGS") or ""
    mode = ("-O3 (release build)" if build["optimized"]
            else "-O0 -g (PYBUF_DEBUG=1 build: bounds checks on)")
    say("compiler flags", f"Python's CFLAGS {cflags!r}, then pybuf's {mode}")
    say("include path for cimport", pybuf.get_include())
    say("default alignment", f"{build['default_align']} bytes")
    say("kernel SIMD path", pybuf.kernels._simd_describe())
    try:
        import numpy
        say("numpy", numpy.__version__)
    except ImportError:
        say("numpy", "not installed (optional)")
    return 0


# --- wiring -----------------------------------------------------------------

def build_parser():
    parser = _Parser(
        prog="python -m pybuf",
        description="pybuf: the Python buffer protocol (PEP 3118), exact and fast.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND",
                                parser_class=_Parser)

    demo = sub.add_parser(
        "demo", help="zero-copy sharing, narrated and timed",
        description="Allocate a large Buffer, share it with memoryview, numpy "
        "and PyTorch (those installed) without copying, show one address and "
        "a write seen everywhere, time share against copy, describe a "
        "strided view.")
    demo.add_argument("--mib", type=int, default=256,
                      help="size of the demo buffer in MiB (default 256)")
    demo.set_defaults(func=cmd_demo)

    desc = sub.add_parser(
        "describe", help="build a buffer and describe() it",
        description="Build a zero-filled pybuf Buffer, optionally index it, "
        "and print what its buffer export says (a table and a memory map). "
        "Example: python -m pybuf describe --format '<i' --shape 3,4 "
        "--order F --index '::2,1:'")
    desc.add_argument("--format", default="B",
                      help="PEP 3118 format string (default 'B')")
    desc.add_argument("--shape", default="8",
                      help="comma-separated dimensions, e.g. 3,4 (default 8; "
                      "'()' for 0-d)")
    desc.add_argument("--order", choices=["C", "F"], default="C",
                      help="memory layout (default C)")
    desc.add_argument("--index", metavar="INDEX",
                      help="numpy-style index applied before describing, "
                      "e.g. '::2,1:' or '...,::-1'")
    desc.add_argument("--via", choices=["pybuf", "memoryview", "numpy"],
                      default="pybuf",
                      help="describe this consumer's re-export instead")
    desc.add_argument("--request", metavar="NAME",
                      help="make only this request, e.g. C_CONTIGUOUS or "
                      "PyBUF_ND (default: the most permissive that works)")
    desc.set_defaults(func=cmd_describe)

    bench = sub.add_parser(
        "bench", help="run the benchmarks and print a ratio table",
        description="Run the bench_*.py suites of a pybuf checkout; every row "
        "compares pybuf with a baseline timed in the same run.")
    bench.add_argument("--quick", action="store_true",
                       help="fewer repetitions and sizes (a smoke run)")
    bench.add_argument("--dir", default="benchmarks",
                       help="folder of the suites (default ./benchmarks)")
    bench.add_argument("--suite", action="append", default=[], metavar="NAME",
                       help="run only this suite (e.g. buffer); repeatable")
    bench.add_argument("--json", metavar="FILE",
                       help="also write the results as JSON")
    bench.add_argument("--plot", metavar="FILE.png",
                       help="also draw the ratios (needs matplotlib)")
    bench.set_defaults(func=cmd_bench)

    info = sub.add_parser(
        "info", help="version, build and include path",
        description="pybuf and Python versions, the Cython and compiler it "
        "was built with, the include path for cimport, default alignment.")
    info.set_defaults(func=cmd_info)
    return parser


def main(argv=None):
    """Entry point; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            raise UsageError("python -m pybuf: error: missing command (demo, "
                             "describe, bench or info; see --help)")
        return args.func(args)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("python -m pybuf: error: out of memory (try a smaller --mib "
              "or --shape)", file=sys.stderr)
        return 1
