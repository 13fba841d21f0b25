"""Reading a segment's stored membership: the hook static segments plug into.

A static segment is a snapshot, so a reference to it means "in the snapshot", not "meets
its condition now". The snapshot is stored by ``tessera.segments``, a layer above this one,
which registers the reader in its ``AppConfig.ready()``::

    readers.register(StoredMembership())  # type = "segments"

Without a reader, a reference to a static segment reads its condition, as one to a dynamic
segment does.
"""

from __future__ import annotations

from typing import Protocol

from tessera.plugins import Registry

from .context import SqlContext


class MembershipReader(Protocol):
    """Both faces of "the record is in the stored segment ``key``"."""

    type: str

    def sql(self, key: str, alias: str, ctx: SqlContext) -> str:
        """A boolean SQL expression (never NULL) about the record at ``alias``."""
        ...

    def contains(self, key: str, record_id: int) -> bool: ...


readers: Registry = Registry("stored membership reader")


def reader() -> MembershipReader | None:
    return next(iter(readers), None)
