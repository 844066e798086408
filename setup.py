"""Build pybuf's extension modules.

Metadata lives in pyproject.toml; this file only lists the extensions and sets
the Cython directives, once, for all of them.  ``PYBUF_DEBUG=1`` turns the
bounds, wraparound and initialisation checks back on and keeps debug info.
"""
import os

from Cython.Build import cythonize
from setuptools import Extension, setup

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

# -g0 last: Python's own CFLAGS often carry -g, and release wheels ship
# without debug info (a PYBUF_DEBUG=1 build keeps it).
extra_compile_args = ["-O0", "-g"] if DEBUG else ["-O3", "-g0"]
define_macros = [("PYBUF_DEBUG", "1")] if DEBUG else []
extra_link_args = []
if os.name == "posix":
    # pybuf.kernels splits large work between two POSIX threads.
    extra_compile_args.append("-pthread")
    extra_link_args.append("-pthread")

MODULES = ["_items", "_layout", "_alloc", "buffer", "kernels", "_ops", "_dlpack",
           "_introspect", "_tuning"]
# pybuf's hand-written C lives beside the .pyx files in pybuf/ (no .pyx
# holds C in a verbatim string): the C files compiled into a module, and the
# headers it reads (a change to one rebuilds the module).
C_SOURCES = {"kernels": ["pybuf/_simd.c"]}
C_DEPENDS = {"kernels": ["pybuf/_simd.h", "pybuf/_simd_isa.h",
                         "pybuf/_floatconv.h"],
             # _memory.h: also through _layout.pxd, cimported by buffer, _ops;
             # _dlpack.h through _dlpack_c.pxd
             "_tuning": ["pybuf/_simd.h"],
             "_ops": ["pybuf/_simd.h", "pybuf/_memory.h"],
             "_layout": ["pybuf/_memory.h"],
             "_alloc": ["pybuf/_memory.h"],
             "buffer": ["pybuf/_memory.h", "pybuf/_build.h", "pybuf/_dlpack.h"],
             "_dlpack": ["pybuf/_dlpack.h"],
             "_introspect": ["pybuf/_build.h"]}

extensions = [
    Extension(f"pybuf.{name}", [f"pybuf/{name}.pyx"] + C_SOURCES.get(name, []),
              depends=C_DEPENDS.get(name, []),
              extra_compile_args=extra_compile_args,
              define_macros=define_macros,
              extra_link_args=extra_link_args)
    for name in MODULES
]

setup(ext_modules=cythonize(extensions, compiler_directives=directives))
