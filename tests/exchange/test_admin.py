"""The admin: a source made there shows its key once and stores it encrypted; import jobs
list with progress and a link to their rejected rows; duplicates merged and undone."""

from __future__ import annotations

import re

import pytest

from tessera.exchange import importer, ingest, jobs
from tessera.exchange.models import DuplicateCandidate, Merge, MergeStatus, Source
from tessera.records import service as records
from tessera.records.models import Record
from tests.exchange.conftest import write


@pytest.fixture
def operator(client, django_user_model):
    root = django_user_model.objects.create_superuser("root", "r@example.com", "pw-1234567")
    client.force_login(root)
    return client


def test_a_source_made_in_the_admin_shows_its_key_once(operator, shop):
    response = operator.post(
        "/django-admin/exchange/source/add/",
        {
            "key": "oms",
            "name": "Order system",
            "objects_allowed": '["order"]',
            "status_field": "status",
            "timezone": "Asia/Shanghai",
            "active": "on",
            "new_key": "",
        },
        follow=True,
    )
    assert response.status_code == 200
    shown = re.search(r"The signing key of oms is (\S+) ", response.content.decode())
    assert shown, response.content.decode()[:2000]
    source = Source.objects.get(key="oms")
    assert shown.group(1) not in source.secret_encrypted
    assert ingest.secret_of(source) == shown.group(1)
    page = operator.get(f"/django-admin/exchange/source/{source.pk}/change/").content.decode()
    assert shown.group(1) not in page and source.secret_encrypted not in page


def test_import_jobs_show_progress_and_rejected_rows(operator, shop, tmp_path):
    path = write(tmp_path / "c.csv", "name,points\nAna,1\nBo,-5\n")
    job = importer.run(jobs.create_job(path, "customer", {"name": "name", "points": "points"}))
    listing = operator.get("/django-admin/exchange/importjob/").content.decode()
    assert "2 / 2 (100%)" in listing and f"/imports/{job.pk}/rejected.csv" in listing
    rejected = operator.get(f"/imports/{job.pk}/rejected.csv")
    text = rejected.content.decode("utf-8-sig")
    assert rejected.status_code == 200 and text.splitlines()[1].startswith("3,points:")
    status = operator.get(f"/imports/{job.pk}").json()
    assert status["status"] == "done" and status["rejected"] == 1


def test_duplicates_are_merged_and_undone_from_the_admin(operator, shop):
    first = records.create("customer", {"name": "Ana", "email": "ana@example.com"})
    second = records.create("customer", {"name": "Ana", "email": "ANA@example.com"})
    pair = DuplicateCandidate.objects.create(
        object_key="customer", first_id=first.pk, second_id=second.pk, reason="email"
    )
    operator.post(
        "/django-admin/exchange/duplicatecandidate/",
        {"action": "merge_into_first", "_selected_action": [pair.pk]},
    )
    assert not Record.objects.filter(pk=second.pk).exists()
    entry = Merge.objects.get()
    operator.post(
        "/django-admin/exchange/merge/", {"action": "undo", "_selected_action": [entry.pk]}
    )
    entry.refresh_from_db()
    assert entry.status == MergeStatus.REVERSED and Record.objects.filter(pk=second.pk).exists()


def test_the_admin_upload_page_maps_checks_and_starts_an_import(
    operator, shop, django_capture_on_commit_callbacks
):
    import io

    from tessera.exchange.models import ImportJob

    start = operator.get("/django-admin/exchange/importjob/add/")
    assert start.status_code == 302 and start.url.endswith("/upload/?new=1")
    page = "/django-admin/exchange/importjob/upload/"
    sent = io.BytesIO("姓名,手机,积分,备注\n韩梅梅,13800138000,10,x\n李雷,139,-1,y\n".encode("gbk"))
    sent.name = "c.csv"
    uploaded = operator.post(page, {"object_key": "customer", "file": sent})
    assert uploaded.status_code == 302
    shown = operator.get(page).content.decode()
    assert '<option value="phone" selected>' in shown and "韩梅梅 · 李雷" in shown
    mapping = {"map:姓名": "name", "map:手机": "phone", "map:积分": "points", "map:备注": ""}
    checked = operator.post(page, {"step": "map", "key": "phone", "check": "1", **mapping})
    text = checked.content.decode()
    assert "would create 1" in text and "reject 1" in text and "积分" in text
    assert Record.objects.count() == 0
    with django_capture_on_commit_callbacks() as queued:
        started = operator.post(page, {"step": "map", "key": "phone", "start": "1", **mapping})
    assert started.status_code == 302 and len(queued) == 1
    job = ImportJob.objects.get()
    assert job.mapping == {"姓名": "name", "手机": "phone", "积分": "points"}
    assert job.actor.username == "root" and job.key_fields == ["phone"]
