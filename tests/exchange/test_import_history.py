"""An imported record keeps no create row of its own: it is its own create entry.

Its history still begins with a create holding the values it was imported with (its data
walked back through its later changes), at its creation time, by its creator, saying which
import made it; the GraphQL timeline shows it with the fields a person may read; and the
create row is written out before the record is deleted, so a deleted record's history
stays whole.
"""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group

from tessera.api import tokens
from tessera.api.models import ObjectPermission
from tessera.exchange import importer, jobs, merge
from tessera.records import service as records
from tessera.records.history import creation, first_data, history
from tessera.records.models import BulkCreation, Record, RecordChange
from tests.exchange.conftest import write

CSV = """name,phone,email,points
Ana,13800000001,ana@example.com,10
Bo,13800000002,,20
Chen,13800000003,chen@example.com,30
"""
MAPPING = {"name": "name", "phone": "phone", "email": "email", "points": "points"}


@pytest.fixture
def imported(shop, tmp_path):
    job = importer.run(jobs.create_job(write(tmp_path / "c.csv", CSV), "customer", MAPPING))
    assert (job.status, job.created) == ("done", 3)
    by_name = {r.data["name"]: r for r in Record.objects.filter(object_key="customer")}
    return job, by_name


def test_an_import_writes_no_create_rows_and_each_record_is_its_own_create_entry(imported):
    job, by_name = imported
    assert not RecordChange.objects.exists()
    runs = BulkCreation.objects.filter(comment=f"import #{job.pk}")
    covered = {i for run in runs for i in range(run.first_id, run.last_id + 1)}
    assert covered == {r.pk for r in by_name.values()}
    ana = by_name["Ana"]
    [entry] = history(ana.pk)
    assert (entry.action, entry.version, entry.comment) == ("create", 1, f"import #{job.pk}")
    assert entry.at == ana.created_at
    assert entry.changes == {
        "email": [None, "ana@example.com"],
        "name": [None, "Ana"],
        "phone": [None, "+8613800000001"],
        "points": [None, 10],
    }
    assert "email" not in history(by_name["Bo"].pk)[0].changes  # an empty cell is no value


def test_the_create_entry_keeps_the_imported_values_after_later_changes(imported):
    _, by_name = imported
    ana = by_name["Ana"]
    records.update("customer", ana.pk, {"points": 11, "email": None}, version=1)
    records.update("customer", ana.pk, {"name": "Ana Li", "city": "Hangzhou"}, version=2)
    entries = history(ana.pk)
    assert [(e.action, e.version) for e in entries] == [("create", 1), ("update", 2), ("update", 3)]
    assert entries[0].changes["points"] == [None, 10]
    assert entries[0].changes["email"] == [None, "ana@example.com"]
    assert "city" not in entries[0].changes


def test_deleting_an_imported_record_writes_its_create_row_out_first(imported):
    job, by_name = imported
    bo = by_name["Bo"]
    records.update("customer", bo.pk, {"points": 21}, version=1)
    records.delete("customer", bo.pk, version=2)
    stored = list(RecordChange.objects.filter(record_id=bo.pk).order_by("version", "id"))
    assert [(c.action, c.version) for c in stored] == [("create", 1), ("update", 2), ("delete", 2)]
    create = stored[0]
    assert create.changes == {"name": [None, "Bo"], "phone": [None, "+8613800000002"],
                              "points": [None, 20]}  # fmt: skip
    assert (create.at, create.comment) == (bo.created_at, f"import #{job.pk}")
    assert history(bo.pk) == stored  # nothing made up once the record is gone


def test_a_missing_version_gives_an_unknown_first_version_not_a_wrong_one(imported):
    _, by_name = imported
    chen = by_name["Chen"]
    records.update("customer", chen.pk, {"points": 31}, version=1)
    Record.objects.filter(pk=chen.pk).update(version=3)  # a write that left no row
    chen.refresh_from_db()
    later = list(RecordChange.objects.filter(record_id=chen.pk))
    assert first_data(chen, later) is None
    assert creation(chen, later).changes == {}


def test_the_timeline_shows_an_imported_records_create_with_only_readable_fields(
    imported, client, django_user_model
):
    _, by_name = imported
    ana = by_name["Ana"]
    records.update("customer", ana.pk, {"points": 12}, version=1)
    limited = Group.objects.create(name="limited")
    ObjectPermission.objects.create(
        group=limited, object_key="customer", read_fields=["name", "phone", "points"]
    )
    user = django_user_model.objects.create_user("limited", "l@example.com", "pw-1234567")
    user.groups.add(limited)
    token = tokens.issue(user, "t", ["read"])[0]
    query = "query($id: ID!) { customer(id: $id) { timeline { type version changes } } }"
    response = client.post(
        "/graphql",
        data=json.dumps({"query": query, "variables": {"id": ana.pk}}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    body = response.json()
    assert "errors" not in body, body
    timeline = body["data"]["customer"]["timeline"]
    assert [(t["type"], t["version"]) for t in timeline] == [("update", 2), ("create", 1)]
    assert timeline[1]["changes"] == {
        "name": [None, "Ana"],
        "phone": [None, "+8613800000001"],
        "points": [None, 10],
    }  # email was imported, but this person may not read it


def test_merging_imported_records_and_undoing_it_keeps_both_histories(imported):
    job, by_name = imported
    ana, chen = by_name["Ana"], by_name["Chen"]
    done = merge.merge("customer", ana.pk, chen.pk, rules={"points": "sum"})
    stored = list(RecordChange.objects.filter(record_id=chen.pk).order_by("id"))
    assert [c.action for c in stored] == ["create", "delete"]  # the create written out first
    assert stored[0].changes["points"] == [None, 30]
    assert stored[0].comment == f"import #{job.pk}"
    survivor = history(ana.pk)
    assert [c.action for c in survivor] == ["create", "update"]
    assert survivor[0].changes["points"] == [None, 10] and survivor[1].changes["points"] == [10, 40]

    merge.unmerge(done)
    assert [c.action for c in history(chen.pk)] == ["create", "delete", "create"]
    assert Record.objects.get(pk=chen.pk).data["points"] == 30
    assert history(ana.pk)[0].changes["points"] == [None, 10]


def test_an_import_of_updates_writes_the_records_and_their_history_rows(
    imported, tmp_path, django_user_model
):
    """On PostgreSQL one UPDATE and one COPY per chunk: the same rows the service writes,
    values with quotes, backslashes, tabs and newlines included."""
    _, by_name = imported
    tricky = 'He said "hi"\\\tC:\\path\\\nnext line 名字'
    lines = 'name,phone,points\n"' + tricky.replace('"', '""') + '",13800000001,11\n'
    lines += "Bo,13800000002,20\n"  # unchanged
    actor = django_user_model.objects.create_user("importer", "i@example.com", "pw-1234567")
    path = write(tmp_path / "u.csv", lines)
    mapping = {"name": "name", "phone": "phone", "points": "points"}
    job = jobs.create_job(path, "customer", mapping, key_fields=["phone"], actor=actor)
    job = importer.run(job)
    assert (job.status, job.updated, job.unchanged) == ("done", 1, 1)
    ana = Record.objects.get(pk=by_name["Ana"].pk)
    assert ana.data["name"] == tricky and ana.data["points"] == 11
    assert (ana.version, ana.updated_by_id) == (2, actor.pk)
    [row] = RecordChange.objects.filter(record_id=ana.pk)
    assert (row.action, row.version, row.actor_id) == ("update", 2, actor.pk)
    assert row.changes == {"name": ["Ana", tricky], "points": [10, 11]}
    assert row.comment == f"import #{job.pk}"
    assert abs((row.at - ana.updated_at).total_seconds()) < 1
    assert Record.objects.get(pk=by_name["Bo"].pk).version == 1
