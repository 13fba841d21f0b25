"""Pages of records for Relay connections: offset cursors, ``first``/``after``, a lazy total."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tessera.records.models import Record

from .errors import api_error

MAX_PAGE = 100
DEFAULT_PAGE = 20
_PREFIX = "offset:"


def cursor(offset: int) -> str:
    return base64.b64encode(f"{_PREFIX}{offset}".encode()).decode()


def offset_of(value: str | None) -> int:
    """The offset after a cursor (0 without one); a cursor that is not ours is an error."""
    if value is None:
        return 0
    try:
        text = base64.b64decode(value.encode(), validate=True).decode()
        if text.startswith(_PREFIX) and text[len(_PREFIX) :].isdigit():
            return int(text[len(_PREFIX) :]) + 1
    except (ValueError, UnicodeError):
        pass
    raise api_error("invalid_cursor", f"{value!r} is not a cursor this API gave")


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE
    if not 0 <= first <= MAX_PAGE:
        raise api_error("page_size", f"first is 0 to {MAX_PAGE}")
    return first


class Edge:
    __slots__ = ("cursor", "node")

    def __init__(self, node: Record, cursor: str):
        self.node, self.cursor = node, cursor


@dataclass
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@dataclass
class Page:
    """One page of a connection; ``total`` is computed only when asked for."""

    records: list[Record]
    offset: int
    has_next: bool
    count: Callable[[], int] | int = 0
    _edges: list[Edge] | None = field(default=None, repr=False)

    @property
    def edges(self) -> list[Edge]:
        if self._edges is None:
            self._edges = [Edge(r, cursor(self.offset + i)) for i, r in enumerate(self.records)]
        return self._edges

    @property
    def nodes(self) -> list[Record]:
        return self.records

    @property
    def total_count(self) -> int:
        if callable(self.count):
            self.count = self.count()
        return self.count

    @property
    def page_info(self) -> PageInfo:
        n = len(self.records)
        return PageInfo(
            self.has_next,
            self.offset > 0,
            cursor(self.offset) if n else None,
            cursor(self.offset + n - 1) if n else None,
        )


def slice_page(rows: list[Any], offset: int, size: int) -> tuple[list[Any], bool]:
    """Rows fetched as ``size + 1`` → the page and whether another follows."""
    return rows[:size], len(rows) > size
