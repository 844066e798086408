"""What an installed pybuf ships, and that it needs nothing but the
standard library."""
import os
import subprocess
import sys
import textwrap

import pybuf
import pybuf.buffer


def _package_dir():
    return os.path.dirname(pybuf.buffer.__file__)


def test_ships_pxd_stubs_and_marker_but_no_generated_c():
    names = set(os.listdir(_package_dir()))
    in_place = os.path.isfile(os.path.join(_package_dir(), "..", "setup.py"))
    for required in ("buffer.pxd", "kernels.pxd", "_types.pxd", "buffer.pyx",
                     "kernels.pyx", "buffer.pyi", "kernels.pyi", "py.typed"):
        assert required in names, required
    if not in_place:        # a source checkout built in place has its .c files
        assert not [n for n in names if n.endswith((".c", ".html"))]
    assert any(n.startswith("buffer.") and n.endswith((".so", ".pyd")) for n in names)


def test_public_names():
    for name in ["Buffer", "empty", "zeros", "full", "asbuffer", "copy",
                 "parse_format", "calcsize", "Format", "get_include", "__version__"]:
        assert hasattr(pybuf, name), name
        assert name in pybuf.__all__, name


def test_imports_without_numpy():
    # Block numpy (and everything outside the standard library we might
    # reach for) and use pybuf.
    code = textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("numpy", "torch", "dask"):
                    raise ImportError("blocked: " + name)
        sys.meta_path.insert(0, Block())
        import pybuf
        b = pybuf.full((2, 3), 1.5, "d")
        assert memoryview(b).tolist() == [[1.5] * 3] * 2
        assert pybuf.copy(b[:, ::2]).tolist() == [[1.5] * 2] * 2
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, cwd=os.path.dirname(_package_dir()))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
