"""Compile a small Cython extension out of tree against the pybuf under
test (its include path from ``pybuf.get_include()``) and import it."""
import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

import pybuf


def build_extension(tmp_path, name, source):
    """Write ``source`` to ``tmp_path/name.pyx``, compile it with Cython and
    the C compiler, and return the imported module.  Skips the test where
    Cython or setuptools is not installed (the test extra has both)."""
    pytest.importorskip("Cython", reason="compiling an extension needs Cython: pip install Cython")
    pytest.importorskip("setuptools", reason="compiling an extension needs setuptools: "
                        "pip install setuptools")
    pyx = tmp_path / f"{name}.pyx"
    pyx.write_text(textwrap.dedent(source))
    setup = tmp_path / "setup.py"
    setup.write_text(textwrap.dedent(f"""
        from setuptools import Extension, setup
        from Cython.Build import cythonize
        setup(ext_modules=cythonize(
            [Extension({name!r}, [{pyx.name!r}])],
            include_path=[{pybuf.get_include()!r}],
            compiler_directives={{"language_level": 3}}))
    """))
    proc = subprocess.run(
        [sys.executable, "setup.py", "build_ext", "--inplace", "-q"],
        cwd=tmp_path, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"building {name} failed:\n{proc.stdout}\n{proc.stderr}")
    for fn in os.listdir(tmp_path):
        if fn.startswith(name + ".") and fn.endswith((".so", ".pyd")):
            spec = importlib.util.spec_from_file_location(name, tmp_path / fn)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    raise RuntimeError(f"no extension module {name} built in {tmp_path}")
