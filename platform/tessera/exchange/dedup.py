"""Finding records that are likely one person: same email, same phone, or a similar name
in the same city or at the same address.

Emails are compared trimmed and lower-cased, phones in E.164 (``convert.normalise_phone``
with the default region), names with ``difflib.SequenceMatcher`` (ratio, 0 to 1) inside
blocks of one place, so the pairs compared stay few. Candidates are stored for review
(``DuplicateCandidate``); a pair already merged or dismissed is not proposed again.
"""

from __future__ import annotations

import difflib
import itertools
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from tessera.definitions.cache import published
from tessera.definitions.errors import FieldError, ValidationFailed
from tessera.records.models import Record

from .convert import normalise_phone, squash
from .models import DuplicateCandidate, DuplicateStatus

PLACE_FIELDS = ("city", "address")
MAX_BLOCK = 2000  # records in one place compared pairwise; larger blocks are split by initial


@dataclass(frozen=True)
class Candidate:
    """Two records that look like one, why, and how sure (1.0 for a shared email or phone)."""

    first_id: int
    second_id: int
    reason: str
    score: float


def _fields(body: dict[str, Any], name_field: str | None, place_fields: list[str] | None):
    properties = body.get("properties", {})
    emails = [n for n, p in properties.items() if p.get("x-type") == "email"]
    phones = [n for n, p in properties.items() if p.get("x-type") == "phone"]
    name = name_field or body.get("x-title-field") or ("name" if "name" in properties else None)
    places = [p for p in (place_fields or PLACE_FIELDS) if p in properties]
    return emails, phones, name, places


def _phone(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return normalise_phone(value, settings.TESSERA_EXCHANGE["default_region"])
    except ValueError:
        return None


def find(
    object_key: str,
    *,
    name_field: str | None = None,
    place_fields: list[str] | None = None,
    threshold: float = 0.85,
) -> list[Candidate]:
    """Every likely duplicate pair of ``object_key``, strongest reason first."""
    definition = published("object", object_key)
    if definition is None:
        raise ValidationFailed(
            [FieldError("$.object", "unknown_object", f"{object_key!r} is not published")]
        )
    if not 0 < threshold <= 1:
        raise ValidationFailed([FieldError("$.threshold", "invalid", "a ratio above 0, up to 1")])
    emails, phones, name, places = _fields(definition.body, name_field, place_fields)
    by_key: dict[tuple[str, str], list[int]] = defaultdict(list)
    blocks: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    rows = Record.objects.filter(object_key=object_key).order_by("pk").values_list("pk", "data")
    for pk, data in rows.iterator(chunk_size=2000):
        for field in emails:
            value = data.get(field)
            if isinstance(value, str) and value.strip():
                by_key[("email", value.strip().lower())].append(pk)
        for field in phones:
            value = _phone(data.get(field))
            if value:
                by_key[("phone", value)].append(pk)
        person = data.get(name) if name else None
        if isinstance(person, str) and squash(person):
            for field in places:
                place = data.get(field)
                if isinstance(place, str) and squash(place):
                    blocks[(field, squash(place))].append((pk, squash(person)))
    found: dict[tuple[int, int], Candidate] = {}
    for (reason, _), ids in by_key.items():
        for a, b in itertools.combinations(sorted(set(ids)), 2):
            found.setdefault((a, b), Candidate(a, b, reason, 1.0))
    for (field, _), people in blocks.items():
        for group in _split(people):
            for (a, name_a), (b, name_b) in itertools.combinations(group, 2):
                if (a, b) in found:
                    continue
                ratio = difflib.SequenceMatcher(None, name_a, name_b).ratio()
                if ratio >= threshold:
                    found[(a, b)] = Candidate(a, b, f"name+{field}", round(ratio, 3))
    return sorted(found.values(), key=lambda c: (-c.score, c.first_id, c.second_id))


def _split(people: list[tuple[int, str]]) -> list[list[tuple[int, str]]]:
    if len(people) <= MAX_BLOCK:
        return [people]
    by_initial: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for person in people:
        by_initial[person[1][:1]].append(person)
    return [group[:MAX_BLOCK] for group in by_initial.values()]


def store(object_key: str, candidates: list[Candidate]) -> int:
    """Keep new candidates for review; pairs seen before keep their status. Returns new ones."""
    existing = set(
        DuplicateCandidate.objects.filter(object_key=object_key).values_list(
            "first_id", "second_id"
        )
    )
    new = [
        DuplicateCandidate(
            object_key=object_key,
            first_id=c.first_id,
            second_id=c.second_id,
            reason=c.reason,
            score=c.score,
        )
        for c in candidates
        if (c.first_id, c.second_id) not in existing
    ]
    DuplicateCandidate.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


def dismiss(candidate: DuplicateCandidate) -> None:
    DuplicateCandidate.objects.filter(pk=candidate.pk).update(status=DuplicateStatus.DISMISSED)
