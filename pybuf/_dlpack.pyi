"""Type stubs for pybuf._dlpack (DLPack import; the export is
Buffer.__dlpack__)."""
from pybuf._typing import CapsuleType, DLPackProducer
from pybuf.buffer import Buffer

class DLPackOwner:
    """Owner of a consumed DLPack tensor (the ``base`` of a Buffer made by
    :func:`from_dlpack`); calls the producer's deleter once."""
    @property
    def producer_type(self) -> str: ...

class NotDLPackProducer(AttributeError, TypeError): ...

def from_dlpack(x: DLPackProducer | CapsuleType, /, *,
                device: str | tuple[int, int] | None = None,
                copy: bool | None = None) -> Buffer: ...
