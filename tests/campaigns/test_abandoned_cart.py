"""The abandoned-cart campaign (docs/examples/campaigns/abandoned-cart.json) on a frozen clock.

Ten customers abandon a cart worth 35 (one more, worth 10, is below the trigger's payload
condition). Three buy within the hour: the goal takes them out before any message. The other
seven get the reminder after an hour; three of them buy the next morning and leave before the
coupon; the four who never buy get a coupon code a day later. Real SMTP server throughout.
"""

from __future__ import annotations

import pytest

from tessera.flows.campaigns import service as campaigns
from tessera.flows.campaigns.models import Entry, Message
from tessera.flows.models import Run, RunStatus

from .conftest import event

pytestmark = pytest.mark.django_db


def mails_to(smtp, address: str) -> list:
    return [m for m in smtp.received if address in m.recipients]


def test_buyers_leave_and_non_buyers_get_a_reminder_then_a_coupon(
    publish, customer, clock, smtp_settings, committed
):
    publish("abandoned-cart")
    early = [customer(f"Early {i}") for i in range(3)]
    late = [customer(f"Late {i}") for i in range(3)]
    never = [customer(f"Never {i}") for i in range(4)]
    small = customer("Small cart")
    with committed():
        for person in early + late + never:
            event(person, "cart_abandoned", total=35)
        event(small, "cart_abandoned", total=10)
    assert Entry.objects.filter(campaign_key="abandoned-cart").count() == 10
    assert not Entry.objects.filter(subject=small).exists()
    assert set(Run.objects.filter(flow_key="abandoned-cart").values_list("node", flat=True)) == {
        "wait_an_hour"
    }

    clock.advance(minutes=30)
    with committed():
        for person in early:
            event(person, "order_placed", total=99)
    assert Entry.objects.filter(subject__in=early, converted_at__isnull=False).count() == 3
    assert set(Run.objects.filter(subject__in=early).values_list("status", flat=True)) == {
        RunStatus.COMPLETED
    }

    clock.advance(minutes=31)
    assert clock.tick() == 7
    received = smtp_settings.received
    assert len(received) == 7
    assert {m.recipients[0] for m in received} == {p.data["email"] for p in late + never}
    reminder = mails_to(smtp_settings, never[0].data["email"])[0]
    assert reminder.message["Subject"] == "Never 0, your cart is waiting"
    assert "https://crm.example.com/c/k/" in reminder.html()  # the cart link is tracked
    assert "https://shop.example.com/cart" not in reminder.html()
    assert (
        str(reminder.message["List-Unsubscribe"])
        .strip()
        .startswith("<https://crm.example.com/c/u/")
    )

    clock.advance(hours=12)
    with committed():
        for person in late:
            event(person, "order_placed", total=50)
    clock.advance(hours=12, minutes=1)
    assert clock.tick() == 4
    for person in never:
        person.refresh_from_db()
        code = person.data["coupon_code"]
        assert code.startswith("CART-")
        mails = mails_to(smtp_settings, person.data["email"])
        assert [m.message["Subject"] for m in mails] == [
            f"{person.data['name']}, your cart is waiting",
            f"10% off your cart, {person.data['name']}",
        ]
        assert code in mails[1].text()
    for person in early + late:
        person.refresh_from_db()
        assert "coupon_code" not in person.data
    assert len(smtp_settings.received) == 11

    numbers = campaigns.metrics("abandoned-cart")
    assert numbers["entered"] == 10
    assert numbers["converted"] == 6
    assert numbers["conversion_rate"] == 0.6
    assert numbers["waiting"] == 0 and numbers["exited"] == 10
    assert numbers["sent"] == Message.objects.filter(status="sent").count() == 11
    assert numbers["nodes"]["remind"]["entered"] == 7
    assert numbers["nodes"]["coupon_mail"]["sent"] == 4
    assert numbers["nodes"]["wait_an_hour"]["entered"] == 10
    # where each customer left: the early buyers in the first wait, the late ones in the second
    exited = {name: row["exited"] for name, row in numbers["nodes"].items() if row["exited"]}
    assert exited == {"wait_an_hour": 3, "wait_a_day": 3, "done": 4}
    converted = {name: row["converted"] for name, row in numbers["nodes"].items()}
    assert converted["wait_an_hour"] == 6 and converted["remind"] == 3
    assert converted["coupon"] == 0 and converted["done"] == 0
    assert numbers["nodes"]["remind"]["conversion_rate"] == round(3 / 7, 6)
