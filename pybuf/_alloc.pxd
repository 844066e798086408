# Private to pybuf (not an ABI): the allocator of the blocks Buffers own.

# malloc (calloc when ``zero``) ``nbytes`` aligned to ``align``: returns the
# block to give to _free_block and stores the aligned address in ``data``.
# MemoryError, OverflowError.  The GIL must be held (it guards the caches).
cdef void *_alloc_block(Py_ssize_t nbytes, Py_ssize_t align, bint zero,
                        char **data) except NULL
# Free (or cache) a block of _alloc_block, with the same nbytes and align.
cdef void _free_block(void *mem, Py_ssize_t nbytes, Py_ssize_t align) noexcept
# The owner of memory C code hands over (from_pointer): an object that
# calls ``deleter(ctx)`` once, when it is collected (deleter may be NULL).
cdef object _owner_of(void (*deleter)(void *ctx) noexcept nogil, void *ctx)
