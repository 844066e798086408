/* pybuf/_simd.c -- see _simd.h.  Built with the baseline flags only: the
 * AVX2 and AVX-512 kernels are compiled with __attribute__((target(...)))
 * (GCC, clang) or as they are (MSVC, which allows any instruction set's
 * intrinsics in any function), and only called after the CPU was
 * checked. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE             /* sched_getcpu */
#endif
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <stdint.h>

#include "_simd.h"

/* -DPYBUF_GENERIC_ONLY builds only the plain-C path, to check it on x86 */
#if (defined(__x86_64__) || defined(_M_X64) || (defined(__i386__) && defined(__SSE2__))) \
    && !defined(PYBUF_GENERIC_ONLY)
#define PYBUF_X86 1
#include <immintrin.h>
#else
#define PYBUF_X86 0
#endif

/* aarch64: Advanced SIMD is part of the architecture (no run-time check) */
#if defined(__aarch64__) && defined(__ARM_NEON) && !defined(PYBUF_GENERIC_ONLY)
#define PYBUF_NEON 1
#include <arm_neon.h>
#else
#define PYBUF_NEON 0
#endif

/* Run-time dispatch among the x86 paths: the wider paths are compiled with
   target attributes (GCC, clang, clang-cl) or plainly (MSVC); without
   either (-DPYBUF_NO_BUILTINS on GCC) only the SSE2 baseline exists. */
#if PYBUF_X86 && (PYBUF_GNUC || defined(_MSC_VER))
#define PYBUF_DISPATCH 1
#else
#define PYBUF_DISPATCH 0
#endif
#if PYBUF_DISPATCH && PYBUF_GNUC
#define PYBUF_TARGET_AVX2 __attribute__((target("avx2,fma")))
#elif PYBUF_DISPATCH
#define PYBUF_TARGET_AVX2
#endif
/* How the CPU is asked what it runs: __builtin_cpu_supports (GCC, clang),
   or CPUID and XGETBV where that builtin does not exist (MSVC, clang-cl)
   -- and with -DPYBUF_USE_CPUID, so that this path runs on Linux too. */
#if PYBUF_DISPATCH && (defined(_MSC_VER) || defined(PYBUF_USE_CPUID))
#define PYBUF_CPUID 1
#else
#define PYBUF_CPUID 0
#endif

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

#if PYBUF_DISPATCH && !PYBUF_GNUC
#define PYBUF_TARGET_AVX512     /* MSVC: no attribute needed (nor known) */
#elif PYBUF_DISPATCH && defined(__clang__)
/* clang takes no tuning options in a target string: the vector width its
 * auto-vectoriser may use is an attribute of its own. */
#define PYBUF_TARGET_AVX512 __attribute__((target( \
    "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma"), min_vector_width(512)))
#elif PYBUF_DISPATCH
/* GCC: loops it vectorises itself use the 512-bit registers too (its
 * default for AVX-512 targets is 256-bit vectors). */
#define PYBUF_TARGET_AVX512 __attribute__((target( \
    "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,prefer-vector-width=512")))
#endif

/* ---- The paths ----------------------------------------------------------- */

#if !PYBUF_X86
/* generic: plain C, one item per "vector" */
#define PYBUF_SFX(name) name##_generic
#define PYBUF_TARGET
#define PYBUF_PATH "generic"
#define VW 1
#define VD double
#define VM int
#define VD_ZERO() 0.0
#define VD_SET1(x) (x)
#define VD_LOAD(p) (*(p))
#define VD_LOADF(p) ((double)*(p))
#define VD_STORE(p, v) (*(p) = (v))
#define VD_ADD(a, b) ((a) + (b))
#define VD_FMA(a, b, c) ((a) * (b) + (c))
#define VD_MIN(a, b) ((a) < (b) ? (a) : (b))
#define VD_MAX(a, b) ((a) > (b) ? (a) : (b))
#define VD_UNORD(a, b) (((a) != (a)) | ((b) != (b)))
#define VM_ZERO() 0
#define VM_OR(a, b) ((a) | (b))
#define VM_ANY(m) (m)
#define VFW 1
#define VF float
#define VFM int
#define VF_SET1(x) (x)
#define VF_LOAD(p) (*(p))
#define VF_STORE(p, v) (*(p) = (v))
#define VF_MIN VD_MIN
#define VF_MAX VD_MAX
#define VF_UNORD VD_UNORD
#define VFM_ZERO VM_ZERO
#define VFM_OR VM_OR
#define VFM_ANY VM_ANY
#include "_simd_isa.h"
#endif

#if PYBUF_NEON
/* neon: aarch64's Advanced SIMD, 128-bit vectors.  min/max select with a
   compare, as x86's minpd and the plain-C path do (``a < b ? a : b``):
   NEON's own vminq/vmaxq would turn a NaN into the result and order -0.0
   before 0.0, where the other paths keep the earlier of two equal items. */
#define PYBUF_SFX(name) name##_neon
#define PYBUF_TARGET
#define PYBUF_PATH "neon"
#define VW 2
#define VD float64x2_t
#define VM uint64x2_t
#define VD_ZERO() vdupq_n_f64(0.0)
#define VD_SET1(x) vdupq_n_f64(x)
#define VD_LOAD(p) vld1q_f64(p)
#define VD_LOADF(p) vcvt_f64_f32(vld1_f32(p))
#define VD_STORE(p, v) vst1q_f64(p, v)
#define VD_ADD(a, b) vaddq_f64(a, b)
#define VD_FMA(a, b, c) vfmaq_f64(c, a, b)
#define VD_MIN(a, b) vbslq_f64(vcltq_f64(a, b), a, b)
#define VD_MAX(a, b) vbslq_f64(vcgtq_f64(a, b), a, b)
#define VD_UNORD(a, b) veorq_u64(vandq_u64(vceqq_f64(a, a), vceqq_f64(b, b)), \
                                 vdupq_n_u64(~(uint64_t)0))
#define VM_ZERO() vdupq_n_u64(0)
#define VM_OR(a, b) vorrq_u64(a, b)
#define VM_ANY(m) (vmaxvq_u32(vreinterpretq_u32_u64(m)) != 0)
#define VFW 4
#define VF float32x4_t
#define VFM uint32x4_t
#define VF_SET1(x) vdupq_n_f32(x)
#define VF_LOAD(p) vld1q_f32(p)
#define VF_STORE(p, v) vst1q_f32(p, v)
#define VF_MIN(a, b) vbslq_f32(vcltq_f32(a, b), a, b)
#define VF_MAX(a, b) vbslq_f32(vcgtq_f32(a, b), a, b)
#define VF_UNORD(a, b) vmvnq_u32(vandq_u32(vceqq_f32(a, a), vceqq_f32(b, b)))
#define VFM_ZERO() vdupq_n_u32(0)
#define VFM_OR(a, b) vorrq_u32(a, b)
#define VFM_ANY(m) (vmaxvq_u32(m) != 0)
#include "_simd_isa.h"
#endif

#if PYBUF_X86
/* sse2: the x86-64 baseline */
#define PYBUF_SFX(name) name##_sse2
#define PYBUF_TARGET
#define PYBUF_PATH "sse2"
#define VW 2
#define VD __m128d
#define VM __m128d
#define VD_ZERO() _mm_setzero_pd()
#define VD_SET1(x) _mm_set1_pd(x)
#define VD_LOAD(p) _mm_loadu_pd(p)
#define VD_LOADF(p) _mm_cvtps_pd(_mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)(p))))
#define VD_STORE(p, v) _mm_storeu_pd(p, v)
#define VD_ADD(a, b) _mm_add_pd(a, b)
#define VD_FMA(a, b, c) _mm_add_pd(_mm_mul_pd(a, b), c)
#define VD_MIN(a, b) _mm_min_pd(a, b)
#define VD_MAX(a, b) _mm_max_pd(a, b)
#define VD_UNORD(a, b) _mm_cmpunord_pd(a, b)
#define VM_ZERO() _mm_setzero_pd()
#define VM_OR(a, b) _mm_or_pd(a, b)
#define VM_ANY(m) (_mm_movemask_pd(m) != 0)
#define VFW 4
#define VF __m128
#define VFM __m128
#define VF_SET1(x) _mm_set1_ps(x)
#define VF_LOAD(p) _mm_loadu_ps(p)
#define VF_STORE(p, v) _mm_storeu_ps(p, v)
#define VF_MIN(a, b) _mm_min_ps(a, b)
#define VF_MAX(a, b) _mm_max_ps(a, b)
#define VF_UNORD(a, b) _mm_cmpunord_ps(a, b)
#define VFM_ZERO() _mm_setzero_ps()
#define VFM_OR(a, b) _mm_or_ps(a, b)
#define VFM_ANY(m) (_mm_movemask_ps(m) != 0)
#include "_simd_isa.h"
#endif

#if PYBUF_DISPATCH
/* avx2: AVX2 with FMA (x86-64-v3) */
#define PYBUF_SFX(name) name##_avx2
#define PYBUF_TARGET PYBUF_TARGET_AVX2
#define PYBUF_PATH "avx2"
#define VW 4
#define VD __m256d
#define VM __m256d
#define VD_ZERO() _mm256_setzero_pd()
#define VD_SET1(x) _mm256_set1_pd(x)
#define VD_LOAD(p) _mm256_loadu_pd(p)
#define VD_LOADF(p) _mm256_cvtps_pd(_mm_loadu_ps(p))
#define VD_STORE(p, v) _mm256_storeu_pd(p, v)
#define VD_ADD(a, b) _mm256_add_pd(a, b)
#define VD_FMA(a, b, c) _mm256_fmadd_pd(a, b, c)
#define VD_MIN(a, b) _mm256_min_pd(a, b)
#define VD_MAX(a, b) _mm256_max_pd(a, b)
#define VD_UNORD(a, b) _mm256_cmp_pd(a, b, _CMP_UNORD_Q)
#define VM_ZERO() _mm256_setzero_pd()
#define VM_OR(a, b) _mm256_or_pd(a, b)
#define VM_ANY(m) (_mm256_movemask_pd(m) != 0)
#define VFW 8
#define VF __m256
#define VFM __m256
#define VF_SET1(x) _mm256_set1_ps(x)
#define VF_LOAD(p) _mm256_loadu_ps(p)
#define VF_STORE(p, v) _mm256_storeu_ps(p, v)
#define VF_MIN(a, b) _mm256_min_ps(a, b)
#define VF_MAX(a, b) _mm256_max_ps(a, b)
#define VF_UNORD(a, b) _mm256_cmp_ps(a, b, _CMP_UNORD_Q)
#define VFM_ZERO() _mm256_setzero_ps()
#define VFM_OR(a, b) _mm256_or_ps(a, b)
#define VFM_ANY(m) (_mm256_movemask_ps(m) != 0)
#include "_simd_isa.h"
/* avx512: F, BW, DQ and VL (x86-64-v4), 512-bit vectors */
#define PYBUF_SFX(name) name##_avx512
#define PYBUF_TARGET PYBUF_TARGET_AVX512
#define PYBUF_PATH "avx512"
#define VW 8
#define VD __m512d
#define VM __mmask8
#define VD_ZERO() _mm512_setzero_pd()
#define VD_SET1(x) _mm512_set1_pd(x)
#define VD_LOAD(p) _mm512_loadu_pd(p)
#define VD_LOADF(p) _mm512_cvtps_pd(_mm256_loadu_ps(p))
#define VD_STORE(p, v) _mm512_storeu_pd(p, v)
#define VD_ADD(a, b) _mm512_add_pd(a, b)
#define VD_FMA(a, b, c) _mm512_fmadd_pd(a, b, c)
#define VD_MIN(a, b) _mm512_min_pd(a, b)
#define VD_MAX(a, b) _mm512_max_pd(a, b)
#define VD_UNORD(a, b) _mm512_cmp_pd_mask(a, b, _CMP_UNORD_Q)
#define VM_ZERO() ((__mmask8)0)
#define VM_OR(a, b) ((__mmask8)((a) | (b)))
#define VM_ANY(m) ((m) != 0)
#define VFW 16
#define VF __m512
#define VFM __mmask16
#define VF_SET1(x) _mm512_set1_ps(x)
#define VF_LOAD(p) _mm512_loadu_ps(p)
#define VF_STORE(p, v) _mm512_storeu_ps(p, v)
#define VF_MIN(a, b) _mm512_min_ps(a, b)
#define VF_MAX(a, b) _mm512_max_ps(a, b)
#define VF_UNORD(a, b) _mm512_cmp_ps_mask(a, b, _CMP_UNORD_Q)
#define VFM_ZERO() ((__mmask16)0)
#define VFM_OR(a, b) ((__mmask16)((a) | (b)))
#define VFM_ANY(m) ((m) != 0)
#include "_simd_isa.h"
#endif /* PYBUF_DISPATCH */

/* ---- Dispatch ------------------------------------------------------------ */

static const pybuf_simd_table *const pybuf_paths[PYBUF_SIMD_NPATHS] = {
#if PYBUF_X86
    NULL, &pybuf_table_sse2,
#else
    &pybuf_table_generic, NULL,
#endif
#if PYBUF_DISPATCH
    &pybuf_table_avx2, &pybuf_table_avx512,
#else
    NULL, NULL,
#endif
#if PYBUF_NEON
    &pybuf_table_neon,
#else
    NULL,
#endif
};

#if PYBUF_X86
const pybuf_simd_table *pybuf_simd = &pybuf_table_sse2;
#else
const pybuf_simd_table *pybuf_simd = &pybuf_table_generic;
#endif

const char *pybuf_simd_path_name(int k) {
    if (k < 0 || k >= PYBUF_SIMD_NPATHS || pybuf_paths[k] == NULL) return NULL;
    return pybuf_paths[k]->name;
}

/* What each path needs beyond the baseline, in one place: the CPU's
   features and the OS's saving of the wider registers (XSAVE state). */
enum { PYBUF_CPU_AVX2 = 1, PYBUF_CPU_FMA = 2, PYBUF_CPU_AVX512F = 4,
       PYBUF_CPU_AVX512BW = 8, PYBUF_CPU_AVX512DQ = 16, PYBUF_CPU_AVX512VL = 32 };
#define PYBUF_NEEDS_AVX2 (PYBUF_CPU_AVX2 | PYBUF_CPU_FMA)
#define PYBUF_NEEDS_AVX512 (PYBUF_NEEDS_AVX2 | PYBUF_CPU_AVX512F | PYBUF_CPU_AVX512BW \
                            | PYBUF_CPU_AVX512DQ | PYBUF_CPU_AVX512VL)
static const unsigned pybuf_path_needs[PYBUF_SIMD_NPATHS] = {
    0, 0, PYBUF_NEEDS_AVX2, PYBUF_NEEDS_AVX512, 0 };

#if PYBUF_CPUID
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>             /* __cpuidex, _xgetbv */
static void pybuf_cpuid(unsigned leaf, unsigned sub, unsigned r[4]) {
    int v[4];
    __cpuidex(v, (int)leaf, (int)sub);
    r[0] = (unsigned)v[0]; r[1] = (unsigned)v[1]; r[2] = (unsigned)v[2]; r[3] = (unsigned)v[3];
}
static unsigned long long pybuf_xgetbv0(void) { return _xgetbv(0); }
#else
#include <cpuid.h>              /* GCC, clang: __cpuid_count */
static void pybuf_cpuid(unsigned leaf, unsigned sub, unsigned r[4]) {
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
}
/* GCC's and clang's _xgetbv need the xsave target: the instruction itself */
static unsigned long long pybuf_xgetbv0(void) {
    unsigned lo, hi;
    __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}
#endif

/* PYBUF_CPU_* from CPUID leaves 1 and 7 and XCR0, as libgcc's
   __builtin_cpu_supports reads them: AVX-class features count only when
   the OS saves the YMM (XCR0 bits 1-2) or also the ZMM and mask
   registers (bits 5-7). */
static unsigned pybuf_cpu_features(void) {
    unsigned r[4], max, ecx1, ebx7, f = 0;
    unsigned long long xcr0 = 0;
    pybuf_cpuid(0, 0, r);
    max = r[0];
    if (max < 1) return 0;
    pybuf_cpuid(1, 0, r);
    ecx1 = r[2];
    if (!(ecx1 & (1u << 27)) || !(ecx1 & (1u << 28)))   /* OSXSAVE, AVX */
        return 0;
    xcr0 = pybuf_xgetbv0();
    if ((xcr0 & 0x6) != 0x6) return 0;                   /* XMM, YMM state */
    if (ecx1 & (1u << 12)) f |= PYBUF_CPU_FMA;
    if (max < 7) return f;
    pybuf_cpuid(7, 0, r);
    ebx7 = r[1];
    if (ebx7 & (1u << 5)) f |= PYBUF_CPU_AVX2;
    if ((xcr0 & 0xe6) == 0xe6) {                         /* opmask, ZMM state */
        if (ebx7 & (1u << 16)) f |= PYBUF_CPU_AVX512F;
        if (ebx7 & (1u << 17)) f |= PYBUF_CPU_AVX512DQ;
        if (ebx7 & (1u << 30)) f |= PYBUF_CPU_AVX512BW;
        if (ebx7 & (1u << 31)) f |= PYBUF_CPU_AVX512VL;
    }
    return f;
}
#elif PYBUF_DISPATCH
/* libgcc / compiler-rt also check that the OS saves the wider registers
   (XGETBV) before reporting AVX or AVX-512. */
static unsigned pybuf_cpu_features(void) {
    unsigned f = 0;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) f |= PYBUF_CPU_AVX2;
    if (__builtin_cpu_supports("fma")) f |= PYBUF_CPU_FMA;
    if (__builtin_cpu_supports("avx512f")) f |= PYBUF_CPU_AVX512F;
    if (__builtin_cpu_supports("avx512bw")) f |= PYBUF_CPU_AVX512BW;
    if (__builtin_cpu_supports("avx512dq")) f |= PYBUF_CPU_AVX512DQ;
    if (__builtin_cpu_supports("avx512vl")) f |= PYBUF_CPU_AVX512VL;
    return f;
}
#else
static unsigned pybuf_cpu_features(void) { return 0; }
#endif

int pybuf_simd_path_supported(int k) {
    unsigned f;
    if (pybuf_simd_path_name(k) == NULL) return 0;
    f = pybuf_cpu_features();
    return (f & pybuf_path_needs[k]) == pybuf_path_needs[k];
}

int pybuf_simd_select(const char *name) {
    int k;
    if (name == NULL || name[0] == '\0') {
        for (k = PYBUF_SIMD_NPATHS - 1; k >= 0; k--)
            if (pybuf_simd_path_supported(k)) break;
        if (k < 0) return -1;     /* unreachable: one baseline always exists */
        pybuf_simd = pybuf_paths[k];
        return 0;
    }
    for (k = 0; k < PYBUF_SIMD_NPATHS; k++) {
        const char *p = pybuf_simd_path_name(k);
        if (p != NULL && strcmp(p, name) == 0) {
            if (!pybuf_simd_path_supported(k)) return -2;
            pybuf_simd = pybuf_paths[k];
            return 0;
        }
    }
    return -1;
}

/* ---- Caches -------------------------------------------------------------- */

/* The size of the data (or unified) cache of ``level`` (1-3), or of the
   highest level for 0, as the operating system reports it; 0 when unknown. */
#if defined(__APPLE__)
#include <sys/sysctl.h>
/* sysctl's hw.l1dcachesize, hw.l2cachesize, hw.l3cachesize (Apple silicon
   has no L3: its L2 is the last level). */
static size_t pybuf_os_cache_size(int level) {
    static const char *const names[] = {"hw.l1dcachesize", "hw.l2cachesize",
                                        "hw.l3cachesize"};
    unsigned char v[8] = {0};
    size_t len = sizeof(v);
    uint64_t v64;
    uint32_t v32;
    if (level == 0) {
        size_t l3 = pybuf_os_cache_size(3);
        return l3 ? l3 : pybuf_os_cache_size(2);
    }
    if (level < 1 || level > 3 || sysctlbyname(names[level - 1], v, &len, NULL, 0) != 0)
        return 0;
    if (len == sizeof(v64)) { memcpy(&v64, v, sizeof(v64)); return (size_t)v64; }
    if (len == sizeof(v32)) { memcpy(&v32, v, sizeof(v32)); return (size_t)v32; }
    return 0;
}
#elif defined(_WIN32)
#include <windows.h>
/* GetLogicalProcessorInformation's cache descriptors (one per cache and
   core; the sizes agree across cores). */
static size_t pybuf_os_cache_size(int level) {
    SYSTEM_LOGICAL_PROCESSOR_INFORMATION *info;
    DWORD len = 0, i;
    size_t best = 0;
    int top = 0;
    GetLogicalProcessorInformation(NULL, &len);
    if (len == 0 || (info = (SYSTEM_LOGICAL_PROCESSOR_INFORMATION *)malloc(len)) == NULL)
        return 0;
    if (GetLogicalProcessorInformation(info, &len)) {
        for (i = 0; i < len / sizeof(*info); i++) {
            const CACHE_DESCRIPTOR *c = &info[i].Cache;
            if (info[i].Relationship != RelationCache || c->Type == CacheInstruction)
                continue;
            if (c->Level == level || (level == 0 && c->Level >= top)) {
                top = c->Level;
                best = c->Size;
            }
        }
    }
    free(info);
    return best;
}
#else
/* /sys/devices/system/cpu/cpu0/cache/index<i>/{level,type,size}: the data
   or unified cache of ``level``, or the highest level for 0. */
static size_t pybuf_os_cache_size(int level) {
    size_t best = 0;
    int i, top = 0;
    for (i = 0; i < 8; i++) {
        char path[96], buf[32];
        FILE *f;
        int lev = 0;
        unsigned long kib = 0;
        char unit = 0;
        snprintf(path, sizeof(path),
                 "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        if ((f = fopen(path, "r")) == NULL) break;
        if (fscanf(f, "%d", &lev) != 1) lev = 0;
        fclose(f);
        snprintf(path, sizeof(path),
                 "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
        if ((f = fopen(path, "r")) == NULL) continue;
        if (fgets(buf, sizeof(buf), f) == NULL) buf[0] = '\0';
        fclose(f);
        if (strncmp(buf, "Instruction", 11) == 0) continue;
        snprintf(path, sizeof(path),
                 "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        if ((f = fopen(path, "r")) == NULL) continue;
        if (fscanf(f, "%lu%c", &kib, &unit) < 1) kib = 0;
        fclose(f);
        if (unit == 'M') kib *= 1024;
        if (lev == level || (level == 0 && lev >= top)) {
            top = lev;
            best = (size_t)kib * 1024;
        }
    }
    return best;
}
#endif

size_t pybuf_cache_size(int level) {
    long v = -1;
#if defined(_SC_LEVEL1_DCACHE_SIZE) && defined(_SC_LEVEL2_CACHE_SIZE) \
    && defined(_SC_LEVEL3_CACHE_SIZE)
    if (level == 1) v = sysconf(_SC_LEVEL1_DCACHE_SIZE);
    else if (level == 2) v = sysconf(_SC_LEVEL2_CACHE_SIZE);
    else if (level == 3) v = sysconf(_SC_LEVEL3_CACHE_SIZE);
    else {
        v = sysconf(_SC_LEVEL3_CACHE_SIZE);
        if (v <= 0) v = sysconf(_SC_LEVEL2_CACHE_SIZE);
    }
#endif
    if (v > 0) return (size_t)v;
    return pybuf_os_cache_size(level);
}

/* Streaming stores skip the cache: they pay only when the destination
   would not stay there for its next reader anyway.  The last-level cache is
   shared (with the other cores and, on a virtual machine, other tenants),
   so a process can count on a fraction of it: an eighth, and never less
   than twice the core's own L2.  glibc's memmove takes a comparable
   fraction of the L3 for the same decision.  Unknown sizes: 4 MiB. */
size_t pybuf_default_stream_bytes(void) {
    size_t llc = pybuf_cache_size(0), l2 = pybuf_cache_size(2), t;
    if (llc == 0) return (size_t)4 << 20;
    t = llc / 8;
    if (t < 2 * l2) t = 2 * l2;
    return t;
}

/* ---- Streaming stores ---------------------------------------------------- */

/* Orders non-temporal stores before whatever the thread does next. */
void pybuf_sfence(void) {
#if PYBUF_X86
    _mm_sfence();
#endif
}

/* Copy n bytes (no overlap) with non-temporal stores: the destination
   bypasses the caches, so a large copy neither reads the destination lines
   first (no read-for-ownership) nor evicts the source.  Only worth it when
   the destination is much larger than the caches.  No closing fence: a run
   of blocks ends with one pybuf_sfence() (pybuf_stream_copy does both for
   one block).  The source is prefetched PYBUF_AHEAD bytes ahead with the
   non-temporal hint: the loads then find their lines already on the way,
   which lifts a cold copy by 5-10 % (hardware prefetchers alone leave the
   bus idle between bursts), and the lines do not displace the caches'
   other contents.  16-byte SSE2 stores: the loop runs at memory speed,
   so wider ones would not help. */
void pybuf_stream_copy_nf(char *dst, const char *src, size_t n) {
#if PYBUF_X86
    size_t head = (16 - ((uintptr_t)dst & 15)) & 15;
    if (head > n) head = n;
    memcpy(dst, src, head);
    dst += head; src += head; n -= head;
    while (n >= 64) {
        __m128i a, b, c, d;
        pybuf_prefetch_ahead(src);
        a = _mm_loadu_si128((const __m128i *)src);
        b = _mm_loadu_si128((const __m128i *)(src + 16));
        c = _mm_loadu_si128((const __m128i *)(src + 32));
        d = _mm_loadu_si128((const __m128i *)(src + 48));
        _mm_stream_si128((__m128i *)dst, a);
        _mm_stream_si128((__m128i *)(dst + 16), b);
        _mm_stream_si128((__m128i *)(dst + 32), c);
        _mm_stream_si128((__m128i *)(dst + 48), d);
        src += 64; dst += 64; n -= 64;
    }
    while (n >= 16) {
        _mm_stream_si128((__m128i *)dst, _mm_loadu_si128((const __m128i *)src));
        src += 16; dst += 16; n -= 16;
    }
#endif
    memcpy(dst, src, n);
}

void pybuf_stream_copy(char *dst, const char *src, size_t n) {
    pybuf_stream_copy_nf(dst, src, n);
    pybuf_sfence();
}

/* Fill n bytes with copies of an item whose size divides 16, with
   non-temporal stores (see pybuf_stream_copy). */
void pybuf_stream_fill(char *dst, size_t n, const char *item, size_t itemsize) {
    unsigned char pat[48];
    size_t j, head, phase;
    for (j = 0; j < sizeof(pat); j++) pat[j] = (unsigned char)item[j % itemsize];
    head = (16 - ((uintptr_t)dst & 15)) & 15;
    if (head > n) head = n;
    memcpy(dst, pat, head);
    dst += head; n -= head;
    phase = head % itemsize;   /* item byte that lands on dst */
#if PYBUF_X86
    {
        __m128i v = _mm_loadu_si128((const __m128i *)(pat + phase));
        while (n >= 64) {
            _mm_stream_si128((__m128i *)dst, v);
            _mm_stream_si128((__m128i *)(dst + 16), v);
            _mm_stream_si128((__m128i *)(dst + 32), v);
            _mm_stream_si128((__m128i *)(dst + 48), v);
            dst += 64; n -= 64;
        }
        while (n >= 16) {
            _mm_stream_si128((__m128i *)dst, v);
            dst += 16; n -= 16;
        }
        _mm_sfence();
    }
#else
    while (n >= 16) { memcpy(dst, pat + phase, 16); dst += 16; n -= 16; }
#endif
    memcpy(dst, pat + phase, n);   /* 16 % itemsize == 0: same phase */
}

/* ---- Threads ------------------------------------------------------------- */

/* pybuf_run_parts runs nparts tasks, task(args + i * argsize), on the
   calling thread and one persistent worker thread, started on first use.
   A thread started per call costs 30-60 us here, as much as the work on
   2-4 MiB of data in L3; handing work to a worker that is still spinning
   costs about a microsecond.

   The caller takes parts from the front, the worker from the back, until
   none is left, so the split adapts to how fast each runs: when the other
   core is busy (or the worker still asleep) the caller does most parts
   itself and waits at most for the one part the worker is in.  Jobs that
   are not ``large`` use the worker only while a core is free (see
   pybuf_core_free and the backoff below).  The worker spins for
   pybuf_worker_spin_ns after its last job (as OpenBLAS's workers do),
   pausing between polls, then sleeps on a condition variable.  One caller
   at a time owns the worker; a concurrent caller runs all its parts
   itself.  Nothing here touches Python objects or the GIL: the caller may
   hold the GIL or not.

   The logic is written once, over a small thread layer with two backends
   (below): POSIX threads with GCC's __atomic builtins, and Win32 (SRW
   locks, condition variables, _beginthreadex, the Interlocked functions),
   which MSVC and mingw-w64 both have.  What differs beyond the primitives:
   POSIX: no worker lives across fork() (a pthread_atfork handler stops it
   first; the next call starts one, in parent and child) and at exit the
   worker is stopped and joined.  Win32: there is no fork, and no exit
   handler -- at ExitProcess the OS ends the other threads before the
   module's exit handlers run, possibly inside a lock they held, so a join
   there could deadlock; the worker owns nothing that outlives the
   process. */
#if defined(_WIN32)
#define PYBUF_WORKER 1
#define PYBUF_WIN32_THREADS 1
#elif (defined(__unix__) || defined(__APPLE__)) && PYBUF_GNUC
#define PYBUF_WORKER 1
#define PYBUF_WIN32_THREADS 0
#else
#define PYBUF_WORKER 0          /* no thread API (or no atomics) known here */
#endif

#if PYBUF_WORKER

/* ---- The thread layer: mutex, condition, thread, atomics, clocks ------- */

static void pybuf_worker_loop(void);

#if PYBUF_WIN32_THREADS
#include <process.h>            /* _beginthreadex */

typedef SRWLOCK pybuf_mutex;
typedef CONDITION_VARIABLE pybuf_cond;
typedef HANDLE pybuf_thread;
#define PYBUF_MUTEX_INIT SRWLOCK_INIT
#define PYBUF_COND_INIT CONDITION_VARIABLE_INIT

static void pybuf_lock(pybuf_mutex *m) { AcquireSRWLockExclusive(m); }
static void pybuf_unlock(pybuf_mutex *m) { ReleaseSRWLockExclusive(m); }
/* 1: locked */
static int pybuf_trylock(pybuf_mutex *m) { return TryAcquireSRWLockExclusive(m) != 0; }
static void pybuf_cond_wait(pybuf_cond *c, pybuf_mutex *m) {
    SleepConditionVariableSRW(c, m, INFINITE, 0);
}
static void pybuf_cond_signal(pybuf_cond *c) { WakeConditionVariable(c); }

static unsigned __stdcall pybuf_worker_main(void *unused) {
    (void)unused;
    pybuf_worker_loop();
    return 0;
}

/* 1: started */
static int pybuf_thread_start(pybuf_thread *t) {
    /* the tasks use little stack: a few KiB of staging blocks */
    uintptr_t h = _beginthreadex(NULL, (unsigned)256 << 10, pybuf_worker_main, NULL,
                                 STACK_SIZE_PARAM_IS_A_RESERVATION, NULL);
    *t = (HANDLE)h;
    return h != 0;
}
static void pybuf_thread_join(pybuf_thread t) {
    WaitForSingleObject(t, INFINITE);
    CloseHandle(t);
}

/* Sequentially consistent atomics: every Interlocked function is a full
   barrier.  Loads are compare-exchanges that change nothing. */
static int pybuf_ld(int *p) {
    return (int)InterlockedCompareExchange((volatile LONG *)p, 0, 0);
}
static void pybuf_st(int *p, int v) { InterlockedExchange((volatile LONG *)p, (LONG)v); }
/* compare-exchange: 1 when *p was *expected (now desired); else *expected
   is what *p holds */
static int pybuf_cas(int *p, int *expected, int desired) {
    LONG was = InterlockedCompareExchange((volatile LONG *)p, (LONG)desired,
                                          (LONG)*expected);
    if (was == (LONG)*expected) return 1;
    *expected = (int)was;
    return 0;
}
/* 8-byte aligned, as the 64-bit Interlocked functions require */
#if defined(_MSC_VER) && !defined(__clang__)
typedef __declspec(align(8)) uint64_t pybuf_u64;
#else
typedef uint64_t pybuf_u64 __attribute__((aligned(8)));
#endif
static uint64_t pybuf_ld64(pybuf_u64 *p) {
    return (uint64_t)InterlockedCompareExchange64((volatile LONG64 *)p, 0, 0);
}
static void pybuf_st64(pybuf_u64 *p, uint64_t v) {
    InterlockedExchange64((volatile LONG64 *)p, (LONG64)v);
}
static int pybuf_cas64(pybuf_u64 *p, uint64_t *expected, uint64_t desired) {
    LONG64 was = InterlockedCompareExchange64((volatile LONG64 *)p, (LONG64)desired,
                                              (LONG64)*expected);
    if (was == (LONG64)*expected) return 1;
    *expected = (uint64_t)was;
    return 0;
}
static long long pybuf_now_ns(void) {
    static LARGE_INTEGER freq;          /* fixed at boot */
    LARGE_INTEGER c;
    if (freq.QuadPart == 0) QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&c);
    /* in two steps: counts times 10^9 overflow after a few days */
    return (c.QuadPart / freq.QuadPart) * 1000000000LL
           + (c.QuadPart % freq.QuadPart) * 1000000000LL / freq.QuadPart;
}
static int pybuf_cpu(void) { return (int)GetCurrentProcessorNumber(); }
static void pybuf_yield(void) { SwitchToThread(); }
/* a spin-wait hint (pause on x86, yield on ARM) */
#define pybuf_cpu_relax() YieldProcessor()

#else /* POSIX threads */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>

typedef pthread_mutex_t pybuf_mutex;
typedef pthread_cond_t pybuf_cond;
typedef pthread_t pybuf_thread;
#define PYBUF_MUTEX_INIT PTHREAD_MUTEX_INITIALIZER
#define PYBUF_COND_INIT PTHREAD_COND_INITIALIZER

static void pybuf_lock(pybuf_mutex *m) { pthread_mutex_lock(m); }
static void pybuf_unlock(pybuf_mutex *m) { pthread_mutex_unlock(m); }
static int pybuf_trylock(pybuf_mutex *m) { return pthread_mutex_trylock(m) == 0; }
static void pybuf_cond_wait(pybuf_cond *c, pybuf_mutex *m) { pthread_cond_wait(c, m); }
static void pybuf_cond_signal(pybuf_cond *c) { pthread_cond_signal(c); }

static void *pybuf_worker_main(void *unused) {
    (void)unused;
    pybuf_worker_loop();
    return NULL;
}

static pthread_once_t pybuf_w_once = PTHREAD_ONCE_INIT;
static void pybuf_worker_register(void);

static int pybuf_thread_start(pybuf_thread *t) {
    pthread_attr_t attr;
    int rc;
    pthread_once(&pybuf_w_once, pybuf_worker_register);   /* fork, exit */
    pthread_attr_init(&attr);
    /* the tasks use little stack: a few KiB of staging blocks */
    pthread_attr_setstacksize(&attr, (size_t)256 << 10);
    rc = pthread_create(t, &attr, pybuf_worker_main, NULL);
    pthread_attr_destroy(&attr);
    return rc == 0;
}
static void pybuf_thread_join(pybuf_thread t) { pthread_join(t, NULL); }

static int pybuf_ld(int *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static void pybuf_st(int *p, int v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
static int pybuf_cas(int *p, int *expected, int desired) {
    return __atomic_compare_exchange_n(p, expected, desired, 0,
                                       __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}
/* 64-bit atomics need 8-byte alignment, known to the compiler where it
   emits them, or 32-bit x86 (where uint64_t is 4-aligned in structs)
   turns them into calls to libatomic, which Python does not load */
typedef uint64_t pybuf_u64 __attribute__((aligned(8)));
static uint64_t pybuf_ld64(pybuf_u64 *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static void pybuf_st64(pybuf_u64 *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
static int pybuf_cas64(pybuf_u64 *p, uint64_t *expected, uint64_t desired) {
    return __atomic_compare_exchange_n(p, expected, desired, 0,
                                       __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

static long long pybuf_clock_ns(clockid_t id) {
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0) return 0;
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
static long long pybuf_now_ns(void) { return pybuf_clock_ns(CLOCK_MONOTONIC); }
/* The CPU this thread runs on, or -1 where unknown. */
static int pybuf_cpu(void) {
#if defined(__linux__)         /* glibc, musl and bionic have it */
    return sched_getcpu();
#else
    return -1;
#endif
}
static void pybuf_yield(void) { sched_yield(); }
/* a spin-wait hint: the core may run the other hardware thread meanwhile */
#if PYBUF_X86
#define pybuf_cpu_relax() _mm_pause()
#elif defined(__aarch64__) || (defined(__arm__) && __ARM_ARCH >= 7)
#define pybuf_cpu_relax() __asm__ __volatile__("yield" ::: "memory")
#else
#define pybuf_cpu_relax() ((void)0)
#endif
#endif /* thread layer */

/* ---- The worker ---------------------------------------------------------- */

/* the job slot: posted by the caller, joined by the worker (TAKEN) or,
   when the worker never came, closed by the caller (MINE); DONE once the
   worker ran out of parts; idle again once the caller saw that */
enum { JOB_IDLE, JOB_POSTED, JOB_TAKEN, JOB_MINE, JOB_DONE };

static struct {
    pybuf_mutex owner;          /* held by the caller using the worker */
    pybuf_mutex mu;             /* with the two conditions: sleeping */
    pybuf_cond wake;            /* worker sleeps here */
    pybuf_cond done;            /* caller sleeps here */
    pybuf_thread thread;
    int started;                /* 1: running; -1: could not start */
    int quit;
    int job;                    /* JOB_* */
    int worker_sleeps, caller_sleeps;
    pybuf_task task;
    char *args;
    size_t argsize;
    /* parts not taken: [low 32 bits, high 32 bits) */
    pybuf_u64 left;
    int cpu[2];                 /* where the caller [0] and worker [1] last ran */
} pybuf_w = { .owner = PYBUF_MUTEX_INIT, .mu = PYBUF_MUTEX_INIT,
              .wake = PYBUF_COND_INIT, .done = PYBUF_COND_INIT };

/* 0: off; 1: on while a core is free (pybuf_core_free) and no backoff;
   2: always (tests) */
static int pybuf_worker_on = 1;
/* How long the worker and the waiting caller spin before they sleep: long
   enough to catch the next call of a loop of calls, short enough not to
   hold a core that other threads want for long (OpenBLAS spins ~0.1 s).
   The spin yields the core when it shares it with the caller (see
   pybuf_spin). */
static long pybuf_worker_spin_ns = 50000;
/* A worker descheduled in the middle of a part (another thread took its
   core) makes the caller wait until the scheduler runs it again: from
   microseconds to a time slice.  After such a wait the jobs run on the
   caller alone for PYBUF_BACKOFF times as long, so that waiting costs at
   most about a fifth of the time while short bursts of other work (a
   process that wakes now and then) do not stop the worker for long; load
   that lasts is seen by pybuf_core_free.  (Monotonic nanoseconds, kept
   in a pybuf_u64 for the atomics.) */
#define PYBUF_BACKOFF 4
static pybuf_u64 pybuf_w_backoff_until;

/* Waking a sleeping worker costs the caller a system call (6 us on the
   virtual machine of docs/performance.rst, more with the wake-up of an
   idle virtual CPU behind it), as much as the work on 256 KiB in cache.
   A call smaller than PYBUF_WAKE_BYTES therefore wakes the worker only
   when it is one of a loop of such calls (the previous one ended within
   the worker's spin): the worker then stays awake, spinning, through the
   loop, and an isolated call runs alone at one core's speed. */
#define PYBUF_WAKE_BYTES ((size_t)1 << 20)
static pybuf_u64 pybuf_w_last_end;

/* Whether another core is free for the worker, judged from how busy the
   machine's cores were over the last 100 ms or so.  The system's count of
   the time every core spent busy (Linux: /proc/stat, steal included: a
   virtual CPU the host did not run is not free either; Windows:
   GetSystemTimes) and this process's CPU time tell how much of that was
   ours.  Ours, less the worker's own time (its thread CPU clock:
   pthread_getcpuclockid, GetThreadTimes), is the caller plus any other
   threads of ours (say a BLAS thread spinning after its own call): the
   caller counts for one core, the rest as load.  A core is free when the
   load besides the caller leaves one core idle for most of the window.  A
   snapshot of the runnable threads (/proc/loadavg) flickers with every
   short-lived process; an average does not.  Read at most every 20 ms, by
   the caller that owns the worker; unknown (other systems, no /proc):
   free, and the backoff in pybuf_run_parts guards against a busy
   machine. */
#define PYBUF_LOAD_SAMPLES 8
#define PYBUF_LOAD_WINDOW_NS 80000000LL
struct pybuf_load_sample { long long t, busy, ours, worker; };

#if PYBUF_WIN32_THREADS
static long long pybuf_filetime_ns(const FILETIME *f) {   /* 100 ns units */
    return (long long)(((unsigned long long)f->dwHighDateTime << 32)
                       | f->dwLowDateTime) * 100;
}

/* busy, ours and worker of s (t is set); 0 when unknown */
static int pybuf_load_read(struct pybuf_load_sample *s) {
    FILETIME idle, kernel, user, c, e;
    /* the system's kernel time includes its idle time */
    if (!GetSystemTimes(&idle, &kernel, &user)) return 0;
    s->busy = pybuf_filetime_ns(&kernel) + pybuf_filetime_ns(&user)
              - pybuf_filetime_ns(&idle);
    s->ours = GetProcessTimes(GetCurrentProcess(), &c, &e, &kernel, &user)
              ? pybuf_filetime_ns(&kernel) + pybuf_filetime_ns(&user) : 0;
    s->worker = (pybuf_w.started > 0
                 && GetThreadTimes(pybuf_w.thread, &c, &e, &kernel, &user))
                ? pybuf_filetime_ns(&kernel) + pybuf_filetime_ns(&user) : 0;
    return 1;
}

static long pybuf_ncpu(void) { return (long)GetActiveProcessorCount(ALL_PROCESSOR_GROUPS); }
#else
/* Nanoseconds all cores spent busy since boot, from /proc/stat's first
   line (user nice system idle iowait irq softirq steal, in clock ticks);
   -1 if unknown. */
static long long pybuf_busy_ns(void) {
    char buf[256];
    unsigned long long v[8] = {0};
    ssize_t got;
    long tick;
    int fd = open("/proc/stat", O_RDONLY);
    if (fd < 0) return -1;
    got = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    tick = sysconf(_SC_CLK_TCK);
    if (got <= 0 || tick <= 0) return -1;
    buf[got] = '\0';
    if (sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
               &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) != 8) return -1;
    return (long long)((v[0] + v[1] + v[2] + v[5] + v[6] + v[7])
                       * (1000000000ULL / (unsigned long long)tick));
}

static int pybuf_load_read(struct pybuf_load_sample *s) {
    clockid_t wid;
    s->busy = pybuf_busy_ns();
    if (s->busy < 0) return 0;
    s->ours = pybuf_clock_ns(CLOCK_PROCESS_CPUTIME_ID);
#if defined(_POSIX_THREAD_CPUTIME) && _POSIX_THREAD_CPUTIME >= 0 && !defined(__APPLE__)
    s->worker = (pybuf_w.started > 0
                 && pthread_getcpuclockid(pybuf_w.thread, &wid) == 0)
                ? pybuf_clock_ns(wid) : 0;
#else
    (void)wid;          /* no per-thread CPU clock (macOS): the worker's */
    s->worker = 0;      /* time counts as load, which errs towards one thread */
#endif
    return 1;
}

static long pybuf_ncpu(void) { return sysconf(_SC_NPROCESSORS_ONLN); }
#endif

/* The samples, and the last answer (reset in a child after fork(), whose
   CPU clock starts again from zero). */
static struct {
    struct pybuf_load_sample ring[PYBUF_LOAD_SAMPLES];
    int count, head;
    long long next_check;
    int free_core;
} pybuf_load = { .free_core = 1 };

static int pybuf_core_free(long long now) {
    struct pybuf_load_sample *ring = pybuf_load.ring;
    struct pybuf_load_sample cur, *old = NULL;
    long ncpu;
    int i;
    if (now < pybuf_load.next_check) return pybuf_load.free_core;
    pybuf_load.next_check = now + 20000000LL;
    cur.t = now;
    if (!pybuf_load_read(&cur)) return pybuf_load.free_core;
    /* the newest sample at least a window old (the clock ticks are 10 ms:
       a shorter window is mostly rounding) */
    for (i = 1; i <= pybuf_load.count; i++) {
        old = &ring[(pybuf_load.head - i + PYBUF_LOAD_SAMPLES) % PYBUF_LOAD_SAMPLES];
        if (now - old->t >= PYBUF_LOAD_WINDOW_NS) break;
        old = NULL;
    }
    ncpu = pybuf_ncpu();
    if (ncpu == 1) pybuf_load.free_core = 0;
    else if (old != NULL && cur.worker >= old->worker) {
        double span = (double)(now - old->t);
        double ours = (double)((cur.ours - old->ours) - (cur.worker - old->worker));
        double others = (double)(cur.busy - old->busy) - (cur.ours - old->ours);
        double load = others / span + (ours / span > 1.0 ? ours / span - 1.0 : 0.0);
        pybuf_load.free_core = load <= (double)ncpu - 1.5;
    }
    ring[pybuf_load.head] = cur;
    pybuf_load.head = (pybuf_load.head + 1) % PYBUF_LOAD_SAMPLES;
    if (pybuf_load.count < PYBUF_LOAD_SAMPLES) pybuf_load.count++;
    return pybuf_load.free_core;
}

/* Spin while *p == v (want 0) or until *p == v (want 1), at most
   pybuf_worker_spin_ns; whether the wait ended.  ``self``: 0 for the
   caller, 1 for the worker.  Every few microseconds the spinner notes
   its CPU and yields it if the other thread last ran there (or where
   that is unknown): the scheduler sometimes wakes the worker on the
   caller's own core, where a spin that never yields holds the caller up
   for its whole length (measured: a 5 us call took 60 us). */
static int pybuf_spin(int *p, int v, int want, int self) {
    long long t_end = 0;
    unsigned i;
    int me;
    for (i = 1;; i++) {
        if ((pybuf_ld(p) == v) == want) return 1;
        pybuf_cpu_relax();
        if ((i & 63) == 0) {
            long long t = pybuf_now_ns();
            if (t_end == 0) t_end = t + pybuf_worker_spin_ns;
            else if (t >= t_end) return 0;
            me = pybuf_cpu();
            pybuf_st(&pybuf_w.cpu[self], me);
            if (me < 0 || me == pybuf_ld(&pybuf_w.cpu[!self])) pybuf_yield();
        }
    }
}

/* Run parts of the posted job until none is left: the caller takes them
   from the front, the worker from the back, so that each thread tends to
   get the same parts call after call (data that fits in the two L2 caches
   then stays there). */
static void pybuf_take_parts(int from_back) {
    uint64_t old = pybuf_ld64(&pybuf_w.left), new;
    uint32_t lo, hi, i;
    for (;;) {
        lo = (uint32_t)old;
        hi = (uint32_t)(old >> 32);
        if (lo >= hi) return;
        i = from_back ? hi - 1 : lo;
        new = from_back ? ((uint64_t)(hi - 1) << 32) | lo
                        : ((uint64_t)hi << 32) | (lo + 1);
        if (pybuf_cas64(&pybuf_w.left, &old, new)) {
            pybuf_w.task(pybuf_w.args + (size_t)i * pybuf_w.argsize);
            old = pybuf_ld64(&pybuf_w.left);
        }
    }
}

static void pybuf_worker_loop(void) {
    for (;;) {
        if (!pybuf_spin(&pybuf_w.job, JOB_POSTED, 1, 1) && !pybuf_ld(&pybuf_w.quit)) {
            pybuf_lock(&pybuf_w.mu);
            pybuf_st(&pybuf_w.worker_sleeps, 1);
            while (pybuf_ld(&pybuf_w.job) != JOB_POSTED && !pybuf_ld(&pybuf_w.quit))
                pybuf_cond_wait(&pybuf_w.wake, &pybuf_w.mu);
            pybuf_st(&pybuf_w.worker_sleeps, 0);
            pybuf_unlock(&pybuf_w.mu);
        }
        if (pybuf_ld(&pybuf_w.quit)) return;
        {
            /* fails when the caller took the task back (JOB_MINE) */
            int posted = JOB_POSTED;
            if (pybuf_cas(&pybuf_w.job, &posted, JOB_TAKEN)) {
                pybuf_take_parts(1);
                pybuf_st(&pybuf_w.job, JOB_DONE);
                if (pybuf_ld(&pybuf_w.caller_sleeps)) {
                    pybuf_lock(&pybuf_w.mu);
                    pybuf_cond_signal(&pybuf_w.done);
                    pybuf_unlock(&pybuf_w.mu);
                }
            }
        }
    }
}

/* Stop and join the worker; the caller holds owner (so no job runs). */
static void pybuf_worker_join_locked(void) {
    if (pybuf_w.started > 0) {
        pybuf_lock(&pybuf_w.mu);
        pybuf_st(&pybuf_w.quit, 1);
        pybuf_cond_signal(&pybuf_w.wake);
        pybuf_unlock(&pybuf_w.mu);
        pybuf_thread_join(pybuf_w.thread);
    }
    pybuf_st(&pybuf_w.started, 0);
    pybuf_w.quit = 0;
}

#if !PYBUF_WIN32_THREADS
/* No pybuf thread lives across fork(): a child would not have it (and its
   locks could be held by it), and CPython 3.12+ warns that forking a
   multi-threaded process may deadlock the child.  Before the fork: wait
   for a job in progress to end, stop and join the worker, and keep owner
   locked until the fork is done, so that no other thread starts it again
   in between.  The next call that wants the worker starts a new one, in
   the parent and in the child.  Only the thread that forks runs these; it
   holds no pybuf lock (jobs never fork), so the wait ends. */
static void pybuf_worker_atfork_prepare(void) {
    pybuf_lock(&pybuf_w.owner);
    pybuf_worker_join_locked();
}

static void pybuf_worker_atfork_parent(void) {
    pybuf_unlock(&pybuf_w.owner);
}

/* In the child: its only thread is the one that forked, which holds owner;
   the locks start afresh, and so does the free-core check (the child's
   CPU clock starts again from zero). */
static void pybuf_worker_atfork_child(void) {
    pthread_mutex_init(&pybuf_w.owner, NULL);
    pthread_mutex_init(&pybuf_w.mu, NULL);
    pthread_cond_init(&pybuf_w.wake, NULL);
    pthread_cond_init(&pybuf_w.done, NULL);
    pybuf_w.started = 0;
    pybuf_w.quit = 0;
    pybuf_w.job = JOB_IDLE;
    pybuf_w.worker_sleeps = pybuf_w.caller_sleeps = 0;
    pybuf_load.count = pybuf_load.head = 0;
    pybuf_load.next_check = 0;
    pybuf_load.free_core = 1;
}

static void pybuf_worker_atexit(void) { pybuf_worker_stop(); }

static void pybuf_worker_register(void) {
    pthread_atfork(pybuf_worker_atfork_prepare, pybuf_worker_atfork_parent,
                   pybuf_worker_atfork_child);
    atexit(pybuf_worker_atexit);
}
#endif

/* Called with owner held. */
static int pybuf_worker_start(void) {
    int ok;
    if (pybuf_w.started) return pybuf_w.started > 0;
    pybuf_w.quit = 0;
    pybuf_w.job = JOB_IDLE;
    ok = pybuf_thread_start(&pybuf_w.thread);
    pybuf_st(&pybuf_w.started, ok ? 1 : -1);
    return ok;
}

void pybuf_worker_stop(void) {
    if (!pybuf_trylock(&pybuf_w.owner)) return;  /* in use */
    pybuf_worker_join_locked();
    pybuf_unlock(&pybuf_w.owner);
}

int pybuf_worker_running(void) {
    return pybuf_ld(&pybuf_w.started) > 0;
}

int pybuf_worker_enable(int on) {
    int old = pybuf_worker_on;
    pybuf_worker_on = on;
    if (!on) pybuf_worker_stop();
    return old;
}

void pybuf_run_parts(pybuf_task task, void *args, size_t argsize, ptrdiff_t nparts,
                     size_t nbytes, int large) {
    int posted = JOB_POSTED;
    int careful = pybuf_worker_on == 1 && !large;
    ptrdiff_t i;
    long long t0, t1, t2, now = pybuf_now_ns();
    /* a caller in a loop of such calls: the last one ended moments ago */
    int looping = now - (long long)pybuf_ld64(&pybuf_w_last_end) < pybuf_worker_spin_ns;
    if (nparts < 2 || nparts > INT32_MAX || !pybuf_worker_on
            || (careful && now < (long long)pybuf_ld64(&pybuf_w_backoff_until))
            || !pybuf_trylock(&pybuf_w.owner)) {
        /* one part, disabled, or another caller has the worker */
        goto alone;
    }
    if ((careful && !pybuf_core_free(now))
            || ((pybuf_w.started <= 0 || pybuf_ld(&pybuf_w.worker_sleeps))
                && !large && !looping && nbytes < PYBUF_WAKE_BYTES
                && pybuf_worker_on == 1)
            || !pybuf_worker_start()) {
        pybuf_unlock(&pybuf_w.owner);
        goto alone;
    }
    pybuf_st(&pybuf_w.cpu[0], pybuf_cpu());
    pybuf_w.task = task;
    pybuf_w.args = (char *)args;
    pybuf_w.argsize = argsize;
    pybuf_st64(&pybuf_w.left, (uint64_t)(uint32_t)nparts << 32);
    pybuf_st(&pybuf_w.job, JOB_POSTED);
    if (pybuf_ld(&pybuf_w.worker_sleeps)) {
        pybuf_lock(&pybuf_w.mu);
        pybuf_cond_signal(&pybuf_w.wake);
        pybuf_unlock(&pybuf_w.mu);
    }
    t0 = pybuf_now_ns();
    pybuf_take_parts(0);
    /* Every part is taken.  Either the worker never joined (close the
       job so that it will not), or wait for the part it is in. */
    if (!pybuf_cas(&pybuf_w.job, &posted, JOB_MINE)) {
        t1 = pybuf_now_ns();
        if (!pybuf_spin(&pybuf_w.job, JOB_TAKEN, 0, 0)) {
            pybuf_lock(&pybuf_w.mu);
            pybuf_st(&pybuf_w.caller_sleeps, 1);
            while (pybuf_ld(&pybuf_w.job) == JOB_TAKEN)
                pybuf_cond_wait(&pybuf_w.done, &pybuf_w.mu);
            pybuf_st(&pybuf_w.caller_sleeps, 0);
            pybuf_unlock(&pybuf_w.mu);
        }
        /* A part takes at most about what the caller spent on all of its
           own; much longer means the worker was descheduled. */
        t2 = pybuf_now_ns();
        if (t2 - t1 > 2 * (t1 - t0) + 20000)
            pybuf_st64(&pybuf_w_backoff_until,
                       (uint64_t)(t2 + PYBUF_BACKOFF * (t2 - t1)));
    }
    pybuf_st(&pybuf_w.job, JOB_IDLE);
    pybuf_unlock(&pybuf_w.owner);
    pybuf_st64(&pybuf_w_last_end, (uint64_t)pybuf_now_ns());
    return;
alone:
    for (i = 0; i < nparts; i++) task((char *)args + (size_t)i * argsize);
    pybuf_st64(&pybuf_w_last_end, (uint64_t)pybuf_now_ns());
}
#else
void pybuf_run_parts(pybuf_task task, void *args, size_t argsize, ptrdiff_t nparts,
                     size_t nbytes, int large) {
    ptrdiff_t i;
    (void)nbytes; (void)large;
    for (i = 0; i < nparts; i++) task((char *)args + (size_t)i * argsize);
}
void pybuf_worker_stop(void) {}
int pybuf_worker_running(void) { return 0; }
int pybuf_worker_enable(int on) { (void)on; return 0; }
#endif
