"""Sample data: rows of records a pack loads at install, in batches through ``records.bulk``.

A row is ``{"ref": "c1", "data": {...}, "events": [{"type": ..., "payload": {...}, "at": ...}]}``.
A relation field holds ``{"ref": "c1"}`` instead of an id: the row of that ref (earlier in
the pack's sample data, or ``"other-pack:c1"`` for a pack it depends on) is looked up when
the row is loaded. Files are a JSON array (``.json``) or one row per line (``.jsonl``).
Large data comes from a *generator* instead: a registered Python object that yields rows,
found through the ``tessera.sample_generators`` entry-point group.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Protocol

import fastjsonschema
from django.conf import settings
from django.utils.dateparse import parse_datetime
from jsonschema import Draft202012Validator

from tessera.definitions.cache import one_revision, published
from tessera.definitions.errors import FieldError, ValidationFailed, json_path
from tessera.plugins import Registry
from tessera.records import bulk

from . import jsonread
from .models import InstalledPack, InstalledRecord
from .problems import PackRefused, Problem, from_errors

logger = logging.getLogger(__name__)

GENERATOR_GROUP = "tessera.sample_generators"
REF = r"^[A-Za-z0-9_.-]{1,200}$"
ROW_SCHEMA = {
    "type": "object",
    "required": ["data"],
    "additionalProperties": False,
    "properties": {
        "ref": {"type": "string", "pattern": REF},
        "data": {"type": "object"},
        "events": {
            "type": "array",
            "maxItems": 1000,
            "items": {
                "type": "object",
                "required": ["type"],
                "additionalProperties": False,
                "properties": {
                    "type": {"type": "string", "minLength": 1, "maxLength": 100},
                    "payload": {"type": "object"},
                    "at": {"type": "string", "maxLength": 40},
                },
            },
        },
    },
}
_row_validator = Draft202012Validator(ROW_SCHEMA)
_row_is_valid = fastjsonschema.compile(ROW_SCHEMA)  # the common case, cheaply
BATCH = 500  # rows written together (records.bulk), refs permitting


class SampleGenerator(Protocol):
    """Makes sample rows in code (a realistic shop of any size); ``type`` is its name."""

    type: str

    def count(self, options: dict[str, Any]) -> int | None:
        """How many rows ``rows`` will yield, for the progress bar (None: unknown)."""

    def rows(self, options: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Rows as in a sample file, each with an ``object`` key naming its object."""


generators: Registry = Registry("sample data generator")


def load_generators() -> None:
    """Register the generators installed packages declare; a broken one is logged, not fatal."""
    for ep in entry_points(group=GENERATOR_GROUP):
        try:
            item = ep.load()
            item = item() if isinstance(item, type) else item
            if item.type not in generators:
                generators.register(item)
        except Exception:
            logger.exception("sample generator %s (%s) failed to load", ep.name, ep.value)


class Progress(Protocol):
    """Told how far loading has come; the CLI draws a bar with it."""

    def start(self, label: str, total: int | None) -> None: ...

    def advance(self, count: int = 1) -> None: ...


class NoProgress:
    def start(self, label: str, total: int | None) -> None:
        pass

    def advance(self, count: int = 1) -> None:
        pass


@dataclass
class SampleEntry:
    """One item of the manifest's ``sample_data``: a file of rows for an object, or a generator."""

    index: int
    object: str | None = None
    file: str | None = None
    generator: str | None = None
    options: dict[str, Any] | None = None
    rows: int | None = None

    @classmethod
    def from_manifest(cls, spec: dict[str, Any], index: int) -> SampleEntry:
        return cls(
            index,
            object=spec.get("object"),
            file=spec.get("file"),
            generator=spec.get("generator"),
            options=spec.get("options") or {},
        )

    @property
    def label(self) -> str:
        return f"{self.object} from {self.file}" if self.file else f"generator {self.generator}"


def _row_limits() -> tuple[int, int]:
    limits = settings.TESSERA_LIMITS
    return limits["record_bytes"] + 64 * 1024, limits["record_depth"] + 4


def row_errors(row: Any, *, generated: bool = False) -> list[FieldError]:
    """The shape of one row (not yet its data, which the object's validator checks)."""
    if generated:
        if not isinstance(row, dict) or not isinstance(row.get("object"), str):
            return [FieldError("$.object", "required", "a generated row names its object")]
        row = {k: v for k, v in row.items() if k != "object"}
    try:
        _row_is_valid(row)
    except fastjsonschema.JsonSchemaException:
        return [
            FieldError(json_path(list(e.absolute_path)), str(e.validator), e.message)
            for e in _row_validator.iter_errors(row)
        ]
    errors: list[FieldError] = []
    for i, event in enumerate(row.get("events") or []):
        if "at" in event and _when(event["at"]) is None:
            errors.append(
                FieldError(
                    json_path(["events", i, "at"]),
                    "format",
                    "not an ISO 8601 date-time with a time zone",
                )
            )
    return errors


def _when(text: str):
    try:
        value = parse_datetime(text)
    except ValueError:
        return None
    return value if value is not None and value.tzinfo is not None else None


def _file_rows(files, name: str) -> Iterator[tuple[int, Any, list[FieldError]]]:
    """(line, row, errors) for every row of a sample file, parsed under the record bounds."""
    max_bytes, max_depth = _row_limits()
    if name.endswith(".jsonl"):
        for number, line in files.lines(name, max_bytes):
            if line is None:
                error = FieldError("$", "too_large", f"the row is larger than {max_bytes} bytes")
                yield number, None, [error]
                continue
            if not line.strip():
                continue
            row, errors = jsonread.parse(line, max_bytes=max_bytes, max_depth=max_depth, what="row")
            yield number, row, errors or row_errors(row)
        return
    limit = settings.TESSERA_PACKS["max_bytes"]
    document, errors = jsonread.parse(
        files.read_limited(name, limit), max_bytes=limit, max_depth=max_depth + 1, what="file"
    )
    if errors:
        yield 1, None, errors
        return
    if not isinstance(document, list):
        yield 1, None, [FieldError("$", "type", "a .json sample file is a JSON array of rows")]
        return
    for i, row in enumerate(document):
        yield (
            i + 1,
            row,
            [FieldError(f"$[{i}]" + e.path[1:], e.code, e.message) for e in row_errors(row)],
        )


def check_file_rows(files, name: str) -> tuple[int, list[Problem]]:
    """How many rows a sample file holds, and the problems of its rows' shape."""
    if not name.endswith((".json", ".jsonl")):
        return 0, [Problem(name, "$", "unknown_format", "sample files are .json or .jsonl")]
    count, problems = 0, []
    for line, row, errors in _file_rows(files, name):
        if row is not None:
            count += 1
        at = line if name.endswith(".jsonl") else None
        problems += from_errors(errors, name, line=at)
        if len(problems) >= 100:
            problems.append(Problem(name, "$", "too_many_errors", "stopped after 100 problems"))
            break
    return count, problems


class SampleLoader:
    """Loads a pack's sample rows in batches (``records.bulk``), resolving refs as it goes."""

    def __init__(self, pack, installed: InstalledPack, *, actor=None, progress=None):
        self.pack, self.installed, self.actor = pack, installed, actor
        self.progress: Progress = progress or NoProgress()
        self.refs: dict[str, int] = {}
        self.pending: list[InstalledRecord] = []
        self.counts: dict[str, int] = {}
        self.batch_object: str | None = None
        self.batch: list[tuple[dict[str, Any], dict[str, Any], dict, str]] = []
        self.batch_refs: set[str] = set()

    def load(self) -> dict[str, int]:
        with one_revision():  # the objects are published: one revision read for every row
            for entry in self.pack.sample:
                self._load_entry(entry)
            self._write_batch()
            self._flush()
        return self.counts

    def _load_entry(self, entry: SampleEntry) -> None:
        if entry.file:
            self.progress.start(entry.label, entry.rows)
            at_line = entry.file.endswith(".jsonl")
            for line, row, errors in _file_rows(self.pack.files, entry.file):
                where = dict(file=entry.file, line=line if at_line else None)
                if errors:
                    raise PackRefused(
                        from_errors(errors, entry.file, pack=self.pack.key, line=line)
                    )
                self._load_row(entry.object, row, where, "" if at_line else f"$[{line - 1}]")
            self._write_batch()  # the entry's bar ends full before the next one starts
            return
        if entry.generator not in generators:
            raise PackRefused(
                [
                    Problem(
                        "manifest.json",
                        f"$.sample_data[{entry.index}].generator",
                        "unknown_generator",
                        f"no installed sample generator {entry.generator!r} "
                        f"(known: {', '.join(generators.keys()) or 'none'})",
                        pack=self.pack.key,
                    )
                ]
            )
        generator = generators.get(entry.generator)
        self.progress.start(entry.label, generator.count(entry.options or {}))
        for i, row in enumerate(generator.rows(entry.options or {})):
            where = dict(file=f"generator:{entry.generator}", line=i + 1)
            errors = row_errors(row, generated=True)
            if errors:
                raise PackRefused(
                    from_errors(errors, where["file"], pack=self.pack.key, line=i + 1)
                )
            object_key = row["object"]
            self._load_row(object_key, {k: v for k, v in row.items() if k != "object"}, where, "")
        self._write_batch()

    def _load_row(self, object_key: str, row: dict[str, Any], where: dict, prefix: str) -> None:
        """Queue a row for its object's batch; a batch is written when it is full, when the
        object changes, or when a row points at a row still waiting in it."""
        if object_key != self.batch_object or len(self.batch) >= BATCH or self._waits_for(row):
            self._write_batch()
        file, line = where["file"], where["line"]
        data = self._resolved(object_key, row["data"], file, line, prefix)
        ref = row.get("ref")
        if ref:
            if ref in self.refs or ref in self.batch_refs:
                raise PackRefused(
                    [
                        Problem(
                            file,
                            prefix + "$.ref",
                            "duplicate_ref",
                            f"the ref {ref!r} is used twice",
                            pack=self.pack.key,
                            line=line,
                        )
                    ]
                )
            self.batch_refs.add(ref)
        self.batch_object = object_key
        self.batch.append((row, data, where, prefix))

    def _waits_for(self, row: dict[str, Any]) -> bool:
        """Whether the row's data names a ref of a row not yet written (in the batch)."""
        if not self.batch_refs:
            return False
        for value in (row.get("data") or {}).values():
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict) and item.get("ref") in self.batch_refs:
                    return True
        return False

    def _write_batch(self) -> None:
        """Write the queued rows of one object through ``records.bulk`` (the records
        service's checks, history, rollups and observers, a chunk at a time)."""
        if not self.batch:
            return
        object_key, batch = self.batch_object, self.batch
        self.batch, self.batch_refs = [], set()
        try:
            ids = bulk.create_many(
                object_key,
                [data for _, data, _, _ in batch],
                actor=self.actor,
                comment=f"sample data of pack {self.pack.key} {self.pack.version_text}",
            )
        except ValidationFailed as exc:
            _, _, where, prefix = batch[getattr(exc, "index", 0)]
            raise PackRefused(
                from_errors(
                    exc.errors,
                    where["file"],
                    pack=self.pack.key,
                    prefix=prefix + "$.data",
                    line=where["line"],
                )
            ) from None
        events = []
        for (row, _, _, _), record_id in zip(batch, ids, strict=True):
            for event in row.get("events") or []:
                when = _when(event["at"]) if "at" in event else None
                events.append((record_id, event["type"], event.get("payload") or {}, when))
            ref = row.get("ref")
            if ref:
                self.refs[ref] = record_id
                self.pending.append(
                    InstalledRecord(
                        pack=self.installed, ref=ref, object_key=object_key, record_id=record_id
                    )
                )
        bulk.add_events(object_key, events)
        if len(self.pending) >= 1000:
            self._flush()
        self.counts[object_key] = self.counts.get(object_key, 0) + len(batch)
        self.progress.advance(len(batch))

    def _flush(self) -> None:
        InstalledRecord.objects.bulk_create(self.pending)
        self.pending = []

    def _resolved(self, object_key, data, file, line, prefix) -> dict[str, Any]:
        definition = published("object", object_key)
        if definition is None:
            return data  # the records service names the unknown object
        out = dict(data)
        for name, prop in definition.body.get("properties", {}).items():
            if name not in out:
                continue
            if prop["x-type"] == "relation":
                out[name] = self._ref(out[name], [name], file, line, prefix)
            elif (
                prop["x-type"] == "list"
                and (prop.get("items") or {}).get("x-type") == "relation"
                and isinstance(out[name], list)
            ):
                out[name] = [
                    self._ref(v, [name, i], file, line, prefix) for i, v in enumerate(out[name])
                ]
        return out

    def _ref(self, value: Any, path: list, file: str, line, prefix: str) -> Any:
        if not (
            isinstance(value, dict) and set(value) == {"ref"} and isinstance(value["ref"], str)
        ):
            return value
        ref = value["ref"]
        if ref in self.refs:
            return self.refs[ref]
        if ":" in ref:
            pack_key, local = ref.split(":", 1)
            found = (
                InstalledRecord.objects.filter(pack__key=pack_key, ref=local)
                .values_list("record_id", flat=True)
                .first()
            )
            if found is not None and (pack_key in self.pack.depends or pack_key == self.pack.key):
                return found
        raise PackRefused(
            [
                Problem(
                    file,
                    prefix + json_path(["data", *path]),
                    "unknown_ref",
                    f"no earlier sample row has the ref {ref!r} (a row may point only at rows "
                    "before it, or at 'pack:ref' of a pack this one depends on)",
                    pack=self.pack.key,
                    line=line,
                )
            ]
        )
