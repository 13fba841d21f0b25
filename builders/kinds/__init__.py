"""One builder per definition kind, each editing the same JSON a developer writes by hand.

A builder turns the working body into controls (``context``) and the controls a person
changed back into the body (``apply``); problems the store finds are placed next to the
control they concern (``slot``). Kinds without a builder are edited as JSON.
"""

from __future__ import annotations

from tessera.plugins import Registry

from .base import Builder, JsonBuilder

kind_builders: Registry[Builder] = Registry("definition builder")


def builder_for(kind: str) -> Builder:
    _fill()
    return kind_builders.get(kind) if kind in kind_builders else JsonBuilder(kind)


def _fill() -> None:
    if kind_builders.keys():
        return
    from .campaign import CampaignBuilder
    from .object import ObjectBuilder
    from .segment import SegmentBuilder
    from .workflow import WorkflowBuilder

    for builder in (ObjectBuilder(), SegmentBuilder(), WorkflowBuilder(), CampaignBuilder()):
        kind_builders.register(builder)


__all__ = ["Builder", "JsonBuilder", "builder_for", "kind_builders"]
