/* pybuf/_simd.h -- the C side of pybuf.kernels: SIMD kernels chosen at run
 * time, streaming (non-temporal) copies and fills, cache sizes, and the
 * two-thread runner.  Implemented in _simd.c (baseline and dispatch) and
 * _simd_isa.h (the kernels, compiled once per instruction set).
 *
 * Dispatch: pybuf_simd_select() points pybuf_simd once, at import of
 * pybuf.kernels, at the table of the widest path the CPU (and OS) supports, or the
 * one named by the environment variable PYBUF_SIMD.  Every path computes
 * the same results except for the order of float additions in sum and dot
 * (see _simd_isa.h).  The file is built with the baseline flags only; the
 * wider paths use __attribute__((target(...))) (GCC, clang) or nothing
 * (MSVC takes any instruction set's intrinsics anywhere), so the wheel
 * stays portable.  The CPU is asked with __builtin_cpu_supports, or with
 * CPUID and XGETBV under MSVC (and -DPYBUF_USE_CPUID).
 */
#ifndef PYBUF_SIMD_H
#define PYBUF_SIMD_H

#include <stddef.h>
#include <stdint.h>

#include "_compiler.h"

#if PYBUF_GNUC
#define pybuf_prefetch(p) __builtin_prefetch((p), 0, 3)
#define pybuf_prefetch_nta(p) __builtin_prefetch((p), 0, 0)
#define pybuf_bswap16(x) __builtin_bswap16(x)
#define pybuf_bswap32(x) __builtin_bswap32(x)
#define pybuf_bswap64(x) __builtin_bswap64(x)
#else
#define pybuf_prefetch(p) ((void)(p))
#define pybuf_prefetch_nta(p) ((void)(p))
static inline uint16_t pybuf_bswap16(uint16_t x) { return (uint16_t)((x >> 8) | (x << 8)); }
static inline uint32_t pybuf_bswap32(uint32_t x) {
    return (x >> 24) | ((x >> 8) & 0xff00u) | ((x << 8) & 0xff0000u) | (x << 24); }
static inline uint64_t pybuf_bswap64(uint64_t x) {
    return ((uint64_t)pybuf_bswap32((uint32_t)x) << 32) | pybuf_bswap32((uint32_t)(x >> 32)); }
#endif

/* Prefetch (non-temporal hint) what a streaming loop will read PYBUF_AHEAD
   bytes after p.  A prefetch never faults, so the address may lie past the
   end of the data; it is formed as an integer, since pointer arithmetic
   past the end is undefined in C.  512 measured best for 2-thread copies
   and reductions (256-768 within 3 %). */
#define PYBUF_AHEAD 512
#define pybuf_prefetch_ahead(p) \
    pybuf_prefetch_nta((const void *)((uintptr_t)(p) + PYBUF_AHEAD))

/* ---- Kernels with one version per SIMD path ----------------------------
   Contiguous, native, aligned operands.  ``nta``: the operands are larger
   than the caches (prefetch them with the non-temporal hint).  min/max set
   *nan when they saw a NaN (the value returned is then meaningless). */
typedef struct {
    const char *name;
    double (*sum_f64)(const double *p, ptrdiff_t n, int nta);
    double (*sum_f32)(const float *p, ptrdiff_t n, int nta);
    double (*min_f64)(const double *p, ptrdiff_t n, int *nan, int nta);
    double (*max_f64)(const double *p, ptrdiff_t n, int *nan, int nta);
    float (*min_f32)(const float *p, ptrdiff_t n, int *nan, int nta);
    float (*max_f32)(const float *p, ptrdiff_t n, int *nan, int nta);
    double (*dot_f64)(const double *a, const double *b, ptrdiff_t n, int nta);
    double (*dot_f32)(const float *a, const float *b, ptrdiff_t n, int nta);
    void (*cvt_f64_f32)(float *d, const double *s, ptrdiff_t n);
    void (*cvt_f32_f64)(double *d, const float *s, ptrdiff_t n);
    /* d may equal s (in place); otherwise no overlap */
    void (*bswap16)(uint16_t *d, const uint16_t *s, ptrdiff_t n);
    void (*bswap32)(uint32_t *d, const uint32_t *s, ptrdiff_t n);
    void (*bswap64)(uint64_t *d, const uint64_t *s, ptrdiff_t n);
    /* d[i] = s[2 * i], no overlap */
    void (*take2_u32)(uint32_t *d, const uint32_t *s, ptrdiff_t n);
    void (*take2_u64)(uint64_t *d, const uint64_t *s, ptrdiff_t n);
    int (*equal_f64)(const double *a, const double *b, ptrdiff_t n);
    int (*equal_f32)(const float *a, const float *b, ptrdiff_t n);
    /* nbytes (a multiple of isz) of copies of an isz-byte item, isz 2/4/8;
       d need not be aligned */
    void (*fill)(char *d, size_t nbytes, const char *item, size_t isz);
} pybuf_simd_table;

/* The table in use: the baseline path until pybuf_simd_select() runs. */
extern const pybuf_simd_table *pybuf_simd;

/* Paths; names "generic" (plain C: every CPU but x86), "sse2", "avx2"
   (with FMA), "avx512" (F, BW, DQ, VL), "neon" (aarch64's Advanced SIMD).
   The widest a machine runs comes last among its paths. */
enum { PYBUF_SIMD_GENERIC, PYBUF_SIMD_SSE2, PYBUF_SIMD_AVX2,
       PYBUF_SIMD_AVX512, PYBUF_SIMD_NEON, PYBUF_SIMD_NPATHS };

/* The name of path k, or NULL when this build has no path k. */
const char *pybuf_simd_path_name(int k);
/* Whether this CPU and OS can run path k. */
int pybuf_simd_path_supported(int k);
/* Use the path called ``name`` (NULL or "": the widest supported).
   0: done; -1: no such path; -2: the CPU cannot run it. */
int pybuf_simd_select(const char *name);

/* ---- Caches ------------------------------------------------------------ */
/* Size in bytes of the data (or unified) cache of a level (1-3), of the
   last level for 0; 0 when unknown.  From sysconf, else /sys. */
size_t pybuf_cache_size(int level);
/* Destination size from which copies and fills use non-temporal stores,
   and reductions non-temporal prefetch: see _simd.c. */
size_t pybuf_default_stream_bytes(void);

/* ---- Streaming stores (SSE2 on x86; plain memcpy elsewhere) ----------- */
void pybuf_sfence(void);
void pybuf_stream_copy_nf(char *dst, const char *src, size_t n);
void pybuf_stream_copy(char *dst, const char *src, size_t n);
void pybuf_stream_fill(char *dst, size_t n, const char *item, size_t itemsize);

/* ---- Threads and platform ------------------------------------------------ */
typedef void (*pybuf_task)(void *);
/* Parts a two-thread job is cut into: enough that the thread which runs
   faster (the other core may be busy) takes more of them. */
#define PYBUF_PARTS 8
/* Run task(args + i * argsize) for i < nparts, on this thread and the
   persistent worker thread (POSIX threads or Win32 threads, see _simd.c;
   elsewhere all on this thread); return when all are done.
   Parts must be independent; which thread runs which part varies.
   ``nbytes``: the bytes the job reads or writes (its main operand), which
   decide whether a sleeping worker is worth waking.  ``large``: the job
   takes milliseconds (data beyond the caches), so the worker is worth
   using even when other processes keep the cores busy (it gets its share
   of a core); smaller jobs use it only while a core is free. */
void pybuf_run_parts(pybuf_task task, void *args, size_t argsize, ptrdiff_t nparts,
                     size_t nbytes, int large);
/* 0: turn the worker off (pybuf_run_parts then runs every part on the
   calling thread); 1: use it while another core is free (the default);
   2: use it always.  Returns the previous setting. */
int pybuf_worker_enable(int on);
/* Whether the worker thread exists (in this process). */
int pybuf_worker_running(void);
/* Stop and join the worker, unless a call is using it (also at exit). */
void pybuf_worker_stop(void);

#endif /* PYBUF_SIMD_H */
