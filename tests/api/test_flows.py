"""Flow runs through GraphQL: start, transitions with fields, refusals by path, locking."""

from __future__ import annotations

import copy

import pytest

from tests.api.conftest import grant, make_token
from tests.flows.conftest import RETURNS, new_ticket, people, returns_workflow  # noqa: F401


@pytest.fixture
def returns_body():
    """The documented returns workflow, started by hand rather than on create."""
    body = copy.deepcopy(RETURNS)
    body["start"] = "manual"
    return body


START = """mutation($w: String!, $r: ID!) { startWorkflow(workflow: $w, recordId: $r) {
    run { id node status version flowKey transitions { name allowed requiredFields } }
    errors { path code } } }"""
MOVE = """mutation($run: ID!, $name: String!, $v: Int!, $fields: JSON, $comment: String) {
    transitionRun(run: $run, name: $name, version: $v, fields: $fields, comment: $comment) {
      run { id node version } errors { path code } } }"""


def test_start_and_move_a_run(new_ticket, people, gql):  # noqa: F811
    grant("support", "ticket", can_update=True, read_fields=["*"], write_fields=["*"])
    li = make_token(people["li"])
    ticket = new_ticket()
    started = gql(START, {"w": "returns", "r": ticket.pk}, token=li)["data"]["startWorkflow"]
    assert started["errors"] == []
    run = started["run"]
    assert run["node"] == "new" and run["status"] == "active" and run["flowKey"] == "returns"
    approve = next(t for t in run["transitions"] if t["name"] == "approve")
    assert approve == {"name": "approve", "allowed": True, "requiredFields": ["reason"]}

    again = gql(START, {"w": "returns", "r": ticket.pk}, token=li)["data"]["startWorkflow"]
    assert again["errors"] == [{"path": "$.record", "code": "already_running"}]

    missing = gql(MOVE, {"run": run["id"], "name": "approve", "v": run["version"]}, token=li)
    assert missing["data"]["transitionRun"]["errors"] == [
        {"path": "$.fields.reason", "code": "required"}
    ]
    unknown = gql(MOVE, {"run": run["id"], "name": "fly", "v": run["version"]}, token=li)
    assert unknown["data"]["transitionRun"]["errors"] == [
        {"path": "$.transition", "code": "unknown"}
    ]
    moved = gql(
        MOVE,
        {"run": run["id"], "name": "approve", "v": run["version"], "fields": {"reason": "dented"}},
        token=li,
    )["data"]["transitionRun"]
    assert moved["errors"] == [] and moved["run"]["node"] == "approved"
    read = gql(
        "query($id: ID!) { run(id: $id) { node version recordId transitions { name } } }",
        {"id": run["id"]},
        token=li,
    )["data"]["run"]
    assert read["node"] == "approved" and read["recordId"] == str(ticket.pk)
    assert [t["name"] for t in read["transitions"]] == ["receive"]
    stale = gql(
        MOVE,
        {"run": run["id"], "name": "receive", "v": run["version"], "fields": {}},
        token=li,
    )
    assert stale["data"]["transitionRun"]["errors"][0] == {"path": "$.version", "code": "conflict"}

    timeline = gql(
        "query($id: ID!) { ticket(id: $id) { timeline { kind type } } }",
        {"id": ticket.pk},
        token=li,
    )["data"]["ticket"]["timeline"]
    assert {"kind": "run", "type": "workflow:returns"} in timeline


def test_people_without_the_update_right_cannot_start_or_move(new_ticket, people, gql):  # noqa: F811
    grant("finance", "ticket", read_fields=["*"])
    qian = make_token(people["qian"])
    ticket = new_ticket()
    out = gql(START, {"w": "returns", "r": ticket.pk}, token=qian)["data"]["startWorkflow"]
    assert out["errors"] == [{"path": "$.record", "code": "not_found"}]
    unknown = gql(START, {"w": "nope", "r": ticket.pk}, token=make_token(people["li"]))
    assert unknown["data"]["startWorkflow"]["errors"][0]["path"] == "$.record"
