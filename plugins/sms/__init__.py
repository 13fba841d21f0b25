"""The SMS channel for campaigns, through a provider interface; an HTTP provider is built in."""

from __future__ import annotations


def register(registries) -> None:
    from .channel import SmsChannel

    registries.channels.register(SmsChannel())
