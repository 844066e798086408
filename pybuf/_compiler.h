/* _compiler.h -- what pybuf's C needs to know about the compiler, in one
 * place.  Included by _simd.h and _memory.h.
 *
 * PYBUF_GNUC: GCC's builtins and attributes are there (GCC, clang).  Off
 * under MSVC -- and with -DPYBUF_NO_BUILTINS, so that the portable
 * fallbacks (overflow check, byte swaps, no prefetch) are built and tested
 * on this machine too.  On GCC, -DPYBUF_NO_BUILTINS also leaves out what
 * has no portable spelling there: the target attributes of the AVX2 and
 * AVX-512 paths (SSE2 only) and, on POSIX, the worker's atomics (one
 * thread); MSVC has both (see _simd.c), and so has mingw-w64's Win32
 * thread layer.
 *
 * -DPYBUF_USE_CPUID (x86, _simd.c): ask the CPU with CPUID and XGETBV,
 * as MSVC builds do, instead of __builtin_cpu_supports. */
#ifndef PYBUF_COMPILER_H
#define PYBUF_COMPILER_H

#if (defined(__GNUC__) || defined(__clang__)) && !defined(PYBUF_NO_BUILTINS)
#define PYBUF_GNUC 1
#else
#define PYBUF_GNUC 0
#endif

/* C99's restrict: MSVC's C compiler spells it __restrict */
#if defined(_MSC_VER)
#define PYBUF_RESTRICT __restrict
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 199901L
#define PYBUF_RESTRICT restrict
#elif defined(__GNUC__) || defined(__clang__)
#define PYBUF_RESTRICT __restrict__
#else
#define PYBUF_RESTRICT
#endif

#endif
