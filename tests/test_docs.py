"""The documentation's examples run: every page's ``>>>`` examples as
doctests, every Cython example compiled (with the documented setup.py) and
imported, every ``python -m pybuf`` command shown run, and the Sphinx build
clean with warnings as errors."""
import doctest
import os
import re
import shutil
import subprocess
import sys

import pytest

import pybuf
import pybuf._alloc
from pybuf.describe import REQUESTS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
EXAMPLES = os.path.join(DOCS, "examples")
PKG_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(pybuf.__file__)))
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

if not os.path.isdir(DOCS):          # e.g. tests run from an sdist
    pytest.skip("no docs/ folder next to the tests: run them from a pybuf "
                "checkout or its sdist", allow_module_level=True)

np = pytest.importorskip("numpy", reason="needs numpy: pip install numpy")

# Pages that a test of their own runs, doctests and literal code blocks
# alike: interop.rst (its Dask pattern needs a cluster) by test_interop, its
# Ray example by test_ray.  They are not run twice.
TESTED_ELSEWHERE = {"interop.rst": "tests/test_interop.py"}

PAGES = sorted(f for f in os.listdir(DOCS) if f.endswith(".rst"))
PYX = sorted(f for f in os.listdir(EXAMPLES) if f.endswith(".pyx"))
C_FILES = sorted(f for f in os.listdir(EXAMPLES) if f.endswith((".c", ".h")))


def _env():
    return dict(os.environ, PYTHONDONTWRITEBYTECODE="1",
                PYTHONPATH=os.pathsep.join(
                    filter(None, [PKG_PARENT, os.environ.get("PYTHONPATH")])))


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    """Build docs/examples with its own setup.py, as the Cython page tells
    users to, and put the built modules on sys.path."""
    where = tmp_path_factory.mktemp("doc_examples")
    for name in PYX + C_FILES + ["setup.py"]:
        shutil.copy(os.path.join(EXAMPLES, name), where)
    # -O0: these modules are only run once, compile them quickly.
    proc = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace",
                           "-q"], cwd=where, env=dict(_env(), CFLAGS="-O0"),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    sys.path.insert(0, str(where))
    yield where
    sys.path.remove(str(where))


def run_doctests(name, text):
    parser = doctest.DocTestParser()
    test = parser.get_doctest(text, {"__name__": f"doc_{name}"}, name, name, 0)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report = []
    runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)
    return runner.tries


@pytest.mark.parametrize("page", [p for p in PAGES if p not in TESTED_ELSEWHERE])
def test_page_examples(page, examples):
    with open(os.path.join(DOCS, page)) as f:
        text = f.read()
    # The pages show the default configuration, block caches on, also
    # when the suite runs with PYBUF_NO_CACHE=1 (sanitizer builds).
    caching = pybuf._alloc._set_caching(True, True)
    try:
        run_doctests(page, text)
    finally:
        pybuf._alloc._set_caching(*caching)


def test_readme_examples():
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "the README shows Python examples"
    assert sum(run_doctests(f"README.md[{i}]", b) for i, b in enumerate(blocks))


def test_readme_quick_start_and_docs_link():
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    start = re.search(r"## Quick start\n\n```\n(.*?)```", text, re.S)
    assert start.group(1).splitlines() == [
        "pip install . && pybuf demo",
        'pip install ".[test]" && python -m pytest',
    ]
    assert "docs/" in text and "sphinx" in text.lower()


def test_every_example_file_is_built_and_shown(examples):
    with open(os.path.join(EXAMPLES, "setup.py")) as f:
        setup_text = f.read()
    shown = ""
    for page in PAGES:
        with open(os.path.join(DOCS, page)) as f:
            shown += f.read()
    for pyx in PYX:
        name = pyx[:-4]
        assert f'"{name}"' in setup_text, f"{pyx} is not in examples/setup.py"
        assert f"literalinclude:: examples/{pyx}" in shown, f"{pyx} is on no page"
        __import__(name)


def test_fill_ramp(examples):
    from fill_ramp import ramp
    r = ramp(1000, 2.0, 0.25)
    assert isinstance(r, pybuf.Buffer) and r.address % 64 == 0
    assert np.array_equal(np.asarray(r), 2.0 + 0.25 * np.arange(1000))
    assert ramp(0).shape == (0,)


def test_total_and_scale(examples):
    from total import scale, total
    a = np.arange(24.0).reshape(4, 6)
    assert total(a[::-1, 2]) == a[:, 2].sum()
    assert total(memoryview(a.tobytes()).cast("d")) == a.sum()
    b = pybuf.copy(a)
    scale(b.T, 2.0)
    assert np.array_equal(np.asarray(b), 2 * a)


def test_tiny_exporter(examples):
    from tiny_exporter import ByteBlock
    block = ByteBlock(5)
    arr = np.frombuffer(block, np.uint8)
    arr[0] = 9
    assert block.exports == 1 and bytes(block)[0] == 9
    with pytest.raises(BufferError):
        block.resize(1)
    del arr
    info = pybuf.describe(block)
    assert (info.format, info.shape, info.readonly) == ("B", (5,), False)
    for name, flags in REQUESTS.items():
        got = pybuf.describe(block, request=name)
        assert ("format" in got.null) == (not flags & REQUESTS["PyBUF_FORMAT"])
        assert ("strides" in got.null) == (
            flags & REQUESTS["PyBUF_STRIDES"] != REQUESTS["PyBUF_STRIDES"])
    ro = ByteBlock(3, readonly=True)
    with pytest.raises(BufferError):
        pybuf.describe(ro, request="PyBUF_WRITABLE")
    assert block.exports == ro.exports == 0
    with pytest.raises(ValueError):
        ByteBlock(-1)


def test_samples_wraps_a_c_library(examples):
    """The C library's own free function runs exactly once per block, after
    the Buffer and every user of its memory are gone."""
    import gc
    import pickle
    from samples import acquire, live_blocks
    assert live_blocks() == 0
    s = acquire(6, 0.5)
    assert s.tolist() == [0.5 * i for i in range(6)] and s.base is not None
    bufs = []
    data = pickle.dumps(s, protocol=5, buffer_callback=bufs.append)
    users = [pickle.loads(data, buffers=bufs), s[::2], memoryview(s),
             np.asarray(s), np.from_dlpack(s)]
    del s, bufs
    while len(users) > 1:
        users.pop()
        gc.collect()
        assert live_blocks() == 1                 # still in use: not freed
    assert np.asarray(users[0]).tolist() == [0.5 * i for i in range(6)]
    del users
    assert live_blocks() == 0                     # the last user: freed
    for n in range(2000):
        a = np.asarray(acquire(n % 7))
        assert a.shape == (n % 7,) and live_blocks() == 1
        del a
        assert live_blocks() == 0
    with pytest.raises(ValueError):
        acquire(-1)
    assert live_blocks() == 0


def test_c_files_of_the_examples_are_shown():
    shown = ""
    for page in PAGES:
        with open(os.path.join(DOCS, page)) as f:
            shown += f.read()
    for name in C_FILES:
        assert f"literalinclude:: examples/{name}" in shown, name


def test_no_python_example_escapes_the_tests():
    """Python code on the pages is written as ``>>>`` examples (which run);
    literal ``code-block:: python`` would not be run, so there is none.
    Likewise Cython appears only as included example files."""
    for page in PAGES:
        with open(os.path.join(DOCS, page)) as f:
            text = f.read()
        if page in TESTED_ELSEWHERE:
            assert os.path.exists(os.path.join(ROOT, TESTED_ELSEWHERE[page]))
            continue
        assert not re.search(r"code-block::\s*(python|pycon|py)\b", text), page
        # Cython is shown with literalinclude of files the tests compile.
        assert not re.search(r"code-block::\s*(cython|pyrex)\b", text), page


def _console_commands():
    cmds = []
    for page in PAGES:
        with open(os.path.join(DOCS, page)) as f:
            for line in f:
                m = re.match(r"\s+\$ python -m pybuf (\S+)(.*)", line)
                if m and m.group(1) != "bench":     # bench: see test_cli
                    cmds.append((page, m.group(1) + m.group(2)))
    return cmds


@pytest.mark.parametrize("page, command", _console_commands())
def test_console_commands_run(page, command, tmp_path):
    import shlex
    argv = shlex.split(command.split("#")[0])
    proc = subprocess.run([sys.executable, "-m", "pybuf"] + argv, cwd=tmp_path,
                          env=_env(), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr


def test_every_page_is_in_the_toctree():
    with open(os.path.join(DOCS, "index.rst")) as f:
        index = f.read()
    for page in PAGES:
        name = page[:-4]
        if name in ("index", "interop"):    # interop joins through conf.py
            continue
        assert re.search(rf"^   {re.escape(name)}$", index, re.M), name


def test_sphinx_build_is_clean(tmp_path):
    pytest.importorskip("sphinx", reason="needs Sphinx: pip install sphinx")
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b",
         "html", DOCS, str(tmp_path / "html")],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "html" / "index.html").exists()
