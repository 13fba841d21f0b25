"""The workflow and campaign builders as a business user works them: guards built with the
segments' condition builder, SLA rules with escalation actions, action parameters in forms
generated from each action's JSON Schema, trigger and goal forms, branches on a condition, the
palette inserting steps on any way out, the dry run marking its path on the drawn flow, and
every problem shown next to the control it concerns, in words."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.core.management import call_command

from tessera.definitions import service
from tests.builders.forms import form_data
from tests.builders.test_roundtrip import errors_in, roundtrip

DOCS = Path(__file__).resolve().parents[2] / "docs" / "examples"
WORKFLOW = "/admin/tessera/definitions/workflow/returns/edit/"
CAMPAIGN = "/admin/tessera/definitions/campaign/abandoned-cart/edit/"


def load(*paths: Path) -> None:
    with open("/dev/null", "w") as quiet:
        call_command("definitions", "load", *map(str, paths), "--publish", stdout=quiet)


@pytest.fixture
def returns(db):
    folder = DOCS / "workflows"
    load(folder / "ticket.json", folder / "cn-office.json", folder / "returns.json")


@pytest.fixture
def campaigns(db):
    folder = DOCS / "campaigns"
    load(folder / "customer.json", folder / "order.json", folder / "abandoned-cart.json")


def step(client, url: str, data: dict, **changes) -> tuple[str, dict]:
    """Post the form with ``changes`` (an ``op`` or control values); the page and its form."""
    data = {**data, **{k: v if isinstance(v, list) else [v] for k, v in changes.items()}}
    response = client.post(url, data)
    assert response.status_code in (200, 302)
    html = response.content.decode()
    return html, form_data(html) if response.status_code == 200 else {}


def save(client, url: str, data: dict) -> None:
    response = client.post(url, {**data, "op": ["save"]})
    assert response.status_code == 302, errors_in(response.content.decode())


def index_of(data: dict, prefix: str, name: str) -> int:
    """The row number the form gave the thing called ``name`` (``tr``: transitions)."""
    for key, values in data.items():
        match = re.fullmatch(rf"{prefix}-(\d+)-orig", key)
        if match and values == [name]:
            return int(match.group(1))
    raise AssertionError(f"no {prefix} row for {name}")


@pytest.mark.parametrize("name", ["abandoned-cart", "birthday-coupon", "repurchase", "win-back"])
def test_every_example_campaign_roundtrips(admin_client, db, name):
    folder = DOCS / "campaigns"
    load(folder / "customer.json", folder / "order.json", folder / "dormant.json")
    load(folder / f"{name}.json")
    published, draft = roundtrip(admin_client, "campaign", name)
    assert json.dumps(draft, sort_keys=True) == json.dumps(published, sort_keys=True)


def test_guard_is_built_with_the_condition_builder(admin_client, returns):
    page = admin_client.get(WORKFLOW + "?mode=builder").content.decode()
    data = form_data(page)
    # the existing guard ("kind in return, exchange") is rows, not JSON
    approve = index_of(data, "tr", "approve")
    assert data[f"tr-{approve}-guard_on"] == ["on"]
    assert data["cgapprove.0.field"] == ["kind"] and data["cgapprove.0.op"] == ["in"]
    assert data["cgapprove.0.value"] == ["return, exchange"]
    # reject gets a guard: tick "only when", add a row, pick priority = urgent
    reject = index_of(data, "tr", "reject")
    html, data = step(admin_client, WORKFLOW, data, **{f"tr-{reject}-guard_on": "on"})
    assert 'data-path="greject"' in html
    html, data = step(admin_client, WORKFLOW, data, op="c-add:greject:field")
    data["cgreject.0.field"] = ["priority"]
    html, data = step(admin_client, WORKFLOW, data)
    data["cgreject.0.value"] = ["urgent"]
    html, data = step(admin_client, WORKFLOW, data)
    save(admin_client, WORKFLOW, data)
    transitions = service.draft("workflow", "returns").body["transitions"]
    assert transitions["reject"]["guard"] == {
        "all": [{"field": "priority", "op": "eq", "value": "urgent"}]
    }
    assert transitions["approve"]["guard"]["value"] == ["return", "exchange"]
    # the diagram marks guarded transitions
    assert "reject [if]" in admin_client.get(WORKFLOW).content.decode()
    # unticking removes the guard
    data = form_data(admin_client.get(WORKFLOW).content.decode())
    data.pop(f"tr-{index_of(data, 'tr', 'reject')}-guard_on")
    save(admin_client, WORKFLOW, data)
    assert "guard" not in service.draft("workflow", "returns").body["transitions"]["reject"]


def test_a_bad_guard_row_is_named_next_to_the_row(admin_client, returns):
    data = form_data(admin_client.get(WORKFLOW + "?mode=builder").content.decode())
    # a field the ticket does not have (a field deleted since, say): the row says so
    data["cgapprove.0.field"] = ["colour"]
    response = admin_client.post(WORKFLOW, {**data, "op": ["save"]})
    html = response.content.decode()
    assert response.status_code == 200 and service.draft("workflow", "returns") is None
    row = html.split('data-path="gapprove.0"')[1].split("</div>\n</div>")[0]
    assert "There is no such field." in row


def test_sla_rules_with_reminder_and_escalation_actions(admin_client, returns):
    data = form_data(admin_client.get(WORKFLOW + "?mode=builder").content.decode())
    assert data["sla-count"] == ["2"]
    # the first rule's breach actions are forms from each action's schema
    assert data["sla-0-breach-0-type"] == ["set_field"]
    assert data["sla-0-breach-0-p-field"] == ["priority"]
    assert data["sla-0-breach-0-p-value"] == ['"urgent"']
    assert data["sla-0-breach-1-p-strategy"] == ["round_robin"]
    # add an SLA on "approved": within a day, round the clock, met on resolved; on breach tag it
    _html, data = step(admin_client, WORKFLOW, data, op="add-sla")
    assert data["sla-count"] == ["3"]
    data.update(
        {
            "sla-2-state": ["approved"],
            "sla-2-name": ["ship"],
            "sla-2-within": ["P1D"],
            "sla-2-business": ["no"],
            "sla-2-until": ["resolved"],
            "sla-2-flag_field": ["sla_breached"],
        }
    )
    _, data = step(admin_client, WORKFLOW, data, op="a-add:sla-2-breach-")
    data["sla-2-breach-0-type"] = ["assign"]
    _, data = step(admin_client, WORKFLOW, data)
    assert "sla-2-breach-0-p-group" in data  # the assign form replaced set_field's
    data["sla-2-breach-0-p-strategy"] = ["least_loaded"]
    data["sla-2-breach-0-p-group"] = ["warehouse"]
    save(admin_client, WORKFLOW, data)
    states = service.draft("workflow", "returns").body["states"]
    assert states["approved"]["sla"] == [
        {
            "name": "ship",
            "within": "P1D",
            "flag_field": "sla_breached",
            "business_hours": False,
            "until": ["resolved"],
            "on_breach": [
                {"type": "assign", "params": {"strategy": "least_loaded", "group": "warehouse"}}
            ],
        }
    ]
    assert states["new"]["sla"][0]["on_breach"][1]["params"]["group"] == "supervisors"


def test_a_bad_sla_and_a_bad_action_parameter_are_named_where_they_are(admin_client, returns):
    data = form_data(admin_client.get(WORKFLOW + "?mode=builder").content.decode())
    data["sla-0-breach-0-p-field"] = ["no_such_field"]
    html = admin_client.post(WORKFLOW, {**data, "op": ["save"]}).content.decode()
    param = html.split('for="sla-0-breach-0-p-field"')[1].split("</label>")[0]
    assert "There is no such field." in param
    data["sla-0-breach-0-p-field"] = ["priority"]
    data["sla-1-within"] = ["two days"]
    html = admin_client.post(WORKFLOW, {**data, "op": ["save"]}).content.decode()
    card = html.split('data-sla="new:resolve"')[1].split("</fieldset>")[0]
    assert "Write a duration such as PT4H (4 hours) or P7D (7 days)." in card
    assert service.draft("workflow", "returns") is None


def test_renaming_a_state_carries_transitions_and_slas(admin_client, returns):
    data = form_data(admin_client.get(WORKFLOW + "?mode=builder").content.decode())
    new = index_of(data, "st", "new")
    data[f"st-{new}-name"] = ["opened"]
    html, data = step(admin_client, WORKFLOW, data)
    assert data["w-initial"] == ["opened"]
    assert data[f"tr-{index_of(data, 'tr', 'approve')}-from"] == ["opened"]
    assert data["sla-0-state"] == ["opened"]
    assert sorted(data["sla-1-until"]) == ["rejected", "resolved"]
    # the ticket's status field does not list "opened": said next to that field's control
    html = admin_client.post(WORKFLOW, {**data, "op": ["save"]}).content.decode()
    control = html.split('id="w-state_field"')[1].split("</div>")[0]
    assert "state &#x27;opened&#x27; is not a value of status" in control


def test_state_actions_roundtrip_through_their_forms(admin_client, returns):
    body = service.current("workflow", "returns").body
    body["states"]["approved"]["on_enter"] = [
        {"type": "send_email", "params": {"to": "ops@example.com", "subject": "A", "body": "B"}},
        {"type": "set_field", "params": {"field": "priority", "value": "high"}},
    ]
    body["states"]["received"]["on_exit"] = [
        {"type": "set_field", "params": {"field": "sla_breached", "value": False}}
    ]
    service.save_and_publish("workflow", "returns", body)
    published, draft = roundtrip(admin_client, "workflow", "returns")
    assert draft == published == body


def test_trigger_and_goal_are_forms(admin_client, campaigns):
    service.save_and_publish(
        "segment",
        "vip",
        {"object": "customer", "condition": {"field": "level", "op": "eq", "value": "gold"}},
    )
    data = form_data(admin_client.get(CAMPAIGN + "?mode=builder").content.decode())
    assert data["k-tr-event"] == ["cart_abandoned"]
    assert json.loads(data["k-tr-where"][0]) == {"total": {"op": "gte", "value": 20}}
    # a segment trigger: the form asks for the segment
    html, data = step(admin_client, CAMPAIGN, data, **{"k-trigger_type": "segment_entered"})
    assert 'id="k-tr-segment"' in html and "k-tr-event" not in data
    data["k-tr-segment"] = ["vip"]
    # the goal: the customer reaches gold, built with the condition builder
    html, data = step(admin_client, CAMPAIGN, data, **{"k-goal_mode": "condition"})
    html, data = step(admin_client, CAMPAIGN, data, op="c-add:goal:field")
    data["cgoal.0.field"] = ["level"]
    html, data = step(admin_client, CAMPAIGN, data)
    data["cgoal.0.value"] = ["platinum"]
    save(admin_client, CAMPAIGN, data)
    body = service.draft("campaign", "abandoned-cart").body
    assert body["trigger"] == {"type": "segment_entered", "segment": "vip"}
    assert body["goal"] == {
        "condition": {"all": [{"field": "level", "op": "eq", "value": "platinum"}]},
        "within": "P7D",
    }


def test_a_date_trigger_names_its_problem_next_to_its_control(admin_client, campaigns):
    data = form_data(admin_client.get(CAMPAIGN + "?mode=builder").content.decode())
    html, data = step(admin_client, CAMPAIGN, data, **{"k-trigger_type": "date_field"})
    assert "birthday" in html.split('id="k-tr-field"')[1].split("</select>")[0]
    data.update({"k-tr-field": ["birthday"], "k-tr-offset_days": ["-3"], "k-tr-at": ["25:00"]})
    response = admin_client.post(CAMPAIGN, {**data, "op": ["save"]})
    html = response.content.decode()
    assert response.status_code == 200
    after_at = html.split('id="k-tr-at"')[1].split("</fieldset>")[0]
    assert 'role="alert"' in after_at
    data["k-tr-at"] = ["09:30"]
    save(admin_client, CAMPAIGN, data)
    assert service.draft("campaign", "abandoned-cart").body["trigger"] == {
        "type": "date_field",
        "field": "birthday",
        "offset_days": -3,
        "at": "09:30",
    }


def test_branch_on_a_condition_split_variants_and_insert_on_a_way_out(admin_client, campaigns):
    data = form_data(admin_client.get(CAMPAIGN + "?mode=builder").content.decode())
    bought = index_of(data, "n", "bought")
    _, data = step(admin_client, CAMPAIGN, data, **{f"n-{bought}-branch_mode": "condition"})
    _, data = step(admin_client, CAMPAIGN, data, op="c-add:bbought:field")
    data["cbbought.0.field"] = ["email_opt_in"]
    _, data = step(admin_client, CAMPAIGN, data)
    data["cbbought.0.value"] = ["false"]
    # a split on the "no" way, then a third variant
    _html, data = step(admin_client, CAMPAIGN, data, op="n-insert:bought.else:split")
    split = next(v[0] for k, v in data.items() if k.endswith("-id") and v[0].startswith("split_"))
    _, data = step(admin_client, CAMPAIGN, data, op=f"v-add:{split}")
    save(admin_client, CAMPAIGN, data)
    nodes = service.draft("campaign", "abandoned-cart").body["nodes"]
    assert nodes["bought"]["condition"] == {
        "all": [{"field": "email_opt_in", "op": "eq", "value": False}]
    }
    assert "event" not in nodes["bought"] and nodes["bought"]["else"] == split
    assert [v["name"] for v in nodes[split]["variants"]] == ["a", "b", "c"]
    assert {v["next"] for v in nodes[split]["variants"]} == {"remind"}


def test_action_parameters_are_a_form_from_the_schema_and_errors_sit_on_them(
    admin_client, campaigns
):
    page = admin_client.get(CAMPAIGN + "?mode=builder").content.decode()
    data = form_data(page)
    coupon = index_of(data, "n", "coupon")
    prefix = f"n-{coupon}-a0-p-"
    assert data[f"{prefix}prefix"] == ["CART-"] and data[f"{prefix}field"] == ["coupon_code"]
    # integer parameters are number inputs; the field parameter offers the object's fields
    assert re.search(rf'name="{prefix}length"[^>]*type="number"', page)
    assert re.search(rf'name="{prefix}field"[^>]*list="tb-fields"', page)
    # a prefix in lower case breaks the action's pattern: said on the prefix control
    data[f"{prefix}prefix"] = ["cart"]
    html = admin_client.post(CAMPAIGN, {**data, "op": ["save"]}).content.decode()
    control = html.split(f'for="{prefix}prefix"')[1].split("</label>")[0]
    assert 'class="error-message tb-error"' in control
    # the length as a number, then another action added to the step
    data[f"{prefix}prefix"] = ["CART-"]
    data[f"{prefix}length"] = ["8"]
    html, data = step(admin_client, CAMPAIGN, data, op=f"a-add:n-{coupon}-a")
    data[f"n-{coupon}-a1-type"] = ["set_field"]
    html, data = step(admin_client, CAMPAIGN, data)
    data[f"n-{coupon}-a1-p-field"] = ["level"]
    data[f"n-{coupon}-a1-p-value"] = ['"silver"']
    save(admin_client, CAMPAIGN, data)
    actions = service.draft("campaign", "abandoned-cart").body["nodes"]["coupon"]["actions"]
    assert actions[0]["params"]["length"] == 8
    assert actions[1] == {"type": "set_field", "params": {"field": "level", "value": "silver"}}


def test_a_wait_in_words_and_its_error_in_words(admin_client, campaigns):
    data = form_data(admin_client.get(CAMPAIGN + "?mode=builder").content.decode())
    wait = index_of(data, "n", "wait_a_day")
    data[f"n-{wait}-for"] = ["a day"]
    html = admin_client.post(CAMPAIGN, {**data, "op": ["save"]}).content.decode()
    node = html.split('tb-node-wait" data-node="wait_a_day"')[1].split("</fieldset>")[0]
    assert "Write a duration such as PT4H (4 hours) or P7D (7 days)." in node
    # until Tuesday 10:00, in the customer's time zone
    html, data = step(admin_client, CAMPAIGN, data, **{f"n-{wait}-wait_mode": "until"})
    data[f"n-{wait}-weekday"] = ["tue"]
    data[f"n-{wait}-time"] = ["10:00"]
    save(admin_client, CAMPAIGN, data)
    node = service.draft("campaign", "abandoned-cart").body["nodes"]["wait_a_day"]
    assert node == {
        "type": "wait",
        "until": {"weekday": "tue", "time": "10:00"},
        "next": "bought_since",
    }


def test_dry_run_marks_the_path_on_the_drawn_flow(admin_client, campaigns):
    from tessera.records import service as records

    ana = records.create("customer", {"name": "Ana", "email": "ana@example.com"})
    records.create(
        "order", {"customer": ana.pk, "total": 50, "placed_at": "2026-11-01T10:00:00+08:00"}
    )
    data = form_data(admin_client.get(CAMPAIGN + "?mode=builder").content.decode())
    html, _ = step(admin_client, CAMPAIGN, data, op="dryrun", **{"dry-record": str(ana.pk)})
    svg = html.split('<svg class="tb-diagram"')[1].split("</svg>")[0]
    walked = re.findall(r'<g class="node [^"]*walked[^"]*" data-node="([^"]+)"', svg)
    path = html.split('class="tb-path-steps"')[1].split("</ol>")[0]
    steps = re.findall(r'data-node="([^"]+)"', path)
    assert set(walked) == {"__start__" if s == "trigger" else s for s in steps}
    assert "remind" not in walked or "bought" in walked
    assert svg.count('class="edge walked"') == len(steps) - 1
    # a record id that is not a customer is refused in words
    html, _ = step(admin_client, CAMPAIGN, data, op="dryrun", **{"dry-record": "999999"})
    assert "No such customer, or not one you may see." in html
