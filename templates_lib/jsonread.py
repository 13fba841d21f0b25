"""JSON from a pack, parsed under the same size and depth bounds the store applies.

``json.loads`` recurses, so the nesting depth is measured on the text first (strings
removed, brackets counted) and a too-deep document never reaches the parser. Duplicate
keys, ``NaN`` and ``Infinity`` are refused: jsonb cannot hold the last two, and a duplicate
key silently drops one value.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from tessera.definitions.errors import FieldError
from tessera.definitions.safety import bounds_problem

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")


class _Refused(ValueError):
    pass


def text_depth(data: bytes) -> int:
    """How deeply brackets nest in a JSON text (strings ignored), without parsing it."""
    stripped = _STRING.sub(b"", data)
    steps = (1 if b in b"[{" else -1 for b in _BRACKETS.findall(stripped))
    return max(accumulate(steps, initial=0))


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Refused(f"the key {key!r} appears twice in one object")
        out[key] = value
    return out


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not JSON")


def parse(
    data: bytes, *, max_bytes: int, max_depth: int, what: str = "document"
) -> tuple[Any, list[FieldError]]:
    """The document in ``data``, or the one error that stopped it (with a JSON path)."""
    if len(data) > max_bytes:
        return None, [FieldError("$", "too_large", f"the {what} is larger than {max_bytes} bytes")]
    if text_depth(data) > max_depth:
        return None, [
            FieldError("$", "too_deep", f"the {what} is nested deeper than {max_depth} levels")
        ]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [FieldError("$", "not_utf8", f"the {what} is not UTF-8 text: {exc.reason}")]
    try:
        document = json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        return None, [FieldError("$", "not_json", f"not valid JSON: {exc.msg} at {where}")]
    except _Refused as exc:
        return None, [FieldError("$", "not_json", str(exc))]
    except RecursionError:  # unreachable after text_depth; kept as a last guard
        return None, [FieldError("$", "too_deep", f"the {what} is nested too deeply")]
    problem = bounds_problem(document, max_bytes=max_bytes, max_depth=max_depth, what=what)
    return (None, [problem]) if problem else (document, [])
