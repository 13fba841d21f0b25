"""Ingestion: an order system, ERP or shop pushes records and events, signed, idempotent.

A request to ``POST /ingest/<source>/<object>`` carries ``X-Tessera-Timestamp`` (Unix
seconds) and ``X-Tessera-Signature: sha256=<hex>``, the HMAC-SHA256 of
``<timestamp>.<body>`` under the source's key. It is refused when the timestamp is outside
the window (``TESSERA_EXCHANGE["ingest_window_seconds"]``), the signature is wrong, or the
same signature was accepted before (a replay). The body is one item or a JSON array of
items::

    {"id": "SO-1001",                      # the source's own id: the idempotency key
     "data": {"customer": {"ref": "C-77"}, # a relation by the source's id of the target
              "total": "¥399.00", "status": "paid", "placed_at": "2024/5/2 12:00"},
     "events": [{"id": "e1", "type": "shipped", "at": "2024-05-03T08:00:00+08:00",
                 "payload": {"carrier": "SF"}}]}

An item whose content is the same as last time changes nothing; a changed one updates the
record it made. A change of the source's status field is appended to the record's
timeline as a ``status_changed`` event (from, to, source), so order tracking is live.
Values are read like import cells (dates, phones, money, enum labels).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from tessera.definitions.cache import one_revision, published
from tessera.definitions.errors import FieldError, ValidationFailed
from tessera.definitions.safety import bounds_problem
from tessera.records import service as records
from tessera.records.models import Record

from .convert import Options, converter_for, parse_when
from .models import Delivery, ExternalRef, Source

SIGNATURE_HEADER = "X-Tessera-Signature"
TIMESTAMP_HEADER = "X-Tessera-Timestamp"
STATUS_EVENT = "status_changed"


# --- keys ------------------------------------------------------------------------------------


def _fernet():
    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"tessera.exchange.source-keys"
    ).derive(settings.SECRET_KEY.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def set_secret(source: Source, raw: str | None = None) -> str:
    """Give ``source`` a new HMAC key (a random one unless given); returns it in clear."""
    raw = raw or secrets.token_urlsafe(32)
    source.secret_encrypted = _fernet().encrypt(raw.encode()).decode()
    return raw


def secret_of(source: Source) -> str:
    from cryptography.fernet import InvalidToken

    try:
        return _fernet().decrypt(source.secret_encrypted.encode()).decode()
    except (InvalidToken, ValueError):
        raise Refused(
            500, "key_unreadable", "the source's key cannot be read: set it again"
        ) from None


def create_source(key: str, objects: list[str], *, name: str = "", secret: str | None = None):
    """A new source allowed to write ``objects``; returns (source, its key in clear)."""
    source = Source(key=key, name=name, objects_allowed=list(objects))
    raw = set_secret(source, secret)
    source.save()
    return source, raw


def sign(secret: str, timestamp: str | int, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    message = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


# --- checking a request ----------------------------------------------------------------------


class Refused(Exception):
    """A request refused as a whole: HTTP status, a code and a message."""

    def __init__(self, status: int, code: str, message: str, errors: list[FieldError] = ()):
        self.status, self.code, self.message = status, code, message
        self.errors = list(errors)
        super().__init__(message)


def verify(source_key: str, timestamp: str | None, signature: str | None, body: bytes) -> Source:
    """The source, if the request is signed by it, in time, and not seen before."""
    source = Source.objects.filter(key=source_key, active=True).first()
    if source is None:
        raise Refused(404, "unknown_source", f"no active source {source_key!r}")
    if not timestamp or not signature:
        raise Refused(
            401, "unsigned", f"send {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} (sha256=<hex>)"
        )
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise Refused(400, "timestamp", f"{TIMESTAMP_HEADER} is Unix time in seconds")
    window = int(settings.TESSERA_EXCHANGE["ingest_window_seconds"])
    if abs(time.time() - int(timestamp)) > window:
        raise Refused(401, "stale", f"the timestamp is more than {window} s from now")
    expected = sign(secret_of(source), timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise Refused(401, "signature", "the signature does not match the body and timestamp")
    digest = hashlib.sha256(signature.strip().encode()).hexdigest()
    try:
        with transaction.atomic():
            Delivery.objects.create(source=source, signature=digest)
    except IntegrityError:
        raise Refused(409, "replay", "this signed request was received already") from None
    return source


def forget_old_deliveries() -> int:
    """A tick step: signatures older than twice the window can no longer be replayed."""
    window = int(settings.TESSERA_EXCHANGE["ingest_window_seconds"])
    cutoff = timezone.now() - dt.timedelta(seconds=2 * window)
    deleted, _ = Delivery.objects.filter(received_at__lt=cutoff).delete()
    return deleted


# --- items ---------------------------------------------------------------------------------


@dataclass
class ItemResult:
    """What became of one item."""

    index: int | None
    id: Any
    status: str  # created | updated | unchanged | refused
    record: int | None = None
    events: int = 0
    errors: list[FieldError] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "status": self.status}
        if self.record is not None:
            out["record"] = self.record
        if self.events:
            out["events_added"] = self.events
        if self.errors:
            out["errors"] = [e.as_dict() for e in self.errors]
        return out


def parse_body(body: bytes) -> tuple[list[Any], bool]:
    """(items, whether the body was an array); Refused 400 for JSON that is not."""
    limit = int(settings.TESSERA_EXCHANGE["ingest_body_bytes"])
    if len(body) > limit:
        raise Refused(413, "too_large", f"the body is over {limit} bytes")
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refused(400, "json", f"the body is not JSON: {exc}") from None
    if isinstance(payload, list):
        most = int(settings.TESSERA_EXCHANGE["ingest_items"])
        if not payload or len(payload) > most:
            raise Refused(400, "items", f"an array holds 1 to {most} items")
        return payload, True
    if isinstance(payload, dict):
        return [payload], False
    raise Refused(400, "json", "the body is one item (an object) or an array of items")


def ingest(source: Source, object_key: str, items: list[Any], *, many: bool) -> list[ItemResult]:
    """Apply every item, each in its own savepoint: one bad item does not stop the others."""
    if not source.allows(object_key):
        raise Refused(403, "object", f"source {source.key!r} may not write {object_key!r}")
    definition = published("object", object_key)
    if definition is None:
        raise Refused(404, "unknown_object", f"{object_key!r} is not a published object")
    results = []
    with one_revision():
        for index, item in enumerate(items):
            prefix = f"$[{index}]" if many else "$"
            try:
                with transaction.atomic():
                    result = _item(source, object_key, definition.body, item, prefix)
            except ValidationFailed as exc:
                result = ItemResult(None, _id_of(item), "refused", errors=exc.errors)
            result.index = index if many else None
            results.append(result)
    return results


def _id_of(item: Any) -> Any:
    return item.get("id") if isinstance(item, dict) else None


def _fail(path: str, code: str, message: str) -> ValidationFailed:
    return ValidationFailed([FieldError(path, code, message)])


def _item(source: Source, object_key: str, body: dict, item: Any, prefix: str) -> ItemResult:
    if not isinstance(item, dict):
        raise _fail(prefix, "type", "an item is a JSON object with id and data")
    limits = settings.TESSERA_LIMITS
    problem = bounds_problem(
        item, max_bytes=limits["record_bytes"], max_depth=limits["record_depth"], what="item"
    )
    if problem is not None:  # NUL, lone surrogates, too large or too deep: never stored
        raise _fail(prefix + problem.path[1:], problem.code, problem.message)
    unknown = sorted(set(item) - {"id", "data", "events"})
    if unknown:
        raise _fail(f"{prefix}.{unknown[0]}", "unknown", "an item has id, data and events only")
    external = item.get("id")
    if isinstance(external, int) and not isinstance(external, bool):
        external = str(external)
    if not isinstance(external, str) or not external.strip() or len(external) > 200:
        raise _fail(f"{prefix}.id", "required", "the source's id: text of 1 to 200 characters")
    data = item.get("data", {})
    if not isinstance(data, dict):
        raise _fail(f"{prefix}.data", "type", "data is a JSON object {field: value}")
    events = item.get("events", [])
    if not isinstance(events, list) or len(events) > 100:
        raise _fail(f"{prefix}.events", "type", "events is a list of at most 100")
    digest = hashlib.sha256(
        json.dumps(item, sort_keys=True, ensure_ascii=False).encode("utf-8", "surrogatepass")
    ).hexdigest()
    ref = (
        ExternalRef.objects.select_for_update()
        .filter(source=source, object_key=object_key, external_id=external)
        .first()
    )
    record = Record.objects.filter(pk=ref.record_id).first() if ref is not None else None
    if ref is not None and record is not None and ref.digest == digest:
        return ItemResult(None, external, "unchanged", record.pk)
    values = _values(source, object_key, body, data, f"{prefix}.data")
    comment = f"ingest {source.key}:{external}"
    status_field = source.status_field
    try:
        if record is None:
            record = records.create(
                object_key, {k: v for k, v in values.items() if v is not None}, comment=comment
            )
            outcome, before = "created", None
        else:
            before = record.data.get(status_field)
            if any(record.data.get(k) != v for k, v in values.items()):
                record = records.update(
                    object_key, record.pk, values, version=record.version, comment=comment
                )
                outcome = "updated"
            else:
                outcome = "unchanged"
    except ValidationFailed as exc:  # the record's paths, under the item's data
        raise ValidationFailed(
            FieldError(f"{prefix}.data{e.path[1:]}", e.code, e.message) for e in exc.errors
        ) from None
    added = 0
    after = record.data.get(status_field)
    if status_field in body.get("properties", {}) and after is not None and after != before:
        payload = {"from": before, "to": after, "source": source.key}
        records.add_event(record, STATUS_EVENT, payload)
        added += 1
    added += _events(source, object_key, record, external, events, f"{prefix}.events")
    if added and outcome == "unchanged":
        outcome = "updated"
    ExternalRef.objects.update_or_create(
        source=source,
        object_key=object_key,
        external_id=external,
        defaults={"record_id": record.pk, "digest": digest},
    )
    return ItemResult(None, external, outcome, record.pk, added)


def _values(source: Source, object_key: str, body: dict, data: dict, path: str) -> dict:
    """Stored values of ``data``'s fields, read like import cells; errors by JSON path."""
    properties = body.get("properties", {})
    options = Options.of({"timezone": source.timezone})
    out: dict[str, Any] = {}
    errors: list[FieldError] = []
    for name, value in data.items():
        where = f"{path}.{name}" if str(name).isidentifier() else f"{path}[{name!r}]"
        prop = properties.get(name)
        if prop is None:
            errors.append(FieldError(where, "unknown_field", f"{object_key} has no field {name!r}"))
            continue
        if value is None:
            out[name] = None
            continue
        if prop["x-type"] == "relation" and isinstance(value, dict):
            target = (prop.get("x-relation") or {}).get("object")
            ref = value.get("ref")
            if set(value) != {"ref"} or not isinstance(ref, (str, int)) or isinstance(ref, bool):
                errors.append(FieldError(where, "relation", 'a relation is an id or {"ref": id}'))
                continue
            found = ExternalRef.objects.filter(
                source=source, object_key=target, external_id=str(ref)
            ).first()
            if found is None:
                errors.append(
                    FieldError(
                        f"{where}.ref", "relation", f"{source.key} has sent no {target} {ref!r}"
                    )
                )
                continue
            out[name] = found.record_id
            continue
        if isinstance(value, dict):
            errors.append(FieldError(where, "type", "an object is not a value of this field"))
            continue
        try:
            out[name] = converter_for(prop, options)(value)
        except (ValueError, TypeError, ArithmeticError) as exc:
            errors.append(FieldError(where, "convert", str(exc)[:500]))
    if errors:
        raise ValidationFailed(errors)
    return out


def _events(
    source: Source, object_key: str, record: Record, external: str, events: list, path: str
) -> int:
    added = 0
    options = Options.of({"timezone": source.timezone})
    for i, event in enumerate(events):
        where = f"{path}[{i}]"
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise _fail(where, "type", 'an event is {"type": ..., "at": ..., "payload": {...}}')
        kind = event["type"].strip()
        if not kind or len(kind) > 100:
            raise _fail(f"{where}.type", "invalid", "an event type is 1 to 100 characters")
        payload = event.get("payload", {})
        if not isinstance(payload, dict):
            raise _fail(f"{where}.payload", "type", "a payload is a JSON object")
        at = timezone.now()
        if event.get("at") is not None:
            try:
                day, moment = parse_when(str(event["at"]), options)
            except ValueError as exc:
                raise _fail(f"{where}.at", "convert", str(exc)) from None
            at = moment or dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        own = event.get("id")
        key = str(own) if isinstance(own, (str, int)) and not isinstance(own, bool) else None
        if key is None:
            canonical = json.dumps([kind, event.get("at"), payload], sort_keys=True)
            key = "sha256:" + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()
        marker = f"{external}/{key}"
        if len(marker) > 200:  # a digest, not a cut: two long ids must not become one
            marker = "sha256:" + hashlib.sha256(marker.encode("utf-8", "surrogatepass")).hexdigest()
        events_of = f"{object_key}@events"
        if ExternalRef.objects.filter(
            source=source, object_key=events_of, external_id=marker
        ).exists():
            continue
        try:
            added_event = records.add_event(record, kind, payload, at=at)
        except (ValueError, TypeError) as exc:
            raise _fail(where, "invalid", str(exc)) from None
        ExternalRef.objects.create(
            source=source,
            object_key=events_of,
            external_id=marker,
            record_id=added_event.pk,
            digest="",
        )
        added += 1
    return added
