"""``python -m pybuf``: every command run in a subprocess, as a user would."""
import io
import json
import os
import subprocess
import sys
import tempfile
import textwrap

import pytest

import pybuf

# The directory holding the pybuf package the tests import, so that the
# subprocess imports the same one, whatever its working directory.
PKG_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(pybuf.__file__)))


# Commands run in an empty folder, away from any checkout, as a user's
# would (removed when the tests end).
ELSEWHERE = tempfile.TemporaryDirectory(prefix="pybuf-cli-")


def run(*argv, cwd=None, code=None, timeout=120):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1",
               PYTHONPATH=os.pathsep.join(
                   filter(None, [PKG_PARENT, os.environ.get("PYTHONPATH")])))
    cmd = [sys.executable] + (["-c", code] if code else ["-m", "pybuf"]) + list(argv)
    return subprocess.run(cmd, cwd=cwd or ELSEWHERE.name, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("argv", [["--help"], ["demo", "--help"],
                                  ["describe", "--help"], ["bench", "--help"],
                                  ["info", "--help"]], ids=" ".join)
def test_help(argv):
    p = run(*argv)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("usage: python -m pybuf")
    assert p.stderr == ""


def _seen_addresses(out):
    """{consumer: address} from the demo's "X sees address 0x..." lines."""
    found = {}
    for line in out.splitlines():
        name, sep, addr = line.strip().partition(" sees address ")
        if sep:
            found[name.strip()] = int(addr, 16)
    return found


def test_demo():
    p = run("demo", "--mib", "4")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    for step in range(1, 6):
        assert f"Step {step}." in out
    seen = _seen_addresses(out)
    assert {"pybuf.Buffer", "memoryview", "ctypes array", "PickleBuffer",
            "numpy"} <= set(seen)
    assert len(set(seen.values())) == 1
    assert "all see one block of memory: True" in out
    assert out.count("item 0 = 42.0") == len(seen)
    assert f"{len(seen)} of {len(seen)} consumers read -1.0 back" in out
    assert "memory map" in out and "0,3 0,2 0,1 0,0" in out
    last = out.strip().splitlines()[-1]
    assert last.startswith("Summary: 4 MiB shared by pointer with "
                           f"{len(seen) - 1} consumer(s)")
    assert "writes seen everywhere: yes" in last


def test_demo_with_the_standard_library_alone(tmp_path):
    # Block the imports, as on a machine with the standard library only.
    code = textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("numpy", "torch"):
                    raise ImportError(f"{name} blocked for this test")
        sys.meta_path.insert(0, Block())
        from pybuf.cli import main
        sys.exit(main(["demo", "--mib", "2"]))
    """)
    p = run(code=code, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "numpy is not installed: skipping numpy (pip install numpy)" in p.stdout
    assert "PyTorch is not installed: skipping torch (pip install torch)" in p.stdout
    seen = _seen_addresses(p.stdout)
    # One block, three real consumers from the standard library.
    assert set(seen) == {"pybuf.Buffer", "memoryview", "ctypes array",
                         "PickleBuffer"}
    assert len(set(seen.values())) == 1
    assert "4 of 4 consumers read -1.0 back" in p.stdout
    assert "with 3 consumer(s) at one address" in p.stdout
    assert "writes seen everywhere: yes" in p.stdout


def test_describe_example_from_the_docs():
    p = run("describe", "--format", "<i", "--shape", "3,4", "--order", "F",
            "--index", "::2,1:")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "little-endian int32" in out
    assert "(2, 3)" in out and "(8, 12)" in out
    assert "12 bytes of gaps" in out and "memory map" in out


@pytest.mark.parametrize("via, exporter", [("memoryview", "memoryview"),
                                           ("numpy", "numpy.ndarray"),
                                           ("pybuf", "pybuf.Buffer")])
def test_describe_via(via, exporter):
    pytest.importorskip("numpy", reason="needs numpy: pip install numpy")
    p = run("describe", "--format", "d", "--shape", "4", "--index", "::-1",
            "--via", via)
    assert p.returncode == 0, p.stderr
    assert f"exporter    {exporter}" in p.stdout
    assert "(-8,)" in p.stdout


def test_describe_refused_request():
    p = run("describe", "--shape", "4,4", "--index", ":,::2",
            "--request", "C_CONTIGUOUS")
    assert p.returncode == 1
    assert p.stdout.startswith("BufferError:") and "Traceback" not in p.stderr


def test_describe_0d():
    p = run("describe", "--format", "d", "--shape", "()")
    assert p.returncode == 0, p.stderr
    assert "ndim        0" in p.stdout


def test_info():
    p = run("info")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert f"pybuf:" in out and pybuf.__version__ in out
    assert "built with Cython:" in out
    assert "compiler flags:" in out
    assert f"include path for cimport:  {pybuf.get_include()}" in out
    assert "default alignment:         64 bytes" in out


TINY_SUITE = '''
from pybuf.bench.common import Row, compare, note

def run(quick=False, progress=None):
    if progress:
        progress("tiny case")
    note("a note from the tiny suite")
    # 10,000x less work than its baseline: a busy machine (the sanitizer
    # job beside other work) cannot turn the comparison around
    fast = compare("tiny", "sum(range(10))", lambda: sum(range(10)),
                   "sum(range(100000))", lambda: sum(range(100000)),
                   target="<= 1", repeat=3, number=10)
    return [fast, Row("tiny", "impossible", 2.0, "base", 1.0, 4 * 10**9, "<= 0.5")]
'''


@pytest.fixture
def tiny_bench(tmp_path):
    folder = tmp_path / "suites"
    folder.mkdir()
    (folder / "bench_tiny.py").write_text(TINY_SUITE)
    return folder


def test_bench_dir(tiny_bench, tmp_path):
    out_json = tmp_path / "out.json"
    p = run("bench", "--quick", "--dir", str(tiny_bench), "--json", str(out_json))
    assert p.returncode == 0, p.stderr
    # Progress (not a terminal: a line per step), the suite's own step and
    # its note, on stderr; the table on stdout.
    err = p.stderr.splitlines()
    assert err[0].startswith("[1/1] bench_tiny 0:0")
    assert any(l.endswith(" #1 tiny case") for l in err)
    assert any(l.endswith(" #2 sum(range(10)) / sum(range(100000))") for l in err)
    assert "a note from the tiny suite" in err
    assert err[-1].startswith("[1/1] bench_tiny") and "2 comparisons in" in err[-1]
    assert "== tiny ==" in p.stdout
    assert "targets met: 1 of 2" in p.stdout
    lines = [l for l in p.stdout.splitlines() if l.startswith("impossible")]
    assert lines and lines[0].split()[-1] == "NO"
    # GB/s: pybuf's bytes (4e9) over its time (2 s)
    assert "GB/s" in p.stdout and " 2.000    2.0  <= 0.5" in lines[0]
    doc = json.loads(out_json.read_text())
    assert doc["quick"] is True and len(doc["rows"]) == 2
    row = doc["rows"][1]
    assert row["baseline"] == "base" and row["baseline_s"] == 1.0
    assert row["ratio"] == 2.0 and row["speedup"] == 0.5
    assert {"suite", "case", "pybuf_s", "target", "gbps"} <= set(row)


def _check_rows(rows):
    """Every row names its baseline, timed in the same run, and its ratio."""
    assert rows
    for r in rows:
        assert isinstance(r["baseline"], str) and r["baseline"], r
        assert r["baseline_s"] > 0 and r["pybuf_s"] > 0, r
        assert r["ratio"] == pytest.approx(r["pybuf_s"] / r["baseline_s"]), r
        assert r["speedup"] == pytest.approx(r["baseline_s"] / r["pybuf_s"]), r


def test_bench_from_the_installed_package(tmp_path):
    # No benchmark folder anywhere near: the suites come with pybuf.
    pytest.importorskip("numpy", reason="the benchmarks need numpy: pip install numpy")
    out_json = tmp_path / "formats.json"
    p = run("bench", "--quick", "--suite", "formats", "--json", str(out_json),
            cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stderr.startswith("[1/1] bench_formats")
    assert "== formats ==" in p.stdout
    doc = json.loads(out_json.read_text())
    assert doc["failures"] == []
    assert {r["suite"] for r in doc["rows"]} == {"formats"}
    _check_rows(doc["rows"])


@pytest.mark.slow
def test_bench_quick_every_suite(tmp_path):
    """The whole quick run (meant to take under a minute), as a user
    starts it: every suite runs, every row carries its baseline and ratio,
    and the plot is a PNG."""
    pytest.importorskip("numpy", reason="the benchmarks need numpy: pip install numpy")
    pytest.importorskip("matplotlib", reason="--plot needs matplotlib: "
                        "pip install matplotlib")
    from pybuf import bench
    out_json, png = tmp_path / "all.json", tmp_path / "all.png"
    p = run("bench", "--quick", "--json", str(out_json), "--plot", str(png),
            cwd=tmp_path, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    doc = json.loads(out_json.read_text())
    assert doc["failures"] == []
    names = bench.suite_names()
    assert {"buffer", "formats", "interop", "kernels"} <= set(names)
    assert {r["suite"] for r in doc["rows"]} == set(names)
    _check_rows(doc["rows"])
    for n, name in enumerate(names, 1):
        assert f"[{n}/{len(names)}] bench_{name}" in p.stderr
    assert png.read_bytes().startswith(b"\x89PNG")


def test_bench_plot(tiny_bench, tmp_path):
    pytest.importorskip("matplotlib", reason="--plot needs matplotlib: "
                        "pip install matplotlib")
    png = tmp_path / "ratios.png"
    p = run("bench", "--quick", "--dir", str(tiny_bench), "--plot", str(png))
    assert p.returncode == 0, p.stderr
    assert png.read_bytes().startswith(b"\x89PNG")


def test_progress_line_on_a_terminal():
    """On a terminal the progress is one line, rewritten in place; a note
    gets a line of its own; the suite's end closes the line."""
    from pybuf.cli import _ProgressLine

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    err = Terminal()
    line = _ProgressLine(err, 2)
    line.suite(1, "bench_x")
    line.case("copy 1 MiB", "memmove")
    line.note("a note")
    line.case("fill 1 MiB", "memset")
    line.done("2 comparisons in 0.1 s")
    text = err.getvalue()
    assert text.count("\n") == 2                  # the note's, the end's
    assert text.endswith(" 2 comparisons in 0.1 s\033[K\n")
    assert "\r[1/2] bench_x 0:00 #1 copy 1 MiB / memmove\033[K" in text
    # The note on a line of its own, the progress line drawn again below.
    assert ("\r\033[Ka note\n\r[1/2] bench_x 0:00 #1 copy 1 MiB / memmove"
            "\033[K") in text
    assert "\r[1/2] bench_x 0:00 #2 fill 1 MiB / memset\033[K" in text


def test_cache_eviction_reads_more_than_the_last_level_cache():
    from pybuf.bench import common
    llc = common.last_level_cache()
    size = common.eviction_size()
    assert size >= 64 << 20
    if llc is not None:
        assert 32 << 10 <= llc < size and size >= 2 * llc
    else:
        assert size == 512 << 20


def test_bench_suite_failure_is_reported(tiny_bench):
    (tiny_bench / "bench_broken.py").write_text(
        "def run(quick=False):\n    raise RuntimeError('broken on purpose')\n")
    p = run("bench", "--quick", "--dir", str(tiny_bench))
    assert p.returncode == 1
    assert "suite bench_broken failed: RuntimeError: broken on purpose" in p.stdout
    assert "== tiny ==" in p.stdout         # the other suite still ran
    assert "Traceback" not in p.stderr


def test_bench_suite_selection(tiny_bench):
    p = run("bench", "--quick", "--dir", str(tiny_bench), "--suite", "nope")
    assert p.returncode == 2
    assert "--suite: no suite bench_nope" in p.stderr and "tiny" in p.stderr


def test_bench_without_numpy():
    code = textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "numpy":
                    raise ImportError(f"{name} blocked for this test")
        sys.meta_path.insert(0, Block())
        from pybuf.cli import main
        sys.exit(main(["bench", "--quick"]))
    """)
    p = run(code=code)
    assert p.returncode == 2
    assert p.stdout == ""
    assert p.stderr.strip() == ("python -m pybuf bench: error: the benchmarks "
                                "compare pybuf with numpy, which is not "
                                "installed (pip install numpy)")


@pytest.mark.parametrize("argv", [
    [],
    ["nope"],
    ["--bogus"],
    ["demo", "--mib", "x"],
    ["demo", "--mib", "0"],
    ["demo", "--mib", "99999999999999999999"],
    ["describe", "--format", "Q7"],
    ["describe", "--format", "&"],
    ["describe", "--format", ""],
    ["describe", "--format", "9999999999999999999d"],
    ["describe", "--shape", "3,x"],
    ["describe", "--shape", "-1"],
    ["describe", "--shape", "99999999999,99999999999"],
    ["describe", "--shape", "99999999999999999999"],
    ["describe", "--format", "(99999999999)d"],
    ["describe", "--index", "1:2:3:4"],
    ["describe", "--index", "a"],
    ["describe", "--index", "0,0,0"],
    ["describe", "--index", "5"],
    ["describe", "--index", "99999999999999999999"],
    ["describe", "--index", "::0"],
    ["describe", "--index", ","],
    ["describe", "--order", "X"],
    ["describe", "--request", "EVERYTHING"],
    ["describe", "--via", "carrier-pigeon"],
    ["bench", "--dir", "/no/such/folder"],
    ["bench", "--dir", "."],                    # no suites there
    ["bench", "--suite", "nope"],
    ["bench", "--json", "/no/such/folder/out.json"],
    ["bench", "--plot", "/no/such/folder/out.png"],
    ["bench", "--plot"],
    ["info", "extra"],
], ids=lambda a: " ".join(a) or "no-command")
def test_usage_errors(argv, tmp_path):
    """One line on stderr, naming the option at fault, and status 2."""
    p = run(*argv, cwd=tmp_path)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("python -m pybuf")
    assert "error:" in lines[0]
    options = [a for a in argv if a.startswith("--")]
    if options:
        assert options[-1] in lines[0]
    assert "ssize_t" not in lines[0]            # no C in a user's message
    assert p.stdout == ""


def test_compare_settles_before_every_run(monkeypatch):
    """``settle`` idles before each run of either side (for baselines such as
    OpenBLAS whose threads keep spinning after a call); the runs still
    alternate.  Without it, nothing sleeps."""
    import pybuf.bench.common as common
    events = []
    monkeypatch.setattr(common.time, "sleep", lambda s: events.append(("sleep", s)))
    row = common.compare("t", "case", lambda: events.append("pybuf"), "base",
                         lambda: events.append("base"), repeat=3, number=1,
                         settle=0.25)
    assert events == [("sleep", 0.25), "pybuf", ("sleep", 0.25), "base"] * 3
    assert row.pybuf_s > 0 and row.baseline_s > 0
    events.clear()
    common.compare("t", "case", lambda: events.append("pybuf"), "base",
                   lambda: events.append("base"), repeat=2, number=1)
    assert events == ["pybuf", "base"] * 2
