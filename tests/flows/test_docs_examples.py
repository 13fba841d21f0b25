"""docs/workflows.md: its example files load through the CLI and a ticket runs through them."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from tessera.flows import service as flows
from tessera.flows.models import Run
from tessera.records import service as records

from .conftest import EXAMPLES

pytestmark = pytest.mark.django_db


def test_the_page_commands_load_and_run_a_ticket(people):
    out = io.StringIO()
    files = [str(EXAMPLES / f"{name}.json") for name in ("ticket", "cn-office", "returns")]
    call_command("definitions", "load", *files, "--publish", stdout=out, stderr=io.StringIO())
    assert "published workflow returns v1" in out.getvalue()

    agent = people["li"]
    ticket = records.create("ticket", {"title": "Broken kettle", "kind": "return"})
    run = Run.objects.get(subject=ticket, flow_key="returns")
    assert {t["name"] for t in flows.available(run, agent) if t["allowed"]} == {"approve", "reject"}
    run = flows.transition(
        run.pk,
        "approve",
        actor=agent,
        version=run.version,
        fields={"reason": "arrived broken"},
        comment="photos attached",
    )
    assert [(s.from_node, s.to_node) for s in flows.history(run) if s.kind == "transition"] == [
        ("new", "approved")
    ]
