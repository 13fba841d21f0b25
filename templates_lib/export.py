"""Export: any set of published (or archived) definitions becomes a pack to install elsewhere.

What the set refers to comes along: a referent owned by an installed pack becomes a
dependency on that pack (``>=`` its installed version, below the next major), one owned
by no pack is exported with the set (or, with ``include_references=False``, named as a
problem). The plugins whose types the bodies use become plugin requirements. With
``with_data`` the records of the exported objects become sample data, relations turned
into refs, so the data moves with the definitions. The written pack is read back and
checked before export returns.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.version import Version

from tessera.definitions import service
from tessera.definitions.models import Definition, Status
from tessera.records.models import Record

from .manifest import tessera_version
from .models import InstalledDefinition, InstalledRecord
from .pack import Pack, definition_file, read_pack
from .problems import PackRefused, Problem
from .references import Ref, dependency_order, references
from .requirements import plugins_used


@dataclass
class Exported:
    """The pack written, and what had to be left out."""

    pack: Pack
    location: Path
    manifest: dict[str, Any]
    dropped_links: int = 0
    added: list[Ref] = field(default_factory=list)


def selection(
    refs: Iterable[Ref] = (), *, pack: str | None = None, everything: bool = False
) -> list[Ref]:
    """The definitions named, those a pack owns, or every published one."""
    chosen = list(refs)
    if pack:
        owned = list(InstalledDefinition.objects.filter(pack__key=pack).values_list("kind", "key"))
        if not owned:
            raise PackRefused([Problem("", "$", "not_installed", f"{pack} is not installed")])
        chosen += owned
    if everything:
        chosen += list(
            Definition.objects.filter(status=Status.PUBLISHED).values_list("kind", "key")
        )
    return sorted(set(chosen))


def export_pack(
    refs: Iterable[Ref],
    out: Path,
    *,
    key: str,
    version: str,
    name: dict[str, str] | None = None,
    description: dict[str, str] | None = None,
    with_data: bool = False,
    include_references: bool = True,
) -> Exported:
    bodies, depends, added = _closure(list(refs), key, include_references)
    running = tessera_version()
    manifest: dict[str, Any] = {
        "key": key,
        "name": name or {"en": key, "zh": key},
        "version": version,
        "tessera": f">={running.major}.{running.minor}",
    }
    if description:
        manifest["description"] = description
    if depends:
        manifest["depends"] = depends
    plugins = plugins_used(list(bodies.values()))
    if plugins:
        manifest["plugins"] = plugins
    kinds: dict[str, list[str]] = {}
    for kind, def_key in sorted(bodies):
        kinds.setdefault(kind, []).append(def_key)
    manifest["definitions"] = kinds
    files: dict[str, bytes] = {
        definition_file(kind, def_key): _json(body) for (kind, def_key), body in bodies.items()
    }
    dropped = 0
    if with_data:
        samples, dropped = _sample_files(bodies, set(depends))
        if samples:
            manifest["sample_data"] = [{"object": o, "file": f} for o, f, _ in samples]
            files.update({f: data for _, f, data in samples})
    files["manifest.json"] = _json(manifest)
    _write(out, files)
    return Exported(read_pack(out), out, manifest, dropped, added)


def _closure(refs: list[Ref], key: str, include: bool):
    problems, bodies, depends, added = [], {}, {}, []
    owners = {
        (d.kind, d.key): d.pack for d in InstalledDefinition.objects.select_related("pack").all()
    }
    queue = list(refs)
    while queue:
        ref = queue.pop(0)
        if ref in bodies:
            continue
        live = service.current(*ref) or _latest_archived(ref)
        if live is None:
            problems.append(
                Problem("", "$", "not_published", f"{ref[0]} {ref[1]} is not published")
            )
            continue
        bodies[ref] = live.body
        for target in sorted(references(*ref, live.body)):
            if target in bodies or target in queue:
                continue
            owner = owners.get(target)
            if owner is not None and owner.key != key and target not in refs:
                depends[owner.key] = _compatible(owner.version)
            elif include or target in refs:
                queue.append(target)
                if target not in refs:
                    added.append(target)
            elif service.current(*target) or _latest_archived(target):
                problems.append(
                    Problem(
                        "",
                        "$",
                        "unexported_reference",
                        f"{ref[0]} {ref[1]} refers to {target[0]} {target[1]}, which is "
                        "neither exported nor from an installed pack: export it too",
                    )
                )
    if problems:
        raise PackRefused(problems)
    return bodies, depends, added


def _latest_archived(ref: Ref) -> Definition | None:
    """An archived definition (an uninstalled pack's object whose records were kept)."""
    return (
        Definition.objects.filter(kind=ref[0], key=ref[1], status=Status.ARCHIVED)
        .order_by("-version")
        .first()
    )


def _compatible(version: str) -> str:
    v = Version(version)
    return f">={version},<{v.major + 1}" if v.major else f">={version},<0.{v.minor + 1}"


def _sample_files(bodies: dict[Ref, Any], dependency_packs: set[str]):
    objects = [k for kind, k in dependency_order(bodies) if kind == "object"]
    exported = set(objects)
    dependency_refs = {
        (r.object_key, r.record_id): f"{r.pack.key}:{r.ref}"
        for r in InstalledRecord.objects.select_related("pack").filter(
            pack__key__in=dependency_packs
        )
    }
    out, dropped = [], 0
    for object_key in objects:
        relations = _relation_fields(bodies[("object", object_key)])
        rows: list[dict[str, Any]] = []
        for record in Record.objects.filter(object_key=object_key).order_by("pk").iterator(2000):
            data = dict(record.data)
            for name, (target, many) in relations.items():
                if name not in data:
                    continue
                values = data[name] if many else [data[name]]
                linked = []
                for value in values:
                    if target in exported:
                        linked.append({"ref": f"{target}-{value}"})
                    elif (target, value) in dependency_refs:
                        linked.append({"ref": dependency_refs[(target, value)]})
                    else:
                        dropped += 1
                        linked = None
                        break
                if linked is None:
                    del data[name]
                else:
                    data[name] = linked if many else linked[0]
            row: dict[str, Any] = {"ref": f"{object_key}-{record.pk}", "data": data}
            events = [
                {"type": e.type, "payload": e.payload, "at": e.occurred_at.isoformat()}
                for e in record.events.order_by("occurred_at", "id")
            ]
            if events:
                row["events"] = events
            rows.append(row)
        if rows:
            rows = _referents_first(rows, relations, object_key)
            text = b"".join(_json(row, indent=None) + b"\n" for row in rows)
            out.append((object_key, f"sample/{object_key}.jsonl", text))
    return out, dropped


def _relation_fields(body: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    found = {}
    for name, prop in body.get("properties", {}).items():
        if prop.get("x-type") == "relation":
            found[name] = (prop["x-relation"]["object"], False)
        elif prop.get("x-type") == "list" and (prop.get("items") or {}).get("x-type") == "relation":
            found[name] = (prop["items"]["x-relation"]["object"], True)
    return found


def _referents_first(rows: list[dict], relations: dict, object_key: str) -> list[dict]:
    """Rows of one object reordered so a row comes after the rows of it that it points at."""
    own = [n for n, (target, _) in relations.items() if target == object_key]
    if not own:
        return rows
    placed: set[str] = set()
    out: list[dict] = []
    waiting = rows
    while waiting:
        later = []
        for row in waiting:
            wanted = set()
            for name in own:
                value = row["data"].get(name)
                for link in value if isinstance(value, list) else [value] if value else []:
                    wanted.add(link["ref"])
            wanted.discard(row["ref"])
            if wanted <= placed:
                out.append(row)
                placed.add(row["ref"])
            else:
                later.append(row)
        if len(later) == len(waiting):  # a loop of rows: break it at the first one
            first = later.pop(0)
            for name in own:
                first["data"].pop(name, None)
            out.append(first)
            placed.add(first["ref"])
        waiting = later
    return out


def _json(document: Any, indent: int | None = 2) -> bytes:
    text = json.dumps(document, ensure_ascii=False, indent=indent, sort_keys=indent is not None)
    return (text + ("\n" if indent else "")).encode()


def _write(out: Path, files: dict[str, bytes]) -> None:
    if out.suffix == ".zip":
        if out.exists():
            raise PackRefused([Problem("", "$", "exists", f"{out} exists already")])
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in sorted(files.items()):
                archive.writestr(name, data)
        return
    if out.exists() and any(out.iterdir()):
        raise PackRefused([Problem("", "$", "exists", f"{out} is not empty")])
    for name, data in files.items():
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
