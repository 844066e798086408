"""Shared fixtures: the buffer producers every capability is tested against."""
import array
import mmap
import os

import pytest

import pybuf


def pytest_report_header(config):
    import pybuf.buffer
    return f"pybuf {pybuf.__version__} from {os.path.dirname(pybuf.buffer.__file__)}"


try:
    import _testbuffer
except ImportError:          # not every Python ships CPython's test module
    _testbuffer = None

requires_testbuffer = pytest.mark.skipif(
    _testbuffer is None, reason="CPython's _testbuffer module is not available")

try:
    import torch
except ImportError:
    torch = None

requires_torch = pytest.mark.skipif(
    torch is None, reason="torch is not installed (.ci/run installs the CPU "
                          "build torch==2.13.0 when its wheel is on disk)")


# Under the sanitizer job (.ci/sanitize) every allocation goes through
# AddressSanitizer, which keeps freed memory in quarantine: resident-memory
# measurements then say nothing about pybuf.
under_asan = "libasan" in os.environ.get("LD_PRELOAD", "")
measures_resident_memory = pytest.mark.skipif(
    under_asan, reason="AddressSanitizer's quarantine keeps freed memory "
                       "resident (the sanitizer job)")
