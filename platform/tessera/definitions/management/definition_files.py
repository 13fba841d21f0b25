"""Definition files: one definition per JSON file, read, checked, ordered and written.

The format is the same for every kind and for both directions (``definitions load`` reads
what ``definitions export`` writes)::

    {"kind": "object", "key": "customer", "body": {...}}

Errors name the file and a JSON path inside it (``$.body.properties.email``), so an editor
can jump to the place.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tessera.definitions import service
from tessera.definitions.errors import FieldError, json_path
from tessera.definitions.models import Definition, Kind, Status
from tessera.definitions.object_schema import object_body_errors

FILE_KEYS = ("kind", "key", "body")
KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
# Kinds that others refer to come first: objects (relation targets before the objects that
# point at them), calendars before the workflows that use them, and so on.
KIND_ORDER = ["object", "calendar", "segment", "workflow", "campaign", "screen"]


@dataclass
class DefinitionFile:
    """One file's definition, with where it came from."""

    path: Path
    kind: str
    key: str
    body: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.kind} {self.key}"


@dataclass(frozen=True)
class Problem:
    """One error in one file."""

    path: Path
    error: FieldError

    def __str__(self) -> str:
        return f"{self.path}: {self.error}"


def collect(paths: Iterable[str | Path]) -> list[Path]:
    """The files named, and every ``*.json`` file under the directories named, sorted."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*.json") if p.is_file()))
        else:
            found.append(path)
    return found


def _in_file(error: FieldError) -> FieldError:
    """A body's error, with its path made relative to the file (``$`` → ``$.body``)."""
    return FieldError("$.body" + error.path[1:], error.code, error.message)


def read(path: Path) -> tuple[DefinitionFile | None, list[FieldError]]:
    """Parse one file and check its envelope (not yet its body)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [FieldError("$", "unreadable", f"cannot read the file: {exc}")]
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        return None, [FieldError("$", "not_json", f"not valid JSON: {exc.msg} at {where}")]
    if not isinstance(document, dict):
        shape = '{"kind": ..., "key": ..., "body": {...}}'
        return None, [FieldError("$", "type", f"a definition file is a JSON object {shape}")]
    errors = [
        FieldError(
            json_path([name]), "required", f"{name!r} is missing: a file has kind, key, body"
        )
        for name in FILE_KEYS
        if name not in document
    ]
    errors += [
        FieldError(json_path([name]), "unknown", "a definition file has only kind, key and body")
        for name in document
        if name not in FILE_KEYS
    ]
    kind, key = document.get("kind"), document.get("key")
    if "kind" in document and kind not in Kind.values:
        known = ", ".join(Kind.values)
        errors.append(
            FieldError("$.kind", "unknown_kind", f"unknown kind {kind!r}; known: {known}")
        )
    if "key" in document and not (isinstance(key, str) and KEY.fullmatch(key)):
        errors.append(
            FieldError("$.key", "invalid", "a key is a lower-case slug: a-z, 0-9, - and _")
        )
    if "body" in document and not isinstance(document["body"], dict):
        errors.append(FieldError("$.body", "type", "a body is a JSON object"))
    if errors:
        return None, errors
    return DefinitionFile(path, kind, key, document["body"]), []


def relation_targets(body: dict[str, Any]) -> set[str]:
    """The objects an object definition's relation fields (and lists of them) point at."""
    targets = set()
    for prop in (body.get("properties") or {}).values():
        for field in (prop, prop.get("items")):
            if isinstance(field, dict) and isinstance(field.get("x-relation"), dict):
                target = field["x-relation"].get("object")
                if isinstance(target, str):
                    targets.add(target)
    return targets


def body_problems(item: DefinitionFile, batch_objects: set[str]) -> list[FieldError]:
    """The store's own checks of a body, as ``service.save_draft`` runs them.

    An object may point at an object that only this batch brings: the batch is saved in
    dependency order, so by the time the relation is checked its target is there. For the
    same reason, when the batch is published the other kinds (a workflow over an object of
    the batch) get their own checks at save time, in order, inside the batch's transaction.
    """
    if batch_objects and item.kind != "object":
        return [
            _in_file(e) for e in service.body_errors(item.kind, item.key, item.body, semantic=False)
        ]
    errors = service.body_errors(item.kind, item.key, item.body)
    if item.kind == "object" and any(e.code == "unknown_object" for e in errors):
        published = set(
            Definition.objects.filter(kind="object", status=Status.PUBLISHED).values_list(
                "key", flat=True
            )
        )
        still_unknown = {
            e.path
            for e in object_body_errors(item.body, published | batch_objects | {item.key})
            if e.code == "unknown_object"
        }
        errors = [e for e in errors if e.code != "unknown_object" or e.path in still_unknown]
    return [_in_file(e) for e in errors]


def read_all(
    paths: Iterable[str | Path], *, publishing: bool = True
) -> tuple[list[DefinitionFile], list[Problem]]:
    """Read and check every file; return the good ones and every problem of the others.

    ``publishing``: the batch will be published one by one in dependency order, so an
    object may point at another object of the batch. Without it, only at published ones:
    the store does not let a draft point at a draft.
    """
    files = collect(paths)
    if not files:
        return [], [Problem(Path("."), FieldError("$", "no_files", "no definition files given"))]
    items, problems = [], []
    for path in files:
        item, errors = read(path)
        problems += [Problem(path, e) for e in errors]
        if item is not None:
            items.append(item)
    seen: dict[tuple[str, str], Path] = {}
    for item in items:
        other = seen.setdefault((item.kind, item.key), item.path)
        if other != item.path:
            message = f"{item.label} is also defined in {other}"
            problems.append(Problem(item.path, FieldError("$.key", "duplicate", message)))
    batch_objects = {i.key for i in items if i.kind == "object"} if publishing else set()
    for item in items:
        problems += [Problem(item.path, e) for e in body_problems(item, batch_objects)]
    return items, problems


def in_dependency_order(items: list[DefinitionFile]) -> list[DefinitionFile]:
    """Objects first, each after the objects it points at; then the other kinds."""
    objects = {i.key: i for i in items if i.kind == "object"}
    ordered: list[DefinitionFile] = []
    state: dict[str, str] = {}

    def visit(key: str) -> None:
        if state.get(key):  # done, or on the current path (a cycle: keep file order)
            return
        state[key] = "visiting"
        for target in sorted(relation_targets(objects[key].body)):
            if target in objects and target != key:
                visit(target)
        state[key] = "done"
        ordered.append(objects[key])

    for key in objects:
        visit(key)
    rank = {kind: i for i, kind in enumerate(KIND_ORDER)}
    others = [i for i in items if i.kind != "object"]
    others.sort(key=lambda i: rank.get(i.kind, len(rank)))
    return ordered + others


def document(definition: Definition) -> dict[str, Any]:
    return {"kind": definition.kind, "key": definition.key, "body": definition.body}


def dumps(doc: dict[str, Any]) -> str:
    """A definition file's text: stable key order, readable Chinese, a final newline."""
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def export(directory: Path, kind: str | None = None) -> list[Path]:
    """Write every published definition (of ``kind``) as ``<directory>/<kind>/<key>.json``."""
    qs = Definition.objects.filter(status=Status.PUBLISHED).order_by("kind", "key")
    if kind:
        qs = qs.filter(kind=kind)
    written = []
    for definition in qs:
        path = directory / definition.kind / f"{definition.key}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dumps(document(definition)), encoding="utf-8")
        written.append(path)
    return written


def read_migration(path: str | Path) -> dict[str, Any]:
    """A migration file: ``{"rename": {...}, "convert": {...}, "drop": [...]}``."""
    try:
        migration = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the migration: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(migration, dict):
        raise ValueError(f"{path}: a migration is a JSON object with rename, convert and drop")
    return migration


def render_report(report: dict[str, Any]) -> str:
    """A publish report (``PublishRefused.report``) as lines a person reads."""
    lines = []
    if "checked" in report:
        lines.append(
            f"{report.get('breaking', 0)} of {report['checked']} stored record(s) of "
            f"{report.get('object', '?')} would break:"
        )
    for field, entry in (report.get("fields") or {}).items():
        lines.append(f"  {field}: {entry.get('count', 0)} record(s)")
        for reason in entry.get("reasons", []):
            lines.append(f"    - {reason}")
        for example in entry.get("examples", []):
            value = json.dumps(example.get("value"), ensure_ascii=False)
            lines.append(
                f"    record #{example.get('record')} at {example.get('path')} = {value}: "
                f"{example.get('message')}"
            )
    if report.get("cleared"):
        lines.append(f"  {report['cleared']} value(s) would be cleared")
    suggestions = report.get("suggestions") or []
    if suggestions:
        lines.append("what you can do:")
        lines += [f"  - {s}" for s in suggestions]
    return "\n".join(lines)
