"""A readable diff between two JSON documents: what was added, removed or changed, where."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from .errors import json_path

_MISSING = object()


@dataclass(frozen=True)
class Change:
    """One difference at a JSON path; ``old``/``new`` are None when absent."""

    path: str
    op: str  # "added" | "removed" | "changed"
    old: Any = None
    new: Any = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        def show(value: Any) -> str:
            text = json.dumps(value, ensure_ascii=False, sort_keys=True)
            return text if len(text) <= 80 else text[:77] + "..."

        if self.op == "added":
            return f"+ {self.path}: {show(self.new)}"
        if self.op == "removed":
            return f"- {self.path}: {show(self.old)}"
        return f"~ {self.path}: {show(self.old)} -> {show(self.new)}"


def diff(old: Any, new: Any) -> list[Change]:
    """Changes from ``old`` to ``new``, objects compared key by key, lists by position."""
    changes: list[Change] = []
    _walk(old, new, [], changes)
    return changes


def _walk(old: Any, new: Any, path: list[str | int], out: list[Change]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            a, b = old.get(key, _MISSING), new.get(key, _MISSING)
            if a is _MISSING:
                out.append(Change(json_path([*path, key]), "added", new=b))
            elif b is _MISSING:
                out.append(Change(json_path([*path, key]), "removed", old=a))
            else:
                _walk(a, b, [*path, key], out)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            _walk(a, b, [*path, i], out)
    elif old != new or type(old) is not type(new):
        out.append(Change(json_path(path), "changed", old=old, new=new))


def render(changes: list[Change]) -> str:
    return "\n".join(str(c) for c in changes) if changes else "(no changes)"
