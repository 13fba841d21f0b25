"""Lists of actions (``[{"type": …, "params": {…}}]``) edited as forms: one row per action, a
type drop-down, and the parameters as controls generated from that action's JSON Schema.

Workflows carry such lists on states (on entering, on leaving), on transitions and on SLA
rules (on reminder, on breach); campaigns on their action steps. One helper serves them all,
so a plugin's new action type gets its form everywhere without a template of its own.

Controls are named ``<prefix><j>-type`` and ``<prefix><j>-p-<param>``; ``<prefix>n`` says how
many rows there were. The buttons post ``a-add:<prefix>`` and ``a-remove:<prefix>:<j>``.
"""

from __future__ import annotations

from typing import Any

from django.http import QueryDict

from tessera.plugins import actions

from . import schema_form

MAX_ACTIONS = 20
# actions a person does not pick in a builder: the runtime adds them itself
HIDDEN = {"campaign_message"}


def types() -> list[str]:
    installed = actions.keys()  # a Registry iterates over its items, not its keys
    return [t for t in installed if t not in HIDDEN]


def schema_of(kind: str) -> dict[str, Any] | None:
    return actions.get(kind).params_schema if kind in actions else None


def slot_key(parts: list[str | int]) -> str:
    """The slot of an error inside an action list: ``p:`` + the path's parts joined by dots."""
    return "p:" + ".".join(str(p) for p in parts)


def rows(items: Any, prefix: str, path: list[str | int]) -> dict[str, Any]:
    """The rows of one list for the template; ``path`` is where the list sits in the body."""
    out = []
    for j, action in enumerate(items if isinstance(items, list) else []):
        action = action if isinstance(action, dict) else {}
        kind = str(action.get("type", ""))
        schema = schema_of(kind)
        params = action.get("params") if isinstance(action.get("params"), dict) else {}
        here = [*path, j]
        controls = (
            schema_form.controls(schema, params, f"{prefix}{j}-p-") if schema is not None else []
        )
        for control in controls:
            control["slot"] = slot_key([*here, "params", control["name"]])
        out.append(
            {
                "j": j,
                "type": kind,
                "known": schema is not None,
                "controls": controls,
                "slot": slot_key(here),
            }
        )
    return {"prefix": prefix, "rows": out, "types": types()}


def read(items: Any, post: QueryDict, prefix: str) -> list[dict[str, Any]]:
    """The list the rows say, with this list's add/remove button (``op``) applied.

    A row whose type changed starts with empty parameters (the old ones meant something else);
    parameters the schema does not describe are kept as they were."""
    old = items if isinstance(items, list) else []
    # no rows posted (the list was not drawn, being empty): the list as it was, plus the op
    out: list[dict[str, Any]] = [] if f"{prefix}n" in post else list(old)
    count = post.get(f"{prefix}n") or "0"
    for j in range(min(int(count) if count.isdigit() else 0, MAX_ACTIONS)):
        before = old[j] if j < len(old) and isinstance(old[j], dict) else {}
        kind = post.get(f"{prefix}{j}-type", before.get("type", "")).strip()
        params: dict[str, Any] = {}
        if kind == before.get("type"):
            params = dict(before.get("params") or {})
            schema = schema_of(kind)
            if schema is not None:
                described = set(schema.get("properties") or {})
                params = {k: v for k, v in params.items() if k not in described}
                params.update(schema_form.read(schema, post, f"{prefix}{j}-p-"))
        row: dict[str, Any] = {"type": kind}
        if params or "params" in before or kind != before.get("type"):
            row["params"] = params
        out.append(row)
    op = post.get("op", "")
    if op == f"a-add:{prefix}" and len(out) < MAX_ACTIONS:
        first = types()[0] if types() else "set_field"
        out.append({"type": first, "params": {}})
    elif op.startswith(f"a-remove:{prefix}:"):
        index = op.rsplit(":", 1)[1]
        if index.isdigit() and int(index) < len(out):
            out.pop(int(index))
    return out


def slot(items: list[str | int]) -> str | None:
    """The slot of an error at a path (as parts) inside an action list, else None."""
    for k in range(len(items) - 2, -1, -1):
        if items[k] in ("actions", "on_enter", "on_exit", "on_breach", "on_remind") and isinstance(
            items[k + 1], int
        ):
            if len(items) > k + 3 and items[k + 2] == "params":
                return slot_key(items[: k + 4])
            return slot_key(items[: k + 2])
    return None
