"""Lifecycle campaigns on the sample shop, with a frozen clock and a real SMTP server.

Win-back: the customers the test finds turning dormant 30 days from now each enter once;
one of them gets exactly one e-mail, whose Tessera-Delivery header is its outbox key, and
no second one when they turn dormant again within the 180-day cap. Repurchase: the products
recommended are those the test computes from the order lines.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from zoneinfo import ZoneInfo

import pytest

from tessera.actions.models import OutboxEntry
from tessera.flows.campaigns.models import Entry, Message, MessageStatus
from tessera.records import service as records
from tessera.records.models import Record
from tessera.segments import lifecycle

from .conftest import BOUGHT, Clock, deliver_all, when

pytestmark = pytest.mark.django_db


def stage_at(placed: list[dt.datetime], now: dt.datetime) -> str:
    if not placed:
        return "prospect"
    if min(placed) >= now - dt.timedelta(days=30):
        return "new"
    if max(placed) >= now - dt.timedelta(days=90):
        return "active"
    if max(placed) >= now - dt.timedelta(days=365):
        return "dormant"
    return "churned"


def paid_times(shop) -> dict[int, list[dt.datetime]]:
    out: dict[int, list[dt.datetime]] = defaultdict(list)
    for order in shop.records("order"):
        if order.data["status"] in BOUGHT:
            out[order.data["customer"]].append(when(order.data["placed_at"]))
    return out


def mails_to(server, address: str):
    return [m for m in server.received if m.recipients == [address]]


def test_dormant_customers_get_the_win_back_email_exactly_once(shop, smtp_settings, committed):
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).astimezone(ZoneInfo("Asia/Shanghai"))
    moment = later.replace(hour=10, minute=0, second=0, microsecond=0).astimezone(dt.UTC)
    times = paid_times(shop)
    customers = {c.pk: c.data for c in shop.records("customer")}
    turning = {
        rid
        for rid, data in customers.items()
        if data["lifecycle_stage"] != "dormant" and stage_at(times[rid], moment) == "dormant"
    }
    assert len(turning) >= 5  # the sample shop has customers going quiet
    with Clock(moment) as clock:
        with committed():
            lifecycle.assign("customer")
        clock.tick()
        entries = Entry.objects.filter(campaign_key="win-back")
        assert set(entries.values_list("subject_id", flat=True)) == turning
        assert Counter(entries.values_list("subject_id", flat=True)).most_common(1)[0][1] == 1
        sent = Message.objects.filter(campaign_key="win-back", status=MessageStatus.SENT)
        for message in sent:  # only consenting customers in a variant, never the control group
            assert customers[message.subject_id]["email_opt_in"] is True
            assert message.variant in ("coupon", "story")
        control = entries.filter(variant="control")
        assert not Message.objects.filter(
            campaign_key="win-back", subject_id__in=control.values_list("subject_id", flat=True)
        ).exists()
        # one customer, followed closely: a Shanghai customer who agreed to e-mail
        message = next(m for m in sent if customers[m.subject_id]["time_zone"] == "Asia/Shanghai")
        address = customers[message.subject_id]["email"]
        [mail] = mails_to(smtp_settings, address)
        entry = OutboxEntry.objects.get(key=message.key)
        assert mail.key == entry.key == message.key  # the outbox key per send
        assert mail.message["Message-ID"].endswith(".tessera@example.com>")
        name = customers[message.subject_id]["name"]
        assert name in mail.message["Subject"]
        keys = list(
            OutboxEntry.objects.filter(key__startswith="run:").values_list("key", flat=True)
        )
        assert len(keys) == len(set(keys))
        # the same step delivered again, a day of ticks, and a second turn dormant: no repeat
        from tessera.actions import outbox

        outbox.deliver(entry.pk)
        clock.advance(days=1)
        with committed():
            lifecycle.assign("customer")
        clock.tick()
        subject = Record.objects.get(pk=message.subject_id)
        with committed():
            order = records.create(
                "order",
                {
                    "order_no": "SO-WINBACK-1",
                    "customer": subject.pk,
                    "status": "paid",
                    "total": 199,
                    "placed_at": clock.now.isoformat(),
                },
            )
            lifecycle.assign("customer", [subject.pk])
        assert Record.objects.get(pk=subject.pk).data["lifecycle_stage"] == "active"
        clock.advance(days=91)
        with committed():
            lifecycle.assign("customer", [subject.pk])
        clock.tick()
        assert Record.objects.get(pk=subject.pk).data["lifecycle_stage"] == "dormant"
        assert len(mails_to(smtp_settings, address)) == 1
        assert Entry.objects.filter(campaign_key="win-back", subject_id=subject.pk).count() == 1
        assert order.pk


def expected_picks(shop, customer_id: int, count: int = 3) -> tuple[str, list[str]]:
    """The recommendation, computed here from the order lines and stored affinities."""
    lines = [i.data for i in shop.records("order_item")]
    mine = Counter(i["category"] for i in lines if i["customer"] == customer_id)
    affinity = sorted(mine.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    bought = {i["product_name"] for i in lines if i["customer"] == customer_id}
    affinity_of = {c.pk: c.data.get("top_category") for c in shop.records("customer")}
    peers: dict[str, set[int]] = defaultdict(set)
    for i in lines:
        c = i["customer"]
        if i["category"] == affinity and c != customer_id and affinity_of.get(c) == affinity:
            peers[i["product_name"]].add(c)
    ranked = [p for p, _ in sorted(peers.items(), key=lambda kv: (-len(kv[1]), kv[0]))]
    popular = Counter(i["product_name"] for i in lines if i["category"] == affinity)
    ranked += [p for p, _ in sorted(popular.items(), key=lambda kv: (-kv[1], kv[0]))]
    picks: list[str] = []
    for name in ranked:
        if name not in bought and name not in picks:
            picks.append(name)
    return affinity, picks[:count]


def test_repurchase_recommends_what_customers_with_the_same_affinity_bought(
    shop, smtp_settings, committed
):
    customers = {c.pk: c.data for c in shop.records("customer")}
    buyers = Counter(i.data["customer"] for i in shop.records("order_item"))
    rid = next(
        r
        for r, lines in buyers.most_common()
        if customers[r]["email_opt_in"]
        and customers[r]["time_zone"] == "Asia/Shanghai"
        and lines <= 6
        and len(expected_picks(shop, r)[1]) == 3
    )
    affinity, picks = expected_picks(shop, rid)
    zone = ZoneInfo("Asia/Shanghai")
    tomorrow = dt.datetime.now(zone) + dt.timedelta(days=1)
    start = tomorrow.replace(hour=10, minute=0, second=0, microsecond=0)  # outside quiet hours
    with Clock(start.astimezone(dt.UTC)) as clock:
        with committed():
            records.add_event(Record.objects.get(pk=rid), "order_delivered", {"order_no": "X"})
        assert Entry.objects.filter(campaign_key="repurchase", subject_id=rid).count() == 1
        clock.advance(days=30, minutes=1)
        clock.tick()  # nothing bought since: the picks, then wait for Tuesday 10:00
        data = Record.objects.get(pk=rid).data
        assert (data["top_category"], data["recommendations"]) == (affinity, picks)
        day = clock.now.astimezone(zone)
        tuesday = day + dt.timedelta(days=(1 - day.weekday()) % 7 or 7)
        clock.to(tuesday.replace(hour=10, minute=0, second=30).astimezone(dt.UTC))
        clock.tick()
        picked = [
            m
            for m in mails_to(smtp_settings, customers[rid]["email"])
            if "Picked" in m.message["Subject"]
        ]
        [mail] = picked
        local = when(
            Message.objects.get(campaign_key="repurchase", subject_id=rid).sent_at.isoformat()
        ).astimezone(ZoneInfo("Asia/Shanghai"))
        assert (local.strftime("%a"), local.hour) == ("Tue", 10)
        body = mail.text()
        assert all(f"- {name}" in body for name in picks)
    assert deliver_all() == 0
