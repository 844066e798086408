# Types for pybuf's annotations: imported by its stubs, and by its Python
# modules only under TYPE_CHECKING (a stub with no module: nothing here
# exists at run time, so typing_extensions is never imported).
import sys
from collections.abc import Sequence
from typing import Any, Protocol, SupportsIndex, Union

if sys.version_info >= (3, 12):
    from collections.abc import Buffer as Exporter
else:
    from typing_extensions import Buffer as Exporter
if sys.version_info >= (3, 13):
    from types import CapsuleType
else:
    from typing_extensions import CapsuleType

__all__ = ["Exporter", "CapsuleType", "DLPackProducer", "Shape", "Index"]

# A shape: one size, or a sequence of sizes.
Shape = Union[SupportsIndex, Sequence[SupportsIndex]]
# A Buffer index: an int, a slice, ..., or a tuple of them.
Index = Union[SupportsIndex, slice, "ellipsis", tuple[Any, ...]]

class DLPackProducer(Protocol):
    """What pybuf.from_dlpack takes besides a capsule: any object with
    ``__dlpack__`` (numpy arrays, torch tensors, pybuf Buffers ...)."""
    def __dlpack__(self) -> Any: ...
