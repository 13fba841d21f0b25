"""Duplicates: found by email, phone and similar name in one city; merged with everything
moved to the survivor; the merge undone from history, both records as they were."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.utils import timezone

from tessera.definitions.errors import ValidationFailed
from tessera.exchange import dedup, merge
from tessera.exchange.models import DuplicateCandidate, DuplicateStatus, MergeStatus
from tessera.flows.models import Run
from tessera.records import service as records
from tessera.records.models import Event, Record, RecordChange
from tessera.segments.models import Membership


def customer(**data):
    return records.create("customer", data)


def test_duplicates_are_found_by_email_phone_and_similar_name_in_one_city(shop):
    a = customer(name="Han Meimei", email="MeiMei@Example.com", city="Hangzhou")
    b = customer(name="Han Mei-mei", email="meimei@example.com", city="Hangzhou")
    c = customer(name="Li Lei", phone="+86 139 0013 9000", city="Shanghai")
    d = customer(name="LI LEI", phone="13900139000", city="Beijing")
    e = customer(name="Li Leii", city="Shanghai")
    f = customer(name="Wang Fang", city="Shanghai")
    found = {(x.first_id, x.second_id): x for x in dedup.find("customer")}
    assert found[(a.pk, b.pk)].reason == "email"
    assert found[(c.pk, d.pk)].reason == "phone"
    assert found[(c.pk, e.pk)].reason == "name+city" and 0.85 <= found[(c.pk, e.pk)].score < 1
    assert (c.pk, f.pk) not in found and (d.pk, e.pk) not in found  # other city
    assert dedup.store("customer", list(found.values())) == len(found)
    assert dedup.store("customer", list(found.values())) == 0  # seen pairs keep their status
    assert DuplicateCandidate.objects.filter(status=DuplicateStatus.OPEN).count() == len(found)


def _run(subject, flow="onboarding", status="active"):
    return Run.objects.create(
        flow_kind="workflow",
        flow_key=flow,
        flow_version=1,
        subject=subject,
        object_key="customer",
        node="start",
        status=status,
    )


def test_a_merge_moves_everything_and_unmerge_restores_both(shop):
    survivor = customer(name="Han Meimei", phone="+8613800138000", city="Hangzhou", points=10)
    duplicate = customer(
        name="韩梅梅",
        email="meimei@example.com",
        phone="138 0013 8000",
        city="杭州",
        points=5,
        tags=["vip"],
    )
    survivor_data, duplicate_data = dict(survivor.data), dict(duplicate.data)
    theirs = records.create("order", {"customer": duplicate.pk, "total": 120, "status": "paid"})
    mine = records.create("order", {"customer": survivor.pk, "total": 80, "status": "placed"})
    records.add_event(duplicate, "cart_abandoned", {"sku": "A1"})
    records.add_event(survivor, "login")
    run_only_theirs = _run(duplicate, "vip-welcome")
    run_both_mine = _run(survivor, "onboarding")
    run_both_theirs = _run(duplicate, "onboarding")
    now = timezone.now()
    Membership.objects.create(segment_key="hangzhou", record=duplicate, entered_at=now)
    Membership.objects.create(segment_key="both", record=duplicate, entered_at=now)
    Membership.objects.create(segment_key="both", record=survivor, entered_at=now)
    dedup.store("customer", dedup.find("customer"))

    done = merge.merge(
        "customer",
        survivor.pk,
        duplicate.pk,
        rules={"points": "sum"},
        choices={"city": "duplicate"},
    )

    assert not Record.objects.filter(pk=duplicate.pk).exists()
    survivor.refresh_from_db()
    assert survivor.data == {
        "name": "Han Meimei",  # kept (fill)
        "phone": "+8613800138000",
        "email": "meimei@example.com",  # filled from the duplicate
        "city": "杭州",  # chosen
        "points": 15,  # summed
        "tags": ["vip"],
    }
    assert Record.objects.get(pk=theirs.pk).data["customer"] == survivor.pk
    assert Record.objects.get(pk=theirs.pk).version == 2
    assert Record.objects.get(pk=mine.pk).version == 1
    assert sorted(Event.objects.filter(subject=survivor).values_list("type", flat=True)) == [
        "cart_abandoned",
        "login",
    ]
    runs = {r.pk: r for r in Run.objects.filter(subject=survivor)}
    assert set(runs) == {run_only_theirs.pk, run_both_mine.pk, run_both_theirs.pk}
    assert runs[run_both_theirs.pk].status == "cancelled"  # one active run per flow
    assert runs[run_both_mine.pk].status == "active"
    assert set(
        Membership.objects.filter(record=survivor).values_list("segment_key", flat=True)
    ) == {"hangzhou", "both"}
    history = RecordChange.objects.filter(comment__startswith=f"merge #{done.pk}")
    assert {(c.record_id, c.action) for c in history} >= {
        (duplicate.pk, "delete"),
        (survivor.pk, "update"),
        (theirs.pk, "update"),
    }
    deleted = history.get(record_id=duplicate.pk, action="delete")
    assert {k: v[0] for k, v in deleted.changes.items()} == duplicate_data  # full before-image
    assert done.duplicate_before["data"] == duplicate_data
    assert DuplicateCandidate.objects.get(first_id=survivor.pk).status == DuplicateStatus.MERGED

    merge.unmerge(done)

    survivor.refresh_from_db()
    restored = Record.objects.get(pk=duplicate.pk)
    assert survivor.data == survivor_data and restored.data == duplicate_data
    assert restored.created_at == duplicate.created_at
    assert Record.objects.get(pk=theirs.pk).data["customer"] == duplicate.pk
    assert Record.objects.get(pk=mine.pk).data["customer"] == survivor.pk
    assert list(Event.objects.filter(subject=restored).values_list("type", flat=True)) == [
        "cart_abandoned"
    ]
    assert list(Event.objects.filter(subject=survivor).values_list("type", flat=True)) == ["login"]
    assert set(Run.objects.filter(subject=restored).values_list("pk", "status")) == {
        (run_only_theirs.pk, "active"),
        (run_both_theirs.pk, "active"),
    }
    assert set(
        Membership.objects.filter(record=restored).values_list("segment_key", flat=True)
    ) == {
        "hangzhou",
        "both",
    }
    assert Membership.objects.filter(record=survivor).count() == 1
    done.refresh_from_db()
    assert done.status == MergeStatus.REVERSED
    assert DuplicateCandidate.objects.get(first_id=survivor.pk).status == DuplicateStatus.OPEN
    with pytest.raises(ValidationFailed) as again:
        merge.unmerge(done)
    assert again.value.errors[0].code == "reversed"


def test_campaign_messages_follow_the_subject_id(shop):
    try:
        message_model = apps.get_model("flows", "Message")
    except LookupError:
        pytest.skip("campaigns are not installed in this checkout")
    survivor = customer(name="A")
    duplicate = customer(name="B")
    message = message_model.objects.create(
        campaign_key="winback",
        campaign_version=1,
        node="send",
        subject_id=duplicate.pk,
        channel="email",
        key="outbox-key-1",
        created_at=timezone.now(),
    )
    done = merge.merge("customer", survivor.pk, duplicate.pk)
    message.refresh_from_db()
    assert message.subject_id == survivor.pk
    merge.unmerge(done)
    message.refresh_from_db()
    assert message.subject_id == duplicate.pk


def test_a_survivor_written_since_the_merge_is_not_unmerged_and_bad_requests_are_refused(shop):
    survivor = customer(name="A", points=1)
    duplicate = customer(name="B")
    with pytest.raises(ValidationFailed) as refused:
        merge.merge("customer", survivor.pk, survivor.pk)
    assert refused.value.errors[0].path == "$.duplicate"
    with pytest.raises(ValidationFailed) as refused:
        merge.merge("customer", survivor.pk, duplicate.pk, rules={"nope": "sum", "name": "x"})
    assert {e.path for e in refused.value.errors} == {"$.rules.nope", "$.rules.name"}
    with pytest.raises(ValidationFailed) as refused:
        merge.merge("customer", survivor.pk, 999999)
    assert refused.value.errors[0].code == "not_found"
    done = merge.merge("customer", survivor.pk, duplicate.pk)
    current = Record.objects.get(pk=survivor.pk)
    records.update("customer", survivor.pk, {"points": 2}, version=current.version)
    with pytest.raises(ValidationFailed) as refused:
        merge.unmerge(done)
    assert refused.value.errors[0].code == "changed"
    assert not Record.objects.filter(pk=duplicate.pk).exists()
