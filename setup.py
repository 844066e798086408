"""Build pybuf's extension modules.

Metadata lives in pyproject.toml; this file only lists the extensions, sets
the Cython directives, once, for all of them, and the compiler flags in the
spelling of the compiler the build uses (GCC and clang, or MSVC).
``PYBUF_DEBUG=1`` turns the bounds, wraparound and initialisation checks
back on and keeps debug info.
"""
import os

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

DEBUG = os.environ.get("PYBUF_DEBUG", "") not in ("", "0")

directives = {
    "language_level": 3,
    "binding": True,
    "embedsignature": True,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": not DEBUG,
}

define_macros = [("PYBUF_DEBUG", "1")] if DEBUG else []


class BuildExt(build_ext):
    """Compiler flags in the compiler's own spelling, known only once the
    build has chosen the compiler."""

    def build_extensions(self):
        if self.compiler.compiler_type == "msvc":
            compile_args = ["/Od", "/Zi"] if DEBUG else ["/O2"]
            link_args = []
        else:
            # -g0 last: Python's own CFLAGS often carry -g, and release
            # wheels ship without debug info (a PYBUF_DEBUG=1 build keeps
            # it).  pybuf.kernels splits large work between two POSIX
            # threads.
            compile_args = ["-O0", "-g"] if DEBUG else ["-O3", "-g0"]
            link_args = []
            if os.name == "posix":
                compile_args.append("-pthread")
                link_args.append("-pthread")
        for ext in self.extensions:
            ext.extra_compile_args = compile_args + ext.extra_compile_args
            ext.extra_link_args = link_args + ext.extra_link_args
        super().build_extensions()


MODULES = ["_items", "_layout", "_alloc", "buffer", "kernels", "_ops", "_dlpack",
           "_introspect", "_tuning"]
# pybuf's hand-written C lives beside the .pyx files in pybuf/ (no .pyx
# holds C in a verbatim string): the C files compiled into a module, and the
# headers it reads (a change to one rebuilds the module).
C_SOURCES = {"kernels": ["pybuf/_simd.c"]}
C_DEPENDS = {"kernels": ["pybuf/_simd.h", "pybuf/_simd_isa.h",
                         "pybuf/_floatconv.h", "pybuf/_compiler.h"],
             # _memory.h: also through _layout.pxd, cimported by buffer, _ops;
             # _dlpack.h through _dlpack_c.pxd
             "_tuning": ["pybuf/_simd.h", "pybuf/_compiler.h"],
             "_ops": ["pybuf/_simd.h", "pybuf/_memory.h", "pybuf/_compiler.h"],
             "_layout": ["pybuf/_memory.h", "pybuf/_compiler.h"],
             "_alloc": ["pybuf/_memory.h", "pybuf/_compiler.h"],
             "buffer": ["pybuf/_memory.h", "pybuf/_build.h", "pybuf/_dlpack.h",
                        "pybuf/_compiler.h"],
             "_dlpack": ["pybuf/_dlpack.h"],
             "_introspect": ["pybuf/_build.h"]}

extensions = [
    Extension(f"pybuf.{name}", [f"pybuf/{name}.pyx"] + C_SOURCES.get(name, []),
              depends=C_DEPENDS.get(name, []),
              define_macros=define_macros)
    for name in MODULES
]

setup(ext_modules=cythonize(extensions, compiler_directives=directives),
      cmdclass={"build_ext": BuildExt})
