# Private to pybuf (not an ABI): the C of pybuf/_simd.c -- SIMD kernels
# (pybuf_simd, one table per path, in pybuf/_simd_isa.h), streaming stores,
# the two-thread runner, cache sizes.  Only pybuf.kernels, which compiles
# _simd.c in, may call the functions: the modules above reach them through
# its table (KernelsImpl, _kernels_impl.pxd).  Constants and types are free
# to all.
from pybuf._types cimport *

cdef extern from "_simd.h":
    enum: PYBUF_PARTS               # two-thread work is cut into this many parts
    uint16_t pybuf_bswap16(uint16_t) nogil
    uint32_t pybuf_bswap32(uint32_t) nogil
    uint64_t pybuf_bswap64(uint64_t) nogil
    void pybuf_stream_copy(char *dst, const char *src, size_t n) nogil
    void pybuf_stream_copy_nf(char *dst, const char *src, size_t n) nogil
    void pybuf_sfence() nogil
    void pybuf_prefetch(const void *p) nogil
    ctypedef void (*pybuf_task)(void *) noexcept nogil
    void pybuf_run_parts(pybuf_task task, void *args, size_t argsize,
                         Py_ssize_t nparts, size_t nbytes, bint large) nogil
    int pybuf_worker_enable(int on) nogil
    bint pybuf_worker_running() nogil
    void pybuf_stream_fill(char *dst, size_t n, const char *item,
                           size_t itemsize) nogil
    ctypedef struct pybuf_simd_table:
        const char *name
        double (*sum_f64)(const double *p, Py_ssize_t n, bint nta) noexcept nogil
        double (*sum_f32)(const float *p, Py_ssize_t n, bint nta) noexcept nogil
        double (*min_f64)(const double *p, Py_ssize_t n, int *nan, bint nta) noexcept nogil
        double (*max_f64)(const double *p, Py_ssize_t n, int *nan, bint nta) noexcept nogil
        float (*min_f32)(const float *p, Py_ssize_t n, int *nan, bint nta) noexcept nogil
        float (*max_f32)(const float *p, Py_ssize_t n, int *nan, bint nta) noexcept nogil
        double (*dot_f64)(const double *a, const double *b, Py_ssize_t n,
                          bint nta) noexcept nogil
        double (*dot_f32)(const float *a, const float *b, Py_ssize_t n,
                          bint nta) noexcept nogil
        void (*cvt_f64_f32)(float *d, const double *s, Py_ssize_t n) noexcept nogil
        void (*cvt_f32_f64)(double *d, const float *s, Py_ssize_t n) noexcept nogil
        void (*bswap16)(uint16_t *d, const uint16_t *s, Py_ssize_t n) noexcept nogil
        void (*bswap32)(uint32_t *d, const uint32_t *s, Py_ssize_t n) noexcept nogil
        void (*bswap64)(uint64_t *d, const uint64_t *s, Py_ssize_t n) noexcept nogil
        void (*take2_u32)(uint32_t *d, const uint32_t *s, Py_ssize_t n) noexcept nogil
        void (*take2_u64)(uint64_t *d, const uint64_t *s, Py_ssize_t n) noexcept nogil
        bint (*equal_f64)(const double *a, const double *b, Py_ssize_t n) noexcept nogil
        bint (*equal_f32)(const float *a, const float *b, Py_ssize_t n) noexcept nogil
        void (*fill)(char *d, size_t nbytes, const char *item,
                     size_t isz) noexcept nogil
    const pybuf_simd_table *pybuf_simd
    enum: PYBUF_SIMD_NPATHS
    const char *pybuf_simd_path_name(int k) nogil
    bint pybuf_simd_path_supported(int k) nogil
    int pybuf_simd_select(const char *name) nogil
    size_t pybuf_cache_size(int level) nogil
    size_t pybuf_default_stream_bytes() nogil
