"""``sms``: a campaign text message to a phone field of the customer, through the provider."""

from __future__ import annotations

from tessera.flows.campaigns.channels import Channel, Outgoing, Sent

from .providers import provider


class SmsChannel(Channel):
    """A text; its links become short tracked links, ``{{ unsubscribe_url }}`` is available."""

    type = "sms"
    label = {"en": "SMS", "zh": "短信"}
    templates = {"text": "text"}
    address_types = {"phone"}
    default_address_field = "phone"
    params_schema = {
        "type": "object",
        "required": ["text"],
        "additionalProperties": False,
        "properties": {"text": {"type": "string", "minLength": 1, "maxLength": 1600}},
    }

    def send(self, outgoing: Outgoing) -> Sent:
        return provider().send(to=outgoing.address, text=outgoing.content["text"], key=outgoing.key)
