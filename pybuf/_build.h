/* _build.h -- how this build of pybuf was compiled: for ``python -m pybuf
 * info`` (pybuf/_introspect.pyx) and the debug checks of pybuf/buffer.pyx. */
#ifndef PYBUF_BUILD_H
#define PYBUF_BUILD_H

/* GCC and clang say whether they optimise; MSVC does not, and its builds
   of extensions are release builds (/O2, NDEBUG) unless asked otherwise. */
#if defined(__OPTIMIZE__) || (defined(_MSC_VER) && defined(NDEBUG))
#define PYBUF_BUILT_OPTIMIZED 1
#else
#define PYBUF_BUILT_OPTIMIZED 0
#endif

/* PYBUF_DEBUG=1 builds (setup.py defines PYBUF_DEBUG): extra checks of
   invariants, such as a Buffer never being freed while exported. */
#if defined(PYBUF_DEBUG)
#define PYBUF_DEBUG_BUILD 1
#else
#define PYBUF_DEBUG_BUILD 0
#endif

#if defined(__VERSION__)
#define PYBUF_COMPILER_VERSION __VERSION__
#else
#define PYBUF_COMPILER_VERSION "unknown"
#endif

#endif
