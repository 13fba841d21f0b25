"""Checking a chunk of rows: convert each cell, find the record a row updates, validate.

A chunk is checked as a whole so each question costs one query per chunk, not per row:
which records already hold these upsert keys, which hold these unique values, which
related ids exist. Every problem becomes a ``RowError`` naming the row, the column, the
field and the reason; a row with any problem is rejected and the rest go on.

Rows with the same upsert key inside a file are one record: the later row updates what the
earlier one wrote (in the same chunk too), as a second import of it would.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

from django.db import connection

from tessera.definitions.cache import published
from tessera.definitions.errors import FieldError, ValidationFailed
from tessera.plugins import field_types
from tessera.records.indexes import field_expression
from tessera.records.loading import records_by_id
from tessera.records.models import Record
from tessera.records.service import _normalized
from tessera.records.validation import RecordValidator, validator_for_version

from .convert import Options, convert_column, converter_for
from .mapping import ID, check_mapping


@dataclass(frozen=True)
class RowError:
    """One problem with one row: where (row, column, field) and why."""

    row: int
    column: str | None
    field: str | None
    code: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "field": self.field,
            "code": self.code,
            "message": self.message,
        }


@dataclass
class Entry:
    """What a chunk will write for one record: new (``record`` None) or an update."""

    rows: list[int]
    data: dict[str, Any]
    record: Record | None = None
    changed: bool = True

    @property
    def key_row(self) -> int:
        return self.rows[0]


@dataclass
class Checked:
    """A checked chunk: entries to write and rows rejected with their errors."""

    entries: list[Entry] = field(default_factory=list)
    rejected: list[tuple[int, list[Any], list[RowError]]] = field(default_factory=list)
    assumed_new: bool = False  # checked with check_chunk(assume_new=True)
    clashed: bool = False  # its insert met a stored key (importer._chunk)
    prepared: Any = None  # writing.PreparedInsert: the new records' COPY, made beforehand

    @property
    def creates(self) -> int:
        return sum(1 for e in self.entries if e.record is None)

    @property
    def updates(self) -> int:
        return sum(1 for e in self.entries if e.record is not None and e.changed)

    @property
    def unchanged(self) -> int:
        return sum(1 for e in self.entries if e.record is not None and not e.changed)


_FAILED = object()  # a cell its converter refused, in ``Plan.convert_rows``


class PlanRefused(Exception):
    """The mapping or key cannot work with this file and object; nothing was read."""

    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors[:5]))


class Plan:
    """A mapping, an upsert key and options, compiled against one object version."""

    def __init__(
        self,
        object_key: str,
        header: list[str],
        mapping: dict[str, str],
        key_fields: list[str] | tuple[str, ...] = (),
        options: dict[str, Any] | None = None,
    ):
        definition = published("object", object_key)
        if definition is None:
            raise PlanRefused(
                [FieldError("$.object", "unknown_object", f"{object_key!r} is not published")]
            )
        body = definition.body
        errors = check_mapping(mapping, header, body, key_fields)
        if errors:
            raise PlanRefused(errors)
        self.object_key = object_key
        self.definition = definition
        self.body = body
        self.properties: dict[str, Any] = body.get("properties", {})
        self.options = dict(options or {})
        self.clear_empty = self.options.get("empty") == "clear"
        cell_options = Options.of(self.options)
        index = {name: i for i, name in enumerate(header)}
        self.by_id = list(key_fields) == [ID]
        id_field = {"x-type": "relation", "x-relation": {"object": object_key}}
        self.columns = [
            (
                index[column],
                column,
                name,
                converter_for(id_field if name == ID else self.properties[name], cell_options),
            )
            for column, name in mapping.items()
        ]
        self.column_of = {name: column for column, name in mapping.items()}
        self.key_fields = list(key_fields)
        self.validator: RecordValidator = validator_for_version(object_key, definition.version)
        groups = [[n] for n, p in self.properties.items() if p.get("x-unique")]
        groups += [list(g) for g in body.get("x-unique-together", [])]
        self.unique_groups = [g for g in groups if all(f in self.column_of for f in g)]
        # A unique index enforces the upsert key: a key taken to be new and that is not
        # makes the insert fail rather than a second record (check_chunk's assume_new).
        self.key_is_unique = bool(key_fields) and list(key_fields) in self.unique_groups
        self.has_datetimes = any(p["x-type"] == "datetime" for p in self.properties.values())
        self.relations = {
            name: prop["x-relation"]["object"]
            for name, prop in self.properties.items()
            if prop["x-type"] == "relation" and name in self.column_of
        }

    def convert(self, number: int, cells: list[Any]) -> tuple[dict[str, Any], list[RowError]]:
        data: dict[str, Any] = {}
        errors: list[RowError] = []
        for index, column, name, convert in self.columns:
            try:
                value = convert(cells[index])
            except (ValueError, TypeError, ArithmeticError) as exc:
                errors.append(RowError(number, column, name, "convert", str(exc)[:500]))
                continue
            if value is not None:
                data[name] = value
            elif self.clear_empty:
                data[name] = None
        return data, errors

    def convert_rows(
        self, rows: list[tuple[int, list[Any]]]
    ) -> list[tuple[dict[str, Any], list[RowError]]]:
        """``convert`` of every row, done a column at a time: the same dicts and errors.

        A chunk's cells are converted column by column (``convert_column``: repeated cells
        looked up in C, text cells stripped in C), then put together row by row. A column
        with a cell its converter refuses goes cell by cell for the errors, in the order
        ``convert`` gives them. tests/exchange/test_fast_paths.py holds the two together.
        """
        if not rows or not self.columns:
            return [({}, []) for _ in rows]
        cells_of = [cells for _, cells in rows]
        shortest = min(map(len, cells_of))
        if any(index >= shortest for index, *_ in self.columns):
            return [self.convert(number, cells) for number, cells in rows]  # short rows
        failed = _FAILED
        errors: dict[int, list[RowError]] = {}
        columns = []
        by_column = list(zip(*cells_of, strict=False))  # each row has ``shortest`` cells or more
        for index, column, name, convert in self.columns:
            cells = list(by_column[index])
            try:
                values = convert_column(convert, cells)
            except (ValueError, TypeError, ArithmeticError):
                values = []
                for i, cell in enumerate(cells):
                    try:
                        values.append(convert(cell))
                    except (ValueError, TypeError, ArithmeticError) as exc:
                        values.append(failed)
                        error = RowError(rows[i][0], column, name, "convert", str(exc)[:500])
                        errors.setdefault(i, []).append(error)
            columns.append(values)
        names = [name for _, _, name, _ in self.columns]
        value_rows = list(zip(*columns, strict=True))
        # Rows with every value converted and present: their dicts are made in C. The
        # others (an empty cell, a refused one) are made again below, one by one.
        datas = list(map(dict, map(zip, repeat(names), value_rows)))
        odd = set(errors)
        for values in columns:
            if None in values or failed in values:
                odd.update(i for i, v in enumerate(values) if v is None or v is failed)
        clear_empty = self.clear_empty
        for i in odd:
            pairs = zip(names, value_rows[i], strict=True)
            if clear_empty:
                datas[i] = {n: v for n, v in pairs if v is not failed}
            else:
                datas[i] = {n: v for n, v in pairs if v is not None and v is not failed}
        return [(data, errors.get(i) or []) for i, data in enumerate(datas)]

    def field_errors(self, number: int, errors: list[FieldError]) -> list[RowError]:
        out = []
        for error in errors:
            name = _field_of(error.path)
            out.append(
                RowError(number, self.column_of.get(name or ""), name, error.code, error.message)
            )
        return out

    def expression(self, name: str) -> str:
        return field_expression(name, field_types.get(self.properties[name]["x-type"]).sql_type)


def key_of(fields: list[str]) -> Callable[[dict[str, Any]], tuple]:
    """The function giving a record's values of ``fields`` as a tuple (absent: None).

    Called for every row of an import, once or twice: a generator of ``data.get`` per row
    cost more than the lookups themselves.
    """
    if len(fields) == 1:
        (only,) = fields
        return lambda data: (data.get(only),)
    if len(fields) == 2:
        first, second = fields
        return lambda data: (data.get(first), data.get(second))
    return lambda data: tuple([data.get(f) for f in fields])


def _field_of(path: str) -> str | None:
    if not path.startswith("$.") and not path.startswith("$["):
        return None
    rest = path[2:] if path.startswith("$.") else path[1:]
    if rest.startswith("['"):
        return rest[2 : rest.index("']")]
    for i, ch in enumerate(rest):
        if ch in ".[":
            return rest[:i]
    return rest


def _sql_value(value: Any) -> Any:
    if isinstance(value, bool) and connection.vendor == "sqlite":
        return 1 if value else 0
    return value


def _lookup(plan: Plan, group: list[str], keys: list[tuple], lock: bool) -> dict[tuple, Record]:
    """Records of the object holding any of these values of ``group``, by value.

    On PostgreSQL the values go in as arrays joined laterally, one index probe per value:
    with ``IN (…)`` the planner, short of statistics on a table an import is filling,
    may scan every record of the object for each chunk.
    """
    keys = list(dict.fromkeys(keys))
    ids: list[int] = []
    exprs = [plan.expression(f) for f in group]
    with connection.cursor() as cursor:
        for start in range(0, len(keys), 1000):
            part = keys[start : start + 1000]
            if connection.vendor == "postgresql":
                columns = ", ".join(f"k{i}" for i in range(len(group)))
                # Each column's values as one JSON array: psycopg writes a list parameter
                # item by item in Python, json.dumps in C (a tenth of the time).
                arrays = ", ".join(["jsonb_array_elements_text(%s::jsonb)"] * len(group))
                match = " AND ".join(
                    f"{expr} = k.k{i}{_cast(expr)}" for i, expr in enumerate(exprs)
                )
                sql = (
                    f"SELECT r.id FROM ROWS FROM ({arrays}) AS k({columns}) CROSS JOIN LATERAL "
                    f"(SELECT id FROM records_record WHERE object_key = %s AND {match} "
                    "OFFSET 0) r"  # not pulled up: a hash join would read every record
                )
                params = [
                    json.dumps([_text(k[i]) for k in part], ensure_ascii=False)
                    for i in range(len(group))
                ]
                cursor.execute(sql, [*params, plan.object_key])
            else:
                if len(group) == 1:
                    where = f"{exprs[0]} IN ({', '.join(['%s'] * len(part))})"
                    params = [_sql_value(k[0]) for k in part]
                else:
                    one = "(" + " AND ".join(f"{e} = %s" for e in exprs) + ")"
                    where = " OR ".join([one] * len(part))
                    params = [_sql_value(v) for k in part for v in k]
                cursor.execute(
                    f"SELECT id FROM records_record WHERE object_key = %s AND ({where})",
                    [plan.object_key, *params],
                )
            ids += [row[0] for row in cursor.fetchall()]
    if not ids:
        return {}
    return {tuple(r.data.get(f) for f in group): r for r in records_by_id(ids, lock=lock)}


def _cast(expr: str) -> str:
    if expr.endswith("::numeric)"):
        return "::numeric"
    if expr.endswith("::boolean)"):
        return "::boolean"
    return ""


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_chunk(
    plan: Plan,
    rows: list[tuple[int, list[Any]]],
    *,
    lock: bool = False,
    assume_new: bool = False,
) -> Checked:
    """Convert, match and validate ``rows``; ``lock`` the records to update (a write).

    ``assume_new`` (an upsert key with a unique index, ``plan.key_is_unique``): take every
    key to be new without asking the database. Most rows of a first import are new, and
    the question cost PostgreSQL an index probe per row; a key that is stored after all
    makes the chunk's insert fail on the unique index, and the writer checks the chunk
    again the usual way (``importer._chunk``). A chunk with a rejected row is checked
    again at once: the row may be an update that the stored record would make valid.
    """
    assume_new = assume_new and plan.key_is_unique and not plan.by_id
    out = Checked()
    converted: list[tuple[int, list[Any], dict[str, Any], list[RowError]]] = []
    for (number, cells), (data, errors) in zip(rows, plan.convert_rows(rows), strict=True):
        if plan.has_datetimes:
            data = _normalized(plan.body, data)
        converted.append((number, cells, data, errors))

    existing: dict[tuple, Record] = {}
    key_fn = key_of(plan.key_fields) if plan.key_fields else None
    row_keys = [key_fn(d) for _, _, d, _ in converted] if key_fn is not None else None
    if plan.by_id:
        ids = [d[ID] for _, _, d, _ in converted if isinstance(d.get(ID), int)]
        qs = Record.objects.filter(object_key=plan.object_key, pk__in=ids)
        existing = {(r.pk,): r for r in (qs.select_for_update() if lock else qs)}
    elif row_keys and not assume_new:
        keys = [k for k in row_keys if None not in k]
        if keys:
            existing = _lookup(plan, plan.key_fields, keys, lock)

    pending: dict[tuple, Entry] = {}
    staged: list[tuple[int, list[Any], Entry, dict[str, Any] | None]] = []
    validator = plan.validator
    is_valid = validator.is_valid
    by_id, clear_empty = plan.by_id, plan.clear_empty
    if by_id:  # the id names the record; it is not one of its fields
        for _, _, data, _ in converted:
            data.pop(ID, None)
    # Every row's own data, judged a column at a time; a row whose record is the data
    # merged into an earlier row's or a stored record's is judged alone below.
    valid_alone = validator.valid_rows([data for _, _, data, _ in converted])
    add_entry, stage = out.entries.append, staged.append
    for i, (number, cells, data, failed) in enumerate(converted):
        key = row_keys[i] if row_keys is not None else None
        if by_id:
            data.pop(ID, None)
            if key != (None,) and key not in existing and not failed:
                message = f"there is no {plan.object_key} with id {key[0]}: ids only update"
                error = RowError(number, plan.column_of.get(ID), ID, "not_found", message)
                out.rejected.append((number, cells, [error]))
                continue
        if key is not None and None in key:
            failed_fields = {e.field for e in failed}
            missing = [
                RowError(number, plan.column_of.get(f), f, "key", "the upsert key is empty")
                for f, v in zip(plan.key_fields, key, strict=True)
                if v is None and f not in failed_fields
            ]
            failed_fields |= {e.field for e in missing}
            rest = [
                e
                for e in plan.field_errors(number, validator.errors(data))
                if e.field not in failed_fields and e.code != "required"
            ]
            out.rejected.append((number, cells, failed + missing + rest))
            continue
        entry = pending.get(key) if key is not None else None
        record = existing.get(key) if key is not None else None
        base = entry.data if entry is not None else (record.data if record is not None else {})
        merged = {k: v for k, v in {**base, **data}.items() if v is not None} if base else data
        if clear_empty and not base:
            merged = {k: v for k, v in data.items() if v is not None}
        if failed or not (valid_alone[i] if merged is data else is_valid(merged)):
            failed_fields = {e.field for e in failed}
            errors = [
                e
                for e in plan.field_errors(number, validator.errors(merged))
                if e.field not in failed_fields
            ]
            if failed or errors:
                out.rejected.append((number, cells, failed + errors))
                continue
        if entry is not None:
            stage((number, cells, entry, entry.data))  # undone if this row fails later
            entry.data = merged
            entry.rows.append(number)
            continue
        entry = Entry([number], merged, record)
        if record is not None:
            entry.changed = merged != record.data
        if key is not None:
            pending[key] = entry
        stage((number, cells, entry, None))
        add_entry(entry)

    rejected_rows = _unique_and_relations(plan, out.entries, tuple(plan.key_fields))
    if rejected_rows:
        by_row = {number: (cells, entry, before) for number, cells, entry, before in staged}
        for number, errors in sorted(rejected_rows.items()):
            cells, entry, before = by_row[number]
            out.rejected.append((number, cells, errors))
            if before is None:
                out.entries = [e for e in out.entries if e is not entry]
            else:
                entry.data = before
                entry.rows.remove(number)
        for entry in out.entries:
            if entry.record is not None:
                entry.changed = entry.data != entry.record.data
    if assume_new and out.rejected:
        return check_chunk(plan, rows, lock=lock)
    out.rejected.sort(key=lambda r: r[0])
    out.assumed_new = assume_new
    return out


def _unique_and_relations(
    plan: Plan, entries: list[Entry], key: tuple[str, ...]
) -> dict[int, list[RowError]]:
    """Rows whose unique values another record holds, or whose related records are missing.

    The upsert ``key``'s own values cannot clash: rows with one value became one entry,
    and an entry whose value a record holds updates that record. It is not walked (that
    walk was a fifth of checking a chunk).
    """
    bad: dict[int, list[RowError]] = defaultdict(list)
    for group in plan.unique_groups:
        if tuple(group) == key:
            continue
        values: dict[tuple, list[Entry]] = defaultdict(list)
        value_of = key_of(group)
        for entry in entries:
            value = value_of(entry.data)
            if None not in value:
                values[value].append(entry)
        if not values:
            continue
        holders = _lookup(plan, group, list(values), False)
        if not holders and len(values) == sum(map(len, values.values())):
            continue  # no value held by a record, none repeated in the chunk: nothing to say
        names = ", ".join(group)
        for value, owners in values.items():
            holder = holders.get(value)
            for i, entry in enumerate(owners):
                mine = entry.record.pk if entry.record is not None else None
                if holder is not None and holder.pk != mine:
                    reason = f"another {plan.object_key} (#{holder.pk}) already has this {names}"
                elif i > 0:
                    reason = f"row {owners[0].key_row} of this file has the same {names}"
                else:
                    continue
                number = entry.rows[-1]
                bad[number].append(
                    RowError(number, plan.column_of.get(group[0]), group[0], "unique", reason)
                )
    for name, target in plan.relations.items():
        ids = {e.data[name] for e in entries if isinstance(e.data.get(name), int)}
        if not ids:
            continue
        found = set(
            Record.objects.filter(object_key=target, pk__in=ids).values_list("pk", flat=True)
        )
        for entry in entries:
            value = entry.data.get(name)
            if isinstance(value, int) and value not in found:
                number = entry.rows[-1]
                bad[number].append(
                    RowError(
                        number,
                        plan.column_of.get(name),
                        name,
                        "relation",
                        f"there is no {target} with id {value}",
                    )
                )
    return dict(bad)


def as_validation_failed(errors: list[RowError]) -> ValidationFailed:
    return ValidationFailed(
        FieldError(f"$.rows[{e.row}]" + (f"[{e.column!r}]" if e.column else ""), e.code, e.message)
        for e in errors
    )
