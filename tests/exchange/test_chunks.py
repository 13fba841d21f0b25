"""Imports across many chunks in committed transactions: on PostgreSQL the next chunk is
checked while the one before is written (``importer.pipelined``); a key or a unique value
repeated in the next chunk is seen again by the writer, never stored twice."""

from __future__ import annotations

import copy

import pytest
from django.conf import settings
from django.db import connection, transaction

from tessera.definitions import service as definitions
from tessera.exchange import importer, jobs, writing
from tessera.exchange.checking import Plan, check_chunk
from tessera.exchange.models import ImportStatus
from tessera.exchange.reading import open_table
from tessera.records import service as records
from tessera.records.history import history
from tessera.records.loading import records_by_id
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


on_postgresql = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
    reason="new records are prepared as PostgreSQL COPY bytes",
)


def _checked_chunk(tmp_path, lines):
    definitions.save_and_publish("object", "customer", copy.deepcopy(SHOP_CUSTOMER))
    path = write(tmp_path / "p.csv", "\n".join(lines) + "\n")
    mapping = {c: c for c in lines[0].split(",")}
    with open_table(path) as table:
        plan = Plan("customer", table.header, mapping, ["phone"])
        return plan, check_chunk(plan, list(table.rows), assume_new=True)


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_prepared_chunk_is_written_with_the_ids_and_time_it_was_prepared_with(tmp_path):
    """The checking thread makes the chunk's COPY (ids from the sequence, the time, the
    text with a backslash and a tab escaped); the writer sends those bytes as they are."""
    plan, checked = _checked_chunk(
        tmp_path, ["name,phone,points", "A\\B,13800000001,1", '"C\tD",13800000002,2']
    )
    writing.prepare(plan, checked)
    prepared = checked.prepared
    assert len(prepared.ids) == 2 and prepared.ids[1] == prepared.ids[0] + 1
    with transaction.atomic():
        writing.write_chunk(plan, checked)
    stored = {r.pk: r for r in Record.objects.filter(object_key="customer")}
    assert sorted(stored) == prepared.ids
    assert [stored[i].data["name"] for i in prepared.ids] == ["A\\B", "C\tD"]
    assert {r.created_at for r in stored.values()} == {prepared.now}
    assert [history(i)[0].action for i in prepared.ids] == ["create", "create"]


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_prepared_chunk_that_no_longer_fits_is_written_afresh(tmp_path, django_user_model):
    """Prepared for no actor, written for one: the bytes name the wrong creator, so the
    writer makes the rows again (new ids) rather than send them."""
    plan, checked = _checked_chunk(tmp_path, ["name,phone", "A,13800000001"])
    writing.prepare(plan, checked)
    actor = django_user_model.objects.create(username="importer")
    with transaction.atomic():
        writing.write_chunk(plan, checked, actor=actor)
    (record,) = Record.objects.filter(object_key="customer")
    assert record.created_by_id == actor.pk
    assert record.pk not in checked.prepared.ids


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_an_import_leaves_its_connection_committing_synchronously_again(small_chunks, tmp_path):
    """Chunks commit without waiting for their WAL flush, set once for the connection and
    reset after the import: the worker's later transactions are durable as usual."""
    definitions.save_and_publish("object", "customer", copy.deepcopy(SHOP_CUSTOMER))
    path = write(tmp_path / "s.csv", "name,phone\nA,13800000001\nB,13800000002\nC,13800000003\n")
    seen = []

    def progress(job):
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            seen.append(cursor.fetchone()[0])

    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = on")
    mapping = {"name": "name", "phone": "phone"}
    job = jobs.create_job(path, "customer", mapping, key_fields=["phone"])
    job = importer.run(job, progress=progress)
    assert job.created == 3
    assert seen and set(seen) == {"off"}  # the writer thread's connection, in the import
    path = write(tmp_path / "t.csv", "name,phone\nD,13800000004\nE,13800000005\n")
    with transaction.atomic():  # one transaction: the chunks go one after the other here
        job = jobs.create_job(path, "customer", mapping, key_fields=["phone"])
        seen.clear()
        job = importer.run(job, progress=progress)
        assert job.created == 2 and set(seen) == {"off"}
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone()[0] == "on"


@pytest.mark.django_db
def test_stored_records_read_for_a_check_are_the_orms_records():
    definitions.save_and_publish("object", "customer", copy.deepcopy(SHOP_CUSTOMER))
    made = [
        records.create("customer", {"name": f"N{i}", "phone": f"+86138000000{i:02d}"})
        for i in range(3)
    ]
    records.update("customer", made[1].pk, {"points": 5}, version=made[1].version)
    read = {r.pk: r for r in records_by_id([r.pk for r in made], lock=True)}
    for record in Record.objects.filter(pk__in=[r.pk for r in made]):
        mine = read[record.pk]
        assert (mine.data, mine.version) == (record.data, record.version)
        assert mine.get_deferred_fields() >= {"object_key", "created_at"}
        assert (mine.object_key, mine.created_at) == (record.object_key, record.created_at)
