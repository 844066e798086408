/* pybuf/_simd_isa.h -- the dispatched kernels, written once and compiled
 * once per SIMD path: _simd.c includes this file after defining
 *
 *   PYBUF_SFX(name)   the name with the path's suffix (name##_avx2)
 *   PYBUF_TARGET      the function attribute that enables the path's ISA
 *   PYBUF_PATH        the path's name, a string
 *   VW, VFW           doubles / floats per vector
 *   VD, VM            vector of doubles, and the mask an unordered compare
 *                     of two VD gives; VF, VFM the same for floats
 *   VD_ZERO() VD_SET1(x) VD_LOAD(p) VD_LOADF(p) VD_STORE(p, v)
 *   VD_ADD(a, b) VD_FMA(a, b, c) VD_MIN(a, b) VD_MAX(a, b) VD_UNORD(a, b)
 *   VM_ZERO() VM_OR(a, b) VM_ANY(m)       and the VF_ / VFM_ equivalents
 *
 * VD_LOADF(p) loads VW floats widened to doubles.  VD_MIN(a, b) is x86's
 * minpd: ``a < b ? a : b``, so a NaN in ``a`` is dropped; NaNs are tracked
 * in a separate mask instead, checked once per block.
 *
 * Plain loops (conversions, byteswap, equal, fill) are left to the
 * compiler's vectoriser, which uses the path's ISA through PYBUF_TARGET.
 *
 * Order of float additions (sum, dot): 8 vector accumulators (8 * VW
 * partial sums, each item added to partial ``i % (8 * VW)``), folded into a
 * running total every PYBUF_BLOCK items, then a scalar tail.  The error is
 * bounded by about (PYBUF_BLOCK / (8 * VW) + n / PYBUF_BLOCK) * eps * sum|x|,
 * like numpy's pairwise sum for the sizes that fit in memory; results
 * differ between paths in the last bits.
 */

#ifndef PYBUF_BLOCK
#define PYBUF_BLOCK 4096
#define PYBUF_UNROLL 8
/* prefetch every cache line of ``bytes`` bytes from p, PYBUF_AHEAD ahead */
#define PYBUF_PREFETCH_SPAN(p, bytes)                                      \
    do { size_t k_;                                                        \
         for (k_ = 0; k_ < (size_t)(bytes); k_ += 64)                      \
             pybuf_prefetch_ahead((const char *)(p) + k_); } while (0)
#endif

static PYBUF_TARGET double PYBUF_SFX(pybuf_hsum)(VD v) {
    double t[VW], s = 0;
    int k;
    VD_STORE(t, v);
    for (k = 0; k < VW; k++) s += t[k];
    return s;
}

/* One reduction over 1 or 2 arrays: LOADX(i) is the vector of items from
   i, NTA_PREFETCH(i) prefetches what the block will read, SCALAR(i) one
   item's term. */
#define PYBUF_REDUCE_BODY(STEP, NTA_PREFETCH, SCALAR)                      \
    ptrdiff_t i = 0, end;                                                  \
    double s;                                                              \
    VD acc[8], total = VD_ZERO();                                          \
    const ptrdiff_t W = PYBUF_UNROLL * VW;                                 \
    while (n - i >= W) {                                                   \
        end = i + PYBUF_BLOCK < n ? i + PYBUF_BLOCK : n;                   \
        acc[0] = acc[1] = acc[2] = acc[3] = VD_ZERO();                     \
        acc[4] = acc[5] = acc[6] = acc[7] = VD_ZERO();                     \
        for (; i + W <= end; i += W) {                                     \
            if (nta) { NTA_PREFETCH(i); }                                  \
            STEP(0) STEP(1) STEP(2) STEP(3) STEP(4) STEP(5) STEP(6) STEP(7)\
        }                                                                  \
        total = VD_ADD(total, VD_ADD(                                      \
            VD_ADD(VD_ADD(acc[0], acc[1]), VD_ADD(acc[2], acc[3])),        \
            VD_ADD(VD_ADD(acc[4], acc[5]), VD_ADD(acc[6], acc[7]))));      \
    }                                                                      \
    s = PYBUF_SFX(pybuf_hsum)(total);                                      \
    for (; i < n; i++) s += SCALAR(i);                                     \
    return s;

#define PYBUF_SUM64_STEP(k) acc[k] = VD_ADD(acc[k], VD_LOAD(p + i + (k) * VW));
#define PYBUF_SUM32_STEP(k) acc[k] = VD_ADD(acc[k], VD_LOADF(p + i + (k) * VW));
#define PYBUF_DOT64_STEP(k) \
    acc[k] = VD_FMA(VD_LOAD(a + i + (k) * VW), VD_LOAD(b + i + (k) * VW), acc[k]);
#define PYBUF_DOT32_STEP(k) \
    acc[k] = VD_FMA(VD_LOADF(a + i + (k) * VW), VD_LOADF(b + i + (k) * VW), acc[k]);
#define PYBUF_PF1(i) PYBUF_PREFETCH_SPAN(p + (i), W * sizeof(*p));
#define PYBUF_PF2(i) PYBUF_PREFETCH_SPAN(a + (i), W * sizeof(*a)); \
                     PYBUF_PREFETCH_SPAN(b + (i), W * sizeof(*b));
#define PYBUF_ITEM(i) (double)p[i]
#define PYBUF_PROD(i) (double)a[i] * (double)b[i]

static PYBUF_TARGET double PYBUF_SFX(pybuf_sum_f64)(const double *p, ptrdiff_t n, int nta) {
    PYBUF_REDUCE_BODY(PYBUF_SUM64_STEP, PYBUF_PF1, PYBUF_ITEM)
}

static PYBUF_TARGET double PYBUF_SFX(pybuf_sum_f32)(const float *p, ptrdiff_t n, int nta) {
    PYBUF_REDUCE_BODY(PYBUF_SUM32_STEP, PYBUF_PF1, PYBUF_ITEM)
}

/* float32 products are exact in float64, so FMA and mul + add agree. */
static PYBUF_TARGET double PYBUF_SFX(pybuf_dot_f64)(const double *a, const double *b,
                                                    ptrdiff_t n, int nta) {
    PYBUF_REDUCE_BODY(PYBUF_DOT64_STEP, PYBUF_PF2, PYBUF_PROD)
}

static PYBUF_TARGET double PYBUF_SFX(pybuf_dot_f32)(const float *a, const float *b,
                                                    ptrdiff_t n, int nta) {
    PYBUF_REDUCE_BODY(PYBUF_DOT32_STEP, PYBUF_PF2, PYBUF_PROD)
}

/* min / max: four vector accumulators, the NaN mask checked once per
   PYBUF_BLOCK items (a NaN ends the scan: the result is NaN). */
#define PYBUF_MINMAX(name, T, V, VMASK, W1, SET1, LOAD, STORE, OP, UNORD,   \
                     MZERO, MOR, MANY, SCALAR)                             \
static PYBUF_TARGET T PYBUF_SFX(name)(const T *p, ptrdiff_t n, int *nan, int nta) { \
    ptrdiff_t i = 0, end;                                                  \
    T r = p[0], x, t[W1];                                                  \
    int k;                                                                 \
    if (r != r) { *nan = 1; return r; }                                    \
    if (n >= 4 * W1) {                                                     \
        V m0 = SET1(r), m1 = m0, m2 = m0, m3 = m0;                         \
        while (i + 4 * W1 <= n) {                                          \
            VMASK u = MZERO();                                             \
            end = i + PYBUF_BLOCK < n ? i + PYBUF_BLOCK : n;               \
            for (; i + 4 * W1 <= end; i += 4 * W1) {                       \
                V x0 = LOAD(p + i), x1 = LOAD(p + i + W1);                 \
                V x2 = LOAD(p + i + 2 * W1), x3 = LOAD(p + i + 3 * W1);    \
                if (nta) PYBUF_PREFETCH_SPAN(p + i, 4 * W1 * sizeof(T));   \
                u = MOR(u, MOR(UNORD(x0, x1), UNORD(x2, x3)));             \
                m0 = OP(x0, m0); m1 = OP(x1, m1);                          \
                m2 = OP(x2, m2); m3 = OP(x3, m3);                          \
            }                                                              \
            if (MANY(u)) { *nan = 1; return r; }                           \
        }                                                                  \
        STORE(t, OP(OP(m0, m1), OP(m2, m3)));                              \
        for (k = 0; k < W1; k++) { x = t[k]; r = SCALAR; }                 \
    }                                                                      \
    for (; i < n; i++) {                                                   \
        x = p[i];                                                          \
        if (x != x) { *nan = 1; return x; }                                \
        r = SCALAR;                                                        \
    }                                                                      \
    *nan = 0;                                                              \
    return r;                                                              \
}
PYBUF_MINMAX(pybuf_min_f64, double, VD, VM, VW, VD_SET1, VD_LOAD, VD_STORE,
             VD_MIN, VD_UNORD, VM_ZERO, VM_OR, VM_ANY, (x < r ? x : r))
PYBUF_MINMAX(pybuf_max_f64, double, VD, VM, VW, VD_SET1, VD_LOAD, VD_STORE,
             VD_MAX, VD_UNORD, VM_ZERO, VM_OR, VM_ANY, (x > r ? x : r))
PYBUF_MINMAX(pybuf_min_f32, float, VF, VFM, VFW, VF_SET1, VF_LOAD, VF_STORE,
             VF_MIN, VF_UNORD, VFM_ZERO, VFM_OR, VFM_ANY, (x < r ? x : r))
PYBUF_MINMAX(pybuf_max_f32, float, VF, VFM, VFW, VF_SET1, VF_LOAD, VF_STORE,
             VF_MAX, VF_UNORD, VFM_ZERO, VFM_OR, VFM_ANY, (x > r ? x : r))

/* ---- Plain loops, vectorised by the compiler for the path ---------------- */

static PYBUF_TARGET void PYBUF_SFX(pybuf_cvt_f64_f32)(float *PYBUF_RESTRICT d,
                                                      const double *PYBUF_RESTRICT s,
                                                      ptrdiff_t n) {
    ptrdiff_t i;
    for (i = 0; i < n; i++) d[i] = (float)s[i];
}

static PYBUF_TARGET void PYBUF_SFX(pybuf_cvt_f32_f64)(double *PYBUF_RESTRICT d,
                                                      const float *PYBUF_RESTRICT s,
                                                      ptrdiff_t n) {
    ptrdiff_t i;
    for (i = 0; i < n; i++) d[i] = (double)s[i];
}

/* In place (d == s) through one pointer, so that the loop needs no
   run-time overlap check to be vectorised. */
#define PYBUF_BSWAP_LINE(name, T, SWAP)                                    \
static PYBUF_TARGET void PYBUF_SFX(name##_apart)(T *PYBUF_RESTRICT d,            \
                                                 const T *PYBUF_RESTRICT s,      \
                                                 ptrdiff_t n) {            \
    ptrdiff_t i;                                                           \
    for (i = 0; i < n; i++) d[i] = SWAP(s[i]);                             \
}                                                                          \
static PYBUF_TARGET void PYBUF_SFX(name)(T *d, const T *s, ptrdiff_t n) {  \
    ptrdiff_t i;                                                           \
    if (d != s) { PYBUF_SFX(name##_apart)(d, s, n); return; }              \
    for (i = 0; i < n; i++) d[i] = SWAP(d[i]);                             \
}
PYBUF_BSWAP_LINE(pybuf_bswap16_line, uint16_t, pybuf_bswap16)
PYBUF_BSWAP_LINE(pybuf_bswap32_line, uint32_t, pybuf_bswap32)
PYBUF_BSWAP_LINE(pybuf_bswap64_line, uint64_t, pybuf_bswap64)

/* Every other item (a[::2], the real parts of complex items): two loads
   and a permute per vector. */
#define PYBUF_TAKE2(name, T)                                               \
static PYBUF_TARGET void PYBUF_SFX(name)(T *PYBUF_RESTRICT d, const T *PYBUF_RESTRICT s, \
                                         ptrdiff_t n) {                    \
    ptrdiff_t i;                                                           \
    for (i = 0; i < n; i++) d[i] = s[2 * i];                               \
}
PYBUF_TAKE2(pybuf_take2_u32, uint32_t)
PYBUF_TAKE2(pybuf_take2_u64, uint64_t)

/* C's ==: NaN never equals, -0.0 == 0.0.  Blocks without an early exit
   inside vectorise. */
#define PYBUF_EQUAL_LINE(name, T)                                          \
static PYBUF_TARGET int PYBUF_SFX(name)(const T *a, const T *b, ptrdiff_t n) { \
    ptrdiff_t i, start, stop;                                              \
    int ok = 1;                                                            \
    for (start = 0; start < n; start = stop) {                             \
        stop = start + 256 < n ? start + 256 : n;                          \
        for (i = start; i < stop; i++) ok &= a[i] == b[i];                 \
        if (!ok) return 0;                                                 \
    }                                                                      \
    return 1;                                                              \
}
PYBUF_EQUAL_LINE(pybuf_equal_f64, double)
PYBUF_EQUAL_LINE(pybuf_equal_f32, float)

/* memcpy of a constant size is one (possibly unaligned) store */
#define PYBUF_FILL_LOOP(T)                                                 \
    { T v; size_t i; memcpy(&v, item, sizeof(T));                          \
      for (i = 0; i < nbytes / sizeof(T); i++)                             \
          memcpy(d + i * sizeof(T), &v, sizeof(T)); }
static PYBUF_TARGET void PYBUF_SFX(pybuf_fill)(char *d, size_t nbytes,
                                               const char *item, size_t isz) {
    if (isz == 8) PYBUF_FILL_LOOP(uint64_t)
    else if (isz == 4) PYBUF_FILL_LOOP(uint32_t)
    else PYBUF_FILL_LOOP(uint16_t)
}

static const pybuf_simd_table PYBUF_SFX(pybuf_table) = {
    PYBUF_PATH,
    PYBUF_SFX(pybuf_sum_f64), PYBUF_SFX(pybuf_sum_f32),
    PYBUF_SFX(pybuf_min_f64), PYBUF_SFX(pybuf_max_f64),
    PYBUF_SFX(pybuf_min_f32), PYBUF_SFX(pybuf_max_f32),
    PYBUF_SFX(pybuf_dot_f64), PYBUF_SFX(pybuf_dot_f32),
    PYBUF_SFX(pybuf_cvt_f64_f32), PYBUF_SFX(pybuf_cvt_f32_f64),
    PYBUF_SFX(pybuf_bswap16_line), PYBUF_SFX(pybuf_bswap32_line),
    PYBUF_SFX(pybuf_bswap64_line),
    PYBUF_SFX(pybuf_take2_u32), PYBUF_SFX(pybuf_take2_u64),
    PYBUF_SFX(pybuf_equal_f64), PYBUF_SFX(pybuf_equal_f32),
    PYBUF_SFX(pybuf_fill),
};

#undef PYBUF_REDUCE_BODY
#undef PYBUF_SUM64_STEP
#undef PYBUF_SUM32_STEP
#undef PYBUF_DOT64_STEP
#undef PYBUF_DOT32_STEP
#undef PYBUF_PF1
#undef PYBUF_PF2
#undef PYBUF_ITEM
#undef PYBUF_PROD
#undef PYBUF_MINMAX
#undef PYBUF_BSWAP_LINE
#undef PYBUF_EQUAL_LINE
#undef PYBUF_TAKE2
#undef PYBUF_FILL_LOOP

/* the parameters: the next path defines its own */
#undef PYBUF_SFX
#undef PYBUF_TARGET
#undef PYBUF_PATH
#undef VW
#undef VD
#undef VM
#undef VD_ZERO
#undef VD_SET1
#undef VD_LOAD
#undef VD_LOADF
#undef VD_STORE
#undef VD_ADD
#undef VD_FMA
#undef VD_MIN
#undef VD_MAX
#undef VD_UNORD
#undef VM_ZERO
#undef VM_OR
#undef VM_ANY
#undef VFW
#undef VF
#undef VFM
#undef VF_SET1
#undef VF_LOAD
#undef VF_STORE
#undef VF_MIN
#undef VF_MAX
#undef VF_UNORD
#undef VFM_ZERO
#undef VFM_OR
#undef VFM_ANY
