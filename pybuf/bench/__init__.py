"""pybuf's benchmark suites, shipped with the package.

``python -m pybuf bench`` runs them from any installed pybuf (they need
numpy, which pybuf itself does not).  Each suite is a module ``bench_NAME``
in this package with a function ``run(quick=False)`` that returns a list of
:class:`pybuf.bench.common.Row`; every row compares a pybuf operation with a
baseline timed in the same run.  ``python -m pybuf.bench.bench_NAME
[--quick]`` runs one suite and prints its table.

Nothing here runs at import.
"""
import pkgutil as _pkgutil


def suite_names():
    """The names of the suites in this package, sorted (``"buffer"``, ...)."""
    return sorted(m.name[len("bench_"):] for m in _pkgutil.iter_modules(__path__)
                  if m.name.startswith("bench_"))
