/* _build.h -- how this build of pybuf was compiled, for
 * ``python -m pybuf info`` and pybuf.describe (pybuf/buffer.pyx). */
#ifndef PYBUF_BUILD_H
#define PYBUF_BUILD_H

#if defined(__OPTIMIZE__)
#define PYBUF_BUILT_OPTIMIZED 1
#else
#define PYBUF_BUILT_OPTIMIZED 0
#endif

#if defined(__VERSION__)
#define PYBUF_COMPILER_VERSION __VERSION__
#else
#define PYBUF_COMPILER_VERSION "unknown"
#endif

#endif
