"""Forms generated from an action's JSON Schema: a control per parameter, values read back
as the JSON types the schema asks for. What a form cannot show simply (nested objects, any
value, lists of objects) is a small JSON box, so nothing is out of reach."""

from __future__ import annotations

import json
from typing import Any

from django.http import QueryDict


def _kind(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return "enum"
    options = schema.get("anyOf") or schema.get("oneOf") or []
    if {o.get("type") for o in options if isinstance(o, dict)} == {"string", "array"}:
        return "text_or_list"  # one address, or several separated by commas
    kind = schema.get("type")
    if kind == "string":
        return "textarea" if schema.get("maxLength", 0) > 1000 else "text"
    if kind in ("integer", "number", "boolean"):
        return kind
    if kind == "array" and (schema.get("items") or {}).get("type") == "string":
        return "strings"
    return "json"


def _placeholder(schema: dict[str, Any], kind: str) -> str:
    if "default" in schema:
        default = schema["default"]
        return default if isinstance(default, str) else json.dumps(default, ensure_ascii=False)
    if kind == "json":
        return "JSON"
    if kind == "strings":
        return "a, b, c"
    return ""


def controls(schema: dict[str, Any], values: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    required = set(schema.get("required", []))
    out = []
    for name, sub in (schema.get("properties") or {}).items():
        sub = sub if isinstance(sub, dict) else {}
        kind = _kind(sub)
        # a default is shown, not written: leaving the control empty keeps the body as it was
        value = values.get(name, "")
        if kind == "json":
            value = "" if name not in values else json.dumps(values[name], ensure_ascii=False)
        elif kind in ("strings", "text_or_list"):
            value = ", ".join(map(str, value)) if isinstance(value, list) else value
        out.append(
            {
                "name": name,
                "input": f"{prefix}{name}",
                "kind": kind,
                "value": value,
                "options": sub.get("enum", []),
                "required": name in required,
                "help": sub.get("description", ""),
                "placeholder": _placeholder(sub, kind),
                "fieldlike": kind == "text" and (name == "field" or name.endswith("_field")),
                "pattern": sub.get("pattern", "") if kind == "text" else "",
            }
        )
    return out


def read(schema: dict[str, Any], post: QueryDict, prefix: str) -> dict[str, Any]:
    """The params the controls say; an empty control leaves its parameter out."""
    out: dict[str, Any] = {}
    for name, sub in (schema.get("properties") or {}).items():
        sub = sub if isinstance(sub, dict) else {}
        kind = _kind(sub)
        raw = post.get(f"{prefix}{name}")
        if kind == "boolean":
            if raw is not None:
                out[name] = raw == "on"
            continue
        if raw is None or raw.strip() == "":
            continue
        raw = raw.strip()
        if kind == "integer":
            out[name] = int(raw) if raw.lstrip("-").isdigit() else raw
        elif kind == "number":
            try:
                out[name] = float(raw)
            except ValueError:
                out[name] = raw
        elif kind == "strings":
            out[name] = [v.strip() for v in raw.split(",") if v.strip()]
        elif kind == "text_or_list":
            items = [v.strip() for v in raw.split(",") if v.strip()]
            out[name] = items[0] if len(items) == 1 else items
        elif kind == "json":
            try:
                out[name] = json.loads(raw)
            except ValueError:
                out[name] = raw  # the action's own check then names it
        else:
            out[name] = raw
    return out
