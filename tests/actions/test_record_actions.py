"""set_field, add_tag, remove_tag and create_record: database effects, exactly once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from tessera.actions import service as actions
from tessera.actions.models import OutboxEntry, OutboxStatus
from tessera.definitions.errors import ValidationFailed
from tessera.records import service as records
from tessera.records.models import Record, RecordChange


def run(key: str, action: dict, record, **context) -> OutboxEntry:
    return actions.enqueue(
        key, action, object_key=record.object_key, record_id=record.pk, context=context
    )


def test_set_field_writes_through_records_with_history(li, user):
    entry = run(
        "r:1",
        {"type": "set_field", "params": {"field": "level", "value": "gold"}},
        li,
        actor=user.pk,
    )
    li.refresh_from_db()
    assert entry.status == OutboxStatus.SENT and entry.result == {"changed": True, "version": 2}
    assert li.data["level"] == "gold" and li.version == 2
    change = RecordChange.objects.filter(record_id=li.pk).order_by("-id").first()
    assert change.changes == {"level": [None, "gold"]}
    assert change.actor == user and change.comment == "action set_field (r:1)"


def test_set_field_copies_and_clears_and_stamps(li):
    run(
        "r:2",
        {"type": "set_field", "params": {"field": "home_city", "value": {"$record": "city"}}},
        li,
    )
    run("r:3", {"type": "set_field", "params": {"field": "city", "value": None}}, li)
    li.refresh_from_db()
    assert li.data["home_city"] == "Hangzhou" and "city" not in li.data
    ticket = records.create("ticket", {"title": "Broken", "customer": li.pk})
    run(
        "r:4",
        {"type": "set_field", "params": {"field": "opened_at", "value": {"$now": True}}},
        ticket,
    )
    ticket.refresh_from_db()
    assert ticket.data["opened_at"].endswith("Z") and len(ticket.data["opened_at"]) == 27


def test_set_field_to_the_same_value_writes_nothing(li):
    entry = run("r:5", {"type": "set_field", "params": {"field": "city", "value": "Hangzhou"}}, li)
    li.refresh_from_db()
    assert entry.result == {"changed": False, "version": 1} and li.version == 1


def test_a_value_that_no_longer_fits_after_a_publish_is_refused_at_enqueue(li, publish_object):
    from tests.actions.conftest import SHOP_CUSTOMER

    action = {"type": "set_field", "params": {"field": "level", "value": "gold"}}
    assert actions.check(action, object_key="customer", path="$") == []
    narrower = {**SHOP_CUSTOMER, "properties": {**SHOP_CUSTOMER["properties"]}}
    narrower["properties"]["level"] = {"x-type": "enum", "enum": ["bronze", "silver", "gold2"]}
    publish_object("customer", narrower)
    # the enqueue-time check catches it first, by path
    with pytest.raises(ValidationFailed) as refused:
        run("r:6", action, li)
    assert [e.path for e in refused.value.errors] == ["$.params.value"]


def test_add_and_remove_tag_do_not_duplicate(li):
    run("t:1", {"type": "add_tag", "params": {"tag": "vip"}}, li)
    again = run("t:2", {"type": "add_tag", "params": {"tag": "vip"}}, li)
    li.refresh_from_db()
    assert li.data["tags"] == ["newsletter", "vip"] and again.result["changed"] is False
    run("t:3", {"type": "remove_tag", "params": {"tag": "newsletter", "field": "tags"}}, li)
    gone = run("t:4", {"type": "remove_tag", "params": {"tag": "newsletter"}}, li)
    li.refresh_from_db()
    assert li.data["tags"] == ["vip"] and gone.result["changed"] is False
    assert li.version == 3  # two writes, two no-ops


def test_create_record_links_to_the_subject(li, user):
    action = {
        "type": "create_record",
        "params": {
            "object": "ticket",
            "data": {
                "title": "Welcome call",
                "customer": {"$record": "id"},
                "contact": {"$record": "email"},
                "notes": {"$record": "phone"},  # empty on Li: left out, not null
                "priority": "high",
            },
        },
    }
    entry = run("c:1", action, li, actor=user.pk)
    ticket = Record.objects.get(pk=entry.result["record_id"])
    assert entry.result["object"] == "ticket"
    assert ticket.data == {
        "title": "Welcome call",
        "customer": li.pk,
        "contact": "lilei@example.com",
        "priority": "high",
    }
    assert ticket.created_by == user
    assert run("c:1", action, li).pk == entry.pk
    assert Record.objects.filter(object_key="ticket").count() == 1  # same key: one ticket


@pytest.mark.django_db(transaction=True)
def test_concurrent_enqueues_of_one_key_perform_once(shop):
    """Two transactions enqueue the same key at once; the unique key makes one of them wait.

    On PostgreSQL the second INSERT blocks on the first's uncommitted row, then finds it; on
    SQLite the write lock serialises the two transactions.
    """
    li = records.create("customer", {"name": "Li", "points": 0, "tags": []})
    action = {"type": "add_tag", "params": {"tag": "vip"}}
    barrier = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            with transaction.atomic():
                results.append(run("same-key", action, li).pk)
        except BaseException as exc:  # shown by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(set(results)) == 1
    li.refresh_from_db()
    assert li.data["tags"] == ["vip"] and li.version == 2
    assert OutboxEntry.objects.get().status == OutboxStatus.SENT
