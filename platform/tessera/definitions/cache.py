"""Per-process caches keyed by the definitions revision stored in the database.

A publish in any process bumps the revision; the next lookup here sees the new number and
drops what it compiled before. The cost is one indexed single-row read per lookup.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from .models import Definition, DefinitionsRevision, Status

T = TypeVar("T")


class RevisionCache:
    """Values computed from published definitions, valid for one revision."""

    def __init__(self) -> None:
        self._revision: tuple[int, str] | None = None
        self._values: dict[Any, Any] = {}
        self._lock = threading.Lock()

    def get(self, key: Any, compute: Callable[[], T]) -> T:
        revision = DefinitionsRevision.cache_key()
        with self._lock:
            if revision != self._revision:
                self._values.clear()
                self._revision = revision
            if key in self._values:
                return self._values[key]
        value = compute()
        with self._lock:
            if self._revision == revision:
                self._values[key] = value
        return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._revision = None


_published = RevisionCache()


def published(kind: str, key: str) -> Definition | None:
    """The published version of a definition, cached until the next publish anywhere."""
    return _published.get(
        (kind, key),
        lambda: Definition.objects.filter(kind=kind, key=key, status=Status.PUBLISHED).first(),
    )


def published_keys(kind: str) -> set[str]:
    return _published.get(
        ("keys", kind),
        lambda: set(
            Definition.objects.filter(kind=kind, status=Status.PUBLISHED).values_list(
                "key", flat=True
            )
        ),
    )
