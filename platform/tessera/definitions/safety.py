"""Bounds on documents authored or sent by people we do not fully trust.

Definitions are written by admins and partners, records by anyone with an API token. A
document that is too large or too deep is refused before any validator walks it, and a
schema may not reach outside itself (no remote ``$ref``: nothing is ever fetched). Text
that PostgreSQL cannot store in jsonb (NUL, unpaired surrogates) is refused here too, so
both databases refuse the same documents instead of one of them failing at write time.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import FieldError, json_path


def measure(document: Any, max_depth: int) -> tuple[int, int]:
    """(approximate size in bytes, depth) without recursion, stopping past ``max_depth``."""
    size, deepest = 0, 0
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if deepest > max_depth:
                return size, deepest
        if isinstance(node, dict):
            size += 2
            for key, value in node.items():
                size += len(key) + 4 if isinstance(key, str) else 8
                stack.append((value, depth + 1))
        elif isinstance(node, list):
            size += 2
            stack.extend((value, depth + 1) for value in node)
        elif isinstance(node, str):
            size += len(node) + 2
        else:
            size += 8
    return size, deepest


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_text(document: Any) -> FieldError | None:
    """The first string or key that jsonb cannot hold, by its path; call on bounded documents."""
    stack: list[tuple[Any, list[str | int]]] = [(document, [])]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            if _UNSTORABLE.search(node):
                return FieldError(
                    json_path(path),
                    "invalid_text",
                    "text cannot hold NUL characters or unpaired surrogates",
                )
        elif isinstance(node, dict):
            for key, value in node.items():
                if isinstance(key, str) and _UNSTORABLE.search(key):
                    return FieldError(
                        json_path(path),
                        "invalid_text",
                        "a key cannot hold NUL characters or unpaired surrogates",
                    )
                stack.append((value, [*path, key]))
        elif isinstance(node, list):
            stack.extend((value, [*path, i]) for i, value in enumerate(node))
    return None


def bounds_problem(
    document: Any, *, max_bytes: int, max_depth: int, what: str = "document"
) -> FieldError | None:
    size, depth = measure(document, max_depth)
    if depth > max_depth:
        return FieldError("$", "too_deep", f"the {what} is nested deeper than {max_depth} levels")
    if size > max_bytes:
        return FieldError("$", "too_large", f"the {what} is larger than {max_bytes} bytes")
    return unstorable_text(document)


def reference_problems(schema: Any) -> list[FieldError]:
    """Every ``$ref``-like keyword: remote ones are refused, local ones too (fields have types)."""
    problems: list[FieldError] = []
    stack: list[tuple[Any, list[str | int]]] = [(schema, [])]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("$ref", "$dynamicRef", "$recursiveRef", "$id", "$anchor"):
                    target = value if isinstance(value, str) else ""
                    if key in ("$ref", "$dynamicRef") and not target.startswith("#"):
                        message = f"remote reference {target!r} is not allowed: nothing is fetched"
                        code = "remote_ref"
                    else:
                        message = f"{key} is not allowed in a definition; use a field type"
                        code = "ref_not_allowed"
                    problems.append(FieldError(json_path([*path, key]), code, message))
                else:
                    stack.append((value, [*path, key]))
        elif isinstance(node, list):
            stack.extend((value, [*path, i]) for i, value in enumerate(node))
    return problems
