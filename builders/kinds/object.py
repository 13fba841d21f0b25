"""The fields builder: an object's fields as rows (name, labels, type, required, unique,
index, options, relation, widget), added, removed and reordered; the JSON it writes is the
``properties`` / ``required`` a developer writes by hand, other keywords kept as they were.
The migration preview shows what a change would do to stored records before publishing."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, QueryDict
from django.utils.translation import gettext as _

from tessera.definitions.errors import ValidationFailed
from tessera.plugins import field_types

from .. import choices
from ..messages import Message
from ..paths import parts
from .base import Builder

ROW_KEYS = (
    "x-type",
    "x-label",
    "x-index",
    "x-unique",
    "enum",
    "x-enum-labels",
    "x-relation",
    "x-widget",
)


def enum_text(prop: dict[str, Any]) -> str:
    labels = prop.get("x-enum-labels") or {}
    lines = []
    for option in prop.get("enum", []):
        label = labels.get(option) or {}
        lines.append("|".join([option, label.get("en", ""), label.get("zh", "")]).rstrip("|"))
    return "\n".join(lines)


def parse_enum(text: str) -> tuple[list[str], dict[str, dict[str, str]]]:
    options, labels = [], {}
    for line in text.splitlines():
        bits = [b.strip() for b in line.split("|")]
        if not bits or not bits[0]:
            continue
        options.append(bits[0])
        label = {k: v for k, v in zip(("en", "zh"), bits[1:3], strict=False) if v}
        if label:
            labels[bits[0]] = label
    return options, labels


def rows(body: dict[str, Any]) -> list[dict[str, Any]]:
    required = set(body.get("required", []))
    out = []
    for name, prop in body.get("properties", {}).items():
        label = prop.get("x-label") or {}
        out.append(
            {
                "name": name,
                "orig": name,
                "label_en": label.get("en", ""),
                "label_zh": label.get("zh", ""),
                "type": prop.get("x-type", "string"),
                "required": name in required,
                "unique": bool(prop.get("x-unique")),
                "index": bool(prop.get("x-index")),
                "enum": enum_text(prop),
                "relation": (prop.get("x-relation") or {}).get("object", ""),
                "widget": prop.get("x-widget", ""),
            }
        )
    return out


def read_rows(post: QueryDict) -> list[dict[str, Any]]:
    count = int(post.get("f-count") or 0)
    out = []
    for i in range(min(count, 500)):
        p = f"f-{i}-"
        if f"{p}name" not in post:
            continue
        out.append(
            {
                "name": post.get(f"{p}name", "").strip(),
                "orig": post.get(f"{p}orig", ""),
                "label_en": post.get(f"{p}label_en", "").strip(),
                "label_zh": post.get(f"{p}label_zh", "").strip(),
                "type": post.get(f"{p}type", "string"),
                "required": post.get(f"{p}required") == "on",
                "unique": post.get(f"{p}unique") == "on",
                "index": post.get(f"{p}index") == "on",
                "enum": post.get(f"{p}enum", ""),
                "relation": post.get(f"{p}relation", ""),
                "widget": post.get(f"{p}widget", "").strip(),
            }
        )
    return out


def body_from_rows(body: dict[str, Any], table: list[dict[str, Any]]) -> dict[str, Any]:
    """The object body with its fields as the rows say, in their order; keywords the rows do
    not show (minimum, pattern, x-permissions…) stay on the field they belonged to."""
    old = body.get("properties", {})
    properties: dict[str, Any] = {}
    required = []
    for row in table:
        name = row["name"]
        if not name:
            continue
        prop = {k: v for k, v in (old.get(row["orig"]) or {}).items() if k not in ROW_KEYS}
        prop["x-type"] = row["type"]
        label = {k: row[f"label_{k}"] for k in ("en", "zh") if row[f"label_{k}"]}
        if label:
            prop["x-label"] = label
        if row["index"]:
            prop["x-index"] = True
        if row["unique"]:
            prop["x-unique"] = True
        if row["widget"]:
            prop["x-widget"] = row["widget"]
        if row["type"] in ("enum", "multi_enum"):
            options, labels = parse_enum(row["enum"])
            prop["enum"] = options
            if labels:
                prop["x-enum-labels"] = labels
        if row["type"] == "relation":
            relation = dict((old.get(row["orig"]) or {}).get("x-relation") or {})
            relation["object"] = row["relation"]
            prop["x-relation"] = relation
        # the order of keys as people write them: type first
        properties[name] = {"x-type": prop.pop("x-type"), **prop}
        if row["required"]:
            required.append(name)
    out = {k: v for k, v in body.items() if k not in ("properties", "required")}
    out["properties"] = properties
    # the required list keeps the order it was written in; newly required fields go last
    renamed = {row["orig"]: row["name"] for row in table if row["orig"]}
    kept = [renamed.get(n, n) for n in body.get("required", []) if renamed.get(n, n) in required]
    required = kept + [n for n in required if n not in kept]
    if required:
        out["required"] = required
    return out


class ObjectBuilder(Builder):
    type = "object"
    template = "builders/kinds/object.html"

    def new_body(self) -> dict[str, Any]:
        return {
            "x-label": {"en": "", "zh": ""},
            "properties": {"name": {"x-type": "string"}},
            "required": ["name"],
        }

    def context(self, request: HttpRequest, key: str, body: dict[str, Any]) -> dict[str, Any]:
        label = body.get("x-label") or {}
        return {
            "rows": rows(body),
            "types": field_types.keys(),
            "objects": choices.objects(),
            "object_label_en": label.get("en", ""),
            "object_label_zh": label.get("zh", ""),
            "title_field": body.get("x-title-field", ""),
        }

    def apply(self, body: dict[str, Any], post: QueryDict) -> dict[str, Any]:
        if "f-count" not in post:
            return body
        table = read_rows(post)
        op = post.get("op", "")
        if op == "add-field":
            n = len(table) + 1
            while any(r["name"] == f"field_{n}" for r in table):
                n += 1
            table.append(
                {
                    "name": f"field_{n}",
                    "orig": "",
                    "label_en": "",
                    "label_zh": "",
                    "type": "string",
                    "required": False,
                    "unique": False,
                    "index": False,
                    "enum": "",
                    "relation": "",
                    "widget": "",
                }
            )
        elif op.startswith(("up:", "down:", "remove:")):
            action, _, index = op.partition(":")
            i = int(index) if index.isdigit() else -1
            if 0 <= i < len(table):
                if action == "remove":
                    table.pop(i)
                elif action == "up" and i > 0:
                    table[i - 1], table[i] = table[i], table[i - 1]
                elif action == "down" and i < len(table) - 1:
                    table[i + 1], table[i] = table[i], table[i + 1]
        out = body_from_rows(body, table)
        label = {k: post.get(f"o-label_{k}", "").strip() for k in ("en", "zh")}
        label = {k: v for k, v in label.items() if v}
        if label:
            out["x-label"] = label
        else:
            out.pop("x-label", None)
        title = post.get("o-title", "").strip()
        if title:
            out["x-title-field"] = title
        else:
            out.pop("x-title-field", None)
        return out

    def slot(self, message: Message) -> str | None:
        items = parts(message.path)
        if len(items) >= 2 and items[0] == "properties" and isinstance(items[1], str):
            return f"field:{items[1]}"
        if items[:1] == ["x-title-field"]:
            return "title"
        return None

    def preview(self, request: HttpRequest, key: str, body: dict[str, Any]) -> dict[str, Any]:
        if request.POST.get("op") != "migration-preview":
            return {"kind": "object", "offer": True}
        from tessera.records.object_kind import preview

        try:
            report = preview(key, body)
        except ValidationFailed as exc:
            return {"kind": "object", "problems": [str(e) for e in exc.errors]}
        return {
            "kind": "object",
            "report": report,
            "ran": True,
            "label": _("Effect on stored records"),
        }
