"""Buffers over memory that outlives one process: files and shared memory.

:func:`memmap` maps a file, :func:`shared` creates a named shared-memory
segment (POSIX shared memory; a named file mapping on Windows) and
:func:`attach` maps one that another process created.  Each returns a :class:`Buffer` subclass (:class:`MemmapBuffer`,
:class:`SharedBuffer`) that shares the mapping with every view, memoryview,
numpy array or DLPack consumer made from it.  Nothing here copies data.

Lifetime: the mapping is held by the Buffer through an ordinary buffer
export, so it stays valid while the Buffer or anything made from it is
alive, and is unmapped when the last of them goes.  ``close()`` (or the end
of a ``with`` block) unmaps at once and raises :class:`BufferError` while
exports are alive, as :meth:`Buffer.release` does.

DLPack (:func:`pybuf.from_dlpack`) lives in the compiled ``pybuf._dlpack``.
"""
from __future__ import annotations

import atexit
import errno
import mmap
import operator
import os
import secrets
import sys

from typing import TYPE_CHECKING

from pybuf._layout import shape_and_nbytes
from pybuf.buffer import Buffer, _view_as, asbuffer
from pybuf.formats import calcsize

if TYPE_CHECKING:
    from pybuf._typing import Shape

__all__ = ["MemmapBuffer", "SharedBuffer", "attach", "memmap", "shared"]

# numpy.memmap's modes and their long names.
_MODES = {"r": "r", "readonly": "r", "r+": "r+", "readwrite": "r+",
          "w+": "w+", "write": "w+", "c": "c", "copyonwrite": "c"}
_ACCESS = {"r": mmap.ACCESS_READ, "r+": mmap.ACCESS_WRITE,
           "w+": mmap.ACCESS_WRITE, "c": mmap.ACCESS_COPY}
_OPEN = {"r": "rb", "r+": "r+b", "w+": "w+b", "c": "rb"}


def _shape_and_nbytes(shape, format):
    """(shape tuple, nbytes) with the errors Buffer gives for bad input."""
    return shape_and_nbytes(shape, calcsize(format))


def _over(cls, mm, start, nbytes, format, shape, writable):
    """A ``cls`` Buffer over bytes [start, start + nbytes) of mapping ``mm``
    with ``format`` and ``shape``.  The chain of views holds an export of
    ``mm``: the mapping cannot be closed or unmapped while the result (or
    anything made from it) lives."""
    raw = asbuffer(mm, writable=writable)
    return _view_as(cls, raw[start:start + nbytes].cast(format, shape))


class _Mapped(Buffer):
    """What MemmapBuffer and SharedBuffer share: a mapping and close()."""

    def __init__(self, *args, **kwargs):
        raise TypeError(f"{type(self).__name__} objects are made by "
                        f"pybuf.memmap(), pybuf.shared() and pybuf.attach()")

    def close(self) -> None:
        """Unmap now.

        Raises
        ------
        BufferError
            While any export (view, memoryview, array, DLPack consumer) is
            alive; the mapping is then left intact.
        """
        self.release()
        mm, self._mmap = self._mmap, None
        if mm is not None:
            mm.close()

    def __exit__(self, *exc):
        self.close()
        return False


class MemmapBuffer(_Mapped):
    """A Buffer over a file mapping, made by :func:`memmap`.

    Attributes
    ----------
    filename : str
        The mapped file.
    mode : str
        ``"r"``, ``"r+"``, ``"w+"`` or ``"c"``.
    offset : int
        Byte offset of the first item in the file.
    """

    filename: str
    mode: str
    offset: int

    def flush(self) -> None:
        """Write changes to the file (``msync``); a no-op for modes ``r``
        and ``c``, whose changes never reach the file."""
        if self._mmap is None:
            raise ValueError("flush of a closed MemmapBuffer")
        if self.mode in ("r+", "w+"):
            self._mmap.flush()


def memmap(path: str | os.PathLike[str], format: str = "B", shape: Shape | None = None,
           *, mode: str = "r", offset: int = 0) -> MemmapBuffer:
    """A Buffer over (part of) a file, mapped into memory.

    Parameters
    ----------
    path : str or os.PathLike
        The file.  Mode ``w+`` creates or truncates it.
    format : str
        PEP 3118 format of the items.
    shape : int or tuple of int, optional
        Default: a 1-d Buffer over the rest of the file after ``offset``,
        which must then hold a whole number of items.  Required for ``w+``.
    mode : {"r", "r+", "w+", "c"}
        As :class:`numpy.memmap`: read-only; read-write; create (or
        truncate) and read-write; copy-on-write (writes stay in this
        process).  ``r+`` and ``w+`` extend the file when ``shape`` needs
        more bytes than it has.
    offset : int
        Byte offset in the file of the first item (any value: the mapping
        itself starts at the page boundary below it).

    Returns
    -------
    MemmapBuffer
        Read-only for mode ``r``.  ``flush()`` writes changes back; the
        mapping lives while the Buffer or any view or export of it lives.

    Raises
    ------
    ValueError
        Negative ``offset``, a bad mode or shape, zero bytes to map, a
        read-only (``r``, ``c``) map past the end of the file, or a file
        size that is not a whole number of items when ``shape`` is omitted.
    FileNotFoundError
        No such file (modes ``r``, ``r+``, ``c``).

    Examples
    --------
    >>> import os, tempfile, pybuf
    >>> path = os.path.join(tempfile.mkdtemp(), "data.bin")
    >>> m = pybuf.memmap(path, "d", (2, 3), mode="w+")
    >>> m[1, 2] = 7.5
    >>> m.flush()
    >>> m.close()
    >>> pybuf.memmap(path, "d", (2, 3))[1, 2]
    7.5
    """
    try:
        mode = _MODES[mode]
    except (KeyError, TypeError):
        raise ValueError(f"mode must be one of 'r', 'r+', 'w+', 'c', not "
                         f"{mode!r}") from None
    offset = operator.index(offset)
    if offset < 0:
        raise ValueError(f"offset must be >= 0, not {offset}")
    itemsize = calcsize(format)
    if shape is None and mode == "w+":
        raise ValueError("mode 'w+' needs a shape")
    if shape is not None:               # checked before a file is made
        shape, nbytes = _shape_and_nbytes(shape, format)
    with open(path, _OPEN[mode]) as f:
        size = os.fstat(f.fileno()).st_size
        if shape is None:
            avail = size - offset
            if avail <= 0:
                raise ValueError(f"offset {offset} is at or beyond the end of "
                                 f"{os.fspath(path)!r} ({size} bytes)")
            if avail % itemsize:
                raise ValueError(f"{avail} bytes after offset {offset} are not "
                                 f"a whole number of {format!r} items "
                                 f"({itemsize} bytes)")
            shape, nbytes = _shape_and_nbytes(avail // itemsize, format)
        if nbytes == 0:
            raise ValueError("cannot map 0 bytes")
        end = offset + nbytes
        if end > size:
            if mode in ("r", "c"):
                raise ValueError(f"{nbytes} bytes at offset {offset} go beyond "
                                 f"the end of {os.fspath(path)!r} ({size} "
                                 f"bytes), which mode {mode!r} cannot extend")
            f.truncate(end)
        start = offset - offset % mmap.ALLOCATIONGRANULARITY
        mm = mmap.mmap(f.fileno(), end - start, access=_ACCESS[mode],
                       offset=start)
    # The file can be closed: the mapping holds its own reference to it.
    m = _over(MemmapBuffer, mm, offset - start, nbytes, format, shape,
              mode != "r")
    m._mmap = mm
    m.filename = os.fspath(path)
    m.mode = mode
    m.offset = offset
    return m


# --------------------------------------------------------------------------
# named shared memory

# Segments this process created and has not unlinked: name -> creator's pid.
# Unlinked at normal interpreter exit as a safety net (not in forked
# children, which did not create them).  POSIX only: a Windows segment has
# no name to unlink once its last handle is closed.
_LINKED = {}
_atexit_registered = False


def _unlink_leftovers():
    shm = _shm()
    for name, pid in list(_LINKED.items()):
        if pid == os.getpid():
            try:
                shm.unlink(name)
            except OSError:
                pass
    _LINKED.clear()


# The platform seam: everything named shared memory does differently on
# POSIX and on Windows is in these two small classes -- create a segment,
# map an existing one, remove a name.  The rest (names, sizes, Buffers,
# pickling, lifetime) is shared.

class _PosixShm:
    """POSIX shm_open/shm_unlink, through CPython's ``_posixshmem``.  A
    segment lives until it is unlinked (and unmapped everywhere)."""

    # The longest name shm_open takes, less its leading "/": macOS allows 31
    # bytes in all (PSHMNAMLEN); Linux 255 (NAME_MAX), of which pybuf allows
    # 200.
    name_max = 30 if sys.platform == "darwin" else 200
    bad_chars = "/\0"
    persistent = True

    def __init__(self, posixshmem):
        self._shm = posixshmem

    def _map(self, name, flags, nbytes):
        fd = self._shm.shm_open("/" + name, flags, mode=0o600)
        try:
            if flags & os.O_CREAT:
                # At least one byte: a zero-length mapping is not allowed.
                os.ftruncate(fd, max(nbytes, 1))
            size = os.fstat(fd).st_size
            return mmap.mmap(fd, max(size, 1)), size
        finally:
            os.close(fd)

    def create(self, name, nbytes):
        """A new segment of at least ``nbytes`` (FileExistsError if the
        name is taken), mapped: ``(mmap, size)``."""
        return self._map(name, os.O_CREAT | os.O_EXCL | os.O_RDWR, nbytes)

    def open(self, name):
        """An existing segment, mapped: ``(mmap, size)``
        (FileNotFoundError if there is none)."""
        return self._map(name, os.O_RDWR, 0)

    def unlink(self, name):
        self._shm.shm_unlink("/" + name)


class _WindowsShm:
    """Windows named file mappings backed by the paging file, made as
    CPython's multiprocessing.shared_memory makes them (``_winapi`` and
    ``mmap.mmap(-1, size, tagname=name)``).  A mapping lives while any
    process holds a handle or view of it; there is nothing to unlink."""

    name_max = 200
    # a backslash separates a kernel namespace (Local, Global) from a name
    bad_chars = "/\\\0"
    persistent = False

    def __init__(self, winapi, mmap_new=mmap.mmap):
        self._w = winapi
        self._mmap = mmap_new     # mmap.mmap; replaceable for tests

    def create(self, name, nbytes):
        w = self._w
        size = max(nbytes, 1)
        # The handle reserves the name until the mmap holds its own.
        h = w.CreateFileMapping(w.INVALID_HANDLE_VALUE, w.NULL, w.PAGE_READWRITE,
                                (size >> 32) & 0xFFFFFFFF, size & 0xFFFFFFFF, name)
        try:
            if w.GetLastError() == w.ERROR_ALREADY_EXISTS:
                raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), name)
            return self._mmap(-1, size, tagname=name), size
        finally:
            w.CloseHandle(h)

    def open(self, name):
        w = self._w
        # OpenFileMapping fails for a name nobody holds (FileNotFoundError:
        # mmap's tagname alone would create a new mapping); its handle
        # keeps the mapping alive until the mmap holds it too.
        h = w.OpenFileMapping(w.FILE_MAP_READ, False, name)
        try:
            view = w.MapViewOfFile(h, w.FILE_MAP_READ, 0, 0, 0)
            try:
                size = w.VirtualQuerySize(view)    # whole pages
            finally:
                w.UnmapViewOfFile(view)
            return self._mmap(-1, size, tagname=name), size
        finally:
            w.CloseHandle(h)

    def unlink(self, name):
        pass                    # the mapping goes with its last handle


def _shm():
    """The named-shared-memory backend of this platform."""
    if sys.platform == "win32":
        import _winapi
        return _WindowsShm(_winapi)
    try:
        import _posixshmem
    except ImportError:
        raise NotImplementedError(
            "pybuf's named shared memory needs POSIX shm_open or Windows, "
            "and this platform has neither: use multiprocessing.shared_memory."
            "SharedMemory and pybuf.asbuffer(shm.buf) instead") from None
    return _PosixShm(_posixshmem)


def _check_name(shm, name):
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, not {type(name).__name__}")
    if (not name or any(c in name for c in shm.bad_chars)
            or len(name.encode("utf-8", "surrogateescape")) > shm.name_max):
        no = " or ".join(repr(c) for c in shm.bad_chars if c != "\0")
        raise ValueError(f"invalid shared memory name {name!r}: 1 to "
                         f"{shm.name_max} bytes, no {no}")
    return name


class SharedBuffer(_Mapped):
    """A Buffer over named shared memory, made by :func:`shared` (the
    creator) or :func:`attach`.

    Pickling a SharedBuffer sends its name, shape and format, not its
    data: the receiving process attaches to the same memory (the segment
    must still be linked then -- on Windows, still mapped by some
    process).  :func:`copy.copy` and
    :func:`copy.deepcopy` give an ordinary owned Buffer with the same items.

    Attributes
    ----------
    name : str
        The segment's name, for :func:`attach` in another process.
    creator : bool
        Whether this process created the segment.
    """

    name: str
    creator: bool

    def unlink(self) -> None:
        """Remove the segment's name, so that no process can attach any
        more.  Memory already mapped stays valid until unmapped everywhere;
        the system frees it then.  Call once, in one process (usually the
        creator) when every process that needs it has attached.

        On Windows a no-op, as in :mod:`multiprocessing.shared_memory`: a
        named mapping has no name apart from its handles and views, and
        goes (name and memory) when the last process closes its own.

        Raises
        ------
        FileNotFoundError
            Another process already unlinked the name.
        """
        if self._unlinked:
            return
        shm = _shm()
        self._unlinked = True
        _LINKED.pop(self.name, None)
        shm.unlink(self.name)

    def __exit__(self, *exc):
        # The creator's with-block owns the segment: unlink, then unmap.
        if self.creator:
            self.unlink()
        self.close()
        return False

    def __reduce_ex__(self, protocol):
        self._check_open()
        return attach, (self.name, self.shape, self.format)

    # Pickling shares; copying must not: copy.copy / deepcopy give an owned
    # Buffer with the same items.
    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo):
        return self.copy()

    def _check_open(self):
        if self.released:
            raise ValueError("operation on a closed SharedBuffer")

    def __repr__(self):
        return (f"<pybuf.SharedBuffer name={self.name!r} "
                f"{'creator' if self.creator else 'attached'}: "
                f"{Buffer.__repr__(self)}>")


def _check_size(name, size, nbytes):
    if nbytes > size:
        raise ValueError(f"shared memory {name!r} has {size} bytes, "
                         f"fewer than the {nbytes} asked for")


def shared(shape: Shape, format: str = "B", *, name: str | None = None) -> SharedBuffer:
    """A zero-filled Buffer in a new named shared-memory segment.

    Another process maps the same memory with ``attach(b.name, shape,
    format)`` (or receives ``b`` pickled, which sends only the name); writes
    in either process are seen in the other, without copies.

    Parameters
    ----------
    shape : int or tuple of int
    format : str
    name : str, optional
        The segment's name (no ``/``); by default a fresh random one.

    Returns
    -------
    SharedBuffer
        With ``creator`` True.

    Raises
    ------
    FileExistsError
        A segment with this name exists.
    ValueError
        A bad shape, format or name (1 to 200 bytes, 30 on macOS; no
        ``/``, and on Windows no ``\\``).
    NotImplementedError
        The platform has neither POSIX shared memory nor Windows' named
        file mappings.

    Notes
    -----
    Unlinking is explicit: call ``b.unlink()`` when every process that needs
    the segment has attached, or use ``with pybuf.shared(...) as b:``, which
    unlinks and unmaps at the end of the block.  Memory stays mapped in each
    process until its Buffers and their exports are gone (or ``close()``).
    As a safety net, segments the creating process never unlinked are
    unlinked when it exits normally; a killed process leaves them in
    ``/dev/shm``.

    On Windows the segment is a named file mapping backed by the paging
    file (as :mod:`multiprocessing.shared_memory` makes it): it lives while
    any process maps it, and disappears with the last mapping, unlinked or
    not -- a creator that closes its Buffer before another process has
    attached ends it.  ``unlink()`` does nothing there.

    Examples
    --------
    >>> import pybuf
    >>> with pybuf.shared((2, 2), "i") as b:
    ...     other = pybuf.attach(b.name, (2, 2), "i")   # e.g. another process
    ...     other[0, 1] = 5
    ...     print(b[0, 1])
    ...     other.close()
    5
    """
    global _atexit_registered
    shape, nbytes = _shape_and_nbytes(shape, format)
    shm = _shm()
    name = _check_name(shm, name) if name is not None else "pybuf_" + secrets.token_hex(8)
    mm, _ = shm.create(name, nbytes)
    if shm.persistent:
        _LINKED[name] = os.getpid()
        if not _atexit_registered:
            atexit.register(_unlink_leftovers)
            _atexit_registered = True
    try:
        b = _over(SharedBuffer, mm, 0, nbytes, format, shape, True)
    except BaseException:
        # mm is unmapped when the traceback lets go of it.
        _unlink_name(name)
        raise
    b._mmap, b.name, b.creator, b._unlinked = mm, name, True, False
    return b


def _unlink_name(name):
    _LINKED.pop(name, None)
    _shm().unlink(name)


def attach(name: str, shape: Shape, format: str = "B") -> SharedBuffer:
    """A Buffer over an existing named shared-memory segment.

    Parameters
    ----------
    name : str
        As given by the creator's ``b.name``.
    shape : int or tuple of int
    format : str
        Must describe no more bytes than the segment has.

    Returns
    -------
    SharedBuffer
        With ``creator`` False; writable.  Unlinking stays the creator's
        job, though ``unlink()`` works from any process.

    Raises
    ------
    FileNotFoundError
        No segment of that name (never created, or already unlinked).
    ValueError
        The segment is smaller than ``shape`` and ``format`` need (on
        Windows, its size in whole pages: a few bytes past the creator's
        size may map).
    NotImplementedError
        The platform has neither POSIX shared memory nor Windows' named
        file mappings.
    """
    shape, nbytes = _shape_and_nbytes(shape, format)
    shm = _shm()
    mm, size = shm.open(_check_name(shm, name))
    try:
        _check_size(name, size, nbytes)
    except ValueError:
        mm.close()
        raise
    b = _over(SharedBuffer, mm, 0, nbytes, format, shape, True)
    b._mmap, b.name, b.creator, b._unlinked = mm, name, False, False
    return b
