"""Reading an import file: its encoding, its header, its rows, each row with its number.

Files come from spreadsheets exported on many machines: UTF-8, UTF-8 with a BOM (Excel's
"CSV UTF-8"), GBK or GB18030 (Excel on a Chinese Windows), and Excel workbooks. What is
wrong with a file as a whole (it does not decode, a row has more cells than the header, a
cell is huge) is a ``FileProblem`` naming the row; the importer checks the whole file for
these before it writes anything, so such a file is refused without a partial import.

Row numbers are those a spreadsheet shows: the header is row 1, the first data row 2.
"""

from __future__ import annotations

import codecs
import csv
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from tessera.definitions.errors import FieldError

SNIFF_BYTES = 1 << 20
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
# csv refuses fields over its (process-wide) limit with an error we report per row; our own
# limit, checked on every cell, is lower and configurable.
csv.field_size_limit(max(csv.field_size_limit(), 1 << 24))


class FileProblem(Exception):
    """The file cannot be imported as it is; ``errors`` name the row (``$.rows[n]``)."""

    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors[:5]))


def _problem(row: int | None, code: str, message: str) -> FileProblem:
    path = f"$.rows[{row}]" if row is not None else "$.file"
    return FileProblem([FieldError(path, code, message)])


def limits() -> tuple[int, int]:
    conf = settings.TESSERA_EXCHANGE
    return int(conf["max_cell_chars"]), int(conf["max_columns"])


def file_format(name: str) -> str:
    return "xlsx" if name.lower().endswith(EXCEL_SUFFIXES) else "csv"


def detect_encoding(head: bytes) -> str:
    """The encoding of a CSV file from its first bytes: a BOM, else UTF-8, else GB18030.

    GB18030 is a superset of GBK and GB2312, so it reads all three. A UTF-8 file whose
    first megabyte is plain ASCII is UTF-8; a later byte that is not is reported by row.
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3:  # a character cut at the end of the sample
            return "utf-8"
    try:
        head.decode("gb18030")
        return "gb18030"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 4:
            return "gb18030"
    raise _problem(None, "encoding", "the file is neither UTF-8 nor GBK/GB18030 text")


@dataclass
class Table:
    """An open import file: ``header`` and an iterator of (row number, cells).

    Read it one way only: ``rows``, or ``chunks``, or ``count``.
    """

    header: list[str]
    rows: Iterator[tuple[int, list[str]]]
    encoding: str
    format: str
    _closer: Any = None
    _batches: Iterator[list[tuple[int, list[str]]]] | None = None

    def batches(self) -> Iterator[list[tuple[int, list[str]]]]:
        """The rows of ``rows`` in lists of some length (CSV: read and checked in C)."""
        if self._batches is not None:
            return self._batches
        return _lists(self.rows, BATCH_ROWS)

    def count(self) -> int:
        """How many rows ``rows`` would give; FileProblem as it would raise it."""
        return sum(map(len, self.batches()))

    def chunks(self, size: int, after: int = 0) -> Iterator[list[tuple[int, list[str]]]]:
        """The rows numbered over ``after``, in lists of ``size`` (the last one shorter)."""
        pending: list[tuple[int, list[str]]] = []
        for batch in self.batches():
            if batch[-1][0] <= after:
                continue
            if batch[0][0] <= after:
                batch = [row for row in batch if row[0] > after]
            pending += batch
            while len(pending) >= size:
                yield pending[:size]
                del pending[:size]
        if pending:
            yield pending

    def close(self) -> None:
        if self._closer is not None:
            self._closer.close()

    def __enter__(self) -> Table:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_table(path: str | Path, *, fmt: str | None = None, encoding: str | None = None) -> Table:
    """Open ``path`` and read its header; raises FileProblem for an unreadable file."""
    path = Path(path)
    fmt = fmt or file_format(path.name)
    if fmt == "xlsx":
        return _open_excel(path)
    try:
        with path.open("rb") as raw:
            head = raw.read(SNIFF_BYTES)
    except OSError as exc:
        raise _problem(None, "unreadable", f"the file cannot be read: {exc.strerror}") from None
    encoding = encoding or detect_encoding(head)
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise _problem(None, "encoding", f"unknown encoding {encoding!r}") from None
    handle = path.open("r", encoding=encoding, newline="", errors="strict")
    reader = csv.reader(handle, strict=True)
    rows = _csv_rows(reader, handle)
    try:
        first = next(rows, None)
    except FileProblem:
        handle.close()
        raise
    if first is None:
        handle.close()
        raise _problem(None, "empty", "the file is empty: it needs a header row")
    header = [h.strip() for h in first[1]]
    _check_header(header)
    return Table(
        header,
        _csv_body(reader, handle, len(header), first[0]),
        encoding,
        "csv",
        handle,
        _csv_batches(reader, handle, len(header), first[0]),
    )


def _csv_rows(reader, handle, number: int = 0) -> Iterator[tuple[int, list[str]]]:
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except (UnicodeDecodeError, csv.Error) as exc:
            raise _unreadable(exc, number + 1, handle) from None
        number += 1
        if cells and "\x00" in "".join(cells):
            raise _problem(number, "invalid_text", f"row {number} holds a NUL character")
        yield number, cells


def _check_header(header: list[str]) -> None:
    _, max_columns = limits()
    if len(header) > max_columns:
        raise _problem(1, "too_many_columns", f"the header has over {max_columns} columns")
    if not any(header):
        raise _problem(1, "empty_header", "the header row names no column")
    for i, name in enumerate(header):
        if len(name) > 200:
            raise _problem(1, "header", f"column {i + 1}'s name is over 200 characters")
    named = [h for h in header if h]
    if len(set(named)) != len(named):
        twice = sorted({h for h in named if named.count(h) > 1})
        raise _problem(1, "duplicate_column", f"columns named twice: {', '.join(twice)}")


def _csv_body(reader, handle, width: int, number: int) -> Iterator[tuple[int, list[str]]]:
    """The rows after the header, checked as ``_csv_rows`` and ``_checked`` check them.

    One loop instead of two generators: it runs over every row of a file twice (counted,
    then imported). A row that is not plainly fine goes through the two for its answer.
    """
    max_cell, _ = limits()
    try:
        for cells in reader:
            number += 1
            if (
                len(cells) == width
                and max(map(len, cells)) <= max_cell
                and (width > 1 or cells[0])
                and "\x00" not in "".join(cells)
            ):
                yield number, cells
            else:
                yield from _checked(_csv_rows(iter([cells]), handle, number - 1), width)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise _unreadable(exc, number + 1, handle) from None


BATCH_ROWS = 2000


def _lists(rows: Iterator[Any], size: int) -> Iterator[list[Any]]:
    while batch := list(itertools.islice(rows, size)):
        yield batch


def _csv_batches(reader, handle, width: int, number: int) -> Iterator[list[tuple[int, list[str]]]]:
    """What ``_csv_body`` yields, in lists, each list's rows checked at once in C.

    A file is read twice (counted, then imported) and each row was a step of a generator
    in Python. Here the rows are taken in lists and a list that is plainly fine (every
    row as wide as the header, no cell too large, no NUL) is numbered in one go; any other
    goes row by row through ``_csv_body``'s own checks for its answer.
    """
    max_cell, _ = limits()
    while True:
        cells_of: list[list[str]] = []
        append = cells_of.append
        try:
            for cells in itertools.islice(reader, BATCH_ROWS):
                append(cells)
        except (UnicodeDecodeError, csv.Error) as exc:
            # the rows before it are fine or refused by the checks below, in row order
            _ = [row for row in _csv_body(iter(cells_of), handle, width, number)]
            raise _unreadable(exc, number + len(cells_of) + 1, handle) from None
        if not cells_of:
            return
        cells = list(itertools.chain.from_iterable(cells_of))
        if (
            width > 1
            and set(map(len, cells_of)) == {width}
            and max(map(len, cells)) <= max_cell
            and "\x00" not in "".join(cells)
        ):
            yield list(zip(range(number + 1, number + 1 + len(cells_of)), cells_of, strict=True))
        else:
            batch = list(_csv_body(iter(cells_of), handle, width, number))
            if batch:
                yield batch
        number += len(cells_of)


def _unreadable(exc: Exception, number: int, handle) -> FileProblem:
    """Row ``number`` could not be read: the wrong encoding, or CSV the reader refuses."""
    if isinstance(exc, UnicodeDecodeError):
        return _problem(
            number,
            "encoding",
            f"row {number} is not valid {handle.encoding} text; "
            "save the file as UTF-8 or name its encoding",
        )
    return _problem(number, "csv", f"row {number}: {exc}")


def _checked(
    rows: Iterator[tuple[int, list[Any]]], width: int, *, typed: bool = False
) -> Iterator[tuple[int, list[Any]]]:
    """Rows of the header's width; blank lines skipped; ragged rows and huge cells refused.

    ``typed``: cells may be numbers and dates (Excel), measured as the text they become.
    """
    max_cell, _ = limits()
    for number, cells in rows:
        if not cells or (len(cells) == 1 and cells[0] == ""):
            continue
        if len(cells) != width:
            if len(cells) > width and not any(cells[width:]):
                cells = cells[:width]  # trailing empty cells a spreadsheet added
            else:
                raise _problem(
                    number,
                    "ragged",
                    f"row {number} has {len(cells)} cells; the header has {width}",
                )
        sizes = [len(str(c)) for c in cells] if typed else list(map(len, cells))
        if max(sizes) > max_cell:
            column = next(i for i, n in enumerate(sizes) if n > max_cell)
            raise _problem(
                number,
                "cell_too_large",
                f"row {number}, column {column + 1}: a cell is over {max_cell} characters",
            )
        yield number, cells


def _open_excel(path: Path) -> Table:
    import zipfile

    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise _problem(None, "excel", f"not a readable Excel workbook: {exc}") from None
    sheet = book.worksheets[0]
    rows = _excel_rows(sheet.iter_rows(values_only=True))
    first = next(rows, None)
    if first is None:
        book.close()
        raise _problem(None, "empty", "the first sheet is empty: it needs a header row")
    header = [str(h).strip() if h is not None else "" for h in first[1]]
    while header and not header[-1]:
        header.pop()
    _check_header(header)
    return Table(header, _checked(rows, len(header), typed=True), "", "xlsx", book)


def _excel_rows(values: Iterator[tuple[Any, ...]]) -> Iterator[tuple[int, list[Any]]]:
    for number, row in enumerate(values, start=1):
        cells = list(row)
        while cells and cells[-1] is None:
            cells.pop()
        yield number, ["" if c is None else c for c in cells]
