"""The Cython API: an out-of-tree extension cimports the installed pybuf."""
import pytest

import pybuf
from cybuild import build_extension

np = pytest.importorskip("numpy", reason="needs numpy: pip install numpy")
pytest.importorskip("Cython", reason="compiling a consumer needs Cython: "
                    "pip install Cython")

CONSUMER = """
from pybuf.buffer cimport Buffer
import pybuf

def squares(Py_ssize_t n):
    # A Buffer made in Python, filled from C without the GIL.
    cdef Buffer b = pybuf.empty(n, "d")
    cdef double *p = <double *>b.data
    cdef Py_ssize_t i
    with nogil:
        for i in range(n):
            p[i] = <double>i * i
    return b

def layout(Buffer b):
    return b.ndim, b.itemsize, b.nbytes, <size_t>b.data

def total(double[:, ::1] x):
    # A typed memoryview over any exporter, pybuf's Buffer included.
    cdef double s = 0
    cdef Py_ssize_t i, j
    with nogil:
        for i in range(x.shape[0]):
            for j in range(x.shape[1]):
                s += x[i, j]
    return s
"""


@pytest.fixture(scope="module")
def consumer(tmp_path_factory):
    return build_extension(tmp_path_factory.mktemp("consumer"), "consumer", CONSUMER)


def test_cimport_buffer_and_fill_without_gil(consumer):
    b = consumer.squares(1000)
    assert isinstance(b, pybuf.Buffer)
    expected = np.arange(1000, dtype="d") ** 2
    assert np.array_equal(np.asarray(b), expected)
    assert memoryview(b).tolist() == expected.tolist()
    assert consumer.layout(b) == (1, 8, 8000, b.address)
    v = b[10:20:3]
    assert consumer.layout(v) == (1, 8, 32, v.address)


def test_typed_memoryview_of_a_buffer(consumer):
    b = pybuf.full((3, 4), 0.5, "d")
    assert consumer.total(b) == 6.0
    assert b.exports == 0
    with pytest.raises(BufferError, match="C-contiguous"):
        consumer.total(b.T)                 # the exporter refuses the request
    with pytest.raises(ValueError):
        consumer.total(pybuf.zeros((3, 4), "f"))   # wrong format
    with pytest.raises(TypeError):
        consumer.layout(bytearray(3))


def test_get_include_has_the_pxd_files():
    import os
    inc = pybuf.get_include()
    for name in ("buffer.pxd", "kernels.pxd", "_types.pxd", "__init__.py"):
        assert os.path.isfile(os.path.join(inc, "pybuf", name)), name
