"""The arithmetic of a layout, for pybuf.buffer and pybuf._ops: shape,
order and alignment read from Python and checked, sizes with their overflow
check, packed strides, contiguity, extent, and the strides of a reshape
without a copy.  Pointers, shapes and strides only: no Buffer.  The
private pybuf/_layout.pxd declares these and defines the helpers that every
constructor runs (inline, so that ``empty`` pays no call between modules).
"""
from libc.stdint cimport uintptr_t

cdef extern from "Python.h":
    const Py_ssize_t PY_SSIZE_T_MAX


cdef Py_ssize_t _check_memory(char *data, int ndim, const Py_ssize_t *shape,
                              const Py_ssize_t *strides, Py_ssize_t itemsize,
                              Py_ssize_t *out) except -1:
    """Check a layout of memory that pybuf does not own (see _layout.pxd)
    and copy its strides to ``out``; return nbytes."""
    cdef Py_ssize_t nbytes, span, lo = 0, hi = 0
    cdef int i
    if ndim < 0 or ndim > MAX_NDIM:
        raise ValueError(f"cannot describe memory with ndim {ndim} (0 to "
                         f"{MAX_NDIM} dimensions)")
    # The strides are copied in this loop, not by memcpy: for the few
    # dimensions of a typical call, the block copy gcc makes of a memcpy of
    # unknown length (rep movsq) costs more than the rest of the function.
    for i in range(ndim):
        if shape[i] < 0:
            raise ValueError(f"negative dimension {shape[i]} in shape "
                             f"{_as_tuple(ndim, shape)}")
        if strides != NULL:
            out[i] = strides[i]
    nbytes = _checked_nbytes(ndim, shape, itemsize)
    if data == NULL and nbytes:
        raise ValueError(f"address 0 (NULL) cannot hold {nbytes} bytes")
    if strides == NULL:
        _fill_strides(ndim, shape, out, itemsize, c'C')
    if nbytes:
        # The lowest and highest byte addressed, relative to ``data``.
        for i in range(ndim):
            if pybuf_mul_overflow(shape[i] - 1, out[i], &span) or \
                    (span < 0 and lo < -PY_SSIZE_T_MAX - span) or \
                    (span > 0 and hi > PY_SSIZE_T_MAX - span):
                raise OverflowError("the strides reach further than "
                                    "Py_ssize_t can count")
            if span < 0:
                lo += span
            else:
                hi += span
        if hi > PY_SSIZE_T_MAX - itemsize or \
                <uintptr_t>data < <uintptr_t>(-lo) or \
                <uintptr_t>data > <uintptr_t>-1 - <uintptr_t>(hi + itemsize):
            raise ValueError(f"the layout at address {<uintptr_t>data:#x} "
                             f"reaches outside the address space")
    return nbytes


cdef char *_parse_address(object address) except? NULL:
    """An address from Python: TypeError for a non-integer, ValueError if
    negative, OverflowError if it does not fit in a pointer."""
    cdef uintptr_t addr
    if not PyIndex_Check(address):
        raise TypeError(f"address must be an int, not {type(address).__name__}")
    address = PyNumber_Index(address)
    if address < 0:
        raise ValueError(f"address must not be negative, got {address}")
    try:
        addr = address
    except OverflowError:
        raise OverflowError(f"address {address:#x} does not fit in a "
                            f"pointer") from None
    return <char *>addr


cdef bint _parse_strides(object strides, int ndim, Py_ssize_t *out) except -1:
    """``strides`` (None, an int or a sequence of ``ndim`` ints) into
    ``out``; False when None."""
    cdef int i
    if strides is None:
        return False
    strides = (strides,) if PyIndex_Check(strides) else tuple(strides)
    if len(strides) != ndim:
        raise ValueError(f"{len(strides)} strides given for {ndim} "
                         f"dimension(s)")
    for i in range(ndim):
        if not PyIndex_Check(strides[i]):
            raise TypeError(f"strides must be ints, got "
                            f"{type(strides[i]).__name__}")
        out[i] = PyNumber_AsSsize_t(strides[i], OverflowError)
    return True


cdef tuple _as_tuple(int n, const Py_ssize_t *p):
    """``n`` C integers (a shape, strides) as a tuple of ints."""
    return tuple([p[i] for i in range(n)])


cdef void _extent(int ndim, const Py_ssize_t *shape, const Py_ssize_t *strides,
                  char *data, Py_ssize_t itemsize, char **lo,
                  char **hi) noexcept nogil:
    """Lowest and one-past-highest byte a direct layout touches."""
    cdef Py_ssize_t a = 0, z = 0, span
    cdef int i
    for i in range(ndim):
        if shape[i] == 0:
            lo[0] = hi[0] = data
            return
        span = (shape[i] - 1) * strides[i]
        if span < 0:
            a += span
        else:
            z += span
    lo[0] = data + a
    hi[0] = data + z + itemsize


cdef int _first_direct(int ndim, const Py_ssize_t *suboffsets) noexcept nogil:
    """1 + the last dimension with a suboffset (0 when there is none)."""
    cdef int i
    if suboffsets != NULL:
        for i in range(ndim - 1, -1, -1):
            if suboffsets[i] >= 0:
                return i + 1
    return 0


cdef object _infer_shape(object shape, Py_ssize_t size):
    """Replace one -1 in ``shape`` by what makes the sizes agree."""
    if PyIndex_Check(shape):
        shape = (shape,)
    shape = tuple(shape)
    if shape.count(-1) == 0:
        return shape
    if shape.count(-1) > 1:
        raise ValueError("can only specify one unknown dimension (-1)")
    known = 1
    for d in shape:
        if d != -1:
            known *= PyNumber_Index(d)
    if known == 0 or size % known:
        raise ValueError(f"cannot reshape a Buffer of size {size} into shape {shape}")
    return tuple(size // known if d == -1 else d for d in shape)


cdef bint _nocopy_strides(int ndim, const Py_ssize_t *shape,
                          const Py_ssize_t *strides, Py_ssize_t itemsize,
                          int new_ndim, const Py_ssize_t *new_shape,
                          Py_ssize_t *new_strides) except -1:
    """Fill new_strides for a reshape of a direct layout to new_shape
    without a copy (numpy's algorithm); False when impossible.  Raises on a
    size mismatch."""
    cdef Py_ssize_t old_size = _checked_nbytes(ndim, shape, 1)
    cdef Py_ssize_t new_size = _checked_nbytes(new_ndim, new_shape, 1)
    cdef Py_ssize_t od[MAX_NDIM]
    cdef Py_ssize_t os[MAX_NDIM]
    cdef int ond = 0, i, oi, oj, ni, nj, ok, nk
    cdef Py_ssize_t np_, op
    if new_size != old_size:
        raise ValueError(f"cannot reshape a Buffer of size {old_size} into "
                         f"shape {_as_tuple(new_ndim, new_shape)}")
    if old_size == 0 or _is_contig(ndim, shape, strides, itemsize, c'C'):
        _fill_strides(new_ndim, new_shape, new_strides, itemsize, c'C')
        return True
    for i in range(ndim):                   # drop length-1 dimensions
        if shape[i] != 1:
            od[ond] = shape[i]
            os[ond] = strides[i]
            ond += 1
    oi = 0; oj = 1; ni = 0; nj = 1
    while ni < new_ndim and oi < ond:
        np_ = new_shape[ni]
        op = od[oi]
        while np_ != op:
            if np_ < op:
                np_ *= new_shape[nj]; nj += 1
            else:
                op *= od[oj]; oj += 1
        for ok in range(oi, oj - 1):
            if os[ok] != od[ok + 1] * os[ok + 1]:
                return False
        new_strides[nj - 1] = os[oj - 1]
        for nk in range(nj - 1, ni, -1):
            new_strides[nk - 1] = new_strides[nk] * new_shape[nk]
        ni = nj; nj += 1
        oi = oj; oj += 1
    for nk in range(ni, new_ndim):          # trailing length-1 dimensions
        new_strides[nk] = new_strides[ni - 1] if ni > 0 else itemsize
    return True


def shape_and_nbytes(shape, Py_ssize_t itemsize):
    """``(shape as a tuple, prod(shape) * itemsize)``, checked as every
    Buffer constructor checks a shape (pybuf.interop's mapped and shared
    buffers use it): ValueError for a negative dimension or more than
    MAX_NDIM of them, TypeError for a non-integer, OverflowError when the
    size does not fit in Py_ssize_t."""
    cdef Py_ssize_t dims[MAX_NDIM]
    cdef int ndim = _parse_shape(shape, dims)
    return _as_tuple(ndim, dims), _checked_nbytes(ndim, dims, itemsize)
