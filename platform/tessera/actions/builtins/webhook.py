"""``webhook``: POST a JSON document to a URL, signed, with a timeout and retries.

Every request carries ``Tessera-Delivery`` (the outbox key: the same on every attempt, so the
receiver can drop a duplicate), ``Tessera-Timestamp`` and ``Tessera-Signature: sha256=<hex>``,
the HMAC-SHA256 of ``"<timestamp>." + body`` under ``settings.TESSERA_WEBHOOK_SECRET``.
Network errors, 5xx and 429 are retried with backoff (429's Retry-After is honoured); any
other 4xx fails at once: sending the same request again will not change the answer.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings

from tessera.definitions.errors import FieldError

from .. import subject
from ..references import reference_errors, resolve
from ..types import ActionType, Effect, PermanentFailure, RetryLater, Skip, sub_path
from .destinations import check_destination

HEADER_NAME = "^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$"  # an HTTP token
RESERVED = {"content-type", "content-length", "host", "user-agent", "transfer-encoding"}
MAX_RETRY_AFTER = 3600.0


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """What ``Tessera-Signature`` holds; a receiver recomputes it to trust the request."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        return None  # an HTTP date or junk: our own backoff decides


class Webhook(ActionType):
    """Call an HTTP endpoint with a JSON payload (by default the subject record)."""

    type = "webhook"
    label = {"en": "Call a webhook", "zh": "调用 Webhook"}
    params_schema = {
        "type": "object",
        "required": ["url"],
        "additionalProperties": False,
        "properties": {
            "url": {"type": "string", "minLength": 8, "maxLength": 2000},
            "method": {"enum": ["POST", "PUT", "PATCH"], "default": "POST"},
            "headers": {
                "type": "object",
                "maxProperties": 20,
                "propertyNames": {"pattern": HEADER_NAME},
                "additionalProperties": {
                    "type": "string",
                    "maxLength": 1000,
                    "pattern": "^[^\\r\\n]*$",  # no header injection
                },
            },
            # any JSON; {"$record": "field"} values are filled in from the subject record
            "payload": {},
        },
    }

    def check(self, params, *, object_key, path):
        errors = super().check(params, object_key=object_key, path=path)
        if errors:
            return errors
        url = urlsplit(params["url"])
        if url.scheme not in ("http", "https") or not url.hostname:
            errors.append(
                FieldError(sub_path(path, "url"), "url", "an http:// or https:// URL with a host")
            )
        for name in params.get("headers", {}):
            lowered = name.lower()
            if lowered in RESERVED or lowered.startswith("tessera-"):
                errors.append(
                    FieldError(
                        sub_path(path, "headers", name),
                        "reserved_header",
                        f"{name} is set by Tessera",
                    )
                )
        if "payload" in params:
            errors += reference_errors(
                params["payload"], object_key=object_key, path=sub_path(path, "payload")
            )
        return errors

    def payload(self, effect: Effect) -> Any:
        data = None
        if effect.record_id is not None:
            try:
                data = subject.load(effect).data
            except LookupError as exc:
                raise Skip(f"the record is gone: {exc}") from exc
        if "payload" in effect.params:
            return resolve(effect.params["payload"], data, effect.record_id)
        return {
            "delivery": effect.key,
            "object": effect.object_key,
            "record_id": effect.record_id,
            "record": data,
            "context": effect.context,
        }

    def perform(self, effect: Effect) -> dict[str, Any]:
        body = json.dumps(
            self.payload(effect), ensure_ascii=False, separators=(",", ":"), sort_keys=True
        ).encode()
        timestamp = str(int(time.time()))
        headers = {
            **effect.params.get("headers", {}),
            "Content-Type": "application/json",
            "User-Agent": "Tessera-Webhook/1",
            "Tessera-Delivery": effect.key,
            "Tessera-Attempt": str(effect.attempt),
            "Tessera-Timestamp": timestamp,
            "Tessera-Signature": signature(settings.TESSERA_WEBHOOK_SECRET, timestamp, body),
        }
        check_destination(effect.params["url"])
        try:
            response = requests.request(
                effect.params.get("method", "POST"),
                effect.params["url"],
                data=body,
                headers=headers,
                timeout=(
                    settings.TESSERA_WEBHOOK_CONNECT_TIMEOUT,
                    settings.TESSERA_WEBHOOK_TIMEOUT,
                ),
                allow_redirects=False,  # a redirect would resend a signed body somewhere else
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise RetryLater(f"network error: {exc}") from exc
        except requests.RequestException as exc:  # an invalid URL, a bad header value
            raise PermanentFailure(f"request not sent: {exc}") from exc
        status = response.status_code
        if 200 <= status < 300:
            return {"status": status}
        text = f"HTTP {status}: {response.text[:200]}"
        if status == 429 or status >= 500:
            raise RetryLater(text, after=_retry_after(response))
        raise PermanentFailure(text)  # 3xx (not followed) and the other 4xx
