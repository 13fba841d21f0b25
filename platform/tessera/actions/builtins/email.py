"""``send_email``: a notification through Django's e-mail backends (EMAIL_URL in settings).

The subject and body are templates over the subject record's data (``rendering``). Every
message carries a Message-ID derived from the outbox key and a ``Tessera-Delivery`` header
with the key itself: if a worker dies after the server accepted the message but before the
outbox recorded it, the retry sends the same Message-ID, which mail clients and most
receiving systems treat as the same message (see docs/actions.md, "Exactly once").
"""

from __future__ import annotations

import hashlib
import smtplib
from email.utils import parseaddr
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.validators import validate_email

from tessera.definitions.errors import FieldError

from .. import subject
from ..fields import check_field, object_properties
from ..types import ActionType, Effect, PermanentFailure, RetryLater, Skip, sub_path
from .rendering import TemplateTooLarge, render, template_context, template_error

ADDRESS_OR_FIELD = {"type": "string", "minLength": 1, "maxLength": 254}
ONE_OR_MANY = {
    "anyOf": [
        ADDRESS_OR_FIELD,
        {"type": "array", "items": ADDRESS_OR_FIELD, "minItems": 1, "maxItems": 50},
    ]
}


def message_id(key: str) -> str:
    """The same key always gives the same Message-ID, so a resent message is recognisable."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    return f"<{digest}.tessera@{_domain()}>"


def _domain() -> str:
    configured = getattr(settings, "TESSERA_EMAIL_DOMAIN", "")
    if configured:
        return configured
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    return address.rpartition("@")[2] or "tessera.localdomain"


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _address_field_errors(object_key: str | None, name: str, path: str) -> list[FieldError]:
    """A recipient field holds addresses: an e-mail field, or a list of e-mail items."""
    errors = check_field(object_key, name, path, x_types={"email", "list"})
    if errors:
        return errors
    prop = object_properties(object_key)[name]
    if prop["x-type"] == "list" and prop.get("items", {}).get("x-type") != "email":
        return [FieldError(path, "field_type", f"{name!r} is not a list of e-mail addresses")]
    return []


class SendEmail(ActionType):
    """Send an e-mail to addresses, to an address field of the record, or to a group."""

    type = "send_email"
    label = {"en": "Send an e-mail", "zh": "发送邮件"}
    params_schema = {
        "type": "object",
        "required": ["subject", "body"],
        "additionalProperties": False,
        "properties": {
            "to": ONE_OR_MANY,  # "ana@example.com" or a field of the record ("email")
            "to_group": ONE_OR_MANY,  # Django auth group names: their active members
            "from": {"type": "string", "minLength": 3, "maxLength": 320, "pattern": "^[^\\r\\n]*$"},
            "subject": {"type": "string", "minLength": 1, "maxLength": 998},
            "body": {"type": "string", "maxLength": 100_000},  # plain text
            "html": {"type": "string", "maxLength": 200_000},  # optional HTML alternative
        },
    }

    def check(self, params, *, object_key, path):
        errors = super().check(params, object_key=object_key, path=path)
        if errors:
            return errors
        if "to" not in params and "to_group" not in params:
            return [FieldError(sub_path(path, "to"), "required", "give 'to' or 'to_group'")]
        to = params.get("to")
        for i, target in enumerate(_as_list(to)):
            where = sub_path(path, "to", i) if isinstance(to, list) else sub_path(path, "to")
            if "@" in target:
                try:
                    validate_email(target)
                except ValidationError:
                    errors.append(
                        FieldError(where, "email", f"{target!r} is not an e-mail address")
                    )
            else:
                errors += _address_field_errors(object_key, target, where)
        if "from" in params and "@" not in parseaddr(params["from"])[1]:
            errors.append(FieldError(sub_path(path, "from"), "email", "not an e-mail address"))
        for name, html in (("subject", False), ("body", False), ("html", True)):
            if name in params:
                problem = template_error(params[name], html=html)
                if problem:
                    errors.append(FieldError(sub_path(path, name), "template", problem))
        return errors

    def recipients(self, effect: Effect, data: dict[str, Any] | None) -> list[str]:
        found: list[str] = []
        for target in _as_list(effect.params.get("to")):
            if "@" in target:
                found.append(target)
            else:
                found += [v for v in _as_list((data or {}).get(target)) if isinstance(v, str)]
        groups = _as_list(effect.params.get("to_group"))
        if groups:
            members = (
                get_user_model()
                .objects.filter(groups__name__in=groups, is_active=True)
                .exclude(email="")
                .values_list("email", flat=True)
            )
            found += list(members)
        unique = []
        for address in found:
            if address and address not in unique:
                unique.append(address)
        return unique

    def perform(self, effect: Effect) -> dict[str, Any]:
        data = None
        if effect.record_id is not None:
            try:
                data = subject.load(effect).data
            except LookupError as exc:
                raise Skip(f"the record is gone: {exc}") from exc
        to = self.recipients(effect, data)
        if not to:
            raise Skip("no recipient: the address fields are empty and the groups have no members")
        context = template_context(data, effect.record_id)
        try:
            subject_line = " ".join(render(effect.params["subject"], context).split())
            body = render(effect.params["body"], context)
            html = (
                render(effect.params["html"], context, html=True) if "html" in effect.params else ""
            )
        except TemplateTooLarge as exc:
            raise PermanentFailure(str(exc)) from exc
        message = EmailMultiAlternatives(
            subject=subject_line,
            body=body,
            from_email=effect.params.get("from") or settings.DEFAULT_FROM_EMAIL,
            to=to,
            headers={"Message-ID": message_id(effect.key), "Tessera-Delivery": effect.key},
            connection=get_connection(fail_silently=False),
        )
        if html:
            message.attach_alternative(html, "text/html")
        try:
            message.send()
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentFailure(f"every recipient was refused: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            text = f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
            if 500 <= exc.smtp_code < 600:
                raise PermanentFailure(text) from exc
            raise RetryLater(text) from exc
        return {"recipients": len(to), "message_id": message_id(effect.key)}


__all__ = ["SendEmail", "message_id"]
