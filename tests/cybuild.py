"""Compile a small Cython extension out of tree against the pybuf under
test (its include path from ``pybuf.get_include()``) and import it: the
installed package's own helper, skipping where Cython or setuptools is
missing."""
import pytest

from pybuf.bench import cython_build


def build_extension(tmp_path, name, source):
    """``pybuf.bench.cython_build.build_extension``; skips the test where
    Cython or setuptools is not installed (the test extra has both)."""
    pytest.importorskip("Cython", reason="compiling an extension needs Cython: pip install Cython")
    pytest.importorskip("setuptools", reason="compiling an extension needs setuptools: "
                        "pip install setuptools")
    return cython_build.build_extension(tmp_path, name, source)
