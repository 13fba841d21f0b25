"""The crm plugin's actions refuse bad parameters at their JSON paths, at publish time, and a
workflow or campaign using them wrongly is not published; matching folds case and width."""

from __future__ import annotations

import copy
import json

import pytest

from plugins.crm.faq import fold, match
from templates_lib import service
from templates_lib.library import BUILTIN_DIR
from tessera.actions import service as actions
from tessera.definitions import service as definitions
from tessera.definitions.errors import ValidationFailed
from tessera.records import service as records

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(db):
    service.install(BUILTIN_DIR / "after_sales", sample=False)  # with ecommerce-core, no sample


def problems(action, object_key):
    return {(e.path, e.code) for e in actions.check(action, object_key=object_key, path="$.a")}


def test_faq_answer_names_each_bad_parameter(desk):
    bad = {
        "type": "faq_answer",
        "params": {
            "faq_object": "faq",
            "text_fields": ["subject", "mood"],
            "link_field": "customer",
            "reply_field": "priority",
        },
    }
    found = problems(bad, "ticket")
    assert ("$.a.params.text_fields[1]", "unknown_field") in found
    assert ("$.a.params.reply_field", "field_type") in found  # an enum cannot hold an answer
    assert ("$.a.params.link_field", "relation") in found  # customer is no link to faq
    missing = {"type": "faq_answer", "params": {"faq_object": "faq", "text_fields": []}}
    found = problems(missing, "ticket")
    assert ("$.a.params.link_field", "required") in found
    assert ("$.a.params.text_fields", "minItems") in found


def test_reply_transition_and_recommend_products_check_what_they_name(desk):
    reply = {
        "type": "reply_transition",
        "params": {
            "workflow": "after-sales-service",
            "words": ["solved"],
            "when_matching": "close_it",
            "otherwise": "accept",
        },
    }
    assert problems(reply, "ticket") == {("$.a.params.when_matching", "unknown_transition")}
    assert ("$.a.params.workflow", "wrong_object") in problems(reply, "customer")
    nowhere = {**reply, "params": {**reply["params"], "workflow": "nope"}}
    assert problems(nowhere, "ticket") == {("$.a.params.workflow", "unknown_workflow")}
    recommend = {
        "type": "recommend_products",
        "params": {
            "item_object": "order",
            "customer_link": "customer",
            "product_field": "total",
            "count": 50,
        },
    }
    found = problems(recommend, "customer")
    assert ("$.a.params.count", "maximum") in found
    fixed = copy.deepcopy(recommend)
    fixed["params"]["count"] = 3
    found = problems(fixed, "customer")
    assert ("$.a.params.product_field", "field_type") in found  # a money is not a name
    assert ("$.a.params.category_field", "unknown_field") in found  # order has no category


def test_a_workflow_using_them_wrongly_is_not_published(desk):
    path = BUILTIN_DIR / "after_sales/definitions/workflow/after-sales-service.json"
    body = json.loads(path.read_text(encoding="utf-8"))
    body["states"]["new"]["on_enter"][0]["params"]["text_fields"] = ["subject", "body"]
    with pytest.raises(ValidationFailed) as refused:
        definitions.save_and_publish("workflow", "after-sales-service", body)
    assert refused.value.errors[0].path == "$.states.new.on_enter[0].params.text_fields[1]"


def test_faq_matching_folds_case_and_width_and_prefers_more_keywords(desk):
    refund = records.create(
        "faq",
        {
            "question": "Refund?",
            "keywords": ["refund", "退款"],
            "answer": "Three working days.",
            "active": True,
        },
    )
    both = records.create(
        "faq",
        {
            "question": "Refund of a return?",
            "keywords": ["refund", "return"],
            "answer": "…",
            "active": True,
        },
    )
    records.create(
        "faq", {"question": "Old", "keywords": ["ＲＥＦＵＮＤ"], "answer": "x", "active": False}
    )
    assert match(fold("When is my ＲＥＦＵＮＤ due?"), "faq", "keywords", "active", 1)[0] == refund
    assert match(fold("Refund for the RETURN I sent"), "faq", "keywords", "active", 1)[0] == both
    assert match(fold("退款多久到账"), "faq", "keywords", "active", 1)[0] == refund
    assert match(fold("hello"), "faq", "keywords", "active", 1) is None
