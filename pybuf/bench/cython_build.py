"""Compile a small Cython extension against the installed pybuf (its
``.pxd`` files from :func:`pybuf.get_include`) and import it: what a user's
out-of-tree extension does.  The typed-memoryview benchmark and the test
suite's Cython consumers use it; it needs Cython, setuptools and a C
compiler, which pybuf itself does not."""
import importlib.util
import os
import subprocess
import sys
import textwrap

import pybuf


def build_extension(folder, name, source):
    """Write ``source`` to ``folder/name.pyx``, compile it in place and
    return the imported module.  RuntimeError (with the compiler's output)
    when the build fails."""
    folder = os.fspath(folder)
    pyx = os.path.join(folder, f"{name}.pyx")
    with open(pyx, "w") as f:
        f.write(textwrap.dedent(source))
    with open(os.path.join(folder, "setup.py"), "w") as f:
        f.write(textwrap.dedent(f"""
            from setuptools import Extension, setup
            from Cython.Build import cythonize
            setup(ext_modules=cythonize(
                [Extension({name!r}, [{name + '.pyx'!r}])],
                include_path=[{pybuf.get_include()!r}],
                compiler_directives={{"language_level": 3}}))
        """))
    proc = subprocess.run(
        [sys.executable, "setup.py", "build_ext", "--inplace", "-q"],
        cwd=folder, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"building {name} failed:\n{proc.stdout}\n{proc.stderr}")
    for fn in os.listdir(folder):
        if fn.startswith(name + ".") and fn.endswith((".so", ".pyd")):
            spec = importlib.util.spec_from_file_location(name, os.path.join(folder, fn))
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    raise RuntimeError(f"no extension module {name} built in {folder}")
