"""``issue_coupon``: a fresh coupon code written to a text field of the customer.

The code is derived from the outbox key with an HMAC under the site's secret, so the same
step performed again (a retry) gives the same code, and nobody can guess the next one. The
field change and a ``coupon_issued`` event (code, value) commit with the step (a
transactional action), so a template after it shows ``{{ record.coupon_code }}``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from django.conf import settings

from tessera.actions import subject
from tessera.actions.fields import check_field
from tessera.actions.types import ActionType, Effect, sub_path
from tessera.records import service as records

ALPHABET_LENGTH = {"type": "integer", "minimum": 6, "maximum": 32}


def code_for(key: str, prefix: str, length: int) -> str:
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"coupon:{key}".encode(), hashlib.sha256
    ).digest()
    text = base64.b32encode(digest).decode().rstrip("=").replace("O", "8").replace("I", "9")
    return f"{prefix}{text[:length]}"


class IssueCoupon(ActionType):
    """Issue a coupon code into ``field`` (e.g. ``coupon_code``), with an optional value."""

    type = "issue_coupon"
    label = {"en": "Issue a coupon", "zh": "发放优惠券"}
    transactional = True
    params_schema = {
        "type": "object",
        "required": ["field"],
        "additionalProperties": False,
        "properties": {
            "field": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"},
            "prefix": {"type": "string", "pattern": "^[A-Z0-9-]{0,12}$"},
            "length": ALPHABET_LENGTH,
            "value": {"type": "string", "maxLength": 100},
            "valid_for": {"type": "string", "pattern": "^P", "maxLength": 40},
        },
    }

    def check(self, params, *, object_key, path):
        errors = super().check(params, object_key=object_key, path=path)
        if errors:
            return errors
        return check_field(
            object_key, params["field"], sub_path(path, "field"), x_types={"string", "text"}
        )

    def perform(self, effect: Effect) -> dict[str, Any]:
        code = code_for(effect.key, effect.params.get("prefix", ""), effect.params.get("length", 8))
        name = effect.params["field"]
        record, changed = subject.update(
            effect, lambda data: None if data.get(name) == code else {name: code}
        )
        if changed:
            payload = {"code": code, "value": effect.params.get("value", "")}
            if effect.params.get("valid_for"):
                payload["valid_for"] = effect.params["valid_for"]
            records.add_event(record, "coupon_issued", payload)
        return {"code": code}
