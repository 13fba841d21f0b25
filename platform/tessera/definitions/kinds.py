"""What each kind of definition adds to the store: semantic checks and publish steps.

The store knows every kind's meta-schema; the layers above it (records for ``object``,
segments, flows…) register the checks only they can make and the work a publish of their
kind must do inside the publishing transaction (indexes, data migrations, compiled plans).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tessera.plugins import Registry

from .errors import FieldError

if TYPE_CHECKING:
    from .models import Definition

Check = Callable[[dict[str, Any], str], list[FieldError]]
PublishStep = Callable[["Definition | None", "Definition", "dict[str, Any] | None"], None]


@dataclass
class KindHandler:
    """The checks and publish steps of one kind; ``type`` is the kind's slug."""

    type: str
    check: Check | None = None
    before_publish: PublishStep | None = None


kinds: Registry = Registry("definition kind")


def handler(kind: str) -> KindHandler:
    return kinds.get(kind) if kind in kinds else KindHandler(kind)
