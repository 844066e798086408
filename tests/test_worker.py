"""The persistent worker thread that two-thread kernels hand half their
parts to (``pybuf_run_parts`` in pybuf/_simd.c).

Work from ``_tuning._set_parallel_threshold`` bytes up is cut into parts
that the calling thread and the worker take; the result must not depend on
which thread ran which part, on whether the worker runs at all
(``_tuning._set_worker``), or on the SIMD path.  The worker must survive
fork() (the child starts its own), many threads calling kernels at once,
and interpreter exit.  Anything that could hang or crash runs in a child
process with a timeout.
"""
import os
import subprocess
import sys
import textwrap

import pytest

import pybuf
from pybuf import _tuning

np = pytest.importorskip("numpy", reason="needs numpy: pip install numpy")

PATHS = _tuning._simd_paths()
# Sizes around the part boundaries: parts start at multiples of 8 items.
SIZES = [2, 9, 64, 1000, 4097, 65536 + 13, 300001]


@pytest.fixture(params=PATHS)
def path(request):
    old = _tuning._set_simd_path(request.param)
    yield request.param
    _tuning._set_simd_path(old)


@pytest.fixture
def split_everything():
    """Every kernel that can split, splits (threshold 0), and the worker
    takes parts however busy the machine is (mode 2); both back after."""
    old = _tuning._set_parallel_threshold(0)
    was = _tuning._set_worker(2)
    yield
    _tuning._set_parallel_threshold(old)
    _tuning._set_worker(was)


def results(a, b):
    """What each splitting kernel gives on float64 a, b: reductions as
    floats, copies as arrays."""
    out = {}
    out["sum"] = pybuf.sum(a)
    out["min"] = pybuf.min(a)
    out["max"] = pybuf.max(a)
    out["dot"] = pybuf.dot(a, b)
    out["sum_f4"] = pybuf.sum(a.astype(np.float32))
    d = np.empty_like(a)
    pybuf.copyto(d, a)
    out["copyto"] = d
    f4 = np.empty(a.size, np.float32)
    pybuf.copyto(f4, a)
    out["convert"] = f4
    sw = a.copy()
    pybuf.byteswap(sw, out=sw)
    out["byteswap"] = sw
    half = np.empty((a.size + 1) // 2)
    pybuf.copyto(half, a[::2])
    out["strided"] = half
    f = np.empty_like(a)
    pybuf.fill(f, 1.25)
    out["fill"] = f
    return out


def check_against_numpy(r, a, b):
    assert r["min"] == a.min() and r["max"] == a.max()
    tol = 1e-12 * (np.abs(a).sum() + 1)
    assert abs(r["sum"] - a.sum()) <= tol
    assert abs(r["dot"] - np.dot(a, b)) <= 1e-12 * (np.abs(a * b).sum() + 1)
    assert abs(r["sum_f4"] - a.astype(np.float32).astype(np.float64).sum()) <= tol
    np.testing.assert_array_equal(r["copyto"], a)
    np.testing.assert_array_equal(r["convert"], a.astype(np.float32))
    np.testing.assert_array_equal(r["byteswap"], a.byteswap())
    np.testing.assert_array_equal(r["strided"], a[::2])
    np.testing.assert_array_equal(r["fill"], np.full(a.size, 1.25))


@pytest.mark.parametrize("n", SIZES)
def test_same_results_with_and_without_worker(path, split_everything, n):
    """Bit for bit the same with the worker as on one thread, and right
    against numpy; a NaN anywhere still makes min/max NaN."""
    rng = np.random.default_rng(n)
    a = rng.standard_normal(n)
    b = rng.standard_normal(n)
    with_worker = results(a, b)
    assert _tuning._worker_running()
    _tuning._set_worker(0)
    assert not _tuning._worker_running()
    without = results(a, b)
    _tuning._set_worker(2)
    for key, value in with_worker.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, without[key])
        else:
            assert value == without[key], key
    check_against_numpy(with_worker, a, b)
    for where in (0, n // 2, n - 1):
        c = a.copy()
        c[where] = np.nan
        assert np.isnan(pybuf.min(c)) and np.isnan(pybuf.max(c))


def test_split_matches_one_thread_within_rounding(path):
    """Split (parts folded in order) and unsplit sums differ only by the
    order of additions."""
    a = np.random.default_rng(7).standard_normal(1 << 18)
    old = _tuning._set_parallel_threshold(1 << 60)
    try:
        whole = pybuf.sum(a), pybuf.dot(a, a), pybuf.min(a), pybuf.max(a)
        _tuning._set_parallel_threshold(0)
        split = pybuf.sum(a), pybuf.dot(a, a), pybuf.min(a), pybuf.max(a)
    finally:
        _tuning._set_parallel_threshold(old)
    assert abs(whole[0] - split[0]) <= 1e-12 * np.abs(a).sum()
    assert abs(whole[1] - split[1]) <= 1e-12 * (a * a).sum()
    assert whole[2:] == split[2:]


def test_streamed_lines_split(split_everything):
    """Gathers, conversions and fills written with streaming stores are
    split too."""
    old = _tuning._set_stream_threshold(0)
    try:
        a = np.random.default_rng(3).standard_normal(200003)
        half = np.empty(100002)
        pybuf.copyto(half, a[::2])
        np.testing.assert_array_equal(half, a[::2])
        f4 = np.empty(a.size, np.float32)
        pybuf.copyto(f4, a)
        np.testing.assert_array_equal(f4, a.astype(np.float32))
        d = np.empty_like(a)
        pybuf.copyto(d, a)
        np.testing.assert_array_equal(d, a)
        pybuf.fill(d, -2.5)
        np.testing.assert_array_equal(d, np.full(a.size, -2.5))
        pybuf.fill(d[1:], 7.0)          # an unaligned start
        assert d[0] == -2.5 and (d[1:] == 7.0).all()
    finally:
        _tuning._set_stream_threshold(old)


def test_worker_off_and_on_again(split_everything):
    a = np.arange(100000, dtype=np.float64)
    assert pybuf.sum(a) == a.sum()
    assert _tuning._worker_running()
    assert _tuning._set_worker(0) == 2
    assert not _tuning._worker_running()
    assert pybuf.sum(a) == a.sum()
    assert not _tuning._worker_running()
    assert _tuning._set_worker(1) == 0
    assert pybuf.sum(a) == a.sum()          # with or without the worker
    assert _tuning._set_worker(2) == 1
    assert pybuf.sum(a) == a.sum()
    assert _tuning._worker_running()
    with pytest.raises(ValueError, match="0, 1 or 2"):
        _tuning._set_worker(3)


def run_child(code, timeout=120, **env):
    e = dict(os.environ)
    e.pop("PYBUF_SIMD", None)
    e.update(env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                          capture_output=True, text=True, env=e, timeout=timeout)


FORK_CHILD = """
    import multiprocessing as mp
    import numpy as np
    import pybuf
    from pybuf import _tuning

    def child(q):
        try:
            before = _tuning._worker_running()
            a = np.arange(1, 300001, dtype=np.float64)
            got = [pybuf.sum(a) for _ in range(20)]
            d = np.empty_like(a)
            pybuf.copyto(d, a)
            q.put((before, _tuning._worker_running(), got[0] == a.sum(),
                   len(set(got)) == 1, bool((d == a).all())))
        except BaseException as e:
            q.put(repr(e))

    if __name__ == "__main__":
        _tuning._set_parallel_threshold(0)
        _tuning._set_worker(2)
        a = np.ones(300000)
        assert pybuf.sum(a) == 300000.0
        assert _tuning._worker_running()
        ctx = mp.get_context("fork")
        for _ in range(3):
            q = ctx.Queue()
            p = ctx.Process(target=child, args=(q,))
            p.start()
            res = q.get(timeout=60)
            p.join(60)
            assert p.exitcode == 0, p.exitcode
            assert res == (False, True, True, True, True), res
        # and the parent's worker still works
        assert pybuf.sum(a) == 300000.0
        print("ok")
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_fork_child_starts_its_own_worker(tmp_path):
    """A child forked while the parent's worker exists has no worker
    thread: its first two-thread call starts one and gets right results."""
    script = tmp_path / "fork_child.py"
    script.write_text(textwrap.dedent(FORK_CHILD))
    e = dict(os.environ)
    e.pop("PYBUF_SIMD", None)
    p = subprocess.run([sys.executable, str(script)], capture_output=True,
                       text=True, env=e, timeout=180)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.strip() == "ok"


# Shared by the fork tests' child scripts: the OS threads of this process
# (Linux), and a fork whose child must end within a time limit (a child
# stuck on a lock inherited from another thread fails the test, not hangs).
FORK_HELPERS = """
    import os, sys, time

    def os_threads():
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("Threads:"):
                        return int(line.split()[1])
        except OSError:
            return None

    def fork_and_wait(child, limit=30):
        pid = os.fork()
        if pid == 0:
            try:
                ok = child()
            except BaseException:
                ok = False
            os._exit(0 if ok else 3)
        end = time.monotonic() + limit
        while time.monotonic() < end:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.005)
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        return "timed out"
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_no_worker_across_fork():
    """The worker is stopped and joined before fork() (so CPython 3.12+
    has no reason to warn that the process is multi-threaded: warnings are
    errors here) and started again by the next two-thread call, in the
    child and in the parent."""
    p = run_child(textwrap.dedent(FORK_HELPERS) + textwrap.dedent("""
        import numpy as np
        import pybuf
        from pybuf import _tuning
        _tuning._set_parallel_threshold(0)
        _tuning._set_worker(2)
        a = np.arange(1, 300001, dtype=np.float64)
        # the threads before pybuf's worker (1; under qemu-user, 2: the
        # emulator runs a thread of its own)
        base = os_threads()
        at_fork = []
        os.register_at_fork(after_in_parent=lambda: at_fork.append(
            (os_threads(), _tuning._worker_running())))

        def child():
            fresh = not _tuning._worker_running()
            return fresh and pybuf.sum(a) == a.sum() and _tuning._worker_running()

        for _ in range(5):
            assert pybuf.sum(a) == a.sum()
            assert _tuning._worker_running()
            before = os_threads()
            assert fork_and_wait(child) == 0
            assert base is None or before == base + 1, (base, before)
        assert at_fork == [(base, False)] * 5, (base, at_fork)
        assert pybuf.sum(a) == a.sum() and _tuning._worker_running()
        print("ok")
    """), OPENBLAS_NUM_THREADS="1", PYTHONWARNINGS="error")
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.strip() == "ok"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_fork_while_other_threads_run_kernels():
    """fork() again and again while other threads are inside two-thread
    kernels (the fork waits for the job in progress, then stops the
    worker): each child runs kernels on two threads and exits within its
    time limit, and the parent's kernels use two threads afterwards."""
    p = run_child(textwrap.dedent(FORK_HELPERS) + textwrap.dedent("""
        import threading, warnings
        import numpy as np
        import pybuf
        from pybuf import _tuning
        # CPython 3.12+ warns about these forks: the Python threads below
        # make the process multi-threaded (they are the test's, not pybuf's)
        warnings.simplefilter("ignore", DeprecationWarning)
        _tuning._set_parallel_threshold(0)
        _tuning._set_worker(2)
        a = np.arange(1, 200001, dtype=np.float64)
        base = os_threads()           # see test_no_worker_across_fork
        stop = threading.Event()
        errors = []
        def spin():
            while not stop.is_set():
                if pybuf.sum(a) != a.sum():
                    errors.append("sum")
        ts = [threading.Thread(target=spin) for _ in range(3)]
        for t in ts:
            t.start()

        def child():
            ok = all(pybuf.sum(a) == a.sum() for _ in range(50))
            return ok and _tuning._worker_running()

        codes = [fork_and_wait(child) for _ in range(20)]
        stop.set()
        for t in ts:
            t.join()
        assert codes == [0] * 20, codes
        assert not errors, errors
        assert pybuf.sum(a) == a.sum() and _tuning._worker_running()
        # this thread and the worker (a joined thread's OS thread may take
        # a moment more to end)
        end = time.monotonic() + 5
        while base is not None and os_threads() != base + 1 and time.monotonic() < end:
            time.sleep(0.01)
        assert base is None or os_threads() == base + 1, (base, os_threads())
        print("ok")
    """), OPENBLAS_NUM_THREADS="1")
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.strip() == "ok"


def test_many_threads_at_once():
    """Eight threads calling splitting kernels (the GIL released) at once:
    one of them owns the worker at a time, the others run alone; no
    deadlock, every result right."""
    p = run_child("""
        import threading
        import numpy as np
        import pybuf
        from pybuf import _tuning
        _tuning._set_parallel_threshold(0)
        _tuning._set_worker(2)
        errors = []
        def work(seed):
            rng = np.random.default_rng(seed)
            a = rng.standard_normal(100000 + seed)
            b = rng.standard_normal(100000 + seed)
            want = pybuf.sum(a), pybuf.dot(a, b), pybuf.max(a)
            d = np.empty_like(a)
            for _ in range(200):
                got = pybuf.sum(a), pybuf.dot(a, b), pybuf.max(a)
                pybuf.copyto(d, a)
                if got != want or not (d == a).all():
                    errors.append((seed, got, want))
                    return
            if abs(want[0] - a.sum()) > 1e-9 * np.abs(a).sum():
                errors.append((seed, "sum", want[0], a.sum()))
        ts = [threading.Thread(target=work, args=(s,)) for s in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        print("errors", errors)
    """)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.strip() == "errors []"


@pytest.mark.parametrize("want", PATHS)
def test_worker_on_each_forced_path(want):
    """With PYBUF_SIMD forcing each path, the worker starts, the split
    kernels agree with the one-thread ones, and the process exits cleanly
    (the worker is joined at exit)."""
    p = run_child("""
        import numpy as np
        import pybuf
        from pybuf import _tuning
        a = np.random.default_rng(5).standard_normal(250001)
        one = pybuf.sum(a), pybuf.min(a), pybuf.max(a), pybuf.dot(a, a)
        _tuning._set_parallel_threshold(0)
        _tuning._set_worker(2)
        two = pybuf.sum(a), pybuf.min(a), pybuf.max(a), pybuf.dot(a, a)
        assert _tuning._worker_running()
        assert two[1:3] == one[1:3] == (a.min(), a.max())
        assert abs(two[0] - a.sum()) <= 1e-12 * np.abs(a).sum()
        assert abs(two[3] - np.dot(a, a)) <= 1e-12 * np.dot(a, a)
        d = np.empty_like(a)
        pybuf.copyto(d, a)
        assert (d == a).all()
        print(_tuning._simd_path())
    """, PYBUF_SIMD=want)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.strip() == want


def test_exit_with_worker_busy_in_daemon_thread():
    """Interpreter exit while a daemon thread is in a two-thread kernel:
    the process still ends (the worker is not joined while in use)."""
    p = run_child("""
        import threading
        import numpy as np
        import pybuf
        from pybuf import _tuning
        _tuning._set_parallel_threshold(0)
        _tuning._set_worker(2)
        a = np.ones(1 << 21)
        def spin():
            while True:
                pybuf.sum(a)
        threading.Thread(target=spin, daemon=True).start()
        for _ in range(20):
            pybuf.dot(a, a)
        print("bye")
    """, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.strip() == "bye"


def test_isolated_small_call_does_not_wake_the_worker():
    """Waking a sleeping worker costs the caller a system call, as much as
    the work on a few hundred KiB: an isolated call below 1 MiB runs alone
    (the default mode) and does not even start the thread; a loop of calls
    (each within the worker's spin of the last) or a larger call may.  In a
    child: the worker must not exist yet."""
    p = run_child("""
        import time
        import numpy as np
        import pybuf
        from pybuf import _tuning
        a = np.arange(1.0, 32769.0)             # 256 KiB: two threads' size
        assert _tuning._set_parallel_threshold(1) > 0
        want = a.sum(), float(np.dot(a, a))
        for _ in range(5):
            time.sleep(0.01)                    # isolated calls
            assert pybuf.sum(a) == want[0]
            time.sleep(0.01)
            assert pybuf.dot(a, a) == want[1]
        assert not _tuning._worker_running()
        _tuning._set_worker(2)                  # forced: any call wakes it
        assert pybuf.sum(a) == a.sum()
        assert _tuning._worker_running()
        print("ok")
    """)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr


def _build_worker_check(tmp_path, flags):
    """tests/worker_check.c and pybuf/_simd.c built with the host compiler
    and ``flags``; the executable's path, or a skip."""
    import shutil
    here = os.path.dirname(os.path.abspath(__file__))
    src = os.path.join(os.path.dirname(here), "pybuf")
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None or not os.path.exists(os.path.join(src, "_simd.c")):
        pytest.skip("needs a C compiler and the source tree")
    exe = tmp_path / ("check" + "".join(flags))
    build = subprocess.run([cc, "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", *flags,
                            f"-I{src}", os.path.join(here, "worker_check.c"),
                            os.path.join(src, "_simd.c"), "-o", str(exe), "-pthread"],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    return exe


def test_worker_and_dispatch_in_c(tmp_path):
    """tests/worker_check.c -- the program .ci/portability also builds with
    mingw-w64 and runs under wine for the Win32 threads -- on this
    machine's POSIX threads: every part of every job runs exactly once,
    the worker takes parts, stops, starts again, stays off in mode 0, and
    every supported SIMD path sums exactly.  Built twice: CPUID detection
    (what MSVC builds use, -DPYBUF_USE_CPUID) must find the same paths as
    __builtin_cpu_supports."""
    seen = {}
    for flags in ([], ["-DPYBUF_USE_CPUID"]):
        exe = _build_worker_check(tmp_path, flags)
        run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stdout + run.stderr
        lines = run.stdout.splitlines()
        assert lines[-1].startswith("ok "), run.stdout
        seen[" ".join(flags)] = [ln.split()[1].rstrip(":") for ln in lines
                                 if ln.startswith("path ")]
    assert seen[""] == seen["-DPYBUF_USE_CPUID"], seen
    assert seen[""][0] in ("sse2", "generic")
    # and both as Linux reads the CPU (its flags hide what the OS does
    # not save)
    if seen[""][0] == "sse2" and os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            flags = next((set(ln.split(":", 1)[1].split()) for ln in f
                          if ln.startswith("flags")), set())
        want = ["sse2"]
        if {"avx2", "fma"} <= flags:
            want.append("avx2")
            if {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= flags:
                want.append("avx512")
        assert seen["-DPYBUF_USE_CPUID"] == want
