"""The ``python -m pybuf`` command line: demo, describe, bench, info.

Every command has ``--help``.  A usage error (unknown command or option, a
bad ``--format``, ``--shape`` or ``--index``) prints one line to stderr and
exits with status 2; no traceback reaches the user.
"""
from __future__ import annotations

import argparse
import ctypes
import importlib.util
import inspect
import json
import math
import os
import pickle
import platform
import re
import struct
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
    try:
        buf = pybuf.zeros(nbytes // 8, "d")
    except (OverflowError, MemoryError) as exc:
        why = ("more bytes than a size can hold" if isinstance(exc, OverflowError)
               else str(exc) or "out of memory")
        raise UsageError(f"python -m pybuf demo: error: --mib {args.mib}: "
                         f"cannot allocate that much ({why})")
    say = lambda *a: print(*a, file=out, flush=True)  # noqa: E731

    say(f"Step 1. Allocate {args.mib} MiB of float64 with pybuf.zeros.")
    say(f"   {buf!r}")
    say(f"   address {buf.address:#x} (a multiple of 64: "
        f"{buf.address % 64 == 0})")

    say("Step 2. Share it, without a copy, with the standard library's "
        "consumers,")
    say("        and with numpy and PyTorch when they are installed.")
    mv = memoryview(buf)
    # ctypes wraps the memory as a C array of doubles; pickle's PickleBuffer
    # is what protocol 5 hands out of band.  Both hold an export of buf.
    carr = (ctypes.c_double * len(buf)).from_buffer(buf)
    pb = pickle.PickleBuffer(buf)
    addresses = {"pybuf.Buffer": buf.address,
                 "memoryview": pybuf.describe(mv).address,
                 "ctypes array": ctypes.addressof(carr),
                 "PickleBuffer": pybuf.describe(pb).address}
    # How each consumer reads item i (struct reads the PickleBuffer in place).
    readers = {"pybuf.Buffer": buf.__getitem__, "memoryview": mv.__getitem__,
               "ctypes array": carr.__getitem__,
               "PickleBuffer": lambda i: struct.unpack_from("d", pb, 8 * i)[0]}
    try:
        import numpy as np
    except ImportError:
        np = None
        say("   numpy is not installed: skipping numpy (pip install numpy)")
    if np is not None:
        arr = np.asarray(buf)
        addresses["numpy"] = arr.__array_interface__["data"][0]
        readers["numpy"] = lambda i: float(arr[i])
    try:
        import torch
    except ImportError:
        torch = None
        say("   PyTorch is not installed: skipping torch (pip install torch)")
    if torch is not None:
        tensor = torch.frombuffer(buf, dtype=torch.float64)
        addresses["torch"] = tensor.data_ptr()
        readers["torch"] = lambda i: float(tensor[i])
    for name, addr in addresses.items():
        say(f"   {name:<13} sees address {addr:#x}")
    same = len(set(addresses.values())) == 1
    say(f"   all see one block of memory: {same} "
        f"(the Buffer counts {buf.exports} live exports)")

    say("Step 3. Write through one consumer, read through all the others.")
    carr[0] = 42.0
    say("   the ctypes array wrote 42.0 into item 0:")
    seen = {name: read(0) for name, read in readers.items()}
    for name, value in seen.items():
        say(f"   {name:<13} item 0 = {value}")
    last = len(buf) - 1
    struct.pack_into("d", mv, 8 * last, -1.0)
    seen_last = {name: read(last) for name, read in readers.items()}
    agree = sum(v == -1.0 for v in seen_last.values())
    say("   struct.pack_into wrote -1.0 into item -1 through the memoryview:")
    say(f"   {agree} of {len(seen_last)} consumers read -1.0 back")
    writes_seen = (all(v == 42.0 for v in seen.values())
                   and all(v == -1.0 for v in seen_last.values()))

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

    del readers
    if torch is not None:
        del tensor
    if np is not None:
        del arr
    del carr
    pb.release()
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
    shape = tuple(int(p) for p in parts)
    for n in shape:
        if n > sys.maxsize:
            raise UsageError(f"python -m pybuf describe: error: bad --shape "
                             f"{text!r}: {n} is larger than the largest "
                             f"size, {sys.maxsize}")
    return shape


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
        itemsize = pybuf.calcsize(args.format)
    except (ValueError, TypeError, NotImplementedError, OverflowError) as exc:
        raise UsageError(f"python -m pybuf describe: error: bad --format: {exc}")
    try:
        buf = pybuf.zeros(shape, args.format, order=args.order)
    except (ValueError, TypeError, NotImplementedError) as exc:
        what = "--format" if "format" in str(exc) else "--shape"
        raise UsageError(f"python -m pybuf describe: error: bad {what}: {exc}")
    except (OverflowError, MemoryError) as exc:
        # Too many bytes: the shape's or the item's fault, or both.
        nitems = math.prod(shape)
        why = (f"{nitems} items of {itemsize} bytes are more than a size can "
               f"hold ({sys.maxsize} bytes)"
               if nitems * itemsize > sys.maxsize else exc or "out of memory")
        raise UsageError(f"python -m pybuf describe: error: bad --shape "
                         f"{args.shape!r} for --format {args.format!r}: {why}")
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


def find_suites(folder=None, names=()):
    """The suites to run, as (name, source) pairs: pybuf's own
    (``source`` is the module name, e.g. ``pybuf.bench.bench_kernels``), or
    the ``bench_*.py`` files of ``folder`` (``source`` is the path);
    optionally only those whose name, with or without ``bench_``, is in
    ``names``."""
    if folder is None:
        from pybuf import bench
        found = {f"bench_{n}": f"pybuf.bench.bench_{n}"
                 for n in bench.suite_names()}
        where = "pybuf.bench"
    elif not os.path.isdir(folder):
        raise UsageError(f"python -m pybuf bench: error: --dir {folder!r}: "
                         f"no such folder")
    else:
        found = {f[:-3]: os.path.join(folder, f) for f in sorted(os.listdir(folder))
                 if f.startswith("bench_") and f.endswith(".py")}
        where = repr(folder)
    if names:
        wanted = {n if n.startswith("bench_") else "bench_" + n for n in names}
        wanted = {n[:-3] if n.endswith(".py") else n for n in wanted}
        missing = wanted - set(found)
        if missing:
            raise UsageError(f"python -m pybuf bench: error: --suite: no suite "
                             f"{', '.join(sorted(missing))} in {where} "
                             f"(have: {', '.join(n[6:] for n in found)})")
        found = {n: src for n, src in found.items() if n in wanted}
    if not found:
        raise UsageError(f"python -m pybuf bench: error: --dir: no bench_*.py "
                         f"suites in {where}")
    return list(found.items())


def _load_suite(source):
    """Import a suite by module name, or from a file (its folder on
    ``sys.path`` meanwhile, so that it can import helpers beside it)."""
    if not source.endswith(".py"):
        return importlib.import_module(source)
    folder = os.path.dirname(os.path.abspath(source))
    name = os.path.splitext(os.path.basename(source))[0]
    spec = importlib.util.spec_from_file_location(f"pybuf_bench_{name}", source)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(folder)
    return module


class _ProgressLine:
    """Where the benchmarks are, on stderr: one line rewritten in place on
    a terminal, a line per step otherwise (a log, a pipe)."""

    def __init__(self, err, nsuites):
        self.err, self.nsuites = err, nsuites
        self.tty = hasattr(err, "isatty") and err.isatty()
        self.t0 = time.perf_counter()
        self.shown = None           # the line on screen, while there is one

    def _elapsed(self):
        s = int(time.perf_counter() - self.t0)
        return f"{s // 60}:{s % 60:02d}"

    def _write(self, text, final=False):
        if self.tty:
            import shutil
            width = shutil.get_terminal_size().columns - 1
            self.err.write("\r" + text[:width] + "\033[K" + ("\n" if final else ""))
            self.shown = None if final else text
        else:
            self.err.write(text + "\n")
        self.err.flush()

    def suite(self, n, name):
        self.n, self.name, self.count = n, name, 0
        self.suite_t0 = time.perf_counter()
        self._write(f"[{n}/{self.nsuites}] {name} {self._elapsed()}")

    def step(self, text):
        self.count += 1
        self._write(f"[{self.n}/{self.nsuites}] {self.name} {self._elapsed()} "
                    f"#{self.count} {text}")

    def case(self, case, baseline):
        self.step(f"{case} / {baseline}")

    def note(self, text):
        """A remark on its own line, the progress line redrawn below it."""
        shown = self.shown if self.tty else None
        if shown:
            self.err.write("\r\033[K")
        self.err.write(text + "\n")
        if shown:
            self._write(shown)
        self.err.flush()

    def done(self, text):
        self._write(f"[{self.n}/{self.nsuites}] {self.name} {self._elapsed()} "
                    f"{text}", final=True)


def run_suites(suites, quick=False, err=sys.stderr):
    """Run each (name, source) suite, showing progress on ``err``; return
    (rows, failures)."""
    from pybuf.bench import common
    rows, failures = [], []
    line = _ProgressLine(err, len(suites))
    common.set_progress(line.case, line.note)
    try:
        for n, (name, source) in enumerate(suites, 1):
            line.suite(n, name)
            t0 = time.perf_counter()
            try:
                run = _load_suite(source).run
                kwargs = {"quick": quick}
                if "progress" in inspect.signature(run).parameters:
                    kwargs["progress"] = line.step
                got = list(run(**kwargs))
            except Exception as exc:  # one broken suite must not stop the rest
                failures.append((name, f"{type(exc).__name__}: {exc}"))
                line.done(f"FAILED: {type(exc).__name__}: {exc}")
                continue
            rows.extend(got)
            line.done(f"{len(got)} comparisons in "
                      f"{time.perf_counter() - t0:.1f} s")
    finally:
        common.set_progress(None)
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
    try:
        if args.dir is None:
            import numpy  # noqa: F401
    except ImportError:
        raise UsageError("python -m pybuf bench: error: the benchmarks "
                         "compare pybuf with numpy, which is not installed "
                         "(pip install numpy)")
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise UsageError("python -m pybuf bench: error: --plot needs "
                             "matplotlib, which is not installed (pip "
                             "install matplotlib)")
    for opt, path in (("--json", args.json), ("--plot", args.plot)):
        # Fail before a long run, not after it.
        if path and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise UsageError(f"python -m pybuf bench: error: {opt} {path!r}: "
                             f"no such directory")
    suites = find_suites(args.dir, args.suite)
    rows, failures = run_suites(suites, quick=args.quick)
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
    from pybuf import _alloc, _introspect, buffer
    build = _introspect._build_info()
    say = lambda k, v: print(f"{k + ':':<26} {v}", file=out)  # noqa: E731
    say("pybuf", f"{pybuf.__version__} ({os.path.dirname(buffer.__file__)})")
    say("Python", f"{platform.python_version()} "
        f"({platform.python_implementation()}, {sys.executable})")
    say("built with Cython", build["cython"])
    say("C compiler", build["compiler"])
    cflags = sysconfig.get_config_var("CFLAGS") or ""
    mode = ("-O3 -g0 (release build: no debug info)" if build["optimized"]
            else "-O0 -g (PYBUF_DEBUG=1 build: bounds checks on)")
    say("compiler flags", f"Python's CFLAGS {cflags!r}, then pybuf's {mode}")
    say("include path for cimport", pybuf.get_include())
    say("default alignment", f"{build['default_align']} bytes")
    mem = pybuf.memory_info()
    say("memory_info()", ", ".join(f"{k} {v:,} B" for k, v in mem.items()))
    lim = _alloc._cache_limits()
    say("block caches", f"small blocks up to {lim['small_max']:,} B, one "
        f"large block of {lim['large_min'] >> 20}-{lim['large_max'] >> 20} MiB"
        if all(lim["enabled"]) else "off (PYBUF_NO_CACHE=1)")
    say("kernel SIMD path", pybuf._tuning._simd_describe())
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
        description="Allocate a large Buffer, share it without copying with "
        "the standard library's memoryview, ctypes and pickle.PickleBuffer, "
        "and with numpy and PyTorch when they are installed; show one "
        "address and writes seen everywhere, time share against copy, "
        "describe a strided view.")
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
        description="Run pybuf's benchmark suites (installed with it; they "
        "need numpy); every row compares pybuf with a baseline timed in the "
        "same run.  Progress goes to stderr, the table to stdout.")
    bench.add_argument("--quick", action="store_true",
                       help="fewer repetitions and smaller sizes: a smoke "
                       "run of under a minute")
    bench.add_argument("--dir", metavar="FOLDER",
                       help="run the bench_*.py suites of this folder "
                       "instead of pybuf's own")
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
