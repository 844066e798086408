"""Shared fixtures: the buffer producers every capability is tested against."""
import array
import mmap
import os

import sys

import pytest

# The tests test the installed pybuf, never the checkout's pybuf/ (whose
# extension modules are built only into the installed copy).  `python -m
# pytest` in the checkout's root puts that root first on sys.path, and
# child processes started there would do the same: so the root leaves
# sys.path, and the session's children start in tests/ (pytest_configure).
_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
sys.path[:] = [p for p in sys.path
               if os.path.realpath(p or os.curdir) != os.path.realpath(_ROOT)]


def pytest_configure(config):
    # After pytest has read its arguments (testpaths are relative to the
    # folder it was started in); collection resolves them from there too.
    if os.path.realpath(os.getcwd()) == os.path.realpath(_ROOT):
        os.chdir(_HERE)

import pybuf  # noqa: E402


def pytest_report_header(config):
    import pybuf.buffer
    return f"pybuf {pybuf.__version__} from {os.path.dirname(pybuf.buffer.__file__)}"


try:
    import _testbuffer
except ImportError:          # not every Python ships CPython's test module
    _testbuffer = None

TESTBUFFER_MISSING = (
    "CPython's _testbuffer test module is not in this Python (python.org, "
    "pyenv and conda builds have it; Debian and Ubuntu ship it in "
    "libpython3.X-testsuite)")
requires_testbuffer = pytest.mark.skipif(_testbuffer is None,
                                         reason=TESTBUFFER_MISSING)

try:
    import torch
except ImportError:
    torch = None

requires_torch = pytest.mark.skipif(
    torch is None, reason="needs PyTorch: pip install torch (the CPU build "
                          "is enough)")


# With AddressSanitizer loaded (LD_PRELOAD, as the sanitizer job runs the
# suite) freed memory sits in its quarantine: resident-memory measurements
# then say nothing about pybuf.
under_asan = "libasan" in os.environ.get("LD_PRELOAD", "")
measures_resident_memory = pytest.mark.skipif(
    under_asan, reason="AddressSanitizer is loaded: its quarantine keeps freed "
                       "memory resident")
