"""The condition builder's two directions: a condition tree as nested groups of rows, and the
rows a person edited back into the tree. Fields and operators are offered by type (the
operator registry says which kinds each applies to); dates can be relative ("30 days ago");
related aggregates (a customer's orders) and events are rows of their own."""

from __future__ import annotations

import json
import re
from typing import Any

from django.http import QueryDict

from tessera.conditions.objects import object_info
from tessera.plugins import operators

from .paths import parts

NO_VALUE = {"is_empty", "is_set"}
LISTS = {"in", "not_in", "has_any", "has_all"}
NUMERIC_OPS = ["eq", "ne", "lt", "lte", "gt", "gte"]
AGGREGATES = ["count", "sum", "avg", "min", "max"]
MAX_ROWS = 200


def _lang(language: str) -> str:
    return "zh" if language.startswith("zh") else "en"


def catalog(object_key: str, language: str = "en") -> dict[str, Any]:
    """What the rows may offer for this object: fields with their kind, operators per kind,
    relations into it (for aggregates) with their number fields."""
    info = object_info(object_key)
    lang = _lang(language)
    if info is None:
        return {"fields": [], "ops": {}, "relations": []}
    fields = []
    for name, field in info.fields.items():
        label = (field.prop.get("x-label") or {}).get(lang) or name
        fields.append(
            {"name": name, "label": label, "kind": field.kind, "enum": field.prop.get("enum", [])}
        )
    ops: dict[str, list[tuple[str, str]]] = {}
    for op in operators:
        for kind in getattr(op, "kinds", ()):
            ops.setdefault(kind, []).append((op.type, (op.label or {}).get(lang) or op.type))
    relations = []
    for name, incoming in sorted(info.incoming.items()):
        source = object_info(incoming.source)
        numbers = [n for n, f in (source.fields.items() if source else []) if f.kind == "number"]
        relations.append({"name": name, "source": incoming.source, "numbers": numbers})
    return {"fields": fields, "ops": ops, "relations": relations}


def _kind_of(cat: dict[str, Any], name: str) -> str:
    return next((f["kind"] for f in cat["fields"] if f["name"] == name), "text")


def _show_value(value: Any) -> tuple[str, str, str]:
    """(mode, text, second text) for a value as the row shows it."""
    if isinstance(value, dict) and len(value) == 1:
        ((mode, text),) = value.items()
        return mode, str(text), ""
    if isinstance(value, list):
        return "list", ", ".join(str(v) for v in value), ""
    if isinstance(value, bool):
        return "abs", "true" if value else "false", ""
    if value in ("today", "now"):
        return value, "", ""
    return "abs", "" if value is None else str(value), ""


def rows(tree: Any, cat: dict[str, Any], path: str = "0") -> dict[str, Any]:
    """A tree as nested rows for the template; the root is always a group.

    ``path`` names the root: ``0`` for a segment's one condition, another name (``gfinish``,
    ``bbought``) where a form holds several trees, such as a workflow's guards; the controls
    are then named ``c<root>.<i>…`` and the buttons say which tree they edit."""
    negate = False
    root = "." not in path
    if isinstance(tree, dict) and set(tree) == {"not"}:
        negate, tree = True, tree["not"]
    wrapped = False
    if not isinstance(tree, dict) or not ({"all", "any"} & set(tree)):
        if root:
            # a single row written by hand stays a single row: the builder's group is its own
            wrapped = isinstance(tree, dict) and bool(tree) and not negate
            tree = {"all": [tree] if isinstance(tree, dict) and tree else []}
        else:
            return {"path": path, "negate": negate, **_leaf(tree, cat)}
    join = "all" if "all" in tree else "any"
    children = tree[join] if isinstance(tree[join], list) else []
    return {
        "path": path,
        "root": root,
        "kind": "group",
        "join": join,
        "negate": negate,
        "wrapped": wrapped,
        "children": [
            rows(child, cat, f"{path}.{i}") for i, child in enumerate(children[:MAX_ROWS])
        ],
    }


def _leaf(tree: dict[str, Any], cat: dict[str, Any]) -> dict[str, Any]:
    if "metric" in tree:
        bits = str(tree["metric"]).split(".")
        mode, text, _ = _show_value(tree.get("value"))
        return {
            "kind": "metric",
            "relation": bits[0],
            "aggregate": bits[1] if len(bits) > 1 else "count",
            "mfield": bits[2] if len(bits) > 2 else "",
            "window": tree.get("window", ""),
            "op": tree.get("op", "gte"),
            "value": text,
            "ops": [(o, o) for o in NUMERIC_OPS],
            "where": _json(tree.get("where")),
        }
    if "event" in tree:
        count = tree.get("count") or {}
        return {
            "kind": "event",
            "event": tree.get("event", ""),
            "within": tree.get("within", ""),
            "count_op": count.get("op", ""),
            "count_value": count.get("value", ""),
            "where": _json(tree.get("where")),
        }
    if "segment" in tree:
        return {"kind": "segment", "segment": tree.get("segment", "")}
    name = tree.get("field", "")
    kind = _kind_of(cat, name)
    mode, text, second = _show_value(tree.get("value"))
    value = tree.get("value")
    if tree.get("op") == "between" and isinstance(value, list) and len(value) == 2:
        mode, text, second = "abs", str(value[0]), str(value[1])
    return {
        "kind": "field",
        "field": name,
        "field_kind": kind,
        "op": tree.get("op", "eq"),
        "ops": cat["ops"].get(kind, []),
        "mode": mode,
        "value": text,
        "value2": second,
        "enum": next((f["enum"] for f in cat["fields"] if f["name"] == name), []),
    }


def _json(value: Any) -> str:
    """A part the rows do not edit (a metric's or event's ``where``), carried along as JSON."""
    return "" if value is None else json.dumps(value, ensure_ascii=False)


def _where(post: QueryDict, p: str, node: dict[str, Any]) -> None:
    text = post.get(f"{p}.where", "")
    if text:
        try:
            node["where"] = json.loads(text)
        except ValueError:
            node["where"] = text  # the parser then names it


def _scalar(text: str, kind: str) -> Any:
    text = text.strip()
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            return text
        return int(number) if number.is_integer() else number
    if kind == "boolean":
        return text == "true"
    return text


def _field_value(post: QueryDict, p: str, op: str, kind: str) -> Any:
    mode = post.get(f"{p}.mode", "abs")
    text = post.get(f"{p}.value", "")
    if op in NO_VALUE:
        return None
    if op == "within":
        return {mode if mode in ("last", "next") else "last": text.strip() or "P30D"}
    if op == "anniversary_within":
        return {"next": text.strip() or "P7D"}
    if op in LISTS:
        return [_scalar(v, kind) for v in text.replace("，", ",").split(",") if v.strip()]
    if op == "between":
        return [_scalar(text, kind), _scalar(post.get(f"{p}.value2", ""), kind)]
    if kind in ("date", "datetime"):
        if mode in ("ago", "from_now"):
            return {mode: text.strip() or "P30D"}
        if mode in ("today", "now"):
            return mode
    return _scalar(text, kind)


def read(post: QueryDict, cat: dict[str, Any], path: str = "0", depth: int = 0) -> Any:
    """The tree the rows under ``path`` describe (None when the row is gone)."""
    p = f"c{path}"
    kind = post.get(f"{p}.kind")
    if kind is None or depth > 20:
        return None
    if kind == "group":
        count = min(int(post.get(f"{p}.n") or 0), MAX_ROWS)
        children = [read(post, cat, f"{path}.{i}", depth + 1) for i in range(count)]
        node: Any = {
            post.get(f"{p}.join") if post.get(f"{p}.join") in ("all", "any") else "all": [
                c for c in children if c is not None
            ]
        }
    elif kind == "metric":
        relation, aggregate = post.get(f"{p}.relation", ""), post.get(f"{p}.aggregate", "count")
        metric = f"{relation}.{aggregate}"
        if aggregate != "count" and post.get(f"{p}.mfield"):
            metric += f".{post.get(f'{p}.mfield')}"
        node = {"metric": metric}
        if post.get(f"{p}.window", "").strip():
            node["window"] = post.get(f"{p}.window").strip()
        _where(post, p, node)
        node["op"] = post.get(f"{p}.op", "gte")
        node["value"] = _scalar(post.get(f"{p}.value", "0"), "number")
    elif kind == "event":
        node = {"event": post.get(f"{p}.event", "").strip()}
        if post.get(f"{p}.within", "").strip():
            node["within"] = post.get(f"{p}.within").strip()
        _where(post, p, node)
        if post.get(f"{p}.count_op"):
            node["count"] = {
                "op": post.get(f"{p}.count_op"),
                "value": _scalar(post.get(f"{p}.count_value", "1"), "number"),
            }
    elif kind == "segment":
        node = {"segment": post.get(f"{p}.segment", "")}
    else:
        name = post.get(f"{p}.field", "")
        field_kind = _kind_of(cat, name)
        op = post.get(f"{p}.op", "eq")
        allowed = [o for o, _ in cat["ops"].get(field_kind, [])]
        if allowed and op not in allowed:
            op = allowed[0]
        node = {"field": name, "op": op}
        value = _field_value(post, p, op, field_kind)
        if value is not None:
            node["value"] = value
    if post.get(f"{p}.negate") == "on":
        node = {"not": node}
    elif (
        kind == "group"
        and post.get(f"{p}.wrapped")
        and list(node) == ["all"]
        and len(node["all"]) == 1
    ):
        return node["all"][0]
    return node


def default_row(kind: str, cat: dict[str, Any]) -> dict[str, Any]:
    if kind == "group":
        return {"any": []}
    if kind == "metric":
        relation = cat["relations"][0]["name"] if cat["relations"] else "orders"
        return {"metric": f"{relation}.count", "op": "gte", "value": 1}
    if kind == "event":
        return {"event": "order_placed", "within": "P30D"}
    if kind == "segment":
        return {"segment": ""}
    first = cat["fields"][0] if cat["fields"] else {"name": "name", "kind": "text"}
    return {"field": first["name"], "op": "eq", "value": "" if first["kind"] == "text" else None}


def _locate(tree: Any, steps: list[int]) -> Any:
    node = tree
    for step in steps:
        node = node.get("not", node)
        join = "all" if "all" in node else "any"
        node = node[join][step]
    return node


def root_for(letter: str, name: str) -> str:
    """The root name of a tree that belongs to a named thing (``g`` + a transition's name)."""
    return letter + re.sub(r"[^A-Za-z0-9_]", "_", str(name))


def op_root(op: str) -> str | None:
    """The tree a ``c-add:``/``c-remove:`` button edits (the root of its path), else None."""
    if not op.startswith(("c-add:", "c-remove:")):
        return None
    return op.split(":", 2)[1].split(".")[0]


def edit(tree: Any, op: str, cat: dict[str, Any], root: str = "0") -> Any:
    """Apply ``c-add:<path>:<kind>`` or ``c-remove:<path>`` to the tree named ``root``."""
    if op_root(op) != root:
        return tree
    action, _, rest = op.partition(":")
    path, _, kind = rest.partition(":")
    steps = [int(s) for s in path.split(".")[1:] if s.isdigit()]
    try:
        if action == "c-add":
            group = _locate(tree, steps)
            group = group.get("not", group)
            join = "all" if "all" in group else "any"
            group[join].append(default_row(kind, cat))
        elif steps:
            parent = _locate(tree, steps[:-1])
            parent = parent.get("not", parent)
            join = "all" if "all" in parent else "any"
            parent[join].pop(steps[-1])
    except (KeyError, IndexError, TypeError, AttributeError):
        return tree
    return tree


def row_of(
    path: str, prefix: tuple[str | int, ...] = ("condition",), root: str = "0"
) -> str | None:
    """The row an error at a JSON path under ``prefix`` belongs to: ``c:0.1.0``.

    ``prefix`` is where the tree sits in the body (``("transitions", "finish", "guard")``);
    ``root`` the name its rows were drawn under."""
    items = parts(path)
    if tuple(items[: len(prefix)]) != tuple(prefix):
        return None
    out = root
    rest = items[len(prefix) :]
    if rest and isinstance(rest[0], str) and rest[0] not in ("all", "any", "not"):
        return f"c:{root}.0"  # a single row written by hand: the builder shows it as row 0
    for item in rest:
        if isinstance(item, int):
            out += f".{item}"
        elif item not in ("all", "any", "not"):
            break
    return f"c:{out}"
