"""A return and an exchange, from creation to resolution, through the workflow's rules."""

from __future__ import annotations

import pytest

from tessera.flows import service
from tessera.flows.errors import RunNotActive, TransitionRefused, VersionConflict
from tessera.flows.models import Run, RunStatus
from tessera.records.models import Record

pytestmark = pytest.mark.django_db


def run_of(record) -> Run:
    return Run.objects.get(subject=record, flow_key="returns")


def codes(exc: TransitionRefused) -> dict[str, str]:
    return {e.path: e.code for e in exc.errors}


def test_creating_a_ticket_starts_its_run_assigned_round_robin(new_ticket, people):
    first, second, third = new_ticket(), new_ticket(), new_ticket()
    runs = [run_of(t) for t in (first, second, third)]
    assert [r.node for r in runs] == ["new", "new", "new"]
    assert [r.assignee.username for r in runs] == ["li", "wang", "li"]
    first.refresh_from_db()
    assert first.data["status"] == "new"
    assert first.data["assignee"] == "li"
    kinds = [s.kind for s in service.history(runs[0])]
    assert kinds == ["assign", "start"]


def test_a_return_goes_from_new_to_resolved(new_ticket, people):
    ticket = new_ticket()
    run = run_of(ticket)
    run = service.transition(
        run.pk,
        "approve",
        actor=people["li"],
        version=run.version,
        fields={"reason": "arrived broken"},
        comment="ok",
    )
    assert run.node == "approved"
    run = service.transition(
        run.pk,
        "receive",
        actor=people["wang"],
        version=run.version,
        fields={"tracking_number": "SF123456789"},
    )
    run = service.transition(
        run.pk,
        "refund",
        actor=people["qian"],
        version=run.version,
        fields={"refund_amount": 199.0},
    )
    assert run.status == RunStatus.COMPLETED and run.node == "resolved"
    ticket.refresh_from_db()
    assert ticket.data["status"] == "resolved"
    assert ticket.data["refund_amount"] == 199
    steps = service.history(run)
    moves = [
        (s.from_node, s.to_node, s.transition, s.actor.username if s.actor else None)
        for s in steps
        if s.kind == "transition"
    ]
    assert moves == [
        ("new", "approved", "approve", "li"),
        ("approved", "received", "receive", "wang"),
        ("received", "resolved", "refund", "qian"),
    ]
    assert steps[-1].kind == "end"
    with pytest.raises(RunNotActive):
        service.transition(run.pk, "refund", actor=people["qian"], version=run.version)


def test_an_exchange_takes_the_other_branch(new_ticket, people):
    run = run_of(new_ticket(kind="exchange"))
    run = service.transition(
        run.pk, "approve", actor=people["li"], version=run.version, fields={"reason": "wrong size"}
    )
    run = service.transition(
        run.pk,
        "receive",
        actor=people["li"],
        version=run.version,
        fields={"tracking_number": "YT000111"},
    )
    with pytest.raises(TransitionRefused) as refused:
        service.transition(
            run.pk,
            "refund",
            actor=people["qian"],
            version=run.version,
            fields={"refund_amount": 10},
        )
    assert codes(refused.value) == {"$.guard": "guard"}
    run = service.transition(run.pk, "ship_replacement", actor=people["wang"], version=run.version)
    assert run.status == RunStatus.COMPLETED


def test_guards_required_fields_roles_and_comments_refuse_with_paths(new_ticket, people):
    run = run_of(new_ticket(kind="complaint"))
    v = run.version
    with pytest.raises(TransitionRefused) as refused:
        service.transition(run.pk, "approve", actor=people["li"], version=v)
    assert codes(refused.value) == {"$.fields.reason": "required"}
    with pytest.raises(TransitionRefused) as refused:
        service.transition(
            run.pk,
            "approve",
            actor=people["li"],
            version=v,
            fields={"reason": "x", "priority": "low"},
        )
    assert codes(refused.value) == {"$.fields.priority": "not_allowed"}
    with pytest.raises(TransitionRefused) as refused:  # a complaint is not returned
        service.transition(run.pk, "approve", actor=people["li"], version=v, fields={"reason": "x"})
    assert codes(refused.value) == {"$.guard": "guard"}
    with pytest.raises(TransitionRefused) as refused:
        service.transition(
            run.pk, "approve", actor=people["qian"], version=v, fields={"reason": "x"}
        )
    assert codes(refused.value) == {"$.actor": "forbidden"}
    with pytest.raises(TransitionRefused) as refused:
        service.transition(run.pk, "reject", actor=people["li"], version=v)
    assert codes(refused.value) == {"$.comment": "required"}
    with pytest.raises(TransitionRefused) as refused:
        service.transition(run.pk, "refund", actor=people["qian"], version=v)
    assert codes(refused.value) == {"$.transition": "not_available"}
    with pytest.raises(TransitionRefused) as refused:
        service.transition(run.pk, "teleport", actor=people["li"], version=v)
    assert codes(refused.value) == {"$.transition": "unknown"}
    # Nothing of the refused attempts stuck: not the reason written before the guard failed.
    run.refresh_from_db()
    assert (run.node, run.version) == ("new", v)
    assert "reason" not in Record.objects.get(pk=run.subject_id).data
    run = service.transition(
        run.pk, "reject", actor=people["li"], version=v, comment="not a return"
    )
    assert run.node == "rejected" and run.status == RunStatus.COMPLETED


def test_a_field_the_object_refuses_is_reported_under_fields(new_ticket, people):
    run = run_of(new_ticket())
    run = service.transition(
        run.pk, "approve", actor=people["li"], version=run.version, fields={"reason": "r"}
    )
    with pytest.raises(TransitionRefused) as refused:
        service.transition(
            run.pk,
            "receive",
            actor=people["li"],
            version=run.version,
            fields={"tracking_number": "bad number!"},
        )
    assert list(codes(refused.value)) == ["$.fields.tracking_number"]


def test_a_stale_version_is_a_conflict(new_ticket, people):
    run = run_of(new_ticket())
    stale = run.version
    service.transition(run.pk, "approve", actor=people["li"], version=stale, fields={"reason": "r"})
    with pytest.raises(VersionConflict):
        service.transition(
            run.pk, "reject", actor=people["wang"], version=stale, comment="too late"
        )


def test_available_transitions_say_who_may_take_them(new_ticket, people):
    run = run_of(new_ticket())
    offered = {t["name"]: t["allowed"] for t in service.available(run, people["qian"])}
    assert offered == {"approve": False, "reject": False}
    offered = {t["name"]: t for t in service.available(run, people["li"])}
    assert offered["approve"]["required_fields"] == ["reason"]
    assert offered["reject"]["comment"] == "required"


def test_least_loaded_and_field_assignment(db, people, publish_object, returns_body):
    from tessera.definitions import service as definitions
    from tessera.records import service as records

    from .conftest import CALENDAR, TICKET

    publish_object("ticket", TICKET)
    definitions.save_and_publish("calendar", "cn-office", dict(CALENDAR))
    returns_body["assignment"] = {
        "strategy": "least_loaded",
        "group": "support",
        "field": "assignee",
    }
    definitions.save_and_publish("workflow", "returns", returns_body)
    made = [records.create("ticket", {"title": f"t{i}", "kind": "return"}) for i in range(3)]
    assert [run_of(t).assignee.username for t in made] == ["li", "wang", "li"]
    service.cancel(run_of(made[1]).pk)  # wang's only ticket closes: wang is least loaded
    assert (
        run_of(records.create("ticket", {"title": "t", "kind": "return"})).assignee.username
        == "wang"
    )

    returns_body["assignment"] = {"strategy": "field", "from_field": "owner", "field": "assignee"}
    definitions.save_and_publish("workflow", "returns", returns_body)
    owned = records.create("ticket", {"title": "t", "kind": "return", "owner": "zhao@example.com"})
    assert run_of(owned).assignee.username == "zhao"
    owned.refresh_from_db()
    assert owned.data["assignee"] == "zhao"


def test_a_manual_workflow_starts_by_hand_once(db, people, publish_object, returns_body):
    from tessera.definitions import service as definitions
    from tessera.records import service as records

    from .conftest import CALENDAR, TICKET

    publish_object("ticket", TICKET)
    definitions.save_and_publish("calendar", "cn-office", dict(CALENDAR))
    returns_body["start"] = "manual"
    definitions.save_and_publish("workflow", "returns", returns_body)
    ticket = records.create("ticket", {"title": "t", "kind": "return"})
    assert not Run.objects.filter(subject=ticket).exists()
    run = service.start("returns", ticket.pk, actor=people["li"])
    assert run.node == "new" and run.started_by == people["li"]
    with pytest.raises(TransitionRefused) as refused:
        service.start("returns", ticket.pk)
    assert codes(refused.value) == {"$.record": "already_running"}


# The ticket, its history line, the step, the SLA timer settled, the run: in this order.
WRITES = ("UPDATE", "INSERT", "INSERT", "DELETE", "UPDATE")


def test_a_transition_is_one_locking_read_and_its_writes(new_ticket, people):
    """The statements a transition costs (bench/timers.py measures what they cost in time).

    The run and its ticket locked in one read that also reads the definitions revision; the
    ticket's write and its history, the step, the SLA timer settled, the run saved; BEGIN and
    COMMIT, which the test's own transaction turns into one savepoint: the record's write adds
    none. The actor's groups are read once per user object. On PostgreSQL the five writes are
    sent as one statement list (tessera.write_batch).
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    first, second = run_of(new_ticket()), run_of(new_ticket())
    agent = people["li"]
    service.transition(
        first.pk, "approve", actor=agent, version=first.version, fields={"reason": "r"}
    )
    with CaptureQueriesContext(connection) as queries:
        service.transition(
            second.pk, "approve", actor=agent, version=second.version, fields={"reason": "r"}
        )
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    assert statements.count("SAVEPOINT") == 1, statements
    assert statements.count("SELECT") == 1, statements  # the run, its ticket, the revision
    writes = [q["sql"] for q in queries.captured_queries if q["sql"].split()[0] in WRITES]
    if connection.vendor == "postgresql":  # the five writes leave in one round trip
        assert len(statements) == 4, statements
        assert [w.split()[0] for w in writes[0].split("; ")] == list(WRITES), writes
    else:
        assert [w.split()[0] for w in writes] == list(WRITES), writes
        assert len(statements) == 8, statements
