"""Limits on what one request may ask (OWASP's GraphQL cheat sheet): depth, aliases, cost.

Checked after the standard validation (so fragments are known to exist and not to loop)
and before any resolver runs. Introspection fields (``__schema``…) are not counted: they
are allowed or refused as a whole by ``introspection``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    Node,
    OperationDefinitionNode,
    StringValueNode,
    VariableNode,
    get_named_type,
)

from .pages import DEFAULT_PAGE, MAX_PAGE


@dataclass(frozen=True)
class Limits:
    depth: int = 10
    aliases: int = 50
    cost: int = 50_000
    batch: int = 10
    body_bytes: int = 100_000
    seconds: float = 10.0
    tokens: int = 5_000
    introspection: bool = False
    graphiql: bool = False

    @classmethod
    def current(cls) -> Limits:
        given = getattr(settings, "TESSERA_GRAPHQL", {})
        return cls(**{k: v for k, v in given.items() if k in cls.__dataclass_fields__})


def _error(code: str, message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


def count_aliases(document: DocumentNode) -> int:
    count = 0
    stack: list[Any] = list(document.definitions)
    while stack:
        node = stack.pop()
        if isinstance(node, FieldNode) and node.alias is not None:
            count += 1
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)
    return count


class _Walk:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode, variables: dict[str, Any]):
        self.schema = schema
        self.variables = variables
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.errors: list[GraphQLError] = []

    def first(self, node: FieldNode) -> int | None:
        for arg in node.arguments or ():
            if arg.name.value != "first":
                continue
            value = arg.value
            if isinstance(value, IntValueNode):
                return int(value.value)
            if isinstance(value, VariableNode):
                given = self.variables.get(value.name.value)
                return given if isinstance(given, int) and not isinstance(given, bool) else None
        return None

    def cost(self, selections, parent, depth: int) -> tuple[int, int]:
        """(cost, depth) of a selection set on ``parent`` (a GraphQL type)."""
        total, deepest = 0, depth
        for node in selections:
            if isinstance(node, FieldNode):
                name = node.name.value
                if name.startswith("__"):
                    continue
                field = getattr(parent, "fields", {}).get(name)
                if field is None:
                    continue
                multiplier = 1
                if "first" in field.args:
                    given = self.first(node)
                    multiplier = DEFAULT_PAGE if given is None else given
                    if given is not None and not 0 <= given <= MAX_PAGE:
                        self.errors.append(_error("page_size", f"first is 0 to {MAX_PAGE}"))
                inner_cost, inner_depth = 0, depth + 1
                if node.selection_set is not None:
                    inner_cost, inner_depth = self.cost(
                        node.selection_set.selections, get_named_type(field.type), depth + 1
                    )
                total += 1 + multiplier * inner_cost
                deepest = max(deepest, inner_depth)
            elif isinstance(node, (InlineFragmentNode, FragmentSpreadNode)):
                if isinstance(node, FragmentSpreadNode):
                    fragment = self.fragments.get(node.name.value)
                    if fragment is None:
                        continue
                    condition, selection_set = fragment.type_condition, fragment.selection_set
                else:
                    condition, selection_set = node.type_condition, node.selection_set
                target = self.schema.get_type(condition.name.value) if condition else parent
                inner_cost, inner_depth = self.cost(selection_set.selections, target, depth)
                total += inner_cost
                deepest = max(deepest, inner_depth)
        return total, deepest


def check(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: dict[str, Any],
    limits: Limits,
) -> list[GraphQLError]:
    """Problems with the operation's size: too deep, too costly, pages too large."""
    walk = _Walk(schema, document, variables)
    root = schema.get_root_type(operation.operation)
    cost, depth = walk.cost(operation.selection_set.selections, root, 0)
    errors = walk.errors[:1]
    if depth > limits.depth:
        errors.append(_error("too_deep", f"the query nests {depth} levels; at most {limits.depth}"))
    if cost > limits.cost:
        errors.append(
            _error("too_costly", f"the query could resolve {cost} fields; at most {limits.cost}")
        )
    return errors


def _bad_text(text: str) -> bool:
    return "\x00" in text or any("\ud800" <= c <= "\udfff" for c in text)


def unstorable_text(document: DocumentNode, variables: Any) -> str | None:
    """Where a text no database can store (NUL, a lone surrogate) appears, or None.

    Such text would fail deep inside a query or a write; refusing the request up front keeps
    every resolver from having to know.
    """
    stack: list[tuple[Any, str]] = [(variables, "variables")]
    while stack:
        value, where = stack.pop()
        if isinstance(value, str):
            if _bad_text(value):
                return where
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and _bad_text(key):
                    return where
                stack.append((item, f"{where}.{key}"))
        elif isinstance(value, list):
            stack.extend((item, f"{where}[{i}]") for i, item in enumerate(value))
    nodes: list[Any] = list(document.definitions)
    while nodes:
        node = nodes.pop()
        if isinstance(node, StringValueNode) and _bad_text(node.value):
            loc = node.loc
            return f"the query at offset {loc.start if loc else '?'}"
        for key in getattr(node, "keys", ()):
            child = getattr(node, key, None)
            if isinstance(child, Node):
                nodes.append(child)
            elif isinstance(child, (list, tuple)):
                nodes.extend(c for c in child if isinstance(c, Node))
    return None
