"""``POST /imports/<object>``: who may upload what, the dry-run report, the job it starts."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.contrib.auth.models import Group

from tessera.api import tokens
from tessera.api.models import ObjectPermission
from tessera.exchange import importer
from tessera.exchange.models import ImportJob
from tessera.records.models import Record

CSV = "姓名,手机,积分\n韩梅梅,13800138000,10\n李雷,13900139000,-1\n".encode("utf-8-sig")


def upload(client, token, **fields):
    data = {"file": io.BytesIO(CSV), **fields}
    data["file"].name = "c.csv"
    return client.post("/imports/customer", data, HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.fixture
def clerk_token(shop, django_user_model):
    group = Group.objects.create(name="clerks")
    ObjectPermission.objects.create(
        group=group,
        object_key="customer",
        can_create=True,
        can_update=True,
        read_fields=["*"],
        write_fields=["name", "phone"],
    )
    clerk = django_user_model.objects.create_user("clerk", "c@example.com", "pw-1234567")
    clerk.groups.add(group)
    return tokens.issue(clerk, "t", ["read", "write"])[0]


def test_a_dry_run_reports_and_a_run_makes_a_job(
    client, clerk_token, django_capture_on_commit_callbacks
):
    mapping = '{"姓名": "name", "手机": "phone"}'
    dry = upload(client, clerk_token, key="phone", dry_run="1", mapping=mapping)
    assert dry.status_code == 200, dry.content
    assert dry.json()["report"]["created"] == 2 and Record.objects.count() == 0
    with django_capture_on_commit_callbacks() as sent:  # the task goes once this commits
        started = upload(client, clerk_token, key="phone", mapping=mapping)
    assert started.status_code == 202 and len(sent) == 1
    job = ImportJob.objects.get(pk=started.json()["job"])
    assert job.actor.username == "clerk" and job.key_fields == ["phone"]
    status = client.get(started.json()["url"], HTTP_AUTHORIZATION=f"Bearer {clerk_token}")
    assert status.json()["status"] == "pending"

    # run here (the worker's code): the kept upload goes once the job is done
    kept = Path(job.path)
    assert kept.exists() and job.header == ["姓名", "手机", "积分"]
    job = importer.run(job)
    assert job.status == "done" and job.created == 2 and not kept.exists()


def test_fields_the_person_may_not_write_and_bad_requests_are_refused(client, clerk_token):
    suggested = upload(client, clerk_token, key="phone", dry_run="1")  # maps 积分 → points
    assert suggested.status_code == 403 and "points" in suggested.json()["error"]["message"]
    assert upload(client, clerk_token, mapping="{nope").status_code == 400
    refused = upload(client, clerk_token, mapping='{"姓名": "name"}', key="city")
    assert refused.status_code == 422 and refused.json()["errors"][0]["path"] == "$.key[0]"
    no_file = client.post("/imports/customer", {}, HTTP_AUTHORIZATION=f"Bearer {clerk_token}")
    assert no_file.status_code == 400
    assert client.post("/imports/customer", {}).status_code == 401
