/* _floatconv.h -- the float formats no C arithmetic type of the
 * kernels holds: IEEE 754 binary16 ('e') and the platform's long double
 * ('g', 'Zg').  Kernels compute with them as float32 / float64: lines are
 * widened into staging blocks and narrowed on the way out.
 *
 * binary16 <-> binary32 widening is exact; double -> binary16 rounds to
 * nearest, ties to even, once (as numpy's npy_double_to_half), so that a
 * float64 source is not rounded twice through float32.
 */
#ifndef PYBUF_FLOATCONV_H
#define PYBUF_FLOATCONV_H

#include <float.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Bytes of a long double that hold its value: the x87 extended format
 * (64-bit mantissa) fills 10 of its 12 or 16; the rest is padding. */
#if LDBL_MANT_DIG == 64
#define PYBUF_LD_VALUE_BYTES 10
#else
#define PYBUF_LD_VALUE_BYTES ((Py_ssize_t)sizeof(long double))
#endif

static inline float pybuf_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    uint32_t bits;
    float f;
    if (exp == 0x1fu) {                       /* inf, NaN (payload kept) */
        bits = sign | 0x7f800000u | (man << 13);
    } else if (exp != 0) {                    /* normal */
        bits = sign | ((exp + 112u) << 23) | (man << 13);
    } else if (man == 0) {                    /* signed zero */
        bits = sign;
    } else {                                  /* subnormal: normalise */
        uint32_t e = 0;
        while (!(man & 0x400u)) {
            man <<= 1;
            e++;
        }
        bits = sign | ((113u - e) << 23) | ((man & 0x3ffu) << 13);
    }
    memcpy(&f, &bits, 4);
    return f;
}

static inline uint16_t pybuf_double_to_half(double x)
{
    uint64_t b, man, m, q, rest, halfway;
    uint16_t sign;
    int e, shift;
    uint32_t h;
    memcpy(&b, &x, 8);
    sign = (uint16_t)((b >> 48) & 0x8000u);
    e = (int)((b >> 52) & 0x7ffu);
    man = b & 0xfffffffffffffULL;
    if (e == 0x7ff) {                         /* inf, NaN (stays a NaN) */
        if (man == 0)
            return (uint16_t)(sign | 0x7c00u);
        h = (uint32_t)(man >> 42);
        return (uint16_t)(sign | 0x7c00u | (h ? h : 0x200u));
    }
    e -= 1023;
    if (e > 15)                               /* beyond 65520: inf */
        return (uint16_t)(sign | 0x7c00u);
    if (e >= -14) {                           /* a normal half */
        h = ((uint32_t)(e + 15) << 10) | (uint32_t)(man >> 42);
        rest = man & ((1ULL << 42) - 1);
        if (rest > (1ULL << 41) || (rest == (1ULL << 41) && (h & 1u)))
            h++;                              /* a carry may reach inf: right */
        return (uint16_t)(sign | h);
    }
    if (e < -25)                              /* below half the least subnormal */
        return sign;
    /* subnormal: units of 2**-24 */
    m = man | (1ULL << 52);
    shift = 28 - e;                           /* 43 .. 53 */
    q = m >> shift;
    rest = m & ((1ULL << shift) - 1);
    halfway = 1ULL << (shift - 1);
    if (rest > halfway || (rest == halfway && (q & 1u)))
        q++;                                  /* may become the least normal: right */
    return (uint16_t)(sign | (uint16_t)q);
}

/* n items at s (stride ss bytes) -> d[0..n), contiguous compute values */
static inline void pybuf_half_to_float_line(const char *s, Py_ssize_t ss, int swapped,
                                            float *d, Py_ssize_t n)
{
    Py_ssize_t i;
    uint16_t h;
    for (i = 0; i < n; i++) {
        memcpy(&h, s + i * ss, 2);
        if (swapped)
            h = (uint16_t)((h >> 8) | (h << 8));
        d[i] = pybuf_half_to_float(h);
    }
}

static inline void pybuf_double_to_half_line(const double *s, char *d, Py_ssize_t ds,
                                             int swapped, Py_ssize_t n)
{
    Py_ssize_t i;
    uint16_t h;
    for (i = 0; i < n; i++) {
        h = pybuf_double_to_half(s[i]);
        if (swapped)
            h = (uint16_t)((h >> 8) | (h << 8));
        memcpy(d + i * ds, &h, 2);
    }
}

static inline void pybuf_ld_to_double_line(const char *s, Py_ssize_t ss, double *d,
                                           Py_ssize_t n)
{
    Py_ssize_t i;
    long double v;
    for (i = 0; i < n; i++) {
        memcpy(&v, s + i * ss, sizeof(long double));
        d[i] = (double)v;
    }
}

static inline void pybuf_double_to_ld_line(const double *s, char *d, Py_ssize_t ds,
                                           Py_ssize_t n)
{
    Py_ssize_t i;
    long double v;
    for (i = 0; i < n; i++) {
        v = (long double)s[i];
        /* the padding bytes of the slot are zero, not stack garbage */
        memset(d + i * ds, 0, sizeof(long double));
        memcpy(d + i * ds, &v, (size_t)PYBUF_LD_VALUE_BYTES);
    }
}

#endif /* PYBUF_FLOATCONV_H */
