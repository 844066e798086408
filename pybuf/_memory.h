/* _memory.h -- what pybuf's allocator (pybuf/buffer.pyx) needs from the C
 * library beyond malloc/free, and the overflow check of its size
 * arithmetic. */
#ifndef PYBUF_MEMORY_H
#define PYBUF_MEMORY_H

#include <stdlib.h>
#include <stdint.h>
#include <Python.h>
#include "_compiler.h"
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#endif

/* Give the heap's free pages back to the system.  glibc keeps freed blocks
   below its mmap threshold (which grows to 32 MiB as large blocks are freed)
   in its heap, so after free() alone the resident size of a process may not
   shrink; malloc_trim(0) releases every free page it can.  Elsewhere the
   allocator decides, and this does nothing. */
static inline void pybuf_malloc_trim(void) {
#if defined(__GLIBC__)
    (void)malloc_trim(0);
#endif
}

/* Ask for transparent huge pages on large owned blocks: first touch of a
   64 MiB buffer costs about half as much.  A hint only; ignored where the
   platform has no such advice. */
static inline void pybuf_advise_huge(void *p, size_t n) {
#if defined(MADV_HUGEPAGE)
    const size_t huge = (size_t)2 << 20;
    uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(uintptr_t)(huge - 1);
    uintptr_t hi = ((uintptr_t)p + n) & ~(uintptr_t)(huge - 1);
    if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
    (void)p; (void)n;
#endif
}

/* a * b into *r; nonzero when it overflows Py_ssize_t.  One multiply with
   the compiler's overflow check instead of a 64-bit division.  Elsewhere
   (MSVC; or -DPYBUF_NO_BUILTINS, which the tests use to run this path) a
   division per sign case: a factor may be negative (reversed strides), and
   C's division truncates toward zero, which makes each bound exact for
   integer factors. */
static inline int pybuf_mul_overflow(Py_ssize_t a, Py_ssize_t b, Py_ssize_t *r) {
#if PYBUF_GNUC
    return __builtin_mul_overflow(a, b, r);
#else
    if (a != 0 && b != 0) {
        int over;
        if (a > 0)
            over = b > 0 ? a > PY_SSIZE_T_MAX / b : b < PY_SSIZE_T_MIN / a;
        else
            over = b > 0 ? a < PY_SSIZE_T_MIN / b : a < PY_SSIZE_T_MAX / b;
        if (over) return 1;
    }
    *r = a * b;
    return 0;
#endif
}

#endif
