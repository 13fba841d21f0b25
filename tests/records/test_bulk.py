"""create_many: many records at once, under the rules records.service.create keeps for one."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest
from django.utils import timezone

from tessera.definitions.errors import ValidationFailed
from tessera.records import bulk, observers, service
from tessera.records.models import Event, Record, RecordChange, Rollup
from tests.records.test_rollups import KEPT_ORDER

pytestmark = pytest.mark.django_db


@dataclass
class Notebook:
    type: str = "notebook"
    written: list[list[int]] = field(default_factory=list)
    changed: list[list[int]] = field(default_factory=list)
    events: list[tuple[list[int], set[str]]] = field(default_factory=list)

    def records_written(self, object_key, writes):
        self.written.append([w.record_id for w in writes])

    def records_changed(self, object_key, writes):
        self.changed.append([w.record_id for w in writes])

    def events_added(self, object_key, record_ids, types):
        self.events.append((list(record_ids), set(types)))


@pytest.fixture
def notebook():
    with observers.observers.register_temporarily(Notebook()) as item:
        yield item


def test_rows_are_stored_like_the_service_stores_one(customer_object):
    rows = [
        {"name": f"C{i}", "email": f"c{i}@example.com", "city": "Hangzhou", "points": i}
        for i in range(1200)  # more than two chunks
    ]
    ids = bulk.create_many("customer", rows, comment="sample")
    assert len(ids) == 1200 and ids == sorted(ids)
    first = Record.objects.get(pk=ids[0])
    one = service.create("customer", {"name": "C0b", "email": "c0b@example.com", "points": 0})
    assert (first.version, first.schema_version) == (one.version, one.schema_version)
    assert first.data == rows[0]
    change = RecordChange.objects.get(record_id=ids[-1])
    assert (change.action, change.version, change.comment) == ("create", 1, "sample")
    assert change.changes["email"] == [None, "c1199@example.com"]


def test_datetimes_are_normalised(order_object, customer_object):
    customer = service.create("customer", {"name": "Ann"})
    [oid] = bulk.create_many(
        "order", [{"customer": customer.pk, "total": 5, "placed_at": "2024-05-01T09:30:00+08:00"}]
    )
    assert Record.objects.get(pk=oid).data["placed_at"] == "2024-05-01T01:30:00.000000Z"


def test_a_bad_row_is_named_and_nothing_is_kept(customer_object):
    rows = [{"name": "A"}, {"name": "B", "points": -3}, {"name": "C"}]
    with pytest.raises(bulk.RowsRefused) as caught:
        bulk.create_many("customer", rows)
    assert caught.value.index == 1
    assert [(e.path, e.code) for e in caught.value.errors] == [("$.points", "minimum")]
    assert not Record.objects.filter(object_key="customer").exists()


def test_not_an_object_and_unknown_object(customer_object):
    with pytest.raises(bulk.RowsRefused) as caught:
        bulk.create_many("customer", [{"name": "A"}, ["name"]])
    assert caught.value.index == 1 and caught.value.errors[0].code == "type"
    # The first bad row is named, whichever way it is bad.
    with pytest.raises(bulk.RowsRefused) as first:
        bulk.create_many("customer", [{"name": "A"}, {"points": -3}, ["name"]])
    assert first.value.index == 1 and first.value.errors[0].code != "type"
    with pytest.raises(bulk.RowsRefused) as first:
        bulk.create_many("customer", [{"name": "A"}, ["name"], {"points": -3}])
    assert first.value.index == 1 and first.value.errors[0].code == "type"
    with pytest.raises(ValidationFailed) as unknown:
        bulk.create_many("client", [{"name": "A"}])
    assert unknown.value.errors[0].path == "$.object"


def test_unique_values_against_stored_records_and_inside_the_batch(customer_object):
    held = service.create("customer", {"name": "Ann", "email": "ann@example.com"})
    with pytest.raises(bulk.RowsRefused) as stored:
        bulk.create_many("customer", [{"name": "X"}, {"name": "Ann 2", "email": "ann@example.com"}])
    assert stored.value.index == 1
    assert stored.value.errors[0].code == "unique" and f"#{held.pk}" in str(stored.value)
    with pytest.raises(bulk.RowsRefused) as inside:
        bulk.create_many(
            "customer",
            [{"name": "B", "email": "b@example.com"}, {"name": "B2", "email": "b@example.com"}],
        )
    assert inside.value.index == 1 and "row 0 of this batch" in inside.value.errors[0].message
    # across chunks, the earlier chunk is already stored: the stored-record check catches it
    rows = [{"name": f"D{i}", "email": f"d{i}@example.com"} for i in range(bulk.CHUNK)]
    rows.append({"name": "D0 again", "email": "d0@example.com"})
    with pytest.raises(bulk.RowsRefused) as later:
        bulk.create_many("customer", rows)
    assert later.value.index == bulk.CHUNK
    assert Record.objects.filter(object_key="customer").count() == 1


def test_missing_related_records_are_refused(order_object):
    with pytest.raises(bulk.RowsRefused) as caught:
        bulk.create_many("order", [{"customer": 999_999, "total": 1}])
    assert caught.value.index == 0
    assert (caught.value.errors[0].path, caught.value.errors[0].code) == ("$.customer", "relation")


def test_rollups_are_recomputed_once_per_chunk(publish_object, customer_object):
    publish_object("order", KEPT_ORDER)
    ann, bo = (service.create("customer", {"name": n}) for n in ("Ann", "Bo"))
    recent = (timezone.now() - dt.timedelta(days=3)).isoformat()
    bulk.create_many(
        "order",
        [{"customer": ann.pk, "total": 10, "placed_at": recent} for _ in range(3)]
        + [{"customer": bo.pk, "total": 2.5, "placed_at": recent}],
    )
    kept = {
        (r.record_id, r.name): r.value for r in Rollup.objects.filter(record_id__in=[ann.pk, bo.pk])
    }
    assert kept[(ann.pk, "orders.count")] == 3 and kept[(ann.pk, "orders.sum.total")] == 30
    assert kept[(bo.pk, "orders.count")] == 1 and float(kept[(bo.pk, "orders.sum.total")]) == 2.5


def test_observers_hear_once_per_chunk_after_the_commit(
    customer_object, notebook, django_capture_on_commit_callbacks
):
    rows = [{"name": f"C{i}"} for i in range(bulk.CHUNK + 10)]
    with django_capture_on_commit_callbacks(execute=True):
        ids = bulk.create_many("customer", rows)
        assert [len(c) for c in notebook.written] == [bulk.CHUNK, 10]  # in the transaction
        assert notebook.changed == []
    assert [len(c) for c in notebook.changed] == [bulk.CHUNK, 10]
    assert [rid for chunk in notebook.changed for rid in chunk] == ids


def test_events_in_bulk(customer_object, notebook, django_capture_on_commit_callbacks):
    ann = service.create("customer", {"name": "Ann"})
    at = timezone.now() - dt.timedelta(days=2)
    with django_capture_on_commit_callbacks(execute=True):
        added = bulk.add_events(
            "customer",
            [(ann.pk, "product_viewed", {"sku": "A1"}, at), (ann.pk, "cart_abandoned", {}, None)],
        )
    assert added == 2
    assert notebook.events == [([ann.pk], {"product_viewed", "cart_abandoned"})]
    viewed = Event.objects.get(subject=ann, type="product_viewed")
    assert viewed.payload == {"sku": "A1"} and viewed.occurred_at == at
