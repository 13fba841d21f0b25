"""What a parsed condition reads, so a write re-checks only the conditions it can change.

For a condition on object O the walk collects:

- O's own fields (``city``, the relation field ``referrer`` of ``referrer.city``);
- forward relations: O's relation field → a field of the target (``referrer.city`` reads
  ``city`` of the customer that ``referrer`` points at);
- incoming relations (metrics): ``orders.sum.total`` reads ``total``, the time field and the
  ``where`` fields of the orders whose ``customer`` points at the O record;
- event types on O's records;
- whether the answer moves with the clock (windows, ``within``, relative dates), so a
  periodic step must re-check it even when nothing is written;
- whether it reaches two hops away (a metric's ``where`` that follows another relation),
  which writes do not track: the periodic step re-checks those too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tessera.conditions.tree import EventLeaf, FieldLeaf, Group, MetricLeaf, Node, Not, SegmentLeaf

CLOCK_OPERATORS = {"within", "anniversary_within"}


@dataclass
class Reads:
    """Everything a condition on ``object_key`` depends on."""

    object_key: str
    fields: set[str] = field(default_factory=set)
    # target object → {(relation field on O, field of the target)}
    forward: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    # (source object, its relation field to O) → fields of the source read
    incoming: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    events: set[str] = field(default_factory=set)
    segments: set[str] = field(default_factory=set)
    timed: bool = False
    deep: bool = False

    @property
    def periodic(self) -> bool:
        """Must a periodic step re-check it, because writes alone cannot tell when it changes?"""
        return self.timed or self.deep

    def merge(self, other: Reads) -> None:
        self.fields |= other.fields
        for target, pairs in other.forward.items():
            self.forward.setdefault(target, set()).update(pairs)
        for source, names in other.incoming.items():
            self.incoming.setdefault(source, set()).update(names)
        self.events |= other.events
        self.segments |= other.segments
        self.timed |= other.timed
        self.deep |= other.deep

    def objects(self) -> set[str]:
        """Every object whose writes can change the answer."""
        return {self.object_key, *self.forward, *(s for s, _ in self.incoming)}


def reads_of(node: Node, object_key: str) -> Reads:
    reads = Reads(object_key)
    _walk(node, reads)
    return reads


def _walk(node: Node | None, reads: Reads) -> None:
    if node is None:
        return
    if isinstance(node, Group):
        for child in node.children:
            _walk(child, reads)
    elif isinstance(node, Not):
        _walk(node.child, reads)
    elif isinstance(node, SegmentLeaf):
        reads.segments.add(node.key)
        _walk(node.condition, reads)
    elif isinstance(node, FieldLeaf):
        reads.timed |= _clock_bound(node.operator.type, node.value)
        if node.via is None:
            reads.fields.add(node.field.name)
        else:
            reads.fields.add(node.via.name)
            reads.forward.setdefault(node.via_object, set()).add((node.via.name, node.field.name))
    elif isinstance(node, MetricLeaf):
        names = {node.incoming.field}
        for named in (node.field, node.time_field):
            if named is not None:
                names.add(named.name)
        if node.window:
            reads.timed = True
        reads.timed |= _clock_bound(node.operator.type, node.value)
        if node.where is not None:
            inner = reads_of(node.where, node.incoming.source)
            names |= inner.fields
            reads.timed |= inner.timed
            # a where that follows a relation, a metric or events of the related records
            reads.deep |= bool(inner.forward or inner.incoming or inner.events or inner.deep)
        key = (node.incoming.source, node.incoming.field)
        reads.incoming.setdefault(key, set()).update(names)
    elif isinstance(node, EventLeaf):
        reads.events.add(node.type)
        reads.timed |= node.within is not None


def _clock_bound(operator: str, value: Any) -> bool:
    """Does the value mean something different tomorrow ("now", "today", ago, from_now)?"""
    if operator in CLOCK_OPERATORS:
        return True
    values = value if isinstance(value, list) else [value]
    return any(
        v in ("now", "today") or (isinstance(v, dict) and ({"ago", "from_now"} & set(v)))
        for v in values
    )
