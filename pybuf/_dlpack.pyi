"""Type stubs for pybuf._dlpack (DLPack capsules for Buffer)."""
from typing import Any, Optional, Tuple

from pybuf.buffer import Buffer

class DLPackOwner:
    """Owner of a consumed DLPack tensor (the ``base`` of a Buffer made by
    :func:`from_dlpack`); calls the producer's deleter once."""
    @property
    def producer_type(self) -> str: ...

def to_dlpack(b: Buffer, stream: Any, max_version: Optional[Tuple[int, int]],
              dl_device: Optional[Tuple[int, int]],
              copy: Optional[bool]) -> Any: ...
def from_dlpack(obj: Any) -> Buffer: ...
