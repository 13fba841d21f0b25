"""Publishing a campaign: bad bodies are refused with every problem at its JSON path."""

from __future__ import annotations

import copy

import pytest

from tessera.definitions import service as definitions
from tessera.definitions.errors import ValidationFailed
from tessera.flows.graph import load

from .conftest import body, one_send

pytestmark = pytest.mark.django_db


def refused(campaign) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        definitions.save_draft("campaign", "bad", campaign)
    return {e.path: e.code for e in caught.value.errors}


def test_the_examples_compile_to_flows_of_registered_node_types(shop):
    from tessera.plugins import node_types

    for name in ("abandoned-cart", "birthday-coupon", "win-back", "repurchase"):
        definitions.save_and_publish("campaign", name, body(name))
        flow = load("campaign", name)
        assert all(node.type in node_types for node in flow.nodes.values())
    cart = load("campaign", "abandoned-cart")
    assert cart.nodes["wait_an_hour"].type == "wait"  # the built-in, reused
    assert cart.nodes["bought"].type == "campaign_branch"
    assert cart.nodes["done"].type == "end"
    win = load("campaign", "win-back")
    assert win.nodes["pick"].next == {
        "coupon": "give_coupon",
        "story": "story_mail",
        "control": "$holdout",
    }


def test_meta_schema_errors_name_the_path(shop):
    campaign = one_send()
    campaign["nodes"]["mail"]["type"] = "sned"
    campaign["nodes"]["wait"] = {"type": "wait", "next": "done"}
    campaign["nodes"]["Bad-Name"] = {"type": "end"}
    campaign["reentry"] = "sometimes"
    codes = refused(campaign)
    assert codes["$.nodes.mail.type"] == "enum"
    assert codes["$.nodes.wait"] == "oneOf"
    assert codes["$.nodes['Bad-Name']"] == "property_name"
    assert codes["$.reentry"] == "enum"


def test_semantic_errors_name_the_path(shop):
    campaign = one_send()
    campaign["trigger"] = {
        "type": "event",
        "event": "promo",
        "where": {"total": {"op": "gte", "value": "x"}},
    }
    campaign["consent"] = {"email": "name", "fax": "email_opt_in"}
    campaign["time_zone"] = {"field": "nope", "default": "Mars/Olympus"}
    campaign["goal"] = {"condition": {"field": "nope", "op": "eq", "value": 1}}
    mail = campaign["nodes"]["mail"]
    mail["channel"] = "pigeon"
    campaign["nodes"]["later"] = {"type": "wait", "for": "P1X", "next": "nowhere"}
    campaign["nodes"]["act"] = {
        "type": "action",
        "actions": [{"type": "set_field", "params": {"field": "points", "value": 1}}],
        "next": "done",
    }
    codes = refused(campaign)
    assert codes == {
        "$.trigger.where.total.op": "wrong_type",
        "$.consent.email": "field_type",
        "$.consent.fax": "unknown_channel",
        "$.time_zone.field": "unknown_field",
        "$.time_zone.default": "unknown_zone",
        "$.goal.condition.field": "unknown_field",
        "$.nodes.mail.channel": "unknown_channel",
        "$.nodes.later.next": "unknown_node",
        "$.nodes.later.for": "duration",
        "$.nodes.act.actions[0].params.field": "unknown_field",
    }


def test_message_templates_fields_and_engagement_are_checked(shop):
    campaign = one_send()
    campaign["nodes"]["mail"]["message"] = {"subject": "{% if %}", "body": "x", "extra": 1}
    codes = refused(campaign)
    assert codes == {"$.nodes.mail.message": "additionalProperties"}
    campaign["nodes"]["mail"]["message"] = {"subject": "{% if %}", "body": "{{ record.name|x }}"}
    campaign["nodes"]["mail"]["to"] = "phone"
    campaign["nodes"]["mail"]["next"] = "seen"
    campaign["nodes"]["seen"] = {
        "type": "branch",
        "engagement": {"message": "done", "is": "opened"},
        "then": "done",
        "else": "done",
    }
    codes = refused(campaign)
    assert codes == {
        "$.nodes.mail.message.subject": "template",
        "$.nodes.mail.message.body": "template",
        "$.nodes.mail.to": "field_type",
        "$.nodes.seen.engagement.message": "not_a_send",
    }


def test_graph_errors_unreachable_no_end_and_loops_without_a_wait(shop):
    campaign = one_send()
    campaign["nodes"]["island"] = {"type": "end"}
    campaign["nodes"]["mail"]["next"] = "check"
    campaign["nodes"]["check"] = {
        "type": "branch",
        "condition": {"field": "vip", "op": "eq", "value": True},
        "then": "mail",
        "else": "spin",
    }
    campaign["nodes"]["spin"] = {"type": "wait", "for": "P1D", "next": "spin"}
    codes = refused(campaign)
    assert codes.get("$.nodes.check.condition.field") == "unknown_field"
    campaign["nodes"]["check"]["condition"] = {"field": "email_opt_in", "op": "eq", "value": True}
    with pytest.raises(ValidationFailed) as caught:
        definitions.save_draft("campaign", "bad", campaign)
    assert {(e.path, e.code) for e in caught.value.errors} == {
        ("$.nodes.island", "unreachable"),
        ("$.nodes.done", "unreachable"),
        ("$.nodes.mail", "no_end"),
        ("$.nodes.check", "no_end"),
        ("$.nodes.spin", "no_end"),
        ("$.nodes.check", "loop_without_wait"),  # mail → check → mail never waits
    }


def test_trigger_settings_and_control_groups(shop):
    campaign = one_send()
    campaign["trigger"] = {"type": "birthday"}
    assert refused(campaign) == {"$.trigger.type": "unknown_trigger"}
    campaign["trigger"] = {"type": "date_field", "field": "name", "offset_days": 400, "at": "9am"}
    assert refused(campaign) == {
        "$.trigger.field": "field_type",
        "$.trigger.offset_days": "invalid",
        "$.trigger.at": "invalid",
    }
    campaign["trigger"] = {"type": "segment_entered", "segment": "vip"}
    assert refused(campaign) == {"$.trigger.segment": "unknown_segment"}
    campaign["trigger"] = {"type": "broadcast", "segment": "dormant", "every": "PT5M", "at": "soon"}
    assert refused(campaign) == {"$.trigger.every": "too_often", "$.trigger.at": "invalid"}
    split = copy.deepcopy(one_send())
    split["start"] = "pick"
    split["nodes"]["pick"] = {
        "type": "split",
        "variants": [
            {"name": "a", "weight": 1, "next": "mail"},
            {"name": "control", "weight": 1, "next": "done"},
        ],
        "control": {"weight": 1},
    }
    split["reentry"] = "once_per_period"
    assert refused(split) == {
        "$.nodes.pick.variants[1].name": "duplicate",
        "$.nodes.pick.control": "no_goal_window",
        "$.reentry_period": "required",
    }
