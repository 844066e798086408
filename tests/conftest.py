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


# Peers' own test modules that tests import and run through pybuf.  Their
# decorators use marks of their own pytest setup (numpy: thread_unsafe,
# leaks_references, ...), which change from release to release; under
# --strict-markers an unregistered mark fails the import.  So every mark a
# peer's module names is registered, read from its source at start-up:
# whatever marks the installed version uses, the import works.
PEER_TEST_MODULES = ("numpy._core.tests.test_multiarray",
                     "numpy.core.tests.test_multiarray")


def _peer_marks():
    import importlib.util
    import re
    names = set()
    for mod in PEER_TEST_MODULES:
        try:
            spec = importlib.util.find_spec(mod)
        except ImportError:          # no numpy, or a numpy without tests
            continue
        if spec is None or not spec.origin:
            continue
        with open(spec.origin, encoding="utf-8") as f:
            names.update(re.findall(r"\bpytest\.mark\.([A-Za-z_]\w*)", f.read()))
    return sorted(names)


def pytest_configure(config):
    # After pytest has read its arguments (testpaths are relative to the
    # folder it was started in); collection resolves them from there too.
    if os.path.realpath(os.getcwd()) == os.path.realpath(_ROOT):
        os.chdir(_HERE)
    for name in _peer_marks():
        config.addinivalue_line("markers", f"{name}: a mark of a peer's own tests")

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


# --- producers ---------------------------------------------------------------

# numpy type string -> array.array code of the same items
ARRAY_CODES = {"i1": "b", "u1": "B", "i2": "h", "u2": "H", "i4": "i",
               "u4": "I", "i8": "q", "u8": "Q", "f4": "f", "f8": "d"}


def producers(a):
    """Exporters of the items of numpy array ``a``, each as ``(name,
    object, writable)``: numpy itself, a memoryview, a pybuf view
    (asbuffer), whatever standard-library exporter holds such items
    (array.array, bytearray, bytes, mmap; 1-d contiguous only) and a
    Buffer that owns a copy.  The first three share a's memory; the buffer
    and kernel tests run every capability against each."""
    w = bool(a.flags.writeable)
    out = [("numpy", a, w), ("memoryview", memoryview(a), w),
           ("Buffer", pybuf.asbuffer(a, writable=w), w)]
    if a.ndim == 1 and a.flags.c_contiguous:
        code = ARRAY_CODES.get(a.dtype.str[1:])
        if code is not None and a.dtype.isnative:
            out.append(("array", array.array(code, a.tobytes()), True))
        if a.dtype.str == "|u1":
            out.append(("bytearray", bytearray(a.tobytes()), True))
            if not w:
                out.append(("bytes", a.tobytes(), False))
            m = mmap.mmap(-1, max(a.nbytes, 1))
            m[:a.nbytes] = a.tobytes()
            out.append(("mmap", m if a.nbytes else memoryview(m)[:0], True))
    out.append(("Buffer-owned", pybuf.copy(a), True))
    return out


@pytest.fixture(name="producers")
def producers_fixture():
    """:func:`producers`, for tests that take it as a fixture."""
    return producers
