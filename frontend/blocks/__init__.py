"""Screen blocks: one renderer per block type, kept in a registry keyed by the type slug.

A screen definition's ``blocks`` are rendered in order; each renderer turns one block into
a template context. A renderer that cannot show a block to this person (an unpublished
object, no right to read it, a filter on a field they may not read) raises BlockProblem and
the block shows why instead of the page failing.
"""

from __future__ import annotations

from tessera.plugins import Registry

from .base import BlockContext, BlockType

block_types: Registry[BlockType] = Registry("screen block")


def register_builtin_blocks() -> None:
    from .chart import ChartBlock, KpiBlock
    from .form import FormBlock
    from .kanban import KanbanBlock
    from .record import RecordBlock
    from .table import TableBlock

    for block in (
        TableBlock(),
        FormBlock(),
        KanbanBlock(),
        RecordBlock(),
        ChartBlock(),
        KpiBlock(),
    ):
        if block.type not in block_types:
            block_types.register(block)


__all__ = ["BlockContext", "BlockType", "block_types", "register_builtin_blocks"]
