"""The e-mail channel for campaigns: Django's e-mail backends (``EMAIL_URL`` in settings)."""

from __future__ import annotations


def register(registries) -> None:
    from .channel import EmailChannel

    registries.channels.register(EmailChannel())
