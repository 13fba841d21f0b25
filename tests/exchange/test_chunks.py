"""Imports across many chunks in committed transactions: on PostgreSQL the next chunk is
checked while the one before is written (``importer.pipelined``); a key or a unique value
repeated in the next chunk is seen again by the writer, never stored twice."""

from __future__ import annotations

import copy

import pytest

from tessera.definitions import service as definitions
from tessera.exchange import importer, jobs
from tessera.exchange.models import ImportStatus
from tessera.records import service as records
from tessera.records.history import history
from tessera.records.models import Record, RecordChange
from tests.exchange.conftest import SHOP_CUSTOMER, write


@pytest.fixture
def small_chunks(settings):
    settings.TESSERA_EXCHANGE = {**settings.TESSERA_EXCHANGE, "chunk_rows": 2}


@pytest.mark.django_db(transaction=True)
def test_keys_and_unique_values_repeated_across_chunks(small_chunks, tmp_path):
    definitions.save_and_publish("object", "customer", copy.deepcopy(SHOP_CUSTOMER))
    kept = records.create("customer", {"name": "Old", "phone": "+8613800000009", "points": 1})
    lines = [
        "name,phone,email,points",
        "A,13800000001,a@example.com,1",
        "B,13800000002,b@example.com,1",
        "A2,13800000001,,2",  # chunk 2: the key of row 2 (chunk 1): an update
        "C,13800000003,b@example.com,1",  # chunk 2: row 3's email: refused
        "D,13800000004,d@example.com,1",
        "Old2,13800000009,,5",  # an existing record
        "A3,13800000001,,3",
    ]
    path = write(tmp_path / "c.csv", "\n".join(lines) + "\n")
    mapping = {c: c for c in ["name", "phone", "email", "points"]}
    job = importer.run(jobs.create_job(path, "customer", mapping, key_fields=["phone"]))
    assert job.status == ImportStatus.DONE
    assert (job.created, job.updated, job.rejected, job.rows_done) == (3, 3, 1, 7)
    by_phone = {r.data["phone"]: r for r in Record.objects.filter(object_key="customer")}
    assert len(by_phone) == 4
    a = by_phone["+8613800000001"]
    assert (a.data["name"], a.data["points"], a.data["email"], a.version) == (
        "A3", 3, "a@example.com", 3,
    )  # fmt: skip
    kept.refresh_from_db()
    assert (kept.data["name"], kept.data["points"], kept.version) == ("Old2", 5, 2)
    assert [r.row for r in job.rejected_rows.all()] == [5]
    assert "already has this email" in job.rejected_rows.get().errors[0]["message"]
    assert RecordChange.objects.filter(comment=f"import #{job.pk}").count() == 3  # updates
    entries = [history(r.pk)[0] for r in by_phone.values()]
    made = [e for e in entries if e.comment == f"import #{job.pk}"]
    assert len(made) == 3 and {e.action for e in made} == {"create"}  # each its own entry


@pytest.mark.django_db(transaction=True)
def test_a_file_of_updates_naming_only_some_fields_updates_every_record(small_chunks, tmp_path):
    """Keys are first taken to be new (no lookup); rows that are updates must still be
    updates, also when alone they would be invalid (no name: a required field)."""
    definitions.save_and_publish("object", "customer", copy.deepcopy(SHOP_CUSTOMER))
    stored = [
        records.create("customer", {"name": f"N{i}", "phone": f"+861380000000{i}", "points": 1})
        for i in range(5)
    ]
    lines = ["phone,points"] + [f"1380000000{i},{10 + i}" for i in range(5)]
    path = write(tmp_path / "u.csv", "\n".join(lines) + "\n")
    mapping = {"phone": "phone", "points": "points"}
    job = importer.run(jobs.create_job(path, "customer", mapping, key_fields=["phone"]))
    assert (job.status, job.created, job.updated, job.rejected) == (ImportStatus.DONE, 0, 5, 0)
    assert Record.objects.filter(object_key="customer").count() == 5
    for i, record in enumerate(stored):
        record.refresh_from_db()
        assert record.data == {"name": f"N{i}", "phone": f"+861380000000{i}", "points": 10 + i}
        assert record.version == 2


@pytest.mark.django_db(transaction=True)
def test_keys_taken_as_new_that_are_stored_become_updates_not_twins(small_chunks, tmp_path):
    definitions.save_and_publish("object", "customer", copy.deepcopy(SHOP_CUSTOMER))
    records.create("customer", {"name": "Old", "phone": "+8613800000002", "points": 1})
    lines = ["name,phone,points", "A,13800000001,1", "B,13800000002,2", "C,13800000003,3"]
    path = write(tmp_path / "n.csv", "\n".join(lines) + "\n")
    mapping = {c: c for c in ["name", "phone", "points"]}
    job = importer.run(jobs.create_job(path, "customer", mapping, key_fields=["phone"]))
    assert (job.created, job.updated, job.rejected) == (2, 1, 0)
    phones = sorted(r.data["phone"] for r in Record.objects.filter(object_key="customer"))
    assert phones == ["+8613800000001", "+8613800000002", "+8613800000003"]
    creates = [history(r.pk)[0].action for r in Record.objects.filter(object_key="customer")]
    assert creates == ["create"] * 3  # 2 imported + Old
