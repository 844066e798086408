"""The ``python -m pybuf`` command line: demo, info."""
from __future__ import annotations

import argparse
import sys
import time

import pybuf


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


def cmd_demo(args, out=sys.stdout):
    """Allocate a large Buffer, share it without copying, show it."""
    nbytes = args.mib << 20
    say = lambda *a: print(*a, file=out)
    say(f"1. Allocate {args.mib} MiB of float64 with pybuf.zeros ...")
    buf = pybuf.zeros(nbytes // 8, "d")
    say(f"   {buf!r}")
    say(f"   address {buf.address:#x} (aligned to 64: {buf.address % 64 == 0})")

    say("2. Share it with memoryview (no copy) ...")
    mv = memoryview(buf)
    addresses = {"pybuf.Buffer": buf.address}
    mv_addr = pybuf.asbuffer(mv).address
    addresses["memoryview"] = mv_addr
    views = {"memoryview": mv}
    try:
        import numpy as np
    except ImportError:
        np = None
        say("   (numpy is not installed: skipping the numpy share)")
    if np is not None:
        say("3. Share it with numpy.asarray (no copy) ...")
        arr = np.asarray(buf)
        addresses["numpy"] = arr.__array_interface__["data"][0]
        views["numpy"] = arr
    for name, addr in addresses.items():
        say(f"   {name:<13} sees address {addr:#x}")
    same = len(set(addresses.values())) == 1
    say(f"   one block of memory: {same}")

    say("4. Write through one, read through the others ...")
    mv[0] = 42.0
    seen = {"pybuf.Buffer": buf[0], "memoryview": mv[0]}
    if np is not None:
        seen["numpy"] = float(views["numpy"][0])
        views["numpy"][-1] = -1.0
        seen["pybuf.Buffer (last item, written by numpy)"] = buf[len(buf) - 1]
    for name, value in seen.items():
        say(f"   {name:<13} -> {value}")

    say("5. Share versus copy ...")
    share = _timeit(lambda: memoryview(buf).release(), repeat=9, number=100)
    copy = _timeit(lambda: buf.copy(), repeat=5)
    say(f"   memoryview(buf): {_fmt_time(share)}   buf.copy(): {_fmt_time(copy)}"
        f"   -> sharing is {copy / share:,.0f}x cheaper")
    ok = same and mv[0] == buf[0] == 42.0
    del views
    mv.release()
    say(f"Summary: {args.mib} MiB shared by pointer with "
        f"{len(addresses) - 1} consumer(s), one address, writes seen "
        f"everywhere: {'yes' if ok else 'NO'}.")
    return 0 if ok else 1


def cmd_info(args, out=sys.stdout):
    import platform
    print(f"pybuf {pybuf.__version__}", file=out)
    print(f"Python {platform.python_version()} ({platform.python_implementation()})",
          file=out)
    print(f"include path for cimport: {pybuf.get_include()}", file=out)
    print("default alignment: 64 bytes", file=out)
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m pybuf",
        description="pybuf: the Python buffer protocol, exact and fast.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="zero-copy sharing, shown and timed")
    demo.add_argument("--mib", type=int, default=256,
                      help="size of the demo buffer in MiB (default 256)")
    demo.set_defaults(func=cmd_demo)
    info = sub.add_parser("info", help="version, build and include path")
    info.set_defaults(func=cmd_info)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return args.func(args)
