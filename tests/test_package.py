"""What an installed pybuf ships, and that it needs nothing but the
standard library."""
import glob
import importlib.metadata
import importlib.util
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import textwrap

import pytest

import pybuf
import pybuf._introspect
import pybuf.buffer


def _package_dir():
    return os.path.dirname(pybuf.buffer.__file__)


def test_ships_pxd_stubs_and_marker_but_no_generated_c():
    names = set(os.listdir(_package_dir()))
    in_place = os.path.isfile(os.path.join(_package_dir(), "..", "setup.py"))
    for required in ("buffer.pxd", "kernels.pxd", "_types.pxd", "buffer.pyx",
                     "kernels.pyx", "_ops.pyx", "buffer.pyi", "kernels.pyi",
                     "_ops.pyi", "py.typed"):
        assert required in names, required
    if not in_place:        # a source checkout built in place has its .c files
        assert not [n for n in names if n.endswith((".c", ".html"))]
    assert any(n.startswith("buffer.") and n.endswith((".so", ".pyd")) for n in names)


def test_public_names():
    for name in ["Buffer", "empty", "zeros", "full", "asbuffer", "copy",
                 "parse_format", "calcsize", "Format", "get_include", "__version__"]:
        assert hasattr(pybuf, name), name
        assert name in pybuf.__all__, name


def test_imports_without_numpy():
    # Block numpy (and everything outside the standard library we might
    # reach for) and use pybuf.
    code = textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("numpy", "torch", "dask"):
                    raise ImportError("blocked: " + name)
        sys.meta_path.insert(0, Block())
        import pybuf
        b = pybuf.full((2, 3), 1.5, "d")
        assert memoryview(b).tolist() == [[1.5] * 3] * 2
        assert pybuf.copy(b[:, ::2]).tolist() == [[1.5] * 2] * 2
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, cwd=os.path.dirname(_package_dir()))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# --- the distribution: licence, debug info, package data, sdist -----------

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A source checkout or unpacked sdist around the tests (not when the tests
# were copied elsewhere).
IN_SOURCE = os.path.isfile(os.path.join(ROOT, "pyproject.toml"))
needs_source = pytest.mark.skipif(
    not IN_SOURCE, reason="run the tests from a pybuf checkout or its sdist "
    "(they read pyproject.toml)")


def _distribution():
    """The installed distribution of the pybuf imported (found beside it:
    a checkout's pybuf.egg-info, earlier on sys.path, is not it)."""
    site = os.path.dirname(_package_dir())
    found = list(importlib.metadata.distributions(name="pybuf", path=[site]))
    if not found:
        pytest.skip("pybuf is not installed as a distribution: pip install .")
    return found[0]


def test_console_script_runs_the_cli():
    """``pybuf`` (the README's first command) is pybuf.cli's main."""
    dist = _distribution()
    script, = [e for e in dist.entry_points
               if e.group == "console_scripts" and e.name == "pybuf"]
    import pybuf.cli
    assert script.load() is pybuf.cli.main


def test_import_has_no_side_effects_on_the_package_path():
    """pybuf's modules come from the folder of its __init__ (nothing
    rewrites __path__), and a source checkout's unbuilt pybuf/, imported
    first, says how to build it rather than using another copy."""
    assert pybuf.__path__ == [os.path.dirname(pybuf.__file__)]
    assert os.path.dirname(pybuf.buffer.__file__) == pybuf.__path__[0]
    if not IN_SOURCE or glob.glob(os.path.join(ROOT, "pybuf", "buffer.*.so")):
        return
    proc = subprocess.run([sys.executable, "-c", "import pybuf"], cwd=ROOT,
                          capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items()
                               if k not in ("PYTHONSAFEPATH", "PYTHONPATH")})
    assert proc.returncode != 0
    assert "extension modules are not built" in proc.stderr, proc.stderr
    assert "pip install ." in proc.stderr


def test_license_in_dist_info():
    dist = _distribution()
    licences = [f for f in dist.files or ()
                if f.name.startswith("LICENSE") and ".dist-info" in str(f)]
    assert licences, "no LICENSE in the dist-info"
    text = licences[0].read_text()
    assert text.startswith("MIT License")
    assert "Copyright (c) 2026 the pybuf developers" in text
    meta = dist.metadata
    assert "MIT" in (meta.get("License-Expression"), meta.get("License"))
    assert "LICENSE" in " ".join(meta.get_all("License-File") or [])


def _elf_sections(path):
    """Section names of an ELF file (None when it is not ELF)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF":
        return None
    is64, little = data[4] == 2, data[5] == 1
    e = "<" if little else ">"
    if is64:
        shoff, = struct.unpack_from(e + "Q", data, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from(e + "HHH", data, 0x3A)
        offset_at, offset_fmt = 0x18, "Q"
    else:
        shoff, = struct.unpack_from(e + "I", data, 0x20)
        shentsize, shnum, shstrndx = struct.unpack_from(e + "HHH", data, 0x2E)
        offset_at, offset_fmt = 0x10, "I"

    def header(i):
        at = shoff + i * shentsize
        name, = struct.unpack_from(e + "I", data, at)      # sh_name
        offset, = struct.unpack_from(e + offset_fmt, data, at + offset_at)
        return name, offset

    strtab = header(shstrndx)[1]
    names = []
    for i in range(shnum):
        name = header(i)[0]
        end = data.index(b"\0", strtab + name)
        names.append(data[strtab + name:end].decode())
    return names


def test_extension_modules_without_debug_info():
    """A release build strips debug info (-g0); PYBUF_DEBUG=1 keeps it."""
    release = pybuf._introspect._build_info()["optimized"]
    modules = [n for n in os.listdir(_package_dir()) if n.endswith((".so", ".pyd"))]
    assert len(modules) >= 3
    for name in modules:
        sections = _elf_sections(os.path.join(_package_dir(), name))
        if sections is None:
            pytest.skip("the extension modules are not ELF files (Linux)")
        assert ".text" in sections
        debug = [s for s in sections if s.startswith(".debug_")]
        if release:
            assert not debug, (name, debug)
        else:
            assert ".debug_info" in debug, name


def _extern_headers(text):
    """The headers a .pxd or .pyx names in ``cdef extern from "..."``."""
    return set(re.findall(r'cdef\s+extern\s+from\s+"([^"*]+\.h)"', text))


def test_headers_shipped_only_where_a_pxd_needs_them():
    """A header ships when a shipped .pxd includes it (a cimporting build
    needs it); no other header ships."""
    pkg = _package_dir()
    shipped, needed = set(), set()
    for folder, _, files in os.walk(pkg):
        for f in files:
            rel = os.path.relpath(os.path.join(folder, f), pkg)
            if f.endswith(".h"):
                shipped.add(rel)
            elif f.endswith(".pxd"):
                with open(os.path.join(folder, f)) as fh:
                    needed |= {os.path.normpath(os.path.join(
                        os.path.dirname(rel), h)) for h in _extern_headers(fh.read())}
    # and what those headers include in turn ("_compiler.h")
    todo = list(needed)
    while todo:
        h = todo.pop()
        path = os.path.join(pkg, h)
        if os.path.isfile(path):
            with open(path) as fh:
                more = {os.path.normpath(os.path.join(os.path.dirname(h), inc))
                        for inc in re.findall(r'^\s*#\s*include\s+"([^"]+)"',
                                              fh.read(), re.M)}
            todo.extend(more - needed)
            needed |= more
    # System headers (<stdlib.h> ...) are not pybuf's to ship: a needed
    # header is pybuf's when the source tree has it.
    source = os.path.join(ROOT, "pybuf")
    if IN_SOURCE:
        needed = {h for h in needed if os.path.isfile(os.path.join(source, h))}
        missing = needed - shipped
        assert not missing, f"a .pxd includes {missing}, which does not ship"
    assert shipped <= needed, f"{shipped - needed} ship but no .pxd includes them"


@needs_source
def test_every_package_data_pattern_matches_a_file():
    tomllib = pytest.importorskip(
        "tomllib", reason="reading pyproject.toml needs Python 3.11's tomllib")
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        tool = tomllib.load(f)["tool"]["setuptools"]
    for package, patterns in tool["package-data"].items():
        folder = os.path.join(ROOT, *package.split("."))
        for pattern in patterns:
            assert glob.glob(os.path.join(folder, pattern)), (package, pattern)


@pytest.mark.slow
@needs_source
def test_c_lives_in_c_files_listed_in_setup():
    """pybuf's hand-written C is in .c and .h files beside the .pyx files,
    each named in setup.py (a source it compiles or a header it depends
    on, so that a change rebuilds); no .pyx holds C in a verbatim string."""
    pkg = os.path.join(ROOT, "pybuf")
    pyx = {f[:-4] for f in os.listdir(pkg) if f.endswith(".pyx")}
    written = {f for f in os.listdir(pkg) if f.endswith(".h")
               or (f.endswith(".c") and f[:-2] not in pyx)}
    assert written, "pybuf has hand-written C"
    with open(os.path.join(ROOT, "setup.py")) as f:
        setup_text = f.read()
    for name in written:
        assert f'"pybuf/{name}"' in setup_text, f"{name} is not in setup.py"
    assert not [d for d in os.listdir(pkg) if os.path.isdir(os.path.join(pkg, d))
                and glob.glob(os.path.join(pkg, d, "*.[ch]"))], "C outside pybuf/"
    for name in pyx:
        with open(os.path.join(pkg, name + ".pyx")) as f:
            text = f.read()
        assert not re.search(r'cdef\s+extern\s+from\s+\*', text), \
            f"{name}.pyx holds a verbatim C block"


# The imports that still point up a layer, inside a function
# (docs/implementation.rst, "The layers"): (file, function, module).  None
# is left.
UPWARD_IMPORTS = set()


@needs_source
def test_imports_in_functions_are_only_the_documented_ones():
    """No .pyx imports a pybuf module inside a function (docs/
    implementation.rst names any that point up a layer; none is left)."""
    found = set()
    pkg = os.path.join(ROOT, "pybuf")
    for name in sorted(os.listdir(pkg)):
        if not name.endswith(".pyx"):
            continue
        function = None
        with open(os.path.join(pkg, name)) as f:
            for line in f:
                m = re.match(r"(?:cdef|cpdef|def)\s+(?:[\w.*]+\s+)*?(\w+)\s*\(", line.strip())
                if m and line[:1] in " \t":
                    function = m.group(1)
                elif m:
                    function = m.group(1)
                m = re.match(r"\s+(?:from\s+(pybuf(?:\.\w+)*)\s+(?:c?import)\s+(\w+)"
                             r"|c?import\s+(pybuf(?:\.\w+)*))", line)
                if m:
                    module = m.group(3) or m.group(1)
                    if m.group(1) == "pybuf":
                        module = "pybuf." + m.group(2)
                    found.add((name, function, module))
    assert found == UPWARD_IMPORTS
    with open(os.path.join(ROOT, "docs", "implementation.rst")) as f:
        text = f.read()
    for name, function, module in UPWARD_IMPORTS:
        assert module.split(".")[-1] in text and function in text


@needs_source
def test_native_byte_order_has_one_c_home():
    """Below Python, the machine's byte order is read in one place,
    _types.pxd's NATIVE_LITTLE: no other C, header or Cython file works it
    out (formats.py, the Python grammar, reads sys.byteorder)."""
    pkg = os.path.join(ROOT, "pybuf")
    probes = re.compile(r"PY_LITTLE_ENDIAN|PY_BIG_ENDIAN|__BYTE_ORDER__|"
                        r"sys\.byteorder|little_endian")
    homes = []
    for name in sorted(os.listdir(pkg)):
        if name.endswith((".pyx", ".pxd", ".h")) or (
                name.endswith(".c") and not os.path.isfile(
                    os.path.join(pkg, name[:-2] + ".pyx"))):
            with open(os.path.join(pkg, name)) as f:
                if probes.search(f.read()):
                    homes.append(name)
    assert homes == ["_types.pxd"]


@needs_source
def test_kernels_import_no_pybuf_module():
    """pybuf.kernels is the bottom layer of the extensions: it cimports
    only .pxd files and imports no pybuf module, and the entry points above
    pybuf.buffer (pybuf._ops) are the ones pybuf re-exports."""
    with open(os.path.join(ROOT, "pybuf", "kernels.pyx")) as f:
        text = f.read()
    assert not re.findall(r"^\s*(?:from\s+pybuf\S*\s+import|import\s+pybuf)",
                          text, re.M)
    for name in ("copyto", "fill", "astype", "ascontiguous", "sum", "min",
                 "max", "dot", "byteswap", "equal"):
        assert getattr(pybuf, name).__module__ == "pybuf._ops", name
        assert not hasattr(pybuf.kernels, name), name


def test_kernels_tuning_hooks_live_in_tuning():
    """pybuf.kernels shows Python only its private table (the capsule the
    modules above read); the tuning hooks are pybuf._tuning's, and they set
    the state the kernels run with."""
    import pybuf._tuning as tuning
    assert {n for n in dir(pybuf.kernels) if not n.startswith("__")} == {"_impl"}
    assert tuning._simd_path() in tuning._simd_paths()
    old = tuning._set_stream_threshold(12345)
    try:
        assert tuning._cache_info()["stream_bytes"] == 12345
        assert "streaming from 12 KiB" in tuning._simd_describe()
    finally:
        assert tuning._set_stream_threshold(old) == 12345
    old = tuning._set_parallel_threshold(1 << 40)
    assert tuning._set_parallel_threshold(old) == 1 << 40


@needs_source
def test_sdist_holds_the_tests_docs_and_licence(tmp_path):
    """``python -m build --sdist`` (here without isolation, from a copy of
    the tree): the sources, tests, docs and LICENSE, no generated C, no
    build output; ``twine check`` passes when twine is installed."""
    build = pytest.importorskip("build", reason="building the sdist needs "
                                "build: pip install build")
    if getattr(build, "__file__", None) is None:     # a build/ folder, not PyPA's
        pytest.skip("building the sdist needs build: pip install build")
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", "*.so", "*.pyd",
        "_build", ".hypothesis", ".pytest_cache"))
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--no-isolation", "-o",
         str(tmp_path / "dist"), str(src)],
        capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sdist, = (tmp_path / "dist").glob("pybuf-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for required in ("LICENSE", "README.md", "pyproject.toml", "setup.py",
                     "MANIFEST.in", "pybuf/buffer.pyx", "pybuf/buffer.pxd",
                     "pybuf/bench/common.py", "tests/conftest.py",
                     "tests/test_package.py", "docs/index.rst", "docs/conf.py",
                     "docs/examples/setup.py"):
        assert required in names, required
    generated = [n for n in names if n.endswith(".c")
                 and n[:-2] + ".pyx" in names]
    assert not generated, f"generated C in the sdist: {generated}"
    # What the sources include from the package folder ships, so that the
    # sdist builds.
    for source in glob.glob(os.path.join(ROOT, "pybuf", "*.p[xy][xd]")):
        with open(source) as f:
            for header in _extern_headers(f.read()):
                if os.path.isfile(os.path.join(ROOT, "pybuf", header)):
                    assert f"pybuf/{os.path.normpath(header)}" in names, header
    assert not [n for n in names if n.endswith((".so", ".pyd", ".pyc"))
                or "/_build/" in n or "__pycache__" in n]
    if importlib.util.find_spec("twine"):
        check = subprocess.run([sys.executable, "-m", "twine", "check",
                                "--strict", str(sdist)],
                               capture_output=True, text=True, timeout=300)
        assert check.returncode == 0, check.stdout + check.stderr


def _skip_reasons():
    """(file, line, kind, reason) of every importorskip, skipif and skip in
    the tests; kind is "import" for importorskip and for a skipif on
    ``module is None``, else "other"."""
    import ast
    here = os.path.dirname(os.path.abspath(__file__))
    trees = {}
    for name in sorted(os.listdir(here)):
        if name.endswith(".py"):
            with open(os.path.join(here, name)) as f:
                trees[name] = ast.parse(f.read())
    # String constants by name, in any test module (reasons are shared
    # through conftest).
    consts = {t.id: n.value.value for tree in trees.values()
              for n in ast.walk(tree)
              if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)
              for t in n.targets if isinstance(t, ast.Name)}

    def text(node):
        if node is None:
            return None
        if isinstance(node, ast.Constant):
            return str(node.value)
        if isinstance(node, ast.Name):
            return consts.get(node.id, node.id)
        return ast.unparse(node)            # an f-string: its source

    found = []
    for name, tree in trees.items():
        for node in ast.walk(tree):
            func = getattr(node, "func", None)
            attr = getattr(func, "attr", None)
            if attr not in ("importorskip", "skipif", "skip"):
                continue
            keywords = {k.arg: k.value for k in node.keywords}
            if attr == "skip":
                reason = node.args[0] if node.args else keywords.get("reason")
            else:
                reason = keywords.get("reason")
            cond = node.args[0] if attr == "skipif" and node.args else None
            is_module_test = (isinstance(cond, ast.Compare)
                              and isinstance(cond.ops[0], ast.Is)
                              and isinstance(cond.comparators[0], ast.Constant)
                              and cond.comparators[0].value is None)
            kind = "import" if attr == "importorskip" or is_module_test else "other"
            found.append((name, node.lineno, kind, text(reason)))
    return found


def test_skip_reasons_say_what_to_install():
    """A test skipped for a missing module tells the user what to install;
    no skip speaks of how CI works."""
    reasons = _skip_reasons()
    assert len([r for r in reasons if r[2] == "import"]) >= 10
    for name, line, kind, reason in reasons:
        where = f"{name}:{line}"
        assert reason, f"{where}: a skip without a reason"
        assert ".ci" not in reason and "CI" not in reason.split(), where
        if kind == "import":
            # _testbuffer is part of CPython (no pip install gives it);
            # tomllib is Python 3.11's.
            assert any(s in reason for s in ("pip install", "testsuite",
                                             "Python 3.11")), where


def test_buffer_stub_is_complete():
    """buffer.pyi (shipped for type checkers) declares every public method
    and property of Buffer, its protocols (DLPack, pickling), and every
    public name of pybuf.buffer that pybuf re-exports; and nothing else."""
    import ast
    with open(os.path.join(_package_dir(), "buffer.pyi")) as f:
        tree = ast.parse(f.read())
    cls, = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Buffer"]
    declared = {n.name for n in cls.body if isinstance(n, ast.FunctionDef)}
    wanted = {n for n in vars(pybuf.Buffer) if not n.startswith("_")}
    wanted |= {"__init__", "__getitem__", "__setitem__", "__delitem__",
               "__len__", "__iter__", "__eq__", "__ne__", "__enter__",
               "__exit__", "__reduce_ex__", "__dlpack__", "__dlpack_device__"}
    # PEP 688's names for the buffer protocol (Python 3.12 shows them at
    # run time).
    assert declared - wanted == {"__buffer__", "__release_buffer__"}
    assert wanted <= declared, wanted - declared
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    constants = {n.target.id for n in tree.body if isinstance(n, ast.AnnAssign)}
    exported = {n for n in pybuf.__all__ if hasattr(pybuf.buffer, n)} - {"Buffer"}
    assert functions == exported
    assert constants == {"DEFAULT_ALIGN"}
