"""``python -m pybuf``: every command run in a subprocess, as a user would."""
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

import pybuf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The directory holding the pybuf package the tests import, so that the
# subprocess imports the same one, whatever its working directory.
PKG_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(pybuf.__file__)))


def run(*argv, cwd=None, code=None, timeout=120):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1",
               PYTHONPATH=os.pathsep.join(
                   filter(None, [PKG_PARENT, os.environ.get("PYTHONPATH")])))
    cmd = [sys.executable] + (["-c", code] if code else ["-m", "pybuf"]) + list(argv)
    return subprocess.run(cmd, cwd=cwd or ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.parametrize("argv", [["--help"], ["demo", "--help"],
                                  ["describe", "--help"], ["bench", "--help"],
                                  ["info", "--help"]], ids=" ".join)
def test_help(argv):
    p = run(*argv)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("usage: python -m pybuf")
    assert p.stderr == ""


def test_demo():
    p = run("demo", "--mib", "4")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    for step in range(1, 6):
        assert f"Step {step}." in out
    assert "numpy         sees address" in out
    assert "all see one block of memory: True" in out
    assert "memory map" in out and "0,3 0,2 0,1 0,0" in out
    last = out.strip().splitlines()[-1]
    assert last.startswith("Summary: 4 MiB shared by pointer")
    assert "writes seen everywhere: yes" in last


def test_demo_without_numpy_or_torch():
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
    p = run(code=code)
    assert p.returncode == 0, p.stderr
    assert "numpy is not installed" in p.stdout
    assert "PyTorch is not installed" in p.stdout
    assert "writes seen everywhere: yes" in p.stdout
    assert "numpy         sees" not in p.stdout


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
    pytest.importorskip("numpy")
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
from common import Row, compare

def run(quick=False, progress=None):
    if progress:
        progress("tiny case")
    fast = compare("tiny", "sum(range(10))", lambda: sum(range(10)),
                   "sum(range(100))", lambda: sum(range(100)),
                   target="<= 1", repeat=3, number=10)
    return [fast, Row("tiny", "impossible", 2.0, "base", 1.0, 4 * 10**9, "<= 0.5")]
'''


@pytest.fixture
def tiny_bench(tmp_path):
    folder = tmp_path / "benchmarks"
    folder.mkdir()
    shutil.copy(os.path.join(ROOT, "benchmarks", "common.py"), folder)
    (folder / "bench_tiny.py").write_text(TINY_SUITE)
    return folder


def test_bench_quick(tiny_bench, tmp_path):
    out_json = tmp_path / "out.json"
    # Default --dir is ./benchmarks, relative to the working directory.
    p = run("bench", "--quick", "--json", str(out_json), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "[1/1] bench_tiny.py" in p.stderr and "tiny case" in p.stderr
    assert "== tiny ==" in p.stdout
    assert "targets met: 1 of 2" in p.stdout
    lines = [l for l in p.stdout.splitlines() if l.startswith("impossible")]
    assert lines and lines[0].split()[-1] == "NO"
    # GB/s: pybuf's bytes (4e9) over its time (2 s)
    assert "GB/s" in p.stdout and " 2.000    2.0  <= 0.5" in lines[0]
    doc = json.loads(out_json.read_text())
    assert doc["quick"] is True and len(doc["rows"]) == 2
    assert {"case", "ratio", "speedup", "target"} <= set(doc["rows"][0])


def test_bench_plot(tiny_bench, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "ratios.png"
    p = run("bench", "--quick", "--dir", str(tiny_bench), "--plot", str(png))
    assert p.returncode == 0, p.stderr
    assert png.read_bytes().startswith(b"\x89PNG")


def test_bench_suite_failure_is_reported(tiny_bench):
    (tiny_bench / "bench_broken.py").write_text(
        "def run(quick=False):\n    raise RuntimeError('broken on purpose')\n")
    p = run("bench", "--quick", "--dir", str(tiny_bench))
    assert p.returncode == 1
    assert "suite bench_broken.py failed: RuntimeError: broken on purpose" in p.stdout
    assert "== tiny ==" in p.stdout         # the other suite still ran
    assert "Traceback" not in p.stderr


def test_bench_suite_selection(tiny_bench):
    p = run("bench", "--quick", "--dir", str(tiny_bench), "--suite", "nope")
    assert p.returncode == 2
    assert "no suite bench_nope" in p.stderr and "tiny" in p.stderr


@pytest.mark.parametrize("argv", [
    [],
    ["nope"],
    ["--bogus"],
    ["demo", "--mib", "x"],
    ["demo", "--mib", "0"],
    ["describe", "--format", "Q7"],
    ["describe", "--format", "&"],
    ["describe", "--format", ""],
    ["describe", "--shape", "3,x"],
    ["describe", "--shape", "-1"],
    ["describe", "--shape", "99999999999,99999999999"],
    ["describe", "--index", "1:2:3:4"],
    ["describe", "--index", "a"],
    ["describe", "--index", "0,0,0"],
    ["describe", "--index", "5"],
    ["describe", "--index", "::0"],
    ["describe", "--index", ","],
    ["describe", "--order", "X"],
    ["describe", "--request", "EVERYTHING"],
    ["describe", "--via", "carrier-pigeon"],
    ["bench", "--dir", "/no/such/folder"],
    ["bench", "--plot"],
    ["info", "extra"],
], ids=lambda a: " ".join(a) or "no-command")
def test_usage_errors(argv, tmp_path):
    p = run(*argv, cwd=tmp_path)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("python -m pybuf")
    assert "error:" in lines[0]
    assert p.stdout == ""


def test_bench_without_benchmarks_folder(tmp_path):
    p = run("bench", "--quick", cwd=tmp_path)
    assert p.returncode == 2
    assert "no benchmark folder 'benchmarks'" in p.stderr
