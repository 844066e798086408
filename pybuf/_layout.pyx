"""The arithmetic of a layout, for pybuf.buffer and pybuf._ops: shape,
order and alignment read from Python and checked, sizes with their overflow
check, packed strides, contiguity, extent, and the strides of a reshape
without a copy.  Pointers, shapes and strides only: no Buffer.  The
private pybuf/_layout.pxd declares these and defines the helpers that every
constructor runs (inline, so that ``empty`` pays no call between modules).
"""
from cpython.number cimport PyIndex_Check, PyNumber_Index

from pybuf._types cimport MAX_NDIM


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
