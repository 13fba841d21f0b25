"""Per-process caches keyed by the definitions revision stored in the database.

A publish in any process bumps the revision; the next lookup here sees the new number and
drops what it compiled before. The cost is one indexed single-row read per lookup.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from .models import Definition, DefinitionsRevision, Status

T = TypeVar("T")


class _Pin:
    """The revision of one operation: read when first needed, then kept."""

    __slots__ = ("key",)

    def __init__(self) -> None:
        self.key: tuple[int, str] | None = None


# The revision one operation (a transition, a record write) reads once and keeps: a step
# that looks up five compiled things needs one revision read, not five, and sees one
# consistent set of definitions even if a publish commits halfway through it.
_pinned: ContextVar[_Pin | None] = ContextVar("tessera_revision", default=None)


def current_revision() -> tuple[int, str]:
    pin = _pinned.get()
    if pin is None:
        return DefinitionsRevision.cache_key()
    if pin.key is None:
        pin.key = DefinitionsRevision.cache_key()
    return pin.key


@contextmanager
def one_revision() -> Iterator[None]:
    """Read the definitions revision once for everything inside the block (nests freely).

    It is read when first needed, unless the operation has read it already within a query
    of its own (``revision_read``: a transition reads it with its locking read).
    """
    if _pinned.get() is not None:
        yield
        return
    token = _pinned.set(_Pin())
    try:
        yield
    finally:
        _pinned.reset(token)


def revision_read(key: tuple[int, str]) -> None:
    """The operation read the revision itself: keep it, unless one is already kept."""
    pin = _pinned.get()
    if pin is not None and pin.key is None:
        pin.key = key


def revision_bumped(key: tuple[int, str]) -> None:
    """A publish inside a pinned block: what follows in it must see the new revision."""
    pin = _pinned.get()
    if pin is not None:
        pin.key = key


class RevisionCache:
    """Values computed from published definitions, valid for one revision."""

    def __init__(self) -> None:
        self._revision: tuple[int, str] | None = None
        self._values: dict[Any, Any] = {}
        self._lock = threading.Lock()

    def get(self, key: Any, compute: Callable[[], T]) -> T:
        revision = current_revision()
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
