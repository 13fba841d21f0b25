"""The contract of a campaign channel (email, SMS…), public for channel plugins.

A channel is registered in ``tessera.plugins.channels`` by a plugin's ``register`` function,
exactly as the built-in ``plugins/email`` and ``plugins/sms`` do::

    class Push(Channel):
        type = "push"
        params_schema = {"type": "object", "required": ["text"], "properties": {...}}
        templates = {"text": "text"}
        address_types = {"string"}
        default_address_field = "device_token"

        def send(self, outgoing: Outgoing) -> Sent:
            ...  # raise RetryLater / PermanentFailure / Skip as an action would

    def register(registries):
        registries.channels.register(Push())

The engine does everything around ``send``: the send node checks consent, unsubscribes,
frequency caps, quiet hours and the global rate; the outbox makes the send happen once;
templates are rendered over the customer's fields only, with tracked links and the
unsubscribe URL. ``send`` only hands the finished message to the provider.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, ClassVar

from jsonschema import Draft202012Validator
from referencing import Registry

from tessera.actions.builtins.email import message_id
from tessera.actions.builtins.rendering import template_error
from tessera.actions.types import PermanentFailure, RetryLater, Skip, sub_path
from tessera.definitions.errors import FieldError

__all__ = [
    "Channel",
    "Outgoing",
    "PermanentFailure",
    "RetryLater",
    "Sent",
    "Skip",
    "message_id",
]

# How a template param is rendered and tracked: "plain" (a subject line: no links rewritten),
# "text" (URLs in it become tracked links), "html" (autoescaped; hrefs tracked, open pixel).
TEMPLATE_MODES = ("plain", "text", "html")


@dataclass(frozen=True)
class Outgoing:
    """One finished message for a channel to hand over.

    ``key`` is the outbox key, the same on every attempt: a provider that accepts an
    idempotency key (or a Message-ID) should get it, so a retry after a crash is recognised.
    ``content`` holds the rendered templates by param name; ``params`` the node's other
    message params as authored (a sender name, a from address).
    """

    key: str
    channel: str
    address: str
    content: dict[str, str]
    params: dict[str, Any]
    unsubscribe_url: str
    headers: dict[str, str] = field(default_factory=dict)
    attempt: int = 1


@dataclass(frozen=True)
class Sent:
    """What the provider said: accepted (``delivered``), and its own id for the message."""

    delivered: bool = True
    provider_id: str = ""


_NO_REFS: Registry = Registry()


class Channel:
    """Base of all channels. Subclasses set the class attributes and implement ``send``."""

    type: ClassVar[str]
    label: ClassVar[dict[str, str]] = {}
    params_schema: ClassVar[dict[str, Any]] = {"type": "object"}
    templates: ClassVar[dict[str, str]] = {}
    address_types: ClassVar[set[str]] = {"string"}
    default_address_field: ClassVar[str] = ""

    @functools.cached_property
    def _validator(self) -> Draft202012Validator:
        Draft202012Validator.check_schema(self.params_schema)
        return Draft202012Validator(self.params_schema, registry=_NO_REFS)

    def check(self, params: Any, *, object_key: str, path: str) -> list[FieldError]:
        """Problems with a send node's ``message`` params at ``path``: schema, then templates."""
        errors = [
            FieldError(sub_path(path, *e.absolute_path), str(e.validator), e.message)
            for e in self._validator.iter_errors(params)
        ]
        if errors or not isinstance(params, dict):
            return sorted(errors, key=lambda e: e.path)
        for name, mode in self.templates.items():
            if isinstance(params.get(name), str):
                problem = template_error(params[name], html=mode == "html")
                if problem:
                    errors.append(FieldError(sub_path(path, name), "template", problem))
        return errors

    def send(self, outgoing: Outgoing) -> Sent:
        raise NotImplementedError
