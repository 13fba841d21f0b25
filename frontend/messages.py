"""Record validation errors in people's words, in the active language.

The engine's errors name a JSON path and a rule (``$.email``, ``format``); a person filling a
form needs "Enter a valid e-mail address" next to the e-mail box. Unknown rules keep the
engine's own message, which names the problem too.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from tessera.definitions.errors import FieldError


def field_of(error: FieldError) -> str:
    """The top-level field an error is about (``$.tags[2]`` → ``tags``), or ``""``."""
    path = error.path
    if not path.startswith("$."):
        if path.startswith("$['"):
            return path[3:].split("'")[0]
        return ""
    name = path[2:]
    for stop in ".[":
        name = name.split(stop)[0]
    return name


def friendly(error: FieldError, prop: dict[str, Any] | None = None) -> str:
    prop = prop or {}
    code = error.code
    kind = prop.get("x-type")
    if code == "required":
        return _("This field is required.")
    if code == "unique":
        return _("Another record already has this value.")
    if code in ("format", "type") and kind == "email":
        return _("Enter a valid e-mail address.")
    if code in ("format", "pattern", "type") and kind == "phone":
        return _("Enter a valid phone number.")
    if code in ("format", "type") and kind == "url":
        return _("Enter a link starting with http:// or https://.")
    if code in ("format", "type") and kind in ("date", "datetime"):
        return _("Enter a valid date.")
    if code == "type" and kind in ("integer", "decimal", "money"):
        return _("Enter a number.")
    if code == "enum":
        return _("Choose one of the options.")
    if code == "minimum" and "minimum" in prop:
        return _("Enter a value of at least %(n)s.") % {"n": prop["minimum"]}
    if code == "maximum" and "maximum" in prop:
        return _("Enter a value of at most %(n)s.") % {"n": prop["maximum"]}
    if code == "maxLength" and "maxLength" in prop:
        return _("Enter at most %(n)s characters.") % {"n": prop["maxLength"]}
    if code == "minLength" and "minLength" in prop:
        return _("Enter at least %(n)s characters.") % {"n": prop["minLength"]}
    if code == "pattern":
        return _("This value does not have the expected form.")
    if code == "relation":
        return _("Choose a record that exists.")
    if code == "permission_denied":
        return _("You may not change this field.")
    return error.message
