"""How a condition reads a static segment's snapshot (``tessera.conditions.stored``).

Registered in ``SegmentsConfig.ready()``; the SQL is an EXISTS on the membership table's
unique (segment, record) index, the Python face one indexed lookup.
"""

from __future__ import annotations

from tessera.conditions.context import SqlContext

from .models import Membership


class StoredMembership:
    """Both faces of ``{"segment": key}`` for a static segment: in its stored snapshot."""

    type = "segments"

    def sql(self, key: str, alias: str, ctx: SqlContext) -> str:
        m = ctx.new_alias()
        return (
            f"EXISTS (SELECT 1 FROM segments_membership {m} "
            f"WHERE {m}.segment_key = {ctx.param(key)} AND {m}.record_id = {alias}.id)"
        )

    def contains(self, key: str, record_id: int) -> bool:
        return Membership.objects.filter(segment_key=key, record_id=record_id).exists()


READER = StoredMembership()
