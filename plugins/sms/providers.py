"""SMS providers: the interface, and the HTTP provider that speaks to a JSON gateway.

Settings (``TESSERA_SMS`` in Django settings, or the environment)::

    TESSERA_SMS = {"provider": "http", "url": "https://sms.example.com/v1/messages",
                   "token": "…", "sender": "SHOP", "timeout": 10}

The HTTP provider POSTs ``{"to", "text", "sender", "reference"}`` as JSON with a bearer
token and the outbox key as ``Idempotency-Key`` and ``Tessera-Delivery`` headers (a gateway
that honours it drops a retry's duplicate). 2xx: accepted (its ``id`` kept); 429 and 5xx,
timeouts, refused connections: tried again later; other 4xx: failed for a person to see.
"""

from __future__ import annotations

import os
from typing import Any, Protocol

import requests
from django.conf import settings

from tessera.flows.campaigns.channels import PermanentFailure, RetryLater, Sent


class Provider(Protocol):
    """Hands one text to a phone number; ``key`` is stable across retries of one message."""

    def send(self, *, to: str, text: str, key: str) -> Sent: ...


def config() -> dict[str, Any]:
    given = dict(getattr(settings, "TESSERA_SMS", {}) or {})
    for name in ("provider", "url", "token", "sender"):
        env = os.environ.get(f"TESSERA_SMS_{name.upper()}")
        if env and name not in given:
            given[name] = env
    return given


class HttpProvider:
    """A JSON-over-HTTP SMS gateway."""

    def __init__(self, url: str, token: str = "", sender: str = "", timeout: float = 10.0):
        self.url, self.token, self.sender, self.timeout = url, token, sender, timeout

    def send(self, *, to: str, text: str, key: str) -> Sent:
        headers = {"Idempotency-Key": key, "Tessera-Delivery": key}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = {"to": to, "text": text, "sender": self.sender, "reference": key}
        try:
            answer = requests.post(self.url, json=body, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise RetryLater(f"SMS gateway unreachable: {exc}") from exc
        if answer.status_code == 429 or answer.status_code >= 500:
            after = answer.headers.get("Retry-After")
            raise RetryLater(
                f"SMS gateway answered {answer.status_code}",
                after=float(after) if after and after.isdigit() else None,
            )
        if answer.status_code >= 400:
            raise PermanentFailure(f"SMS gateway refused: {answer.status_code} {answer.text[:200]}")
        try:
            reply = answer.json()
        except ValueError:
            reply = {}
        return Sent(
            delivered=True, provider_id=str(reply.get("id", "")) if isinstance(reply, dict) else ""
        )


def provider() -> Provider:
    """The configured provider; PermanentFailure (a person must configure it) when there is none."""
    conf = config()
    kind = conf.get("provider", "http")
    if kind != "http":
        raise PermanentFailure(f"unknown SMS provider {kind!r}")
    if not conf.get("url"):
        raise PermanentFailure("no SMS gateway configured (TESSERA_SMS['url'])")
    return HttpProvider(
        conf["url"], conf.get("token", ""), conf.get("sender", ""), float(conf.get("timeout", 10))
    )
