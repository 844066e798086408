# Build file of a project that cimports pybuf.  With pybuf in the
# build-system requirements (see pyproject.toml next to this file), pip
# installs it into the build environment, so ``import pybuf`` works here.
import pybuf
from Cython.Build import cythonize
from setuptools import Extension, setup

EXAMPLES = ["fill_ramp", "total", "tiny_exporter", "norms", "samples"]
# C sources compiled into an example: samples.pyx wraps a small C library.
C_SOURCES = {"samples": ["samplelib.c"]}

setup(
    name="pybuf-examples",
    ext_modules=cythonize(
        [Extension(name, [f"{name}.pyx"] + C_SOURCES.get(name, []))
         for name in EXAMPLES],
        include_path=[pybuf.get_include()],      # where pybuf/*.pxd live
        compiler_directives={"language_level": 3},
    ),
)
