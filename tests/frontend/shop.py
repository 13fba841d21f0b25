"""A small shop for the UI tests: customers, orders, tickets with a service workflow and an
SLA, a segment, two operators with different rights, and screens over all of it."""

from __future__ import annotations

import copy
from typing import Any

from django.contrib.auth.models import Group

from tests.conftest import CUSTOMER, ORDER

UI_CUSTOMER: dict[str, Any] = copy.deepcopy(CUSTOMER)
UI_CUSTOMER["properties"]["city"]["x-label"] = {"en": "City", "zh": "城市"}
UI_CUSTOMER["properties"]["email"]["x-label"] = {"en": "E-mail", "zh": "邮箱"}
UI_CUSTOMER["properties"]["total_spent"]["x-label"] = {"en": "Total spent", "zh": "消费总额"}
UI_CUSTOMER["properties"]["level"]["x-enum-labels"] = {
    "gold": {"en": "Gold", "zh": "金卡"},
    "silver": {"en": "Silver", "zh": "银卡"},
}

UI_ORDER: dict[str, Any] = copy.deepcopy(ORDER)
UI_ORDER["x-time-field"] = "placed_at"
UI_ORDER["properties"]["customer"]["x-relation"]["related_name"] = "orders"

TICKET: dict[str, Any] = {
    "x-label": {"en": "Ticket", "zh": "工单"},
    "x-title-field": "title",
    "required": ["title"],
    "properties": {
        "title": {"x-type": "string", "x-label": {"en": "Title", "zh": "标题"}},
        "status": {"x-type": "enum", "enum": ["new", "working", "done"], "x-index": True},
        "priority": {"x-type": "enum", "enum": ["low", "high"]},
    },
}

SERVICE: dict[str, Any] = {
    "object": "ticket",
    "x-label": {"en": "Service", "zh": "服务"},
    "initial": "new",
    "state_field": "status",
    "start": "on_create",
    "states": {
        "new": {
            "x-label": {"en": "New", "zh": "新建"},
            "sla": [{"name": "respond", "within": "PT4H", "business_hours": False}],
        },
        "working": {"x-label": {"en": "Working", "zh": "处理中"}},
        "done": {"x-label": {"en": "Done", "zh": "完成"}, "final": True},
    },
    "transitions": {
        "start": {"from": ["new"], "to": "working", "x-label": {"en": "Start", "zh": "开始"}},
        "finish": {"from": ["working"], "to": "done", "x-label": {"en": "Finish", "zh": "完成"}},
        "close": {"from": ["new"], "to": "done", "comment": "required"},
    },
}

HANGZHOU: dict[str, Any] = {
    "object": "customer",
    "x-label": {"en": "Hangzhou customers", "zh": "杭州客户"},
    "condition": {"field": "city", "op": "eq", "value": "Hangzhou"},
}

CUSTOMERS_SCREEN: dict[str, Any] = {
    "x-label": {"en": "Customers", "zh": "客户"},
    "order": 1,
    "blocks": [
        {
            "type": "kpi",
            "object": "customer",
            "label": {"en": "Customers", "zh": "客户数"},
            "measure": {"aggregate": "count"},
        },
        {
            "type": "table",
            "object": "customer",
            "columns": ["name", "email", "city", "level", "total_spent"],
            "page_size": 2,
        },
        {
            "type": "form",
            "object": "customer",
            "fields": ["name", "email", "city", "level", "total_spent"],
        },
        {
            "type": "chart",
            "chart": "bar",
            "object": "customer",
            "group_by": "city",
            "measure": {"aggregate": "count"},
            "label": {"en": "By city", "zh": "按城市"},
        },
        {"type": "record", "object": "customer"},
    ],
}

TICKETS_SCREEN: dict[str, Any] = {
    "x-label": {"en": "Tickets", "zh": "工单"},
    "order": 2,
    "blocks": [{"type": "kanban", "workflow": "service", "card_fields": ["priority"]}],
}

MANAGERS_SCREEN: dict[str, Any] = {
    "x-label": {"en": "Managers only", "zh": "经理专用"},
    "roles": ["managers"],
    "blocks": [{"type": "table", "object": "customer", "segment": "hangzhou"}],
}

PEOPLE = [
    ("Ana", "ana@example.com", "Hangzhou", "gold", 900),
    ("Bo", "bo@example.com", "Shanghai", "silver", 50),
    ("Cy", "cy@example.com", "Hangzhou", "silver", 5),
]


def build_shop(django_user_model) -> dict[str, Any]:
    """Publish the definitions, create records and people; return what tests refer to."""
    from tessera.api.models import ObjectPermission
    from tessera.definitions import service
    from tessera.records import service as records

    service.save_and_publish("object", "customer", copy.deepcopy(UI_CUSTOMER))
    service.save_and_publish("object", "order", copy.deepcopy(UI_ORDER))
    service.save_and_publish("object", "ticket", copy.deepcopy(TICKET))
    service.save_and_publish("workflow", "service", copy.deepcopy(SERVICE))
    service.save_and_publish("segment", "hangzhou", copy.deepcopy(HANGZHOU))
    for key, body in (
        ("customers", CUSTOMERS_SCREEN),
        ("tickets", TICKETS_SCREEN),
        ("managers", MANAGERS_SCREEN),
    ):
        service.save_and_publish("screen", key, copy.deepcopy(body))
    customers = {}
    for name, email, city, level, spent in PEOPLE:
        customers[name] = records.create(
            "customer",
            {"name": name, "email": email, "city": city, "level": level, "total_spent": spent},
        )
    records.create("order", {"customer": customers["Ana"].pk, "total": 120, "status": "paid"})
    ticket = records.create("ticket", {"title": "Broken kettle", "priority": "high"})

    support = Group.objects.create(name="support")
    ObjectPermission.objects.create(
        group=support,
        object_key="customer",
        can_create=True,
        can_update=True,
        read_fields=["name", "email", "city", "level"],
        write_fields=["name", "email", "city", "level"],
    )
    ObjectPermission.objects.create(
        group=support, object_key="ticket", can_update=True, read_fields=["*"], write_fields=["*"]
    )
    ObjectPermission.objects.create(group=support, object_key="order", read_fields=["*"])
    operator = django_user_model.objects.create_user("olivia", "olivia@example.com", "pw-olivia-1")
    operator.groups.add(support)
    outsider = django_user_model.objects.create_user("otto", "otto@example.com", "pw-otto-123")
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123")
    return {
        "customers": customers,
        "ticket": ticket,
        "operator": operator,
        "outsider": outsider,
        "admin": admin,
        "support": support,
    }
