"""A return/exchange ticket, its service workflow, a business calendar, and the people."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "workflows"


def example(name: str) -> dict[str, Any]:
    """A body from docs/examples/workflows: the documented example is what the tests run."""
    return json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))["body"]


TICKET = example("ticket")
CALENDAR = example("cn-office")
RETURNS = example("returns")


@pytest.fixture
def returns_body() -> dict[str, Any]:
    return copy.deepcopy(RETURNS)


@pytest.fixture
def people(db, django_user_model):
    """Two support agents, a supervisor and a finance clerk, in their groups."""
    from django.contrib.auth.models import Group

    made = {}
    for name, group in [
        ("li", "support"),
        ("wang", "support"),
        ("zhao", "supervisors"),
        ("qian", "finance"),
    ]:
        user = django_user_model.objects.create_user(name, f"{name}@example.com", "pw-1234567")
        user.groups.add(Group.objects.get_or_create(name=group)[0])
        made[name] = user
    return made


@pytest.fixture
def returns_workflow(db, people, publish_object, returns_body):
    """The ticket object, the calendar and the published returns workflow."""
    from tessera.definitions import service

    publish_object("ticket", TICKET)
    service.save_and_publish("calendar", "cn-office", copy.deepcopy(CALENDAR))
    return service.save_and_publish("workflow", "returns", returns_body)


@pytest.fixture
def new_ticket(returns_workflow):
    from tessera.records import service

    def make(**data: Any):
        return service.create("ticket", {"title": "Broken kettle", "kind": "return", **data})

    return make
