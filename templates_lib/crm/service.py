"""The ``ecommerce-service`` generator: a service desk's history for the sample shop's orders.

It reads back the orders ecommerce-core's sample data holds (so it follows whatever size
that shop was made at) and, for a seeded share of the shipped or finished ones, writes a
finished ticket: consultation, complaint, return, exchange or repair, in the customer's
language, with response and resolution times in the ticket's fields (``sla_breached`` when
the first answer took over two hours or the resolution over two days) and, for most, a
satisfaction score. FAQ-matching consultations point at the FAQ entry that answered them.
Tickets that are still open are made by ``tessera_setup_demo`` through the records service,
so they have live workflow runs and SLA clocks.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from typing import Any

from .shop import iso

AGENTS = ["agent.li", "agent.chen", "agent.wang", "agent.zhou"]
SUPERVISORS = ["lead.zhang"]
TYPES = [("consultation", 35), ("complaint", 20), ("return", 25), ("exchange", 12), ("repair", 8)]
CHANNELS = {
    "tmall": ["tmall"],
    "jd": ["jd"],
    "web": ["web", "email", "chat"],
    "app": ["app", "chat"],
    "mini_program": ["mini_program", "wechat"],
    "wechat": ["wechat"],
    "douyin": ["chat"],
    "store": ["store", "phone"],
}
# (FAQ ref, English text, Chinese text): consultations the FAQ answers
FAQ_QUESTIONS = [
    ("faq-1", "When will my order ship?", "我的订单什么时候发货？"),
    ("faq-3", "When do I get my refund?", "退款什么时候到账？"),
    ("faq-4", "Can I get an invoice for this order?", "这个订单可以开发票吗？"),
    (
        "faq-9",
        "How many points do I have and what is my member level?",
        "我的积分和会员等级怎么算？",
    ),
    ("faq-6", "My coupon does not work at checkout", "优惠券结算时用不了"),
]
TEXTS = {
    "consultation": [
        (
            "Question about my order",
            "Is this product suitable for sensitive skin?",
            "订单咨询",
            "这款产品适合敏感肌吗？",
        )
    ],
    "complaint": [
        (
            "Parcel arrived damaged",
            "The box was crushed and one item is broken.",
            "包裹破损",
            "外箱被压坏，里面有一件商品碎了。",
        ),
        (
            "Courier was rude",
            "The courier refused to bring the parcel upstairs.",
            "快递员态度差",
            "快递员拒绝送货上楼。",
        ),
    ],
    "return": [
        (
            "I want to return this",
            "It does not fit, I would like my money back.",
            "申请退货",
            "尺码不合适，想退货退款。",
        )
    ],
    "exchange": [
        ("Wrong size, please exchange", "I need one size larger.", "换货", "尺码小了，想换大一码。")
    ],
    "repair": [
        (
            "Item stopped working",
            "It does not charge any more after two weeks.",
            "商品故障",
            "用了两周就充不进电了。",
        )
    ],
}
FINISHED = ("shipped", "delivered", "completed", "returned")


def _pick(rng: random.Random, items: list[tuple[str, int]]) -> str:
    return rng.choices([i[0] for i in items], weights=[i[1] for i in items])[0]


class ServiceGenerator:
    """Finished tickets for ``share_of_orders`` of the sample orders of ``pack``."""

    type = "ecommerce-service"

    def count(self, options: dict[str, Any]) -> int | None:
        return sum(1 for _ in self._tickets(options))

    def rows(self, options: dict[str, Any]) -> Iterator[dict[str, Any]]:
        for ticket in self._tickets(options):
            yield {"object": "ticket", "data": ticket}

    def _tickets(self, options: dict[str, Any]) -> Iterator[dict[str, Any]]:
        from templates_lib.models import InstalledRecord
        from tessera.records.models import Record

        options.setdefault("today", iso(dt.datetime.now(dt.UTC)))  # count and rows agree
        now = dt.datetime.fromisoformat(options["today"])
        share = float(options.get("share_of_orders", 0.08))
        seed = int(options.get("seed", 618))
        refs = (
            InstalledRecord.objects.filter(
                pack__key=options.get("pack", "ecommerce-core"), object_key="order"
            )
            .order_by("record_id")
            .values_list("ref", "record_id")
        )
        chosen = [
            (ref, rid)
            for ref, rid in refs.iterator(chunk_size=5000)
            if random.Random(f"{seed}:t:{ref}").random() < share
        ]
        for start in range(0, len(chosen), 1000):
            part = chosen[start : start + 1000]
            orders = dict(
                Record.objects.filter(pk__in=[rid for _, rid in part]).values_list("pk", "data")
            )
            people = dict(
                Record.objects.filter(
                    pk__in={d.get("customer") for d in orders.values()}
                ).values_list("pk", "data")
            )
            for ref, rid in part:
                order = orders.get(rid)
                if order is None or order.get("status") not in FINISHED:
                    continue
                ticket = _ticket(
                    random.Random(f"{seed}:t:{ref}:x"),
                    rid,
                    order,
                    order.get("customer"),
                    people.get(order.get("customer"), {}),
                    now,
                )
                if ticket is not None:
                    yield ticket


def _ticket(rng, order_id, order, customer_id, person, now) -> dict[str, Any] | None:
    base = order.get("delivered_at") or order.get("shipped_at") or order["placed_at"]
    opened = dt.datetime.fromisoformat(base.replace("Z", "+00:00")) + dt.timedelta(
        days=rng.uniform(0.1, 8)
    )
    if opened > now - dt.timedelta(days=2):
        return None  # only finished history here
    kind = "return" if order.get("status") == "returned" else _pick(rng, TYPES)
    zh = person.get("language", "zh") == "zh"
    faq = None
    if kind == "consultation" and rng.random() < 0.45:
        faq, en_text, zh_text = rng.choice(FAQ_QUESTIONS)
        subject, description = (zh_text, zh_text) if zh else (en_text, en_text)
    else:
        en_s, en_d, zh_s, zh_d = rng.choice(TEXTS[kind])
        subject, description = (zh_s, zh_d) if zh else (en_s, en_d)
    channels = CHANNELS.get(order.get("channel", "web"), ["web"])
    respond = dt.timedelta(minutes=rng.lognormvariate(3.6, 0.9))  # median ~37 minutes
    resolve = dt.timedelta(hours=rng.lognormvariate(2.8, 1.0))  # median ~16 hours
    if faq:
        respond, resolve = dt.timedelta(minutes=1), dt.timedelta(hours=rng.uniform(1, 30))
    breached = respond > dt.timedelta(hours=2) or resolve > dt.timedelta(days=2)
    resolved = opened + max(resolve, respond)
    if resolved > now:
        return None
    ticket: dict[str, Any] = {
        "ticket_no": f"T{order_id:09d}",
        "subject": subject,
        "description": description,
        "type": kind,
        "priority": "urgent"
        if breached and kind == "complaint"
        else "high"
        if kind == "complaint"
        else "normal",
        "channel": rng.choice(channels),
        "customer": customer_id,
        "order": order_id,
        "status": "closed" if resolved + dt.timedelta(days=7) <= now else "resolved",
        "assignee": rng.choice(SUPERVISORS if breached else AGENTS),
        "sla_breached": breached,
        "escalated": breached and respond > dt.timedelta(hours=2),
        "opened_at": iso(opened),
        "first_response_at": iso(opened + respond),
        "resolved_at": iso(resolved),
        "resolution": "Answered from the FAQ"
        if faq
        else "Refunded"
        if kind == "return"
        else "Handled",
    }
    if person.get("email"):
        ticket["email"] = person["email"]
    if ticket["status"] == "closed":
        ticket["closed_at"] = iso(resolved + dt.timedelta(days=7))
    if faq:
        ticket["faq"] = {"ref": faq}
    if kind == "return":
        ticket["refund_amount"] = order.get("total", 0)
        ticket["return_tracking_no"] = f"SF{rng.randrange(10**11, 10**12)}"
    if rng.random() < 0.65:
        ticket["satisfaction"] = rng.choice([1, 2, 3, 3, 4] if breached else [3, 4, 4, 5, 5, 5])
    return ticket
