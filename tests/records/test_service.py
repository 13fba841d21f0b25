"""Record writes: validation with paths, uniqueness, relations, optimistic locking, history."""

from __future__ import annotations

import pytest

from tessera.definitions.errors import ValidationFailed
from tessera.records import service
from tessera.records.history import history
from tessera.records.models import Record

pytestmark = pytest.mark.django_db

LI = {"name": "Li Lei", "email": "lilei@example.cn", "city": "Hangzhou", "points": 10}


def refused(fn, *args, **kwargs):
    with pytest.raises(ValidationFailed) as info:
        fn(*args, **kwargs)
    return {(e.path, e.code): e.message for e in info.value.errors}


def test_a_valid_record_is_stored(customer_object, user):
    record = service.create("customer", LI, actor=user)
    assert record.version == 1 and record.data == LI and record.created_by == user


def test_validation_errors_name_the_path(customer_object):
    errors = refused(
        service.create,
        "customer",
        {"email": "not-an-email", "points": -1, "tags": ["ok", 7], "level": "iron", "x": 1},
    )
    assert set(errors) == {
        ("$.name", "required"),
        ("$.email", "format"),
        ("$.points", "minimum"),
        ("$.tags[1]", "type"),
        ("$.level", "enum"),
        ("$", "additionalProperties"),
    }
    assert not Record.objects.exists()


def test_unknown_object_is_refused(db):
    errors = refused(service.create, "planet", {"name": "Mars"})
    assert ("$.object", "unknown_object") in errors


def test_unique_fields_are_enforced(customer_object):
    service.create("customer", LI)
    errors = refused(service.create, "customer", {"name": "Han Meimei", "email": LI["email"]})
    assert ("$.email", "unique") in errors


def test_relation_to_a_missing_record_is_refused(order_object):
    errors = refused(service.create, "order", {"customer": 999, "total": 10})
    assert errors[("$.customer", "relation")] == "there is no customer with id 999"
    customer = service.create("customer", LI)
    order = service.create("order", {"customer": customer.pk, "total": 10})
    assert order.data["customer"] == customer.pk


def test_a_relation_must_point_at_the_right_object(order_object):
    customer = service.create("customer", LI)
    order = service.create("order", {"customer": customer.pk, "total": 10})
    errors = refused(service.create, "order", {"customer": order.pk, "total": 5})
    assert ("$.customer", "relation") in errors


def test_delete_is_refused_while_records_link_to_it(order_object):
    customer = service.create("customer", LI)
    service.create("order", {"customer": customer.pk, "total": 10})
    errors = refused(service.delete, "customer", customer.pk, version=1)
    assert ("$", "protected") in errors


def test_optimistic_lock_refuses_a_stale_write(customer_object):
    record = service.create("customer", LI)
    service.update("customer", record.pk, {"city": "Shanghai"}, version=1)
    with pytest.raises(service.VersionConflict) as info:
        service.update("customer", record.pk, {"city": "Beijing"}, version=1)
    assert "version 2, not 1" in str(info.value)
    record.refresh_from_db()
    assert record.data["city"] == "Shanghai" and record.version == 2


def test_update_validates_the_merged_record(customer_object):
    record = service.create("customer", LI)
    errors = refused(service.update, "customer", record.pk, {"name": None}, version=1)
    assert ("$.name", "required") in errors
    record.refresh_from_db()
    assert record.version == 1


def test_history_keeps_a_field_level_diff(customer_object, user):
    record = service.create("customer", LI, actor=user)
    service.update("customer", record.pk, {"city": "Suzhou", "points": None}, version=1, actor=user)
    service.delete("customer", record.pk, version=2)
    changes = history(record.pk)
    assert [c.action for c in changes] == ["create", "update", "delete"]
    assert changes[1].changes == {"city": ["Hangzhou", "Suzhou"], "points": [10, None]}
    assert changes[1].actor == user and changes[1].version == 2
    assert changes[2].changes["name"] == ["Li Lei", None]


def test_datetimes_are_stored_in_one_utc_shape(order_object):
    customer = service.create("customer", LI)
    order = service.create(
        "order", {"customer": customer.pk, "total": 1, "placed_at": "2026-01-02T08:00:00+08:00"}
    )
    assert order.data["placed_at"] == "2026-01-02T00:00:00.000000Z"


def test_events_form_the_timeline(customer_object):
    record = service.create("customer", LI)
    service.add_event(record, "cart_abandoned", {"items": 2})
    assert record.events.get().payload == {"items": 2}
