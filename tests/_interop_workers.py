"""Functions run in child processes by test_interop (importable by name, so
that spawned workers can unpickle them)."""
import pybuf


def describe(b):
    """What arrived: enough to check equality and flags in the parent."""
    return (type(b).__name__, b.shape, b.format, b.readonly, b.c_contiguous,
            b.tobytes())


def echo(b):
    return b


def negate(b):
    """A new Buffer with every item negated (the argument is not changed)."""
    out = pybuf.copy(b)
    for i in range(len(out)):
        out[i] = -out[i]
    return out


def write_shared(b, index, value):
    """``b`` arrives pickled by name: a mapping of the parent's segment."""
    b[index] = value
    result = (type(b).__name__, b.creator, b[index])
    b.close()
    return result


def write_attached(name, shape, fmt, index, value):
    b = pybuf.attach(name, shape, fmt)
    b[index] = value
    b.close()
