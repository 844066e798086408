"""pybuf's portable fallbacks, run on this machine: the code paths that a
compiler without GCC's builtins (MSVC) would take."""
import os
import random
import sys

import pytest

import pybuf

from cybuild import build_extension

pytest.importorskip("Cython", reason="compiling the check needs Cython: pip install Cython")

# the installed pybuf's header (package data), by its full path
MEMORY_H = os.path.join(os.path.dirname(pybuf.__file__), "_memory.h")
MUL_FALLBACK = """
cdef extern from *:
    '''
    #define PYBUF_NO_BUILTINS 1
    #include "%s"
    '''
    int pybuf_mul_overflow(Py_ssize_t a, Py_ssize_t b, Py_ssize_t *r)

def mul(Py_ssize_t a, Py_ssize_t b):
    cdef Py_ssize_t r = 0
    if pybuf_mul_overflow(a, b, &r):
        return None
    return r
""" % MEMORY_H.replace("\\", "/")


def test_mul_overflow_fallback_takes_negative_factors(tmp_path):
    """_memory.h's overflow-checked multiply without __builtin_mul_overflow
    (sizes times strides, which are negative for reversed layouts): the
    product when it fits in Py_ssize_t, overflow exactly when it does not,
    against Python's integers."""
    mod = build_extension(tmp_path, "mulcheck", MUL_FALLBACK)
    hi, lo = sys.maxsize, -sys.maxsize - 1
    edges = [0, 1, -1, 2, -2, 3, -3, 7, -7, hi, lo, hi // 2, lo // 2,
             hi // 2 + 1, lo // 2 - 1, hi // 3 + 1, lo // 3, 1 << 32, -(1 << 32),
             (1 << 31) - 1, 3037000499, 3037000500, -3037000499, -3037000500]
    rng = random.Random(3118)
    values = edges + [rng.randint(lo, hi) >> rng.randrange(64) for _ in range(60)]
    for a in values:
        for b in values:
            exact = a * b
            want = exact if lo <= exact <= hi else None
            assert mod.mul(a, b) == want, (a, b)
    # the reversed layouts of row 5 of the portability review
    assert mod.mul(-8, 1000) == -8000 and mod.mul(1000, -8) == -8000
