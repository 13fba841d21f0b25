"""The generic node types (wait, branch, split, action, end) on a graph built in the test.

Campaigns compile to these same nodes (issue 7); here a flow kind registered for the test
compiles a small graph: branch on VIP → split A/B → tag → wait one day → end.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
import time_machine
from django.utils import timezone

from tessera.conditions.tree import parse
from tessera.definitions.models import Definition, Status
from tessera.flows import service
from tessera.flows.graph import Flow, FlowKind, Node, flow_kinds
from tessera.flows.models import Run, RunStatus
from tessera.records import service as records
from tessera.timers import service as timers

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def compile_test_flow(definition: Definition) -> Flow:
    vip = parse({"field": "vip", "op": "eq", "value": True}, "customer")
    nodes = [
        Node("check", "branch", {"condition": vip}, {"then": "pick", "else": "done"}),
        Node(
            "pick",
            "split",
            {"variants": [{"name": "a", "weight": 1}, {"name": "b", "weight": 1}]},
            {"a": "tag_a", "b": "tag_b"},
        ),
        Node(
            "tag_a",
            "action",
            {"actions": [{"type": "add_tag", "params": {"tag": "a"}}]},
            {"next": "wait"},
        ),
        Node(
            "tag_b",
            "action",
            {"actions": [{"type": "add_tag", "params": {"tag": "b"}}]},
            {"next": "wait"},
        ),
        Node("wait", "wait", {"for": "P1D"}, {"next": "done"}),
        Node("done", "end"),
    ]
    return Flow(
        kind="test",
        key=definition.key,
        version=definition.version,
        object_key="customer",
        start="check",
        nodes={n.id: n for n in nodes},
    )


@pytest.fixture
def test_flow(customer_object):
    Definition.objects.create(
        kind="campaign",
        key="welcome",
        version=1,
        body={},
        status=Status.PUBLISHED,
        published_at=timezone.now(),
    )
    with flow_kinds.register_temporarily(FlowKind(type="campaign", compile=compile_test_flow)):
        yield


def test_branch_split_action_wait_end(test_flow):
    with time_machine.travel(START, tick=False):
        vips = [records.create("customer", {"name": f"v{i}", "vip": True}) for i in range(40)]
        plain = records.create("customer", {"name": "p", "vip": False})
        runs = [service.start("welcome", c.pk, kind="campaign") for c in [*vips, plain]]
    assert runs[-1].status == RunStatus.COMPLETED  # not a VIP: straight to the end
    waiting = runs[:-1]
    assert {r.node for r in waiting} == {"wait"}
    variants = Counter(r.data["variants"]["pick"] for r in waiting)
    assert set(variants) == {"a", "b"} and min(variants.values()) >= 8
    for run, customer in zip(waiting, vips, strict=True):
        customer.refresh_from_db()
        assert customer.data["tags"] == [run.data["variants"]["pick"]]

    assert timers.fire_due(now=START + dt.timedelta(hours=23)) == 0
    with time_machine.travel(START + dt.timedelta(days=1), tick=False):
        assert timers.fire_due(now=START + dt.timedelta(days=1)) == len(waiting)
    assert set(Run.objects.filter(flow_key="welcome").values_list("status", flat=True)) == {
        RunStatus.COMPLETED
    }


def test_the_split_is_stable_per_subject(test_flow):
    customer = records.create("customer", {"name": "v", "vip": True})
    first = service.start("welcome", customer.pk, kind="campaign")
    service.cancel(first.pk)
    again = service.start("welcome", customer.pk, kind="campaign")
    assert again.data["variants"] == first.data["variants"]
