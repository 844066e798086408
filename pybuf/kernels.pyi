# The C-level kernels are cimported from kernels.pxd; the Python entry
# points are listed here as they are added.
