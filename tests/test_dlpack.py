"""DLPack: Buffer.__dlpack__ / __dlpack_device__ and pybuf.from_dlpack.

numpy is the oracle (it is both a producer and a consumer); torch is used
when installed.  Lifetimes are checked through the source Buffer's export
count: a deleter called twice would drive it below zero, one never called
would leave it above.
"""
import ctypes
import gc
import sys
import weakref

import numpy as np
import pytest

import pybuf

from conftest import requires_torch, torch

# format -> numpy dtype the consumer must see
NUMERIC = {"?": np.bool_, "b": np.int8, "B": np.uint8, "h": np.int16,
           "H": np.uint16, "i": np.int32, "I": np.uint32, "l": np.int_,
           "L": np.uint, "q": np.int64, "Q": np.uint64, "n": np.intp,
           "N": np.uintp, "e": np.float16, "f": np.float32, "d": np.float64,
           "=i": np.int32, "@d": np.float64,
           ("<" if sys.byteorder == "little" else ">") + "H": np.uint16}


def filled(shape, fmt):
    b = pybuf.zeros(shape, fmt)
    a = np.asarray(b)
    a[...] = (np.arange(a.size) % 7).reshape(a.shape).astype(a.dtype)
    del a
    return b


# ctypes views of the capsule structs, to fake foreign producers.
class _Tensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device_type", ctypes.c_int32),
                ("device_id", ctypes.c_int32), ("ndim", ctypes.c_int32),
                ("code", ctypes.c_uint8), ("bits", ctypes.c_uint8),
                ("lanes", ctypes.c_uint16), ("shape", ctypes.c_void_p),
                ("strides", ctypes.c_void_p), ("byte_offset", ctypes.c_uint64)]


class _Versioned(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint32), ("minor", ctypes.c_uint32),
                ("manager_ctx", ctypes.c_void_p), ("deleter", ctypes.c_void_p),
                ("flags", ctypes.c_uint64), ("dl_tensor", _Tensor)]


def _versioned(capsule):
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype = ctypes.c_void_p
    get.argtypes = [ctypes.py_object, ctypes.c_char_p]
    return _Versioned.from_address(get(capsule, b"dltensor_versioned"))


def _capsule_name(capsule):
    name = ctypes.pythonapi.PyCapsule_GetName
    name.restype = ctypes.c_char_p
    name.argtypes = [ctypes.py_object]
    return name(capsule).decode()


# --- producer ---------------------------------------------------------------

@pytest.mark.parametrize("fmt", sorted(NUMERIC))
def test_formats_to_numpy(fmt):
    b = filled((3, 4), fmt)
    a = np.from_dlpack(b)
    assert a.dtype == NUMERIC[fmt]
    assert a.ctypes.data == b.address
    assert a.tolist() == b.tolist()
    assert a.flags.writeable


@pytest.mark.parametrize("fmt", ["c", "P", "2i", "s", "xi", "?x",
                                 ">i" if sys.byteorder == "little" else "<i"])
def test_unsupported_format_names_it(fmt):
    b = pybuf.zeros(4, fmt)
    with pytest.raises(BufferError, match=repr(fmt).replace("?", r"\?")):
        b.__dlpack__(max_version=(1, 0))
    assert b.exports == 0


def test_capsule_kinds_and_device():
    b = pybuf.zeros(3, "i")
    assert b.__dlpack_device__() == (1, 0)
    assert _capsule_name(b.__dlpack__()) == "dltensor"
    assert _capsule_name(b.__dlpack__(max_version=(0, 8))) == "dltensor"
    cap = b.__dlpack__(max_version=(1, 0))
    assert _capsule_name(cap) == "dltensor_versioned"
    v = _versioned(cap)
    assert (v.major, v.flags, v.dl_tensor.byte_offset) == (1, 0, 0)
    assert (v.dl_tensor.device_type, v.dl_tensor.device_id) == (1, 0)
    assert (v.dl_tensor.code, v.dl_tensor.bits, v.dl_tensor.lanes) == (0, 32, 1)
    assert _capsule_name(b.__dlpack__(max_version=(2, 3), dl_device=(1, 0))) \
        == "dltensor_versioned"


def test_unconsumed_capsule_gives_back_its_export():
    b = pybuf.zeros(1000, "d")
    caps = [b.__dlpack__(), b.__dlpack__(max_version=(1, 0))]
    assert b.exports == 2
    with pytest.raises(BufferError):
        b.release()
    del caps
    assert b.exports == 0
    b.release()


def test_bad_requests():
    b = pybuf.zeros(3, "f")
    with pytest.raises(BufferError, match="stream"):
        b.__dlpack__(stream=1)
    with pytest.raises(BufferError, match="device"):
        b.__dlpack__(dl_device=(2, 0))
    with pytest.raises(TypeError):
        b.__dlpack__(max_version="1.0")
    with pytest.raises(TypeError):
        b.__dlpack__(copy="yes")
    with pytest.raises(TypeError):
        b.__dlpack__(None)                 # keyword-only
    b.release()
    with pytest.raises(ValueError, match="released"):
        b.__dlpack__()
    assert pybuf.zeros(3).exports == 0


def test_readonly():
    b = filled(5, "i")
    r = b.toreadonly()
    # A legacy capsule cannot say read-only: refused, as the standard says.
    with pytest.raises(BufferError, match="read-only"):
        r.__dlpack__()
    assert _versioned(r.__dlpack__(max_version=(1, 0))).flags & 1
    a = np.from_dlpack(r)
    assert not a.flags.writeable and a.ctypes.data == b.address
    back = pybuf.from_dlpack(r)
    assert back.readonly
    # copy=True gives a writable copy, even on a legacy request.
    c = pybuf.from_dlpack(r.__dlpack__(copy=True))
    assert not c.readonly and c.address != b.address and c == b


def test_copy_flag():
    b = filled((4, 5), "d")
    cap = b.__dlpack__(max_version=(1, 0), copy=True)
    v = _versioned(cap)
    assert v.flags & 2 and v.dl_tensor.data != b.address
    assert b.exports == 0            # the copy is exported, not b
    c = pybuf.from_dlpack(cap)
    assert c == b and c.address != b.address
    same = pybuf.from_dlpack(b.__dlpack__(max_version=(1, 0), copy=False))
    assert same.address == b.address


def test_strides_in_items_and_views():
    b = filled((4, 6), "h")
    for v in (b[:, ::2], b[::-1, 1:], b.T, b[2], b[1, 3:4].reshape(())):
        a = np.from_dlpack(v)
        assert a.strides == v.strides and a.shape == v.shape
        assert a.tolist() == v.tolist()
        assert (a.ctypes.data == v.address) or v.nbytes == 0
    v = b[:, ::-3]
    cap = v.__dlpack__(max_version=(1, 0))
    t = _versioned(cap).dl_tensor
    strides = (ctypes.c_int64 * 2).from_address(t.strides)
    assert list(strides) == [6, -3]


def test_layout_dlpack_cannot_describe():
    # Field 'a' of a packed struct: 4-byte items 5 bytes apart.
    s = np.zeros(4, dtype=[("a", "<i4"), ("b", "i1")])
    s["a"] = [1, 2, 3, 4]
    b = pybuf.asbuffer(s["a"])
    assert b.strides == (5,)
    with pytest.raises(BufferError, match="copy"):
        b.__dlpack__(max_version=(1, 0), copy=False)
    assert np.from_dlpack(b).tolist() == [1, 2, 3, 4]     # copy=None copies
    assert b.exports == 0


def test_zero_size_and_scalar():
    for b in (pybuf.zeros((0, 3), "f"), pybuf.full((), 3.5, "d")):
        a = np.from_dlpack(b)
        assert a.shape == b.shape and a.tolist() == b.tolist()
        assert pybuf.from_dlpack(b).tolist() == b.tolist()


def test_export_keeps_source_alive():
    b = filled(100, "q")
    ref = weakref.ref(b)
    a = np.from_dlpack(b)
    with pytest.raises(BufferError):
        b.release()
    with pytest.raises(BufferError):
        b.resize(10)
    del b
    gc.collect()
    assert ref() is not None
    assert a[:3].tolist() == [0, 1, 2]
    del a
    gc.collect()
    assert ref() is None


def test_write_visible_numpy_both_ways():
    b = pybuf.zeros((2, 3), "f")
    a = np.from_dlpack(b)
    a[1, 2] = 4.5
    assert b[1, 2] == 4.5
    b[0, 0] = -1
    assert a[0, 0] == -1


# --- consumer ---------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.uint16, np.int32,
                                   np.uint64, np.float16, np.float32,
                                   np.float64, np.complex64, np.complex128])
def test_from_numpy(dtype):
    a = (np.arange(12) % 5).astype(dtype).reshape(3, 4)
    b = pybuf.from_dlpack(a)
    assert b.address == a.ctypes.data and b.shape == a.shape
    assert b.itemsize == a.itemsize and b.strides == a.strides
    np.testing.assert_array_equal(np.asarray(b) if b.format[0] != "Z"
                                  else np.from_dlpack(b), a)
    assert not b.readonly


def test_from_numpy_shares_and_keeps_alive():
    a = np.arange(10, dtype=np.int32)[::-2]
    ref = weakref.ref(a.base)
    b = pybuf.from_dlpack(a)
    assert b.strides == (-8,) and b.tolist() == a.tolist()
    a[0] = 99
    assert b[0] == 99
    b[1] = -5
    assert a[1] == -5
    del a
    gc.collect()
    assert ref() is not None and b[0] == 99   # producer alive while b is
    view = b[1:]
    del b
    gc.collect()
    assert ref() is not None and view[0] == -5
    del view
    gc.collect()
    assert ref() is None                      # deleter ran


def test_from_numpy_readonly():
    a = np.arange(4.0)
    a.flags.writeable = False
    b = pybuf.from_dlpack(a)
    assert b.readonly
    with pytest.raises(BufferError):
        b[0] = 1


def test_from_pybuf_deleter_called_once():
    src = filled((3, 3), "i")
    for kwargs in ({}, {"max_version": (1, 0)}):
        cap = src.__dlpack__(**kwargs)
        b = pybuf.from_dlpack(cap)
        assert _capsule_name(cap).startswith("used_")
        assert b.address == src.address and b == src
        assert src.exports == 1
        with pytest.raises(BufferError, match="already consumed"):
            pybuf.from_dlpack(cap)
        del cap
        assert src.exports == 1          # the consumer owns it now
        v = b[1:]
        del b
        gc.collect()
        assert src.exports == 1
        del v
        gc.collect()
        assert src.exports == 0          # once, not twice
    b = pybuf.from_dlpack(src)
    b.release()                          # release gives the tensor back now
    assert src.exports == 0


def test_legacy_producer_without_max_version():
    src = filled(4, "B")

    class Old:
        def __dlpack__(self, stream=None):
            return src.__dlpack__()

        def __dlpack_device__(self):
            return (1, 0)

    b = pybuf.from_dlpack(Old())
    assert b == src and b.address == src.address and "Old" in repr(b.base)


def test_foreign_device_refused():
    class OnGPU:
        def __dlpack__(self, **kw):
            raise AssertionError("must not be asked for a capsule")

        def __dlpack_device__(self):
            return (2, 0)

    with pytest.raises(BufferError, match="CUDA"):
        pybuf.from_dlpack(OnGPU())
    with pytest.raises(AttributeError, match="__dlpack__"):
        pybuf.from_dlpack(b"bytes")
    with pytest.raises(TypeError, match="DLPack"):      # and a TypeError too
        pybuf.from_dlpack(b"bytes")
    # asked for a copy on the CPU, the producer is asked to make it
    with pytest.raises(AssertionError, match="must not be asked"):
        pybuf.from_dlpack(OnGPU(), device="cpu")


# --------------------------------------------------------------------------
# the array API standard's from_dlpack(x, /, *, device=None, copy=None)

class Recorder:
    """A producer that records what it was asked and answers as numpy does;
    ``modern=False``: a producer from before DLPack 1.0 (no keywords)."""

    def __init__(self, a, modern=True):
        self.a, self.modern, self.asked = a, modern, []

    def __dlpack__(self, **kw):
        if not self.modern and kw:
            raise TypeError("__dlpack__() got an unexpected keyword argument")
        self.asked.append(kw)
        return self.a.__dlpack__(**kw)

    def __dlpack_device__(self):
        return self.a.__dlpack_device__()


@pytest.mark.parametrize("copy", [None, True, False])
@pytest.mark.parametrize("device", [None, "cpu", (1, 0)])
@pytest.mark.parametrize("modern", [True, False])
def test_from_dlpack_array_api(copy, device, modern):
    a = np.arange(12, dtype=np.float64).reshape(3, 4)[:, ::2]
    r = Recorder(a, modern)
    b = pybuf.from_dlpack(r, device=device, copy=copy)
    assert b.tolist() == a.tolist() and b.shape == a.shape
    shares = b.address == a.ctypes.data
    assert shares == (copy is not True)
    if copy:
        # the producer's copy (numpy flags it IS_COPIED) or pybuf's
        assert not b.readonly
    if modern:
        kw, = r.asked                   # asked once, with every keyword
        assert kw["max_version"][0] == 1
        assert kw.get("dl_device") == (None if device is None else (1, 0))
        assert kw.get("copy", None) is copy
    else:
        assert r.asked == [{}]          # asked again without the keywords
    a[0, 0] = 99.0
    assert (b[0, 0] == 99.0) == shares


def test_from_dlpack_copy_false_refused_where_a_copy_is_needed():
    """copy=False is passed to the producer, which refuses when it would
    have to copy (BufferError, the standard's answer)."""

    class NeedsCopy(Recorder):
        def __dlpack__(self, **kw):
            if kw.get("copy") is False:
                raise BufferError("this producer can only export a copy")
            return super().__dlpack__(**kw)

    with pytest.raises(BufferError, match="only export a copy"):
        pybuf.from_dlpack(NeedsCopy(np.zeros(3)), copy=False)
    assert pybuf.from_dlpack(NeedsCopy(np.ones(3)), copy=True).tolist() == [1.0] * 3


def test_from_dlpack_numpy_producer_and_consumer_copy_semantics():
    a = np.arange(5, dtype=np.int32)
    view = pybuf.from_dlpack(a, copy=False)
    own = pybuf.from_dlpack(a, copy=True)
    assert view.address == a.ctypes.data and own.address != a.ctypes.data
    # numpy as the consumer of pybuf, with the same keywords
    assert np.from_dlpack(own, copy=False).ctypes.data == own.address
    assert np.from_dlpack(own, copy=True).ctypes.data != own.address
    # a capsule too: copy=True copies it here
    c = pybuf.from_dlpack(a.__dlpack__(max_version=(1, 0)), copy=True)
    assert c.address != a.ctypes.data and c.tolist() == a.tolist()


@pytest.mark.parametrize("device, error", [
    ((2, 0), BufferError), ("cuda", ValueError), (1, TypeError),
    ((1, 1), BufferError), ("gpu", ValueError),
])
def test_from_dlpack_devices_other_than_the_cpu(device, error):
    with pytest.raises(error):
        pybuf.from_dlpack(np.zeros(2), device=device)


def test_from_dlpack_keywords_only():
    with pytest.raises(TypeError):
        pybuf.from_dlpack(np.zeros(2), None)         # device is keyword-only
    with pytest.raises(TypeError, match="copy"):
        pybuf.from_dlpack(np.zeros(2), copy="yes")


@pytest.mark.parametrize("field, value, match", [
    ("device_type", 2, "CUDA"),
    ("code", 4, "bfloat16"),
    ("lanes", 4, "x4"),
])
def test_bad_capsule_left_unconsumed(field, value, match):
    src = filled(8, "H")
    cap = src.__dlpack__(max_version=(1, 0))
    tensor = _versioned(cap).dl_tensor
    if field == "code":
        tensor.bits = 16
    setattr(tensor, field, value)
    with pytest.raises(BufferError, match=match):
        pybuf.from_dlpack(cap)
    assert _capsule_name(cap) == "dltensor_versioned"
    assert src.exports == 1
    del cap                              # its destructor calls the deleter
    assert src.exports == 0


def test_unsupported_version_left_unconsumed():
    src = filled(2, "d")
    cap = src.__dlpack__(max_version=(1, 0))
    _versioned(cap).major = 2
    with pytest.raises(BufferError, match="version 2"):
        pybuf.from_dlpack(cap)
    _versioned(cap).major = 1
    del cap
    assert src.exports == 0


# --- torch -------------------------------------------------------------------

@requires_torch
def test_torch_from_dlpack_shares():
    b = pybuf.zeros((2, 3), "f")
    t = torch.from_dlpack(b)
    assert t.dtype == torch.float32 and t.data_ptr() == b.address
    t[1, 1] = 3.0
    assert b[1, 1] == 3.0
    b[0, 2] = 7
    assert t[0, 2].item() == 7
    with pytest.raises(BufferError):
        b.release()
    del t
    gc.collect()
    b.release()


@requires_torch
def test_pybuf_from_torch_shares():
    t = torch.arange(6, dtype=torch.int64).reshape(2, 3).t()
    b = pybuf.from_dlpack(t)
    assert b.address == t.data_ptr()
    assert b.strides == tuple(8 * s for s in t.stride())
    assert b.tolist() == t.tolist()
    b[0, 1] = 100
    assert t[0, 1].item() == 100
    del t
    gc.collect()
    assert b[0, 1] == 100                # the tensor's storage is kept alive


@requires_torch
@pytest.mark.parametrize("dtype", ["bool", "int8", "uint8", "int16", "int32",
                                   "int64", "float16", "float32", "float64",
                                   "complex64", "complex128"])
def test_torch_dtypes_round_trip(dtype):
    t = (torch.arange(8) % 3).to(getattr(torch, dtype))
    b = pybuf.from_dlpack(t)
    assert b.itemsize == t.element_size()
    back = torch.from_dlpack(b)
    assert back.dtype == t.dtype and back.data_ptr() == t.data_ptr()
    assert torch.equal(back, t)


@requires_torch
def test_torch_bfloat16_refused():
    with pytest.raises(BufferError, match="bfloat16"):
        pybuf.from_dlpack(torch.zeros(3, dtype=torch.bfloat16))


@requires_torch
def test_torch_from_dlpack_copy_keywords_both_ways():
    """torch as producer and consumer of the array API's copy and device
    keywords."""
    t = torch.arange(6, dtype=torch.float32)
    view = pybuf.from_dlpack(t, copy=False, device="cpu")
    own = pybuf.from_dlpack(t, copy=True)
    assert view.address == t.data_ptr() and own.address != t.data_ptr()
    t[0] = 42.0
    assert view[0] == 42.0 and own[0] == 0.0
    b = pybuf.zeros(4, "d")
    assert torch.from_dlpack(b, copy=False).data_ptr() == b.address
    back = torch.from_dlpack(b, copy=True)
    assert back.data_ptr() != b.address
    back[0] = 5.0
    assert b[0] == 0.0


# --------------------------------------------------------------------------
# the fast path of from_dlpack (exactly Buffer or numpy.ndarray: no
# __dlpack_device__ call, a vectorcall of __dlpack__) against the general
# one (subclasses and wrappers), and the export's sizes and divisions

class Wrapper:
    """A producer that is neither a Buffer nor an ndarray: the general path."""

    def __init__(self, x):
        self.x = x

    def __dlpack__(self, **kw):
        return self.x.__dlpack__(**kw)

    def __dlpack_device__(self):
        return self.x.__dlpack_device__()


class SubBuffer(pybuf.Buffer):
    pass


class SubArray(np.ndarray):
    pass


def _same_import(fast, slow):
    assert (fast.shape, fast.strides, fast.format, fast.itemsize,
            fast.readonly, fast.address, fast.tolist()) == \
        (slow.shape, slow.strides, slow.format, slow.itemsize,
         slow.readonly, slow.address, slow.tolist())


LAYOUTS = [(), (0,), (5,), (3, 4), (2, 3, 4)]
SIZED = {1: "B", 2: "h", 4: "f", 8: "q", 16: "Zd"}


@pytest.mark.parametrize("itemsize", sorted(SIZED))
@pytest.mark.parametrize("shape", LAYOUTS)
@pytest.mark.parametrize("copy", [None, True, False])
def test_fast_and_general_paths_agree(itemsize, shape, copy):
    src = filled(shape, SIZED[itemsize])
    views = [src]
    if len(shape) >= 2:
        views.append(src[::-1, ::2])         # negative and skipping strides
    for view in views:
        a = np.from_dlpack(view)
        for fast, slow in ((view, Wrapper(view)),
                           (view, view.__dlpack__(max_version=(1, 0))),
                           (a, Wrapper(a)), (a, a.view(SubArray))):
            f = pybuf.from_dlpack(fast, copy=copy)
            s = pybuf.from_dlpack(slow, copy=copy)
            if copy:
                assert f.address != s.address and f.tolist() == s.tolist()
            else:
                _same_import(f, s)
                assert f.address == view.address or view.nbytes == 0


def test_fast_path_producer_names_and_no_gc():
    a = np.arange(4)
    b = filled(3, "i")
    assert pybuf.from_dlpack(a).base.producer_type == "ndarray"
    assert pybuf.from_dlpack(b).base.producer_type == "Buffer"
    assert pybuf.from_dlpack(a.view(SubArray)).base.producer_type == "SubArray"
    assert pybuf.from_dlpack(Wrapper(b)).base.producer_type == "Wrapper"
    assert pybuf.from_dlpack(b.__dlpack__()).base.producer_type == "capsule"
    owner = pybuf.from_dlpack(a).base
    assert "ndarray" in repr(owner)
    # holds a str only: no cycle can pass through it
    assert not gc.is_tracked(owner)


def test_fast_and_general_paths_same_errors():
    sub = SubBuffer(4, "B")
    plain = pybuf.zeros(4, "B")
    for b in (plain, sub, Wrapper(plain)):
        (b.x if isinstance(b, Wrapper) else b).release()
        with pytest.raises(ValueError, match="released"):
            pybuf.from_dlpack(b)
    # a format with no DLPack type: the producer's error, on either path
    for x in (pybuf.zeros(2, "3s"), Wrapper(pybuf.zeros(2, "3s"))):
        with pytest.raises(BufferError, match="3s"):
            pybuf.from_dlpack(x)
    # copy=False where the export would need a copy: 4-byte items 5 apart
    s = np.zeros(4, dtype=[("a", "<i4"), ("b", "i1")])
    s["a"] = [1, 2, 3, 4]
    odd = pybuf.asbuffer(s["a"])
    for x in (odd, Wrapper(odd)):
        with pytest.raises(BufferError, match="copy"):
            pybuf.from_dlpack(x, copy=False)
        assert pybuf.from_dlpack(x).tolist() == [1, 2, 3, 4]
    assert odd.exports == 0


def test_fast_path_only_for_the_real_types():
    """A Python class that calls itself numpy's ndarray (or a subclass of
    a fast type) is asked where it lives, as any producer."""
    asked = []

    class ndarray:                       # noqa: N801 -- the point
        __module__ = "numpy"
        __qualname__ = "ndarray"

        def __dlpack__(self, **kw):
            raise AssertionError("must not be asked for a capsule")

        def __dlpack_device__(self):
            asked.append(True)
            return (2, 0)

    with pytest.raises(BufferError, match="CUDA"):
        pybuf.from_dlpack(ndarray())
    assert asked

    class OnGPU(SubArray):
        def __dlpack_device__(self):
            return (2, 0)

    with pytest.raises(BufferError, match="CUDA"):
        pybuf.from_dlpack(np.zeros(3).view(OnGPU))


def test_error_inside_dlpack_is_not_a_missing_dlpack():
    class Broken:
        def __dlpack__(self, **kw):
            raise AttributeError("something inside")

        def __dlpack_device__(self):
            return (1, 0)

    with pytest.raises(AttributeError, match="something inside") as info:
        pybuf.from_dlpack(Broken())
    assert not isinstance(info.value, TypeError)


@pytest.mark.parametrize("ndim", [0, 1, 5, 32, 64])
def test_export_any_ndim(ndim):
    """The export block is sized to the tensor: every ndim up to the most
    the buffer protocol allows round-trips, through numpy and pybuf."""
    shape = (1,) * (ndim - 1) + (3,) if ndim else ()
    b = filled(shape, "d")
    for consumer in (np.from_dlpack, pybuf.from_dlpack):
        c = consumer(b)
        assert c.shape == b.shape and c.strides == b.strides
        assert np.array_equal(np.asarray(c), np.asarray(b))
        del c
    gc.collect()
    assert b.exports == 0


class _Int:
    """An int by __index__ only: max_version read the general way."""

    def __init__(self, v):
        self.v = v

    def __index__(self):
        return self.v


class _Pair(tuple):
    pass


@pytest.mark.parametrize("major", [0, 1, 2, -1, 10 ** 30, -10 ** 30])
@pytest.mark.parametrize("minor", [0, 5])
def test_max_version_fast_and_general_reading_agree(major, minor):
    """Buffer.__dlpack__ reads an exact (int, int) tuple without calls; any
    other spelling of the same numbers gives the same kind of capsule."""
    b = filled(4, "i")
    want = "dltensor_versioned" if major >= 1 else "dltensor"
    for mv in ((major, minor), [major, minor], (_Int(major), minor),
               _Pair((major, minor)), (major, _Int(minor))):
        assert _capsule_name(b.__dlpack__(max_version=mv)) == want, mv
    gc.collect()
    assert b.exports == 0


@pytest.mark.parametrize("bad", [(1,), (1, 0, 0), (1.0, 0), (1, 0.5), ("1", 0),
                                 1, None.__class__])
def test_max_version_malformed(bad):
    with pytest.raises(TypeError, match="max_version"):
        filled(2, "B").__dlpack__(max_version=bad)
