"""Buffers through Ray's object store: puts and gets of every layout, gets
that view the store (zero-copy, read-only, at one address), and tasks that
run pybuf kernels on the store's memory.

One small local Ray instance (one CPU, a small store, no dashboard) serves
the whole module.  Without Ray every test here skips.
"""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import pybuf

try:
    import ray
except ImportError:
    ray = None

pytestmark = pytest.mark.skipif(
    ray is None, reason="needs Ray: pip install ray (or "
                        "pip install 'pybuf[interop]')")

STORE_BYTES = 128 << 20
MAPS = "/proc/self/maps"


@pytest.fixture(scope="module", autouse=True)
def ray_instance():
    # Ray's workers cannot import this test module: send its functions to
    # them by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=1, object_store_memory=STORE_BYTES,
             include_dashboard=False, log_to_driver=False,
             logging_level="ERROR")
    yield
    ray.shutdown()
    ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def store_mapping(address):
    """The path of the shared file mapping that holds ``address`` in this
    process, when that mapping is Ray's object store ("plasma"); else None.
    A module-level function, so that tasks can call it in their worker."""
    with open(MAPS) as f:
        for line in f:
            fields = line.split()
            lo, hi = (int(v, 16) for v in fields[0].split("-"))
            if lo <= address < hi:
                path = " ".join(fields[5:])
                shared = fields[1].endswith("s")
                return path if shared and "plasma" in path else None
    return None


needs_maps = pytest.mark.skipif(not os.path.exists(MAPS),
                                 reason="needs /proc/self/maps to find the store")


def arange(shape, fmt):
    b = pybuf.empty(shape, fmt)
    a = np.asarray(b)
    a[...] = np.arange(a.size).reshape(a.shape) % 100
    return b


def _layouts():
    m = arange((6, 8), "d")
    s = pybuf.empty(5, "T{d:x:i:y:}")
    for i in range(5):
        s[i] = (i / 2, -i)
    return {
        "1-d B": arange(1000, "B"),
        "2-d C": m,
        "2-d F": arange((8, 6), "f").T,
        "3-d": arange((3, 4, 5), "q"),
        "0-d": m[2, 3:4].reshape(()),
        "empty": pybuf.zeros((0, 3), "i"),
        "complex": arange(7, "Zd"),
        "half": arange(9, "e"),
        "bool": arange(10, "?"),
        "big-endian": arange(11, ">i"),
        "struct": s,
        "readonly": m.toreadonly(),
        "view": m[2:5],
        "strided view": m[1:5, ::3],
        "readonly strided": m.toreadonly()[::-2, 1::2],
        "large": arange((512, 1024), "d"),           # 4 MiB
    }


@pytest.mark.parametrize("layout", list(_layouts()))
def test_put_get_round_trip(layout):
    x = _layouts()[layout]
    y = ray.get(ray.put(x))
    assert type(y) is pybuf.Buffer
    assert (y.shape, y.format, y.itemsize) == (x.shape, x.format, x.itemsize)
    assert y == x and y.tolist() == x.tolist()
    assert y.readonly                    # the store's memory is read-only
    if x.contiguous:
        assert y.strides == x.strides
    else:
        assert y.c_contiguous            # made contiguous once, at the put


@needs_maps
def test_gets_view_the_store():
    x = arange((1024, 1024), "d")                   # 8 MiB
    ref = ray.put(x)
    a, b = ray.get(ref), ray.get(ref)
    assert a == x
    assert a.address == b.address != x.address      # one copy: the store's
    assert store_mapping(a.address) is not None
    assert store_mapping(a.address + a.nbytes - 1) == store_mapping(a.address)
    assert a.readonly and b.readonly
    with pytest.raises(BufferError):
        a[0, 0] = 1.0
    # numpy under the same store follows the same rule.
    n = ray.get(ray.put(np.asarray(x)))
    assert not n.flags.writeable and store_mapping(n.ctypes.data) is not None
    # Writers copy.
    w = a.copy()
    w[0, 0] = -1.0
    assert not w.readonly and store_mapping(w.address) is None
    assert a[0, 0] == 0.0
    # Views and exports of a get still view the store.
    v = a[100:200, ::2]
    assert store_mapping(v.address) is not None
    assert np.asarray(v).ctypes.data == v.address


@needs_maps
def test_get_of_many_buffers_views_each():
    xs = [arange(1 << 16, "i"), arange((64, 64), "d").T, arange(3, "B")]
    ys = ray.get(ray.put(xs))
    for x, y in zip(xs, ys):
        assert y == x and y.readonly and y.strides == x.strides
        assert store_mapping(y.address) is not None


@ray.remote if ray is not None else (lambda f: f)
def kernels_in_task(x, y):
    """Runs in a Ray worker: pybuf kernels straight on the store's memory."""
    import pybuf
    out = pybuf.empty(x.shape, x.format)
    pybuf.copyto(out, x)
    pybuf.fill(out[::2], 0)
    return {
        "in_store": store_mapping(x.address) is not None
        and store_mapping(y.address) is not None,
        "readonly": (x.readonly, y.readonly),
        "sum": pybuf.sum(x), "min": pybuf.min(x), "max": pybuf.max(x),
        "dot": pybuf.dot(x, y), "equal": pybuf.equal(x, y),
        "half": pybuf.astype(x[1::2], "f"),
        "out": out,
    }


@needs_maps
@pytest.mark.parametrize("by", ["reference", "value"])
def test_task_runs_kernels_without_copying(by):
    x = arange(1 << 17, "d")                        # 1 MiB: lives in the store
    y = pybuf.full(1 << 17, 0.5, "d")
    if by == "reference":
        r = ray.get(kernels_in_task.remote(ray.put(x), ray.put(y)))
    else:                                # Ray puts large arguments itself
        r = ray.get(kernels_in_task.remote(x, y))
    a, b = np.asarray(x), np.asarray(y)
    assert r["in_store"] and r["readonly"] == (True, True)
    assert r["sum"] == pytest.approx(a.sum(), rel=1e-12)
    assert (r["min"], r["max"]) == (a.min(), a.max())
    assert r["dot"] == pytest.approx(a @ b, rel=1e-12)
    assert r["equal"] is False
    np.testing.assert_array_equal(np.asarray(r["half"]), a[1::2].astype("f"))
    expected = a.copy()
    expected[::2] = 0
    out = r["out"]                       # a Buffer back from the task
    assert out.readonly and store_mapping(out.address) is not None
    np.testing.assert_array_equal(np.asarray(out), expected)


def test_docs_ray_example_runs():
    """docs/interop.rst's Ray example, as a user would run it (its own Ray
    instance, in a fresh process)."""
    page = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
        __file__))), "docs", "interop.rst")
    if not os.path.exists(page):
        pytest.skip("no docs/ folder next to the tests")
    with open(page) as f:
        text = f.read()
    section = text[text.index("\nRay\n---"):]
    block = re.search(r"\.\. code-block:: python\n\n((?:   .*\n|\n)+)", section)
    code = "\n".join(line[3:] for line in block.group(1).splitlines())
    assert "ray.put" in code and "ray.get" in code
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
