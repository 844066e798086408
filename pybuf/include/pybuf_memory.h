/* pybuf's allocator: what it needs from the C library beyond malloc/free. */
#ifndef PYBUF_MEMORY_H
#define PYBUF_MEMORY_H

#include <stdlib.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

/* Give the heap's free pages back to the system.  glibc keeps freed blocks
   below its mmap threshold (which grows to 32 MiB as large blocks are freed)
   in its heap, so after free() alone the resident size of a process may not
   shrink; malloc_trim(0) releases every free page it can.  Elsewhere the
   allocator decides, and this does nothing. */
static void pybuf_malloc_trim(void) {
#if defined(__GLIBC__)
    (void)malloc_trim(0);
#endif
}

#endif
