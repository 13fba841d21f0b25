"""``faq_answer``: match a ticket's text against the FAQ and keep the answer on the ticket.

An FAQ entry is a record with keywords (a list of texts) and an answer. The entry whose
keywords occur most often in the ticket's text fields wins (case and width folded, so "退款"
and "Refund" match as typed; a tie goes to the older entry); fewer than ``min_matches``
keywords found is no match, and the action ends ``skipped``. The entry's id and answer are
written to the ticket in the flow's own transaction (a transactional action), so the
workflow can move on when ``link_field`` is set and a ``send_email`` can quote
``{{ record.auto_reply }}``.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from tessera.actions import subject
from tessera.actions.fields import check_field, object_properties
from tessera.actions.types import ActionType, Effect, Skip, sub_path
from tessera.definitions.errors import FieldError
from tessera.records.models import Record

FIELD = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"}
TEXTS = {"string", "text"}
MAX_ENTRIES = 5000  # an FAQ is a short list; a runaway one is cut, not scanned whole


def fold(text: str) -> str:
    """Text compared without case or full-width forms (NFKC, then casefold)."""
    return unicodedata.normalize("NFKC", text).casefold()


class FaqAnswer(ActionType):
    """Find the FAQ entry a ticket asks about; write its id and answer to the ticket."""

    type = "faq_answer"
    label = {"en": "Answer from the FAQ", "zh": "常见问题自动答复"}
    transactional = True
    params_schema = {
        "type": "object",
        "required": ["faq_object", "text_fields", "link_field", "reply_field"],
        "additionalProperties": False,
        "properties": {
            "faq_object": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$"},
            "text_fields": {"type": "array", "minItems": 1, "maxItems": 10, "items": FIELD},
            "keywords_field": {**FIELD, "default": "keywords"},
            "answer_field": {**FIELD, "default": "answer"},
            "active_field": {**FIELD, "default": "active"},
            "link_field": FIELD,
            "reply_field": FIELD,
            "min_matches": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
        },
    }

    def check(self, params: dict[str, Any], *, object_key: str | None, path: str):
        errors = super().check(params, object_key=object_key, path=path)
        if errors:
            return errors
        for i, name in enumerate(params["text_fields"]):
            errors += check_field(object_key, name, sub_path(path, "text_fields", i), x_types=TEXTS)
        errors += check_field(
            object_key, params["reply_field"], sub_path(path, "reply_field"), x_types=TEXTS
        )
        link = sub_path(path, "link_field")
        errors += check_field(object_key, params["link_field"], link, x_types={"relation"})
        faq = params["faq_object"]
        target = (object_properties(object_key) or {}).get(params["link_field"], {})
        if target.get("x-relation", {}).get("object") not in (None, faq):
            errors.append(
                FieldError(link, "relation", f"{params['link_field']} is not a link to {faq}")
            )
        faq_path = sub_path(path, "faq_object")
        if object_properties(faq) is None:
            return [*errors, FieldError(faq_path, "unknown_object", f"{faq!r} is not published")]
        errors += check_field(
            faq, params.get("keywords_field", "keywords"), faq_path, x_types={"list"}
        )
        errors += check_field(faq, params.get("answer_field", "answer"), faq_path, x_types=TEXTS)
        return errors

    def perform(self, effect: Effect) -> dict[str, Any]:
        params = effect.params
        ticket = subject.load(effect)
        text = fold(" ".join(str(ticket.data.get(f) or "") for f in params["text_fields"]))
        best = match(
            text,
            params["faq_object"],
            params.get("keywords_field", "keywords"),
            params.get("active_field", "active"),
            params.get("min_matches", 1),
        )
        if best is None:
            raise Skip("no FAQ entry matches the ticket's text")
        entry, found = best
        answer = str(entry.data.get(params.get("answer_field", "answer")) or "")
        subject.update(
            effect, lambda data: {params["link_field"]: entry.pk, params["reply_field"]: answer}
        )
        return {"faq": entry.pk, "keywords": found}


def match(
    text: str, faq_object: str, keywords_field: str, active_field: str, min_matches: int
) -> tuple[Record, list[str]] | None:
    """The best FAQ entry for folded ``text`` and the keywords it matched, or None."""
    best: tuple[int, int, Record, list[str]] | None = None
    entries = Record.objects.filter(object_key=faq_object).order_by("pk")[:MAX_ENTRIES]
    for entry in entries:
        if entry.data.get(active_field) is False:
            continue
        keywords = [k for k in entry.data.get(keywords_field) or [] if isinstance(k, str)]
        found = [k for k in keywords if k.strip() and fold(k.strip()) in text]
        if len(found) >= min_matches and (best is None or len(found) > best[0]):
            best = (len(found), entry.pk, entry, found)
    return None if best is None else (best[2], best[3])
