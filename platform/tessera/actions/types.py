"""The contract every action type fulfils, built-in or from a plugin.

An action type is the code behind ``{"type": "send_email", "params": {...}}`` in a workflow or
campaign: it declares its params as JSON Schema (so the authoring side can build a form and
publish can refuse a bad one by path), checks what a schema cannot see, and performs one
``Effect``. Flows never perform an action directly; they enqueue it in the outbox
(:mod:`tessera.actions.service`), which calls ``perform`` exactly once for a transactional
type and at least once, with duplicates confined to a documented crash window, otherwise.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, ClassVar

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry

from tessera.definitions.errors import FieldError

_NO_REFS: Registry = Registry()  # params schemas are self-contained: no $ref is ever fetched


def sub_path(path: str, *parts: str | int) -> str:
    """``sub_path("$.states.open.on_enter[0]", "params", "to")`` → ``…on_enter[0].params.to``."""
    out = path
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.isidentifier():
            out += f".{part}"
        else:
            out += "[" + repr(part) + "]"
    return out


@dataclass(frozen=True)
class Effect:
    """One action to perform now: what the outbox row says, plus which attempt this is.

    ``key`` is the outbox key, stable across attempts: an external receiver can use it to
    drop a duplicate (every e-mail's Message-ID and every webhook's ``Tessera-Delivery``
    header is derived from it). ``context`` is what the caller put there (run id, flow key,
    node, actor id); ``attempt`` counts from 1.
    """

    key: str
    type: str
    params: dict[str, Any]
    object_key: str | None = None
    record_id: int | None = None
    context: dict[str, Any] = field(default_factory=dict)
    attempt: int = 1


class PermanentFailure(Exception):
    """Raised by ``perform`` when trying again cannot help (a 4xx answer, a refused address).

    The outbox row goes straight to ``failed``, where a person sees it and can retry it.
    """


class RetryLater(Exception):
    """Raised by ``perform`` for a failure that may pass (a 429 with Retry-After, a busy server).

    ``after`` (seconds) is the earliest next attempt the receiver asked for; the outbox's own
    backoff applies when it is longer. Any other exception is treated the same way.
    """

    def __init__(self, message: str, *, after: float | None = None):
        super().__init__(message)
        self.after = after


class Skip(Exception):
    """Raised by ``perform`` when there is nothing to do (no recipient, the record is gone).

    The row ends ``skipped`` with the reason: not an error to retry, not a success either.
    """


class ActionType:
    """Base of all action types. Subclasses set ``type``, ``label``, ``params_schema``.

    ``transactional = True`` promises a database-only effect: it runs inside the caller's
    transaction, so it commits or rolls back with the caller's own work (exactly once).
    Anything that leaves the database (mail, HTTP) must stay ``False``.
    """

    type: ClassVar[str]
    label: ClassVar[dict[str, str]] = {}
    params_schema: ClassVar[dict[str, Any]] = {"type": "object"}
    transactional: ClassVar[bool] = False

    @functools.cached_property
    def _validator(self) -> Draft202012Validator:
        Draft202012Validator.check_schema(self.params_schema)
        return Draft202012Validator(
            self.params_schema, registry=_NO_REFS, format_checker=FormatChecker()
        )

    def schema_errors(self, params: Any, path: str) -> list[FieldError]:
        """Where ``params`` break ``params_schema``, each error at the JSON path of the value."""
        found = []
        for error in self._validator.iter_errors(params):
            parts = list(error.absolute_path)
            message = error.message
            if error.validator == "required" and "'" in error.message:
                parts.append(error.message.split("'")[1])
                message = "this parameter is required"
            elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
                known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
                extra = sorted(k for k in error.instance if k not in known)
                if extra:
                    parts.append(extra[0])
                    message = f"unknown parameter; known: {', '.join(sorted(known))}"
            found.append(FieldError(sub_path(path, *parts), str(error.validator), message))
        return sorted(found, key=lambda e: e.path)

    def check(
        self, params: dict[str, Any], *, object_key: str | None, path: str
    ) -> list[FieldError]:
        """Problems with ``params`` (at ``path``, the params' own JSON path).

        The default checks the schema; subclasses call it first and add what only they know
        (the field exists on the object, the value fits it, the template compiles).
        """
        return self.schema_errors(params, path)

    def perform(self, effect: Effect) -> dict[str, Any] | None:
        """Make the effect happen; return a small JSON result to keep on the outbox row."""
        raise NotImplementedError
