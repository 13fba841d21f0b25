"""Parsing a condition tree: checked against the object it applies to, into typed nodes.

Every problem is collected with its JSON path (``$.condition.all[1].op``) so a person can
fix them all at once. The nodes are what both faces (compiler, evaluator) walk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tessera.definitions.durations import is_duration
from tessera.definitions.errors import FieldError, ValidationFailed, json_path
from tessera.definitions.meta import meta_errors
from tessera.plugins import UnknownType, operators

from . import stored
from .objects import FieldInfo, Incoming, ObjectInfo, object_info
from .operators import DATE, DATETIME, NUMBER, Operator

MAX_DEPTH = 20
AGGREGATES = {"count", "sum", "avg", "min", "max", "first", "last"}
COUNT_OPS = {"eq", "ne", "lt", "lte", "gt", "gte"}


class Node:
    """A parsed condition."""


@dataclass
class Group(Node):
    op: str  # "all" | "any"
    children: list[Node]


@dataclass
class Not(Node):
    child: Node


@dataclass
class FieldLeaf(Node):
    field: FieldInfo
    operator: Operator
    value: Any
    via: FieldInfo | None = None  # a relation field of this object, for "customer.city"
    via_object: str | None = None


@dataclass
class MetricLeaf(Node):
    incoming: Incoming
    aggregate: str
    field: FieldInfo | None  # summed / averaged / min / max field
    time_field: FieldInfo | None
    window: str | None
    where: Node | None
    operator: Operator
    value: Any
    kind: str
    target: str = ""  # the object whose records are being selected


@dataclass
class EventLeaf(Node):
    type: str
    within: str | None
    where: dict[str, Any]
    count_op: str | None  # None: "at least one" (EXISTS)
    count_value: int


@dataclass
class SegmentLeaf(Node):
    key: str
    condition: Node | None  # None when ``stored``: a static segment's snapshot is read
    stored: bool = False


class Parser:
    """Parses one tree for one object; ``segments`` is the chain of segments being expanded."""

    def __init__(self, info: ObjectInfo, segments: tuple[str, ...] = ()):
        self.info = info
        self.segments = segments
        self.errors: list[FieldError] = []

    def error(self, path: list[str | int], code: str, message: str) -> None:
        self.errors.append(FieldError(json_path(path), code, message))

    def parse(self, tree: Any, path: list[str | int], depth: int = 0) -> Node | None:
        if depth > MAX_DEPTH:
            self.error(path, "too_deep", f"conditions nest at most {MAX_DEPTH} levels")
            return None
        if not isinstance(tree, dict) or len(tree) == 0:
            self.error(path, "type", "a condition is a JSON object")
            return None
        if "all" in tree or "any" in tree:
            op = "all" if "all" in tree else "any"
            items = tree[op]
            if not isinstance(items, list) or set(tree) != {op}:
                self.error(path, "invalid", f'write {{"{op}": [conditions…]}}')
                return None
            children = [self.parse(item, [*path, op, i], depth + 1) for i, item in enumerate(items)]
            return (
                Group(op, [c for c in children if c is not None]) if None not in children else None
            )
        if "not" in tree:
            if set(tree) != {"not"}:
                self.error(path, "invalid", 'write {"not": condition}')
                return None
            child = self.parse(tree["not"], [*path, "not"], depth + 1)
            return Not(child) if child is not None else None
        if "field" in tree:
            return self.field_leaf(tree, path)
        if "metric" in tree:
            return self.metric_leaf(tree, path, depth)
        if "event" in tree:
            return self.event_leaf(tree, path)
        if "segment" in tree:
            return self.segment_leaf(tree, path)
        self.error(
            path, "invalid", "a condition has all, any, not, field, metric, event or segment"
        )
        return None

    def operator(self, tree: dict, path: list, kind: str, value: Any) -> Operator | None:
        name = tree.get("op")
        try:
            operator = operators.get(name) if isinstance(name, str) else None
        except UnknownType as exc:
            self.error([*path, "op"], "unknown_operator", str(exc))
            return None
        if operator is None:
            self.error([*path, "op"], "required", "an operator is required")
            return None
        if kind not in operator.kinds:
            self.error(
                [*path, "op"],
                "wrong_type",
                f"{name} does not apply to a {kind} field; it applies to "
                f"{', '.join(sorted(operator.kinds))}",
            )
            return None
        problem = operator.value_problem(value, kind)
        if problem:
            self.error([*path, "value"], "invalid_value", problem)
            return None
        return operator

    def field_leaf(self, tree: dict, path: list) -> Node | None:
        if set(tree) - {"field", "op", "value"}:
            self.error(
                path, "invalid", f"unexpected keys: {sorted(set(tree) - {'field', 'op', 'value'})}"
            )
            return None
        name = tree["field"]
        if not isinstance(name, str):
            self.error([*path, "field"], "type", "a field name is text")
            return None
        head, _, rest = name.partition(".")
        field = self.info.fields.get(head)
        if field is None:
            self.error([*path, "field"], "unknown_field", f"{self.info.key} has no field {head!r}")
            return None
        via, via_object = None, None
        if rest:
            if field.x_type != "relation":
                self.error(
                    [*path, "field"],
                    "unknown_field",
                    f"{head!r} is not a relation, so {name!r} leads nowhere",
                )
                return None
            target = object_info(field.prop["x-relation"]["object"])
            inner = target.fields.get(rest) if target else None
            if inner is None:
                self.error(
                    [*path, "field"],
                    "unknown_field",
                    f"{field.prop['x-relation']['object']} has no field {rest!r}",
                )
                return None
            via, via_object, field = field, target.key, inner
        value = tree.get("value")
        operator = self.operator(tree, path, field.kind, value)
        return FieldLeaf(field, operator, value, via, via_object) if operator else None

    def metric_leaf(self, tree: dict, path: list, depth: int) -> Node | None:
        metric = tree["metric"]
        if not isinstance(metric, str) or metric.count(".") not in (1, 2):
            self.error(
                [*path, "metric"],
                "type" if not isinstance(metric, str) else "invalid",
                "a metric is '<related>.<aggregate>' or '<related>.<aggregate>.<field>'",
            )
            return None
        extra = set(tree) - {"metric", "window", "where", "op", "value"}
        if extra:
            self.error(path, "invalid", f"unexpected keys: {sorted(extra)}")
            return None
        relation, aggregate, *rest = [*metric.split("."), None]
        field_name = rest[0]
        incoming = self.info.incoming.get(relation)
        if incoming is None:
            known = ", ".join(sorted(self.info.incoming)) or "none"
            self.error(
                [*path, "metric"],
                "unknown_relation",
                f"{self.info.key} has no related records called {relation!r} (known: {known})",
            )
            return None
        if aggregate not in AGGREGATES:
            self.error(
                [*path, "metric"],
                "unknown_aggregate",
                f"{aggregate!r} is not one of {', '.join(sorted(AGGREGATES))}",
            )
            return None
        source = object_info(incoming.source)
        field = None
        if aggregate in ("sum", "avg", "min", "max"):
            field = source.fields.get(field_name or "")
            allowed = {NUMBER} if aggregate in ("sum", "avg") else {NUMBER, DATE, DATETIME}
            if field is None or field.kind not in allowed:
                self.error(
                    [*path, "metric"],
                    "unknown_field",
                    f"{aggregate} needs a {' or '.join(sorted(allowed))} field of "
                    f"{source.key}: '{relation}.{aggregate}.<field>'",
                )
                return None
        elif field_name:
            self.error([*path, "metric"], "invalid", f"{aggregate} takes no field")
            return None
        time_field = source.fields.get(source.time_field) if source.time_field else None
        window = tree.get("window")
        if (window is not None or aggregate in ("first", "last")) and time_field is None:
            self.error(
                [*path, "window" if window else "metric"],
                "no_time_field",
                f"{source.key} has no x-time-field, so it cannot be placed in time",
            )
            return None
        if window is not None and not is_duration(window):
            self.error([*path, "window"], "invalid", f"{window!r} is not a duration such as P90D")
            return None
        where = None
        if "where" in tree:
            where = Parser(source, self.segments).parse_into(
                tree["where"], [*path, "where"], depth + 1, self
            )
            if where is None:
                return None
        if aggregate == "count":
            kind = NUMBER
        elif aggregate in ("first", "last"):
            kind = time_field.kind
        else:
            kind = field.kind if aggregate in ("min", "max") else NUMBER
        value = tree.get("value")
        operator = self.operator(tree, path, kind, value)
        if operator is None:
            return None
        return MetricLeaf(
            incoming,
            aggregate,
            field,
            time_field,
            window,
            where,
            operator,
            value,
            kind,
            self.info.key,
        )

    def parse_into(self, tree: Any, path: list, depth: int, outer: Parser) -> Node | None:
        node = self.parse(tree, path, depth)
        outer.errors.extend(self.errors)
        return node if not self.errors else None

    def event_leaf(self, tree: dict, path: list) -> Node | None:
        extra = set(tree) - {"event", "within", "where", "count"}
        if extra:
            self.error(path, "invalid", f"unexpected keys: {sorted(extra)}")
            return None
        name = tree["event"]
        if not isinstance(name, str) or not name or len(name) > 100:
            self.error(
                [*path, "event"], "invalid", "an event type is a text of 1 to 100 characters"
            )
            return None
        within = tree.get("within")
        if within is not None and not is_duration(within):
            self.error([*path, "within"], "invalid", f"{within!r} is not a duration such as P7D")
            return None
        where = tree.get("where") or {}
        if not isinstance(where, dict):
            self.error([*path, "where"], "type", "where is {payload key: value}")
            return None
        for key, value in where.items():
            if not re.fullmatch(r"[A-Za-z0-9_]{1,64}", key):
                self.error(
                    [*path, "where", key], "invalid", "payload keys are letters, digits and _"
                )
                return None
            if not (
                isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
            ):
                self.error(
                    [*path, "where", key], "invalid_value", "payload values are texts or integers"
                )
                return None
        count = tree.get("count")
        count_op, count_value = None, 1
        if count is not None:
            ok = (
                isinstance(count, dict)
                and count.get("op") in COUNT_OPS
                and isinstance(count.get("value"), int)
                and not isinstance(count.get("value"), bool)
                and count["value"] >= 0
            )
            if not ok:
                self.error(
                    [*path, "count"],
                    "invalid",
                    f'count is {{"op": one of {sorted(COUNT_OPS)}, "value": a whole number}}',
                )
                return None
            count_op, count_value = count["op"], count["value"]
        return EventLeaf(name, within, where, count_op, count_value)

    def segment_leaf(self, tree: dict, path: list) -> Node | None:
        from tessera.definitions.cache import published

        key = tree["segment"]
        if set(tree) != {"segment"}:
            self.error(path, "invalid", 'write {"segment": key}')
            return None
        if key in self.segments:
            chain = " → ".join([*self.segments, key])
            self.error(
                [*path, "segment"], "cycle", f"segments refer to each other in a cycle: {chain}"
            )
            return None
        definition = published("segment", key) if isinstance(key, str) else None
        if definition is None:
            self.error([*path, "segment"], "unknown_segment", f"{key!r} is not a published segment")
            return None
        if definition.body["object"] != self.info.key:
            self.error(
                [*path, "segment"],
                "wrong_object",
                f"segment {key!r} is about {definition.body['object']}, not {self.info.key}",
            )
            return None
        if definition.body.get("mode") == "static" and stored.reader() is not None:
            return SegmentLeaf(key, None, stored=True)  # the snapshot, not the condition
        inner = Parser(self.info, (*self.segments, key))
        node = inner.parse(definition.body["condition"], [*path, "segment"])
        if inner.errors:
            self.errors.extend(inner.errors)
            return None
        return SegmentLeaf(key, node)


def parse(
    tree: Any,
    object_key: str,
    *,
    path: list[str | int] | None = None,
    segments: tuple[str, ...] = (),
) -> Node:
    """Check ``tree`` against ``object_key`` and return its nodes, or raise ValidationFailed."""
    path = path or []
    info = object_info(object_key)
    if info is None:
        raise ValidationFailed(
            [
                FieldError(
                    json_path([*path]) if path else "$",
                    "unknown_object",
                    f"{object_key!r} is not a published object",
                )
            ]
        )
    shape = meta_errors("condition", tree) if _small(tree) else []
    parser = Parser(info, segments)
    node = parser.parse(tree, path)
    if parser.errors or node is None:
        errors = parser.errors or [
            FieldError(e.path.replace("$", json_path(path), 1), e.code, e.message) for e in shape
        ]
        raise ValidationFailed(
            errors or [FieldError(json_path(path), "invalid", "not a condition")]
        )
    return node


def _small(tree: Any) -> bool:
    try:
        import json

        return len(json.dumps(tree)) < 65536
    except (TypeError, ValueError, RecursionError):
        return False
