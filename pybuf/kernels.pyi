# The C-level kernels are cimported from kernels.pxd; the Python entry
# points live in pybuf._ops (re-exported as pybuf.<name>), the tuning hooks
# of benchmarks and tests in pybuf._tuning.  Python sees no other name here.
