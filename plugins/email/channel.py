"""``email``: a campaign message through Django's e-mail backends.

The engine renders ``subject`` (one line), ``body`` (plain text) and ``html`` over the
customer's fields, tracks links and adds the open pixel; this channel builds the message with
a Message-ID derived from the outbox key (a retry after a crash carries the same one), the
``List-Unsubscribe`` headers (one-click, RFC 8058) and hands it to the configured backend.
"""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from tessera.flows.campaigns.channels import (
    Channel,
    Outgoing,
    PermanentFailure,
    RetryLater,
    Sent,
    message_id,
)


class EmailChannel(Channel):
    """Marketing e-mail to an e-mail field of the customer (``email`` unless ``to`` says)."""

    type = "email"
    label = {"en": "E-mail", "zh": "邮件"}
    templates = {"subject": "plain", "body": "text", "html": "html"}
    address_types = {"email"}
    default_address_field = "email"
    params_schema = {
        "type": "object",
        "required": ["subject", "body"],
        "additionalProperties": False,
        "properties": {
            "subject": {"type": "string", "minLength": 1, "maxLength": 998},
            "body": {"type": "string", "minLength": 1, "maxLength": 100_000},
            "html": {"type": "string", "maxLength": 200_000},
            "from": {
                "type": "string",
                "minLength": 3,
                "maxLength": 320,
                "pattern": "^[^\\r\\n]*@[^\\r\\n]*$",
            },
            "reply_to": {"type": "string", "format": "email", "maxLength": 254},
        },
    }

    def send(self, outgoing: Outgoing) -> Sent:
        headers = {
            "Message-ID": message_id(outgoing.key),
            "Tessera-Delivery": outgoing.key,
            **outgoing.headers,
        }
        message = EmailMultiAlternatives(
            subject=outgoing.content["subject"],
            body=outgoing.content["body"],
            from_email=outgoing.params.get("from") or settings.DEFAULT_FROM_EMAIL,
            to=[outgoing.address],
            reply_to=[outgoing.params["reply_to"]] if outgoing.params.get("reply_to") else None,
            headers=headers,
            connection=get_connection(fail_silently=False),
        )
        if outgoing.content.get("html"):
            message.attach_alternative(outgoing.content["html"], "text/html")
        try:
            message.send()
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentFailure(f"the recipient was refused: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            text = f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
            if 500 <= exc.smtp_code < 600:
                raise PermanentFailure(text) from exc
            raise RetryLater(text) from exc
        return Sent(delivered=True, provider_id=headers["Message-ID"])
