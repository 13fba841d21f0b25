"""The birthday coupon (docs/examples/campaigns/birthday-coupon.json) across time zones.

Customers born on 1, 2 or 3 November live from UTC-11 to UTC+14. The date scan runs every
hour of four days of a frozen clock; each customer must enter once, on their own local
birthday, within the hour after 09:00 local time, and get one e-mail with their coupon.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from tessera.flows.campaigns import service as campaigns
from tessera.flows.campaigns.models import Entry

from .conftest import START

pytestmark = pytest.mark.django_db

ZONES = [
    "Pacific/Pago_Pago",
    "America/Los_Angeles",
    "Europe/London",
    "Asia/Shanghai",
    "Pacific/Kiritimati",
]


def test_each_customer_gets_the_coupon_on_their_local_birthday_at_nine(
    publish, customer, clock, smtp_settings
):
    publish("birthday-coupon")
    people = [
        customer(f"{zone} {day}", time_zone=zone, birthday=f"199{day}-11-0{day}")
        for zone in ZONES
        for day in (1, 2, 3)
    ]
    not_today = customer("Spring", time_zone="Asia/Shanghai", birthday="1990-04-12")
    no_zone = customer("Default zone", birthday="1985-11-02")  # the campaign's default zone
    scans = 0
    moment = dt.datetime(2026, 10, 31, 0, 0, tzinfo=dt.UTC)
    while moment <= dt.datetime(2026, 11, 4, 12, 0, tzinfo=dt.UTC):
        clock.to(moment)
        campaigns.run_scheduled("birthday-coupon")
        clock.tick()
        scans += 1
        moment += dt.timedelta(hours=1)

    assert scans == 109
    for person in [*people, no_zone]:
        entries = list(Entry.objects.filter(subject=person))
        assert len(entries) == 1, person.data["name"]
        zone = zoneinfo.ZoneInfo(person.data.get("time_zone", "Asia/Shanghai"))
        local = entries[0].entered_at.astimezone(zone)
        birthday = dt.date.fromisoformat(person.data["birthday"])
        assert (local.month, local.day) == (birthday.month, birthday.day), person.data["name"]
        assert local.hour == 9, (person.data["name"], local)
        assert entries[0].key == f"date:2026-11-{birthday.day:02d}"
        person.refresh_from_db()
        mails = [m for m in smtp_settings.received if m.recipients == [person.data["email"]]]
        assert len(mails) == 1
        assert person.data["coupon_code"] in mails[0].text()
        assert mails[0].message["Subject"] == f"Happy birthday, {person.data['name']}!"
    assert not Entry.objects.filter(subject=not_today).exists()
    assert len(smtp_settings.received) == len(people) + 1


def test_a_leap_day_birthday_is_kept_on_the_28th_and_next_year_is_a_new_entry(
    publish, customer, clock
):
    publish("birthday-coupon")
    leap = customer("Leap", time_zone="Europe/London", birthday="2000-02-29")
    clock.to(dt.datetime(2027, 2, 28, 10, 0, tzinfo=dt.UTC))
    assert campaigns.run_scheduled("birthday-coupon") == 1
    assert campaigns.run_scheduled("birthday-coupon") == 0  # the same day again: nobody
    clock.to(dt.datetime(2028, 2, 28, 10, 0, tzinfo=dt.UTC))
    assert campaigns.run_scheduled("birthday-coupon") == 0  # 2028 is a leap year
    clock.to(dt.datetime(2028, 2, 29, 10, 0, tzinfo=dt.UTC))
    assert campaigns.run_scheduled("birthday-coupon") == 1
    assert sorted(Entry.objects.filter(subject=leap).values_list("key", flat=True)) == [
        "date:2027-02-28",
        "date:2028-02-29",
    ]
    assert clock.now > START


def test_a_date_time_field_counts_on_the_local_date_and_one_off_dates_once(
    publish, customer, clock
):
    from tessera.definitions import service as definitions

    from .conftest import body, example

    shop = example("customer")["body"]
    shop["properties"]["joined_at"] = {"x-type": "datetime"}
    shop["properties"]["renewal"] = {"x-type": "date"}
    definitions.save_and_publish("object", "customer", shop)
    anniversary = body("birthday-coupon")
    anniversary["trigger"] = {"type": "date_field", "field": "joined_at"}
    publish("anniversary", anniversary)
    renewal = body("birthday-coupon")
    renewal["trigger"] = {
        "type": "date_field",
        "field": "renewal",
        "offset_days": -7,
        "annual": False,
    }
    publish("renewal", renewal)
    # 23:30 UTC on 1 November 2020 is already 2 November in Shanghai
    ana = customer(
        "Ana", time_zone="Asia/Shanghai", joined_at="2020-11-01T23:30:00Z", renewal="2026-11-09"
    )
    clock.to(dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC))  # 1 November, 20:00 in Shanghai
    assert campaigns.run_scheduled("anniversary") == 0
    assert campaigns.run_scheduled("renewal") == 0
    clock.to(dt.datetime(2026, 11, 1, 16, 30, tzinfo=dt.UTC))  # 2 November, 00:30 in Shanghai
    assert campaigns.run_scheduled("anniversary") == 1
    assert campaigns.run_scheduled("renewal") == 1  # a week before 9 November
    clock.to(dt.datetime(2027, 11, 1, 16, 30, tzinfo=dt.UTC))
    assert campaigns.run_scheduled("anniversary") == 1  # every year
    assert campaigns.run_scheduled("renewal") == 0  # one-off: that date only
    assert Entry.objects.filter(subject=ana).count() == 3
