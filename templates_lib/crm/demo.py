"""What ``manage.py tessera_setup_demo`` does: the e-commerce CRM, ready to look at.

Every step is safe to repeat (``./tessera up`` runs it on every start) and says what it did:

1. the five packs, in dependency order, with ``--ensure`` semantics (install, upgrade an
   older version, or nothing); ecommerce-core's shop at the size and seed asked for;
2. the service desk's groups (``support``, ``supervisors``) and three demo agents without a
   password (an admin gives them one), so round-robin assignment and escalation have people;
3. the e-mail channel's limits, if an operator has set none: 4 marketing e-mails a week per
   customer, quiet from 22:00 to 08:00 in the customer's zone, 600 a minute;
4. a dozen open tickets from recent orders, through the records service, so they have live
   workflow runs, SLA clocks and FAQ answers (only while no ticket has a run yet);
5. a little live shop activity for the campaigns to pick up: three sign-ups (welcome series)
   and five abandoned carts (reminders), once.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

PACKS = ["ecommerce-core", "after-sales", "rfm-lifecycle", "lifecycle-campaigns", "crm-dashboards"]
GROUPS = {"support": ["agent.li", "agent.chen"], "supervisors": ["lead.zhang"]}
EMAIL_LIMITS = {"cap": 4, "per": "P7D", "quiet_hours": ("22:00", "08:00"), "rate_per_minute": 600}
LIVE_TICKETS = [
    ("complaint", "包裹破损，里面的杯子碎了", "快递外箱被压坏，请尽快处理。"),
    ("consultation", "When will my order ship?", "I paid yesterday, no tracking number yet."),
    ("return", "申请退货", "尺码不合适，想退货退款。"),
    ("consultation", "可以开发票吗？", "公司报销需要发票。"),
    ("exchange", "Wrong colour, please exchange", "I ordered black and got white."),
    ("repair", "Earbuds stopped charging", "The left earbud does not charge any more."),
    ("complaint", "Courier was rude", "He left the parcel outside in the rain."),
    ("consultation", "优惠券结算时用不了", "满减券显示不可用。"),
    ("consultation", "How do member points work?", "I want to know my member level."),
    ("return", "I want to return this", "It does not fit."),
    ("complaint", "订单一周了还没到", "物流信息三天没更新了。"),
    ("consultation", "Is this suitable for sensitive skin?", "Asking before I order."),
]


@dataclass
class Report:
    """What the setup did, line by line, for the terminal."""

    lines: list[str] = field(default_factory=list)

    def say(self, text: str) -> None:
        self.lines.append(text)


def install_packs(
    report: Report, *, customers: int | None, seed: int | None, sample: bool, progress=None
) -> None:
    from templates_lib import service
    from templates_lib.library import Library

    library = Library()
    for key in PACKS:
        candidate = library.best(key, [])
        if candidate is None:
            report.say(f"pack {key}: not found in the library")
            continue
        pack = candidate.read()
        for entry in pack.sample:
            if entry.generator == "ecommerce-shop":
                if customers is not None:
                    entry.options["customers"] = customers
                if seed is not None:
                    entry.options["seed"] = seed
        result = service.ensure(pack, sample=sample, progress=progress)
        for item in result.packs:
            if item.key != key:
                continue
            if item.mode == "installed":
                report.say(f"pack {key} {item.version}: installed already, nothing to do")
            else:
                past = "installed" if item.mode == "install" else "upgraded"
                report.say(f"pack {key} {item.version}: {past}")


def ensure_people(report: Report) -> None:
    User = get_user_model()
    for name, members in GROUPS.items():
        group, created = Group.objects.get_or_create(name=name)
        if created:
            report.say(f"group {name}: created")
        for username in members:
            user, made = User.objects.get_or_create(
                username=username, defaults={"email": f"{username}@example.com"}
            )
            if made:
                user.set_unusable_password()
                user.save()
                report.say(f"user {username} ({name}): created without a password")
            user.groups.add(group)


def ensure_limits(report: Report) -> None:
    from tessera.flows.campaigns.limits import set_limits
    from tessera.flows.campaigns.models import ChannelLimit

    if ChannelLimit.objects.filter(channel="email").exists():
        report.say("e-mail limits: set by an operator, kept")
        return
    set_limits("email", **EMAIL_LIMITS)
    report.say("e-mail limits: 4 a week per customer, quiet 22:00-08:00, 600 a minute")


def open_live_tickets(report: Report, *, count: int = len(LIVE_TICKETS)) -> list[int]:
    """Open tickets on recent orders through the records service (runs, SLA clocks)."""
    from tessera.definitions.cache import published
    from tessera.flows.models import Run
    from tessera.records import service as records
    from tessera.records.models import Record

    if published("workflow", "after-sales-service") is None:
        report.say("live tickets: the after-sales workflow is not published, skipped")
        return []
    if Run.objects.filter(flow_kind="workflow", flow_key="after-sales-service").exists():
        report.say("live tickets: the service desk has live tickets already, none added")
        return []
    orders = list(
        Record.objects.filter(object_key="order", data__status__in=["shipped", "delivered"])
        .order_by("-id")
        .values_list("pk", "data")[: count * 3]
    )
    rng = random.Random(len(orders))
    picked = rng.sample(orders, min(count, len(orders)))
    now = dt.datetime.now(dt.UTC).isoformat()
    made = []
    for (order_id, order), (kind, subject, text) in zip(picked, LIVE_TICKETS, strict=False):
        customer = Record.objects.filter(pk=order.get("customer")).values_list("data", flat=True)
        email = (customer.first() or {}).get("email")
        data: dict[str, Any] = {
            "subject": subject,
            "description": text,
            "type": kind,
            "priority": "high" if kind == "complaint" else "normal",
            "channel": rng.choice(["web", "app", "wechat", "email", "chat"]),
            "customer": order["customer"],
            "order": order_id,
            "opened_at": now,
        }
        if email:
            data["email"] = email
        with transaction.atomic():
            ticket = records.create("ticket", data, comment="demo: a live ticket")
        made.append(ticket.pk)
    report.say(f"live tickets: {len(made)} opened, with workflow runs and SLA clocks")
    return made


SIGNUPS = [
    ("林小雨", "zh", "Asia/Shanghai", "CN", "上海"),
    ("Olivia Chen", "en", "Asia/Singapore", "SG", "Singapore"),
    ("王浩", "zh", "Asia/Shanghai", "CN", "杭州"),
]


def open_live_activity(report: Report) -> None:
    """Sign-ups and abandoned carts now, through the records service: campaign triggers."""
    from tessera.definitions.cache import published
    from tessera.records import service as records
    from tessera.records.models import Record

    if published("campaign", "welcome-series") is None:
        report.say("live activity: the lifecycle campaigns are not published, skipped")
        return
    first = "demo.signup1@example.com"
    if Record.objects.filter(object_key="customer", data__email=first).exists():
        report.say("live activity: made already, none added")
        return
    now = dt.datetime.now(dt.UTC)
    with transaction.atomic():
        for n, (name, language, zone, country, city) in enumerate(SIGNUPS, start=1):
            customer = records.create(
                "customer",
                {
                    "name": name,
                    "email": f"demo.signup{n}@example.com",
                    "language": language,
                    "time_zone": zone,
                    "country": country,
                    "city": city,
                    "email_opt_in": True,
                    "source_channel": "app",
                    "signed_up_at": now.isoformat(),
                    "member_level": "regular",
                    "points": 0,
                },
                comment="demo: a sign-up",
            )
            records.add_event(customer, "signed_up", {"channel": "app"})
        products = list(
            Record.objects.filter(object_key="product")
            .order_by("pk")
            .values_list("data", flat=True)
        )
        shoppers = list(
            Record.objects.filter(
                object_key="customer", data__lifecycle_stage="active", data__email_opt_in=True
            ).order_by("pk")[:5]
        )
        for i, shopper in enumerate(shoppers):
            picked = products[i * 3 : i * 3 + 2] if products else []
            total = sum(p.get("price", 0) for p in picked) or 99
            records.add_event(
                shopper,
                "cart_abandoned",
                {
                    "total": total,
                    "items": len(picked),
                    "skus": ",".join(p.get("sku", "") for p in picked),
                },
            )
    report.say(
        f"live activity: {len(SIGNUPS)} sign-ups and {len(shoppers)} abandoned carts, "
        "for the welcome series and the cart reminders"
    )


def kpi_lines(screen: str = "crm-kpis") -> list[str]:
    from .kpis import evaluate_screen

    lines = []
    for value in evaluate_screen(screen):
        if value.type != "kpi" or value.value is None:
            continue
        shown = _formats.get(value.format, _formats["number"])(value.value)
        lines.append(f"  {value.label.get('en', value.key)}: {shown}")
    return lines


_formats: dict[str, Callable[[float], str]] = {
    "percent": lambda v: f"{v * 100:.1f}%",
    "money": lambda v: f"¥{v:,.2f}",
    "number": lambda v: f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}",
}
