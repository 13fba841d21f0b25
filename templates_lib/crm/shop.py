"""A realistic sample shop, made from a seed: customers, their orders and what they did.

Every customer is drawn from its own random stream (``seed:index``), so the shop is the same
for the same seed and reference day whatever the size, and a million customers stream out
in blocks without holding the shop in memory. Orders follow the customer's active years
with e-commerce seasonality (11.11, 6.18, 12.12; a lull at the Spring Festival); their
status and timeline follow their age; browsing and abandoned carts are recent events.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from .places import (
    ABROAD,
    CATEGORIES,
    CHINA,
    CN_MOBILE_PREFIXES,
    EMAIL_DOMAINS_CN,
    EMAIL_DOMAINS_EN,
    FIRST_FEMALE,
    FIRST_MALE,
    GIVEN_FEMALE,
    GIVEN_MALE,
    LAST,
    PRODUCTS,
    SURNAMES,
)

BOUGHT = ("paid", "shipped", "delivered", "completed")
CAMPAIGNS = [
    ("win-back", 3),
    ("abandoned-cart", 4),
    ("welcome-series", 3),
    ("repurchase", 2),
    ("birthday-coupon", 1),
    ("review-request", 1),
]
CN_CARRIERS = [
    ("sf", "SF", 40),
    ("zto", "ZT", 15),
    ("yto", "YT", 12),
    ("jd", "JDV", 15),
    ("yunda", "YD", 10),
    ("ems", "EM", 8),
]
ABROAD_CARRIERS = [("dhl", "DHL", 40), ("ups", "1Z", 25), ("fedex", "FX", 20), ("ems", "EE", 15)]


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    name_zh: str
    brand: str
    price: int
    category: str


def catalogue() -> list[Product]:
    products = []
    for code, _, _ in CATEGORIES:
        for n, (name, name_zh, brand, price) in enumerate(PRODUCTS[code], start=1):
            products.append(
                Product(f"{code[:3].upper()}-{n:03d}", name, name_zh, brand, price, code)
            )
    return products


@dataclass
class Options:
    """The generator's options: size, seed, years of history, the day the shop ends."""

    customers: int = 5000
    seed: int = 618
    years: int = 3
    today: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @classmethod
    def of(cls, given: dict[str, Any]) -> Options:
        today = given.get("today")
        out = cls(
            customers=int(given.get("customers", 5000)),
            seed=int(given.get("seed", 618)),
            years=max(1, int(given.get("years", 3))),
        )
        if today:
            out.today = dt.datetime.fromisoformat(str(today)).astimezone(dt.UTC)
        return out


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


def _weighted(rng: random.Random, items: list, weight=lambda i: i[-1]):
    return rng.choices(items, weights=[weight(i) for i in items])[0]


def _bump(day: dt.date, month: int, dom: int, width: float) -> float:
    target = dt.date(day.year, month, dom)
    return math.exp(-(((day - target).days / width) ** 2))


def season(day: dt.date) -> float:
    """How busy a day is: 11.11 and 6.18 peak, 12.12 a little, the Spring Festival is quiet."""
    weight = (
        1.0 + 5 * _bump(day, 11, 11, 3) + 3 * _bump(day, 6, 18, 3) + 1.5 * _bump(day, 12, 12, 2)
    )
    if day.month == 2 and day.day <= 20:
        weight *= 0.5
    return weight


class Customer:
    """One customer and everything about them, drawn from their own random stream."""

    def __init__(self, index: int, options: Options, products: list[Product]):
        self.index = index
        self.ref = f"c-{index}"
        self.rng = rng = random.Random(f"{options.seed}:{index}")
        self.options, self.products = options, products
        now = options.today
        self.china = rng.random() < 0.78
        self.female = rng.random() < 0.62
        self._place()
        span = options.years * 365
        self.signed_up = now - dt.timedelta(
            days=span * rng.random() ** 1.4, hours=rng.random() * 24
        )
        by_category: dict[str, list[Product]] = {}
        for product in products:
            by_category.setdefault(product.category, []).append(product)
        self.by_category = by_category
        codes = sorted(by_category)
        self.favourites = rng.sample(codes, 2)
        self.orders: list[dict[str, Any]] = []
        self.items: list[dict[str, Any]] = []
        self.customer_events: list[dict[str, Any]] = []
        self._orders(now)
        self.data = self._profile(now)

    # --- who ----------------------------------------------------------------------------------

    def _place(self) -> None:
        rng = self.rng
        if self.china:
            province, city, districts, _ = _weighted(rng, CHINA)
            self.country, self.province, self.city = "CN", province, city
            self.district = rng.choice(districts)
            self.zone, self.language = "Asia/Shanghai", "zh"
            self.phone_prefix = "+86" + rng.choice(CN_MOBILE_PREFIXES)
        else:
            country, province, city, zone, _, prefix = _weighted(rng, ABROAD, lambda a: a[4])
            self.country, self.province, self.city, self.district = country, province, city, None
            self.zone, self.phone_prefix = zone, prefix
            self.language = "zh" if rng.random() < 0.35 else "en"
        self.chinese_name = self.language == "zh" or rng.random() < 0.3

    def _name(self) -> tuple[str, str]:
        rng = self.rng
        if self.chinese_name:
            surname, pinyin = rng.choice(SURNAMES)
            given = GIVEN_FEMALE if self.female else GIVEN_MALE
            name = surname + "".join(rng.choice(given) for _ in range(rng.choice((1, 2, 2))))
            return name, pinyin
        first = rng.choice(FIRST_FEMALE if self.female else FIRST_MALE)
        last = rng.choice(LAST)
        return f"{first} {last}", f"{first}.{last}".lower().replace("ü", "ue")

    def _profile(self, now: dt.datetime) -> dict[str, Any]:
        rng, i = self.rng, self.index
        name, handle = self._name()
        domains = EMAIL_DOMAINS_CN if self.china else EMAIL_DOMAINS_EN
        channel = _weighted(
            rng,
            [
                ("web", 15),
                ("app", 20),
                ("mini_program", 25),
                ("wechat", 10),
                ("tmall", 15),
                ("jd", 8),
                ("douyin", 5),
                ("store", 2),
            ]
            if self.china
            else [("web", 55), ("app", 35), ("store", 10)],
        )[0]
        born = now.date() - dt.timedelta(days=int(365.25 * rng.uniform(18, 62)))
        data: dict[str, Any] = {
            "name": name,
            "gender": "female" if self.female else "male",
            "birthday": born.isoformat(),
            "email": f"{handle}.{i}@{rng.choice(domains)}",
            "country": self.country,
            "province": self.province,
            "city": self.city,
            "time_zone": self.zone,
            "language": self.language,
            "source_channel": channel,
            "signed_up_at": iso(self.signed_up),
            "member_since": self.signed_up.astimezone(ZoneInfo(self.zone)).date().isoformat(),
            "email_opt_in": rng.random() < 0.72,
            "sms_opt_in": rng.random() < 0.55,
            "consent_updated_at": iso(self.signed_up),
        }
        if self.district:
            data["district"] = self.district
        if rng.random() < 0.85:
            data["phone"] = f"{self.phone_prefix}{(i * 7919 + 1_000_003) % 10**8:08d}"
        identities = {channel} | {
            c for c in ("web", "app", "mini_program", "wechat") if rng.random() < 0.25
        }
        for source, field_name in [
            ("web", "web_user_id"),
            ("app", "app_user_id"),
            ("wechat", "wechat_openid"),
            ("mini_program", "mini_program_openid"),
            ("tmall", "tmall_id"),
            ("jd", "jd_id"),
            ("douyin", "douyin_id"),
        ]:
            if source in identities:
                data[field_name] = f"{field_name[:2]}{self.options.seed}x{i:07d}"
        if "wechat" in identities or "mini_program" in identities:
            data["wechat_unionid"] = f"un{self.options.seed}x{i:07d}"
            data["wechat_opt_in"] = rng.random() < 0.8
        if "app" in identities:
            data["app_push_opt_in"] = rng.random() < 0.6
        bought = [o for o in self.orders if o["status"] in BOUGHT]
        year_ago = now - dt.timedelta(days=365)
        spent_year = sum(o["total"] for o in bought if o["_placed"] >= year_ago)
        spent = sum(o["total"] for o in bought)
        data["member_level"] = (
            "platinum"
            if spent_year >= 20000
            else "gold"
            if spent_year >= 5000
            else "silver"
            if spent_year >= 1000
            else "regular"
        )
        data["points"] = int(spent * rng.uniform(0.6, 1.0))
        tags = []
        if data["member_level"] == "platinum":
            tags.append("vip")
        if "baby" in self.favourites and rng.random() < 0.5:
            tags.append("parent")
        if rng.random() < 0.1:
            tags.append("gift-buyer")
        if rng.random() < 0.05:
            tags.append("wholesale")
        if tags:
            data["tags"] = tags
        lines = Counter(item["category"] for item in self.items)
        if lines:
            data["top_category"] = sorted(lines.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        seen = [
            e["at"] for e in self.customer_events if e["type"] in ("product_viewed", "order_placed")
        ]
        if seen:
            data["last_seen_at"] = max(seen)
        return data

    # --- what they bought ---------------------------------------------------------------------

    def _orders(self, now: dt.datetime) -> None:
        rng = self.rng
        self.customer_events.append({"type": "signed_up", "payload": {}, "at": iso(self.signed_up)})
        if rng.random() < 0.18:  # never bought: a prospect
            self._browsing(now, buyer=False)
            return
        count = 1 + int(rng.expovariate(1 / 1.6))
        if rng.random() < 0.05:
            count += rng.randint(6, 14)
        start = min(self.signed_up + dt.timedelta(hours=rng.uniform(0.2, 72)), now)
        lifespan = dt.timedelta(days=rng.expovariate(1 / 420) + 20)
        end = min(now, start + lifespan)
        moments = []
        for _ in range(count * 50):  # rejection sampling by season; bounded
            if len(moments) >= count:
                break
            moment = start + (end - start) * rng.random()
            if rng.random() * 7 < season(moment.date()):
                moments.append(moment)
        for k, placed in enumerate(sorted(moments), start=1):
            self._order(k, placed, now)
        self._browsing(now, buyer=True)

    def _order(self, k: int, placed: dt.datetime, now: dt.datetime) -> None:
        rng = self.rng
        local = placed.astimezone(ZoneInfo(self.zone))
        placed = local.replace(
            hour=rng.choice((9, 10, 12, 14, 20, 21, 22, 23)), minute=rng.randrange(60)
        ).astimezone(dt.UTC)
        if placed > now:
            placed = now - dt.timedelta(minutes=rng.randint(5, 600))
        ref = f"o-{self.index}-{k}"
        lines, subtotal = [], 0
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
            category = (
                rng.choice(self.favourites)
                if rng.random() < 0.75
                else rng.choice(sorted(self.by_category))
            )
            options = self.by_category[category]
            product = options[min(int(rng.expovariate(0.7)), len(options) - 1)]
            quantity = 1 if rng.random() < 0.8 else rng.randint(2, 3)
            amount = product.price * quantity
            subtotal += amount
            lines.append((product, quantity, amount))
        discount = rng.choice((10, 20, 30)) if rng.random() < 0.15 and subtotal > 99 else 0
        fee = 0 if subtotal >= 99 else (10 if self.china else 50)
        total = max(subtotal - discount + fee, 0)
        channel = self._channel()
        order: dict[str, Any] = {
            "order_no": f"SO{self.options.seed % 100:02d}{self.index:07d}{k:03d}",
            "customer": {"ref": self.ref},
            "channel": channel,
            "subtotal": subtotal,
            "discount": discount,
            "shipping_fee": fee,
            "total": total,
            "items_count": sum(q for _, q, _ in lines),
            "placed_at": iso(placed),
            "ship_province": self.province,
            "ship_city": self.city,
        }
        if discount:
            order["coupon_code"] = f"SAVE{discount}-{self.index:05d}{k}"
        events = [
            {
                "type": "order_placed",
                "payload": {"channel": channel, "total": total},
                "at": iso(placed),
            }
        ]
        self._timeline(order, events, placed, now)
        if (
            now - placed < dt.timedelta(days=120)
            and order["status"] in BOUGHT
            and rng.random() < 0.12
        ):
            order["campaign"] = _weighted(rng, CAMPAIGNS)[0]
        order["_placed"] = placed
        order["_ref"], order["_events"] = ref, events
        self.orders.append(order)
        payload = {"order_no": order["order_no"], "total": total, "channel": channel}
        self.customer_events.append({"type": "order_placed", "payload": payload, "at": iso(placed)})
        if order.get("delivered_at"):
            self.customer_events.append(
                {
                    "type": "order_delivered",
                    "payload": {"order_no": order["order_no"]},
                    "at": order["delivered_at"],
                }
            )
        for product, quantity, amount in lines:
            self.items.append(
                {
                    "order": {"ref": ref},
                    "customer": {"ref": self.ref},
                    "product": {"ref": f"p-{product.sku}"},
                    "sku": product.sku,
                    "product_name": product.name,
                    "category": product.category,
                    "quantity": quantity,
                    "unit_price": product.price,
                    "amount": amount,
                    "placed_at": iso(placed),
                }
            )

    def _channel(self) -> str:
        rng = self.rng
        if not self.china:
            return rng.choice(("web", "web", "app"))
        return _weighted(
            rng,
            [
                ("mini_program", 30),
                ("app", 25),
                ("tmall", 18),
                ("jd", 10),
                ("web", 10),
                ("douyin", 5),
                ("store", 2),
            ],
        )[0]

    def _timeline(self, order: dict, events: list, placed: dt.datetime, now: dt.datetime) -> None:
        """Status and the times of each step, by how old the order is."""
        rng = self.rng
        age = now - placed
        cancel = rng.random() < 0.06
        paid = placed + dt.timedelta(minutes=rng.uniform(1, 30))
        if cancel or (age < dt.timedelta(minutes=30) and rng.random() < 0.5):
            if cancel and age > dt.timedelta(hours=1):
                at = placed + dt.timedelta(minutes=rng.uniform(10, 60))
                order.update(status="cancelled", cancelled_at=iso(at))
                events.append(
                    {"type": "order_cancelled", "payload": {"reason": "unpaid"}, "at": iso(at)}
                )
            else:
                order["status"] = "placed"
            return
        order.update(status="paid", paid_at=iso(paid))
        events.append(
            {"type": "order_paid", "payload": {"amount": order["total"]}, "at": iso(paid)}
        )
        shipped = paid + dt.timedelta(hours=rng.uniform(3, 30))
        if shipped > now:
            return
        code, prefix, _ = _weighted(rng, CN_CARRIERS if self.china else ABROAD_CARRIERS)
        tracking = f"{prefix}{rng.randrange(10**11, 10**12)}"
        order.update(status="shipped", shipped_at=iso(shipped), carrier=code, tracking_no=tracking)
        events.append(
            {
                "type": "order_shipped",
                "payload": {"carrier": code, "tracking_no": tracking},
                "at": iso(shipped),
            }
        )
        delivered = shipped + dt.timedelta(
            days=rng.uniform(1, 3) if self.china else rng.uniform(5, 10)
        )
        if delivered > now:
            return
        order.update(status="delivered", delivered_at=iso(delivered))
        events.append(
            {"type": "order_delivered", "payload": {"carrier": code}, "at": iso(delivered)}
        )
        if rng.random() < 0.05:
            returned = delivered + dt.timedelta(days=rng.uniform(2, 7))
            if returned <= now:
                order.update(status="returned", returned_at=iso(returned))
                events.append({"type": "order_returned", "payload": {}, "at": iso(returned)})
            return
        completed = delivered + dt.timedelta(days=7)
        if completed <= now:
            order.update(status="completed", completed_at=iso(completed))
            events.append({"type": "order_completed", "payload": {}, "at": iso(completed)})

    def _browsing(self, now: dt.datetime, *, buyer: bool) -> None:
        """Product views in the last 60 days, and a cart left behind now and then."""
        rng = self.rng
        if rng.random() > (0.45 if buyer else 0.3):
            return
        for _ in range(rng.randint(1, 6)):
            category = rng.choice(self.favourites)
            product = rng.choice(self.by_category[category])
            at = now - dt.timedelta(days=rng.uniform(0, 60))
            if at < self.signed_up:
                continue
            self.customer_events.append(
                {
                    "type": "product_viewed",
                    "at": iso(at),
                    "payload": {"sku": product.sku, "category": category},
                }
            )
        if rng.random() < 0.2:
            picked = rng.sample(self.by_category[self.favourites[0]], 2)
            at = now - dt.timedelta(days=rng.uniform(0, 30))
            if at > self.signed_up:
                total = sum(p.price for p in picked)
                self.customer_events.append(
                    {
                        "type": "cart_abandoned",
                        "at": iso(at),
                        "payload": {
                            "total": total,
                            "items": len(picked),
                            "skus": ",".join(p.sku for p in picked),
                        },
                    }
                )


def customers(options: Options, products: list[Product]) -> Iterator[Customer]:
    for index in range(1, options.customers + 1):
        yield Customer(index, options, products)
