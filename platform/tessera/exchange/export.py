"""Exporting the records of an object, or of a segment, to CSV or Excel, streamed.

Who may see what is decided by ``tessera.api.permissions.Policy``, the check GraphQL
makes: no read right, no export; rows narrowed by the person's row rules; a field the
person may not read is not a column at all; a segment whose condition reads such a field
is refused, as GraphQL refuses to count it. Rows are read in pages of ids, CSV is written
as it is read and Excel through openpyxl's write-only mode into a temporary file, so a
million rows never sit in memory at once.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from tessera.api.permissions import Policy
from tessera.conditions.tree import parse
from tessera.definitions.cache import published
from tessera.definitions.errors import ValidationFailed
from tessera.records.models import Record

PAGE = 2000
FORMULA_START = ("=", "@", "\t", "\r")


class ExportRefused(Exception):
    """The export cannot be made for this person: HTTP status, code, message."""

    def __init__(self, status: int, code: str, message: str):
        self.status, self.code, self.message = status, code, message
        super().__init__(message)


@dataclass
class Export:
    """What one person may export: the columns they may read, the rows they may see."""

    object_key: str
    fields: list[str]
    rows: QuerySet

    @property
    def header(self) -> list[str]:
        return ["id", *self.fields]

    def records(self) -> Iterator[list[Any]]:
        """Rows of cells, in id order, read a page at a time."""
        last = 0
        while True:
            page = list(
                self.rows.filter(pk__gt=last).order_by("pk").values_list("pk", "data")[:PAGE]
            )
            if not page:
                return
            for pk, data in page:
                yield [pk, *(cell(data.get(name)) for name in self.fields)]
            last = page[-1][0]


def cell(value: Any) -> Any:
    """A stored value as a spreadsheet cell; text that a spreadsheet would run is quoted."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(str(cell(v)) for v in value)
    if isinstance(value, dict):
        return str(value)
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    if isinstance(value, str) and value[:1] in "+-" and not value[1:2].isdigit():
        return "'" + value
    return value


def prepare(
    user, object_key: str, *, segment: str | None = None, fields: list[str] | None = None
) -> Export:
    """The export ``user`` may have; ExportRefused says why not."""
    definition = published("object", object_key)
    if definition is None:
        raise ExportRefused(404, "unknown_object", f"{object_key!r} is not a published object")
    policy = Policy.for_user(user)
    if not policy.can(object_key, "read"):
        raise ExportRefused(403, "denied", f"you may not read {object_key} records")
    properties = list(definition.body.get("properties", {}))
    if fields:
        unknown = [f for f in fields if f not in properties and f != "id"]
        if unknown:
            raise ExportRefused(400, "unknown_field", f"no field {unknown[0]!r} in {object_key}")
        wanted = [f for f in fields if f != "id"]
    else:
        wanted = properties
    hidden = policy.denied_fields(object_key, wanted)
    columns = [f for f in wanted if f not in hidden]
    rows = Record.objects.filter(object_key=object_key)
    if segment:
        rows = _segment_rows(policy, segment, object_key)
    return Export(object_key, columns, policy.rows(object_key, rows))


def _segment_rows(policy: Policy, key: str, object_key: str) -> QuerySet:
    from tessera.segments import service as segments

    definition = published("segment", key)
    if definition is None or definition.body.get("object") != object_key:
        raise ExportRefused(404, "unknown_segment", f"{key!r} is not a segment of {object_key}")
    try:
        node = parse(definition.body["condition"], object_key, path=["condition"])
    except ValidationFailed as exc:
        raise ExportRefused(400, "invalid_condition", str(exc)) from None
    problems = policy.condition_problems(node, object_key)
    if problems:
        raise ExportRefused(
            403, "denied", "the segment reads what you may not: " + ", ".join(sorted(problems))
        )
    return segments.members(key)


def csv_chunks(export: Export, *, bom: bool = True) -> Iterator[bytes]:
    """The CSV file in pieces (UTF-8; with a BOM so Excel reads Chinese right)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(export.header)
    if bom:
        yield "\ufeff".encode()
    for count, row in enumerate(export.records(), start=1):
        writer.writerow(row)
        if count % 500 == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def write_xlsx(export: Export, target) -> None:
    """Write the workbook to ``target`` (a path or a binary file), row by row."""
    from openpyxl import Workbook
    from openpyxl.utils.exceptions import IllegalCharacterError

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=export.object_key[:31])
    sheet.append(export.header)
    for row in export.records():
        try:
            sheet.append(row)
        except IllegalCharacterError:  # control characters Excel cannot hold
            sheet.append([_printable(c) for c in row])
    book.save(target)


def _printable(value: Any) -> Any:
    if isinstance(value, str):
        return "".join(ch if ch >= " " or ch in "\t\n\r" else "?" for ch in value)
    return value


def xlsx_file(export: Export):
    """A temporary file holding the workbook, at its start; it goes away when closed."""
    handle = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 (the response closes it)
    write_xlsx(export, handle)
    handle.seek(0)
    return handle


def file_name(export: Export, extension: str, segment: str | None = None) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M")
    return f"{segment or export.object_key}-{stamp}.{extension}"
