"""The outbox service: checks with paths, idempotent enqueue, transactional effects, retries,
dispatch after commit and the tick step that sends what waits.
"""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from celery import Celery
from django.db import transaction
from django.utils import timezone

from tessera.actions import dispatch, outbox
from tessera.actions import service as actions
from tessera.actions.models import OutboxEntry, OutboxStatus
from tessera.actions.types import ActionType, PermanentFailure, Skip
from tessera.definitions.errors import ValidationFailed
from tessera.plugins import actions as registry
from tessera.records import service as records
from tests.actions.conftest import free_port

TAG_VIP = {"type": "add_tag", "params": {"tag": "vip"}}
MAIL = {"type": "send_email", "params": {"to": "email", "subject": "Hi", "body": "Hello"}}


def paths(errors) -> list[tuple[str, str]]:
    return [(e.path, e.code) for e in errors]


# --- check ------------------------------------------------------------------------------------


def test_an_unknown_type_is_named_with_the_known_ones(shop):
    (error,) = actions.check(
        {"type": "send_fax", "params": {}}, object_key="customer", path="$.states.open.on_enter[0]"
    )
    assert (error.path, error.code) == ("$.states.open.on_enter[0].type", "unknown_action")
    assert "unknown action 'send_fax'; known:" in error.message
    for builtin in ("add_tag", "create_record", "remove_tag", "send_email", "set_field", "webhook"):
        assert builtin in error.message


def test_the_shape_of_an_action_is_checked(shop):
    assert paths(actions.check("add_tag", object_key="customer", path="$.a")) == [("$.a", "type")]
    assert paths(actions.check({"params": {}}, object_key="customer", path="$.a")) == [
        ("$.a.type", "required")
    ]
    assert paths(
        actions.check({"type": "add_tag", "params": [1], "x": 1}, object_key="customer", path="$")
    ) == [("$.x", "unknown_key"), ("$.params", "type")]


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (
            {"type": "set_field", "params": {"field": "mood", "value": 1}},
            ("field", "unknown_field"),
        ),
        ({"type": "set_field", "params": {"field": "points", "value": "many"}}, ("value", "type")),
        ({"type": "set_field", "params": {"field": "points", "value": -1}}, ("value", "minimum")),
        ({"type": "set_field", "params": {"field": "level", "value": "iron"}}, ("value", "enum")),
        (
            {"type": "set_field", "params": {"field": "tags", "value": ["ok", 7]}},
            ("value[1]", "type"),
        ),
        ({"type": "set_field", "params": {"field": "name", "value": None}}, ("value", "required")),
        ({"type": "set_field", "params": {"field": "points"}}, ("value", "required")),
        (
            {"type": "set_field", "params": {"field": "points", "value": {"$record": "city"}}},
            ("value['$record']", "field_type"),
        ),
        (
            {"type": "set_field", "params": {"field": "city", "value": {"$now": True}}},
            ("value", "field_type"),
        ),
        (
            {"type": "set_field", "params": {"field": "x", "value": 1, "y": 2}},
            ("y", "additionalProperties"),
        ),
        ({"type": "add_tag", "params": {}}, ("tag", "required")),
        ({"type": "add_tag", "params": {"tag": "x" * 41}}, ("tag", "maxLength")),
        ({"type": "add_tag", "params": {"tag": "a", "field": "city"}}, ("field", "field_type")),
        (
            {"type": "remove_tag", "params": {"tag": "a", "field": "nope"}},
            ("field", "unknown_field"),
        ),
        (
            {"type": "create_record", "params": {"object": "nope", "data": {}}},
            ("object", "unknown_object"),
        ),
        (
            {"type": "create_record", "params": {"object": "ticket", "data": {"title": "t"}}},
            ("data", "required"),
        ),
        (
            {
                "type": "create_record",
                "params": {"object": "ticket", "data": {"customer": {"$record": "id"}, "sky": 1}},
            },
            ("data.sky", "unknown_field"),
        ),
        (
            {
                "type": "create_record",
                "params": {
                    "object": "ticket",
                    "data": {"customer": {"$record": "id"}, "title": "t", "priority": "urgent"},
                },
            },
            ("data.priority", "enum"),
        ),
        (
            {
                "type": "create_record",
                "params": {
                    "object": "ticket",
                    "data": {"customer": {"$record": "nme"}, "title": "t"},
                },
            },
            ("data.customer['$record']", "unknown_field"),
        ),
        ({"type": "send_email", "params": {"subject": "s", "body": "b"}}, ("to", "required")),
        (
            {"type": "send_email", "params": {"to": "city", "subject": "s", "body": "b"}},
            ("to", "field_type"),
        ),
        (
            {
                "type": "send_email",
                "params": {"to": ["a@example.com", "x@"], "subject": "s", "body": "b"},
            },
            ("to[1]", "email"),
        ),
        (
            {"type": "send_email", "params": {"to": "email", "subject": "{% if %}", "body": "b"}},
            ("subject", "template"),
        ),
        (
            {
                "type": "send_email",
                "params": {"to": "email", "subject": "s", "body": "{% load static %}"},
            },
            ("body", "template"),
        ),
        ({"type": "webhook", "params": {"url": "ftp://example.com/x"}}, ("url", "url")),
        (
            {
                "type": "webhook",
                "params": {"url": "http://e.com", "headers": {"X-A": "1\r\nX-B: 2"}},
            },
            ("headers['X-A']", "pattern"),
        ),
        (
            {
                "type": "send_email",
                "params": {"to": "email", "from": "a@b.c\nBcc: x@y.z", "subject": "s", "body": "b"},
            },
            ("from", "pattern"),
        ),
        (
            {"type": "webhook", "params": {"url": "http://example.com", "method": "GET"}},
            ("method", "enum"),
        ),
        (
            {
                "type": "webhook",
                "params": {"url": "http://example.com", "headers": {"Tessera-Delivery": "x"}},
            },
            ("headers['Tessera-Delivery']", "reserved_header"),
        ),
        (
            {
                "type": "webhook",
                "params": {"url": "http://example.com", "payload": {"who": {"$record": "nobody"}}},
            },
            ("payload.who['$record']", "unknown_field"),
        ),
    ],
)
def test_bad_params_are_refused_at_their_path(shop, action, expected):
    errors = actions.check(action, object_key="customer", path="$.states.open.on_enter[0]")
    relative, code = expected
    assert (f"$.states.open.on_enter[0].params.{relative}", code) in paths(errors), errors


def test_good_params_pass(shop):
    good = [
        {"type": "set_field", "params": {"field": "level", "value": "gold"}},
        {"type": "set_field", "params": {"field": "city", "value": None}},
        {"type": "set_field", "params": {"field": "tags", "value": ["a", "b"]}},
        TAG_VIP,
        {"type": "remove_tag", "params": {"tag": "vip", "field": "tags"}},
        {
            "type": "create_record",
            "params": {"object": "ticket", "data": {"customer": {"$record": "id"}, "title": "Hi"}},
        },
        MAIL,
        {
            "type": "send_email",
            "params": {
                "to": ["cc", "a@example.com"],
                "to_group": "support",
                "subject": "s",
                "body": "{{ record.name|upper }}",
            },
        },
        {"type": "webhook", "params": {"url": "https://example.com/hook", "payload": {"n": 1}}},
    ]
    for action in good:
        assert actions.check(action, object_key="customer", path="$") == [], action


def test_actions_on_the_subject_need_one(shop):
    errors = actions.check(TAG_VIP, object_key=None, path="$")
    assert paths(errors) == [("$.params.field", "no_subject")]


def test_a_plugins_failing_check_is_an_error_not_a_crash(shop):
    class Broken(ActionType):
        type = "broken_check"

        def check(self, params, *, object_key, path):
            raise RuntimeError("bug")

    with registry.register_temporarily(Broken()):
        errors = actions.check({"type": "broken_check"}, object_key="customer", path="$")
    assert paths(errors) == [("$.params", "check_failed")]


# --- enqueue ----------------------------------------------------------------------------------


def test_enqueue_is_idempotent_by_key(li, dispatched, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = actions.enqueue("run:1:notify:1", MAIL, object_key="customer", record_id=li.pk)
        second = actions.enqueue("run:1:notify:1", MAIL, object_key="customer", record_id=li.pk)
    assert second.pk == first.pk
    assert OutboxEntry.objects.count() == 1
    assert dispatched == [first.pk]  # one task, for the one row
    assert first.status == OutboxStatus.PENDING and first.dispatched_at is not None


def test_a_second_enqueue_of_a_transactional_action_changes_nothing(li):
    first = actions.enqueue("run:1:tag:1", TAG_VIP, object_key="customer", record_id=li.pk)
    again = actions.enqueue("run:1:tag:1", TAG_VIP, object_key="customer", record_id=li.pk)
    li.refresh_from_db()
    assert first.status == again.status == OutboxStatus.SENT
    assert li.data["tags"] == ["newsletter", "vip"] and li.version == 2


def test_enqueue_refuses_bad_actions_and_keys(li):
    with pytest.raises(ValidationFailed) as refused:
        actions.enqueue(
            "k1", {"type": "add_tag", "params": {}}, object_key="customer", record_id=li.pk
        )
    assert paths(refused.value.errors) == [("$.params.tag", "required")]
    for key in ("", "has space", "x" * 256, "line\nbreak", None):
        with pytest.raises(ValidationFailed) as refused:
            actions.enqueue(key, TAG_VIP, object_key="customer", record_id=li.pk)
        assert paths(refused.value.errors) == [("$.key", "invalid")]
    assert OutboxEntry.objects.count() == 0


def test_a_transactional_effect_rolls_back_with_the_caller(li):
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        entry = actions.enqueue("run:2:tag:1", TAG_VIP, object_key="customer", record_id=li.pk)
        assert entry.status == OutboxStatus.SENT  # performed inside the transaction...
        raise Boom  # ...which the caller then abandons
    li.refresh_from_db()
    assert li.data["tags"] == ["newsletter"] and li.version == 1
    assert not OutboxEntry.objects.exists()
    # the caller tries again later: the effect happens, once
    entry = actions.enqueue("run:2:tag:1", TAG_VIP, object_key="customer", record_id=li.pk)
    li.refresh_from_db()
    assert entry.status == OutboxStatus.SENT and li.data["tags"] == ["newsletter", "vip"]


def test_a_failing_transactional_effect_leaves_the_callers_work_alone(li):
    missing = li.pk + 1000  # no such customer (deleted, say)
    with transaction.atomic():
        records.update("customer", li.pk, {"city": "Ningbo"}, version=1)
        entry = actions.enqueue("run:3:tag:1", TAG_VIP, object_key="customer", record_id=missing)
    assert entry.status == OutboxStatus.FAILED and entry.attempts == 1
    assert "RecordNotFound" in entry.last_error
    li.refresh_from_db()
    assert li.data["city"] == "Ningbo"  # the caller's own write committed


def test_a_non_transactional_entry_is_dispatched_only_after_commit(li, dispatched):
    with pytest.raises(RuntimeError), transaction.atomic():
        actions.enqueue("run:4:mail:1", MAIL, object_key="customer", record_id=li.pk)
        raise RuntimeError
    assert dispatched == [] and not OutboxEntry.objects.exists()


# --- failures, backoff, retry ------------------------------------------------------------------


class Flaky(ActionType):
    """Fails ``failures`` times with an ordinary error, then succeeds."""

    type = "flaky"

    def __init__(self, failures: int, error: type[Exception] = ConnectionError):
        self.failures, self.error, self.calls = failures, error, 0

    def perform(self, effect):
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error(f"failure {self.calls}")
        return {"calls": self.calls}


def test_failures_back_off_then_end_failed_and_a_retry_succeeds(db, dispatched, settings):
    settings.TESSERA_ACTIONS = {"max_attempts": 3, "backoff_seconds": 10}
    flaky = Flaky(failures=3)
    with registry.register_temporarily(flaky):
        row = actions.enqueue("flaky:1", {"type": "flaky"}, object_key=None, record_id=None)
        delays = []
        for attempt in (1, 2, 3):
            before = timezone.now()
            actions.deliver(row.pk)
            row.refresh_from_db()
            assert row.attempts == attempt and flaky.calls == attempt
            if attempt < 3:
                assert row.status == OutboxStatus.PENDING and row.dispatched_at is None
                delays.append((row.next_attempt_at - before).total_seconds())
                actions.deliver(row.pk)  # not due yet: a duplicate message does nothing
                assert flaky.calls == attempt
                OutboxEntry.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
        assert row.status == OutboxStatus.FAILED
        assert row.last_error.startswith("gave up after 3 attempts; last: ConnectionError")
        assert 9 <= delays[0] <= 11.5 and 18 <= delays[1] <= 22.5  # doubling, ±10 % jitter

        actions.deliver(row.pk)  # failed is final: nothing happens without a person
        assert flaky.calls == 3

        actions.retry(row.pk)
        row.refresh_from_db()
        assert (row.status, row.attempts) == (OutboxStatus.PENDING, 0)
        actions.deliver(row.pk)
    row.refresh_from_db()
    assert (row.status, row.result, row.last_error) == (OutboxStatus.SENT, {"calls": 4}, "")
    with pytest.raises(actions.CannotRetry, match="was sent"):
        actions.retry(row.pk)


def test_a_permanent_failure_ends_after_one_attempt(db, dispatched):
    with registry.register_temporarily(Flaky(failures=1, error=PermanentFailure)):
        row = actions.enqueue("flaky:2", {"type": "flaky"}, object_key=None, record_id=None)
        actions.deliver(row.pk)
    row.refresh_from_db()
    assert (row.status, row.attempts) == (OutboxStatus.FAILED, 1)


def test_nothing_to_do_is_skipped(db, dispatched):
    with registry.register_temporarily(Flaky(failures=1, error=Skip)):
        row = actions.enqueue("flaky:3", {"type": "flaky"}, object_key=None, record_id=None)
        actions.deliver(row.pk)
    row.refresh_from_db()
    assert row.status == OutboxStatus.SKIPPED and row.last_error == "Skip: failure 1"


def test_a_claimed_entry_is_not_performed_again_until_its_lease_runs_out(db, dispatched):
    flaky = Flaky(failures=0)
    with registry.register_temporarily(flaky):
        row = actions.enqueue("flaky:4", {"type": "flaky"}, object_key=None, record_id=None)
        # a worker claimed it and died mid-attempt
        assert outbox._claim(row.pk, timezone.now()) is not None
        actions.deliver(row.pk)  # the broker's redelivery while the lease holds
        assert flaky.calls == 0
        OutboxEntry.objects.filter(pk=row.pk).update(
            lease_until=timezone.now() - dt.timedelta(seconds=1)
        )
        actions.deliver(row.pk)
    row.refresh_from_db()
    assert (row.status, row.attempts, flaky.calls) == (OutboxStatus.SENT, 2, 1)


def test_an_uninstalled_type_backs_off_like_any_failure(db, dispatched, fast_retries):
    with registry.register_temporarily(Flaky(failures=0)):
        row = actions.enqueue("flaky:5", {"type": "flaky"}, object_key=None, record_id=None)
    for _ in range(3):
        actions.deliver(row.pk)
    row.refresh_from_db()
    assert row.status == OutboxStatus.FAILED and "unknown action 'flaky'" in row.last_error


# --- the tick step and a broker that is down ------------------------------------------------------


def test_the_tick_sends_what_is_due_and_not_in_flight(db, dispatched, settings):
    settings.TESSERA_ACTIONS = {"redispatch_seconds": 60, "lease_seconds": 30}
    now = timezone.now()
    later = now + dt.timedelta(minutes=5)
    long_ago = now - dt.timedelta(minutes=10)
    rows = {}
    for name, fields in {
        "never_dispatched": {"dispatched_at": None},
        "just_dispatched": {"dispatched_at": now},
        "dispatched_long_ago": {"dispatched_at": long_ago},
        "not_due": {"dispatched_at": None, "next_attempt_at": later},
        "lease_expired": {
            "status": "sending",
            "lease_until": now - dt.timedelta(seconds=1),
            "dispatched_at": long_ago,
        },
        "lease_holds": {"status": "sending", "lease_until": later, "dispatched_at": long_ago},
        "sent": {"status": "sent", "dispatched_at": None},
        "failed": {"status": "failed", "dispatched_at": None},
    }.items():
        rows[name] = OutboxEntry.objects.create(
            key=name, type="webhook", **{"next_attempt_at": now, **fields}
        ).pk

    assert outbox.redispatch_due() == 3
    expected = [rows[n] for n in ("never_dispatched", "dispatched_long_ago", "lease_expired")]
    assert sorted(dispatched) == sorted(expected)
    dispatched.clear()
    assert outbox.redispatch_due() == 0  # just sent: not again until redispatch_seconds pass
    assert dispatched == []


def test_the_tick_step_is_registered():
    from tessera.timers.tasks import tick_steps

    assert outbox.redispatch_due in tick_steps


def test_broker_down_at_dispatch_then_the_tick_delivers(
    li, monkeypatch, caplog, http_server, django_capture_on_commit_callbacks, settings
):
    """The broker is a real Redis URL on a port where nothing listens: publishing fails."""
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)  # Celery prefers it to broker=
    down = Celery("broker-down", broker=f"redis://127.0.0.1:{free_port()}/0", set_as_current=False)
    assert down.conf.broker_url.startswith("redis://127.0.0.1:") and down.conf.broker_url != (
        settings.CELERY_BROKER_URL
    )
    monkeypatch.setattr(
        dispatch,
        "publish",
        lambda entry_id: down.send_task(
            dispatch.TASK, args=[entry_id], retry=True, retry_policy=dispatch.RETRY_POLICY
        ),
    )
    hook = {"type": "webhook", "params": {"url": http_server.url + "/hook"}}
    with (
        caplog.at_level(logging.WARNING, logger="tessera.actions.dispatch"),
        django_capture_on_commit_callbacks(execute=True),
        transaction.atomic(),
    ):
        row = actions.enqueue("run:9:hook:1", hook, object_key="customer", record_id=li.pk)
        records.update("customer", li.pk, {"city": "Ningbo"}, version=1)
    assert "broker unreachable" in caplog.text and "wait for the tick" in caplog.text
    row.refresh_from_db()
    li.refresh_from_db()
    assert li.data["city"] == "Ningbo"  # the caller's work committed regardless
    assert (row.status, row.dispatched_at, row.attempts) == (OutboxStatus.PENDING, None, 0)

    # still down at the next tick: nothing lost, still waiting
    assert outbox.redispatch_due() == 0
    row.refresh_from_db()
    assert row.dispatched_at is None

    # the broker is back; the tick sends the row (here straight to an in-process delivery)
    monkeypatch.setattr(dispatch, "publish", actions.deliver)
    assert outbox.redispatch_due() == 1
    row.refresh_from_db()
    assert row.status == OutboxStatus.SENT and http_server.keys() == ["run:9:hook:1"]


def test_the_delivery_task_acks_late_and_no_eta_is_used_anywhere():
    from pathlib import Path

    from tessera.actions.tasks import deliver

    assert deliver.name == "tessera.actions.deliver"
    assert deliver.acks_late is True and deliver.reject_on_worker_lost is True
    source = Path(outbox.__file__).parent
    for path in source.rglob("*.py"):
        text = path.read_text()
        for word in ("countdown=", "eta="):
            assert word not in text, f"{path.name} uses {word}"
