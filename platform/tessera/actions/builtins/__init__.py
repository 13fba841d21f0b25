"""The built-in action types, registered through the same call a plugin makes."""

from __future__ import annotations

from tessera.plugins import Registries

from .email import SendEmail
from .record_actions import AddTag, CreateRecord, RemoveTag, SetField
from .webhook import Webhook

BUILTIN_TYPES = (SetField, AddTag, RemoveTag, CreateRecord, SendEmail, Webhook)


def register(registries: Registries) -> None:
    for action_type in BUILTIN_TYPES:
        registries.actions.register(action_type())
