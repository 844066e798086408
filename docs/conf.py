"""Sphinx configuration for pybuf's documentation.

Build: ``python -m sphinx -W -b html docs docs/_build/html`` from the
repository root, with pybuf installed.
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# The documentation is of the installed pybuf: the checkout's root (first on
# sys.path under ``python -m sphinx`` there) leaves sys.path, so that the
# checkout's unbuilt pybuf/ is not imported instead.
sys.path[:] = [p for p in sys.path if os.path.realpath(p or os.curdir)
               != os.path.realpath(os.path.dirname(HERE))]

import pybuf  # noqa: E402

project = "pybuf"
author = "the pybuf authors"
copyright = "pybuf authors"
release = version = pybuf.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",     # numpydoc-style docstrings
]
napoleon_google_docstring = False
napoleon_numpy_docstring = True
autodoc_member_order = "bysource"
autodoc_typehints = "none"

exclude_patterns = ["_build", "examples/build", "Thumbs.db", ".DS_Store"]
html_theme = "alabaster"
html_static_path = ["_static"]
html_theme_options = {"description": "The Python buffer protocol, exact and fast"}
pygments_style = "sphinx"

# Pages written by other issues join the table of contents when they exist:
# the index lists them through this hook, so that a checkout without them
# still builds with -W.
OPTIONAL_PAGES = ["interop"]


def _add_optional_pages(app, docname, source):
    if docname != "index":
        return
    present = [p for p in OPTIONAL_PAGES
               if os.path.exists(os.path.join(HERE, p + ".rst"))]
    lines = "".join(f"   {p}\n" for p in present)
    source[0] = source[0].replace("   .. optional pages\n", lines)


_SIGNATURE = re.compile(r"^\s*[A-Za-z_][\w.]*\(.*\)(\s*->.*)?\s*$")


def _drop_signature_lines(app, what, name, obj, options, lines):
    """Cython's ``embedsignature`` and hand-written docstrings may both start
    with a ``Name(...)`` line; autodoc already shows the signature, and a
    bare ``*`` in the leftover line would read as broken emphasis."""
    while lines and (not lines[0].strip() or _SIGNATURE.match(lines[0])):
        del lines[0]


def setup(app):
    app.connect("source-read", _add_optional_pages)
    app.connect("autodoc-process-docstring", _drop_signature_lines)
