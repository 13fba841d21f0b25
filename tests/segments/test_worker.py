"""A real Celery worker keeps membership fresh: the write commits, the worker re-checks."""

from __future__ import annotations

import time

import pytest

from tessera.definitions import service as definitions
from tessera.records import service as records
from tessera.segments.models import Membership
from tests.segments.conftest import SEG_CUSTOMER

WAIT = 30.0


@pytest.fixture
def sends_to_test_worker(celery_client, monkeypatch):
    """Tasks the segments layer enqueues go, on commit, to the test worker's broker and queue."""
    from django.db import transaction

    from tessera.segments import tasks

    def enqueue(task, *args):
        transaction.on_commit(lambda: celery_client.send_task(task.name, args=list(args)))

    monkeypatch.setattr(tasks, "enqueue", enqueue)
    return celery_client


def wait_for(check, what: str, worker) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not seen in {WAIT:.0f}s:\n{worker.output()}")
        time.sleep(0.1)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_moves_a_customer_into_and_out_of_a_segment(
    celery_worker_process, sends_to_test_worker
):
    definitions.save_and_publish("object", "customer", SEG_CUSTOMER)
    definitions.save_and_publish(
        "segment",
        "hangzhou",
        {"object": "customer", "condition": {"field": "city", "op": "eq", "value": "Hangzhou"}},
    )
    li = records.create("customer", {"name": "Li", "city": "Hangzhou"})
    started = time.monotonic()
    wait_for(
        lambda: Membership.objects.filter(segment_key="hangzhou", record=li).exists(),
        "Li entering hangzhou",
        celery_worker_process,
    )
    assert time.monotonic() - started < WAIT
    records.update("customer", li.pk, {"city": "Ningbo"}, version=1)
    wait_for(
        lambda: not Membership.objects.filter(segment_key="hangzhou").exists(),
        "Li leaving hangzhou",
        celery_worker_process,
    )
    types = list(li.events.order_by("id").values_list("type", flat=True))
    assert types == ["segment_entered", "segment_exited"]
