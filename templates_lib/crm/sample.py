"""The sample data generators the CRM packs name in their manifests.

- ``ecommerce-shop`` (ecommerce-core): categories, products, then customers in blocks, each
  block's customers, orders, order lines and coupons, with the customers' and orders' events;
- ``ecommerce-service`` (after-sales): finished service tickets for a share of the orders
  ecommerce-core's sample data holds, read back from the database.

Both are registered through the ``tessera.sample_generators`` entry points (pyproject.toml),
as a third party's generator would be.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from .places import CATEGORIES
from .shop import Customer, Options, catalogue, customers, iso

BLOCK = 200  # customers per block: big batches, bounded memory
PRIVATE = ("_placed", "_ref", "_events")


class ShopGenerator:
    """A seeded shop: ``{"customers": 5000, "seed": 618, "years": 3}`` (``today`` optional)."""

    type = "ecommerce-shop"

    def count(self, options: dict[str, Any]) -> int | None:
        opts = _pinned(options)
        products = catalogue()
        total = len(CATEGORIES) + len(products)
        for customer in customers(opts, products):
            total += 1 + len(customer.orders) + len(customer.items) + len(_coupons(customer))
        return total

    def rows(self, options: dict[str, Any]) -> Iterator[dict[str, Any]]:
        opts = _pinned(options)
        products = catalogue()
        for code, en, zh in CATEGORIES:
            yield {
                "object": "category",
                "ref": f"cat-{code}",
                "data": {"code": code, "name": en, "name_zh": zh},
            }
        launched = (opts.today - dt.timedelta(days=365 * opts.years)).date().isoformat()
        for n, p in enumerate(products):
            yield {
                "object": "product",
                "ref": f"p-{p.sku}",
                "data": {
                    "sku": p.sku,
                    "name": p.name,
                    "name_zh": p.name_zh,
                    "brand": p.brand,
                    "category": {"ref": f"cat-{p.category}"},
                    "category_code": p.category,
                    "price": p.price,
                    "stock": (n * 37) % 500,
                    "active": True,
                    "launched_at": launched,
                },
            }
        block: list[Customer] = []
        for customer in customers(opts, products):
            block.append(customer)
            if len(block) >= BLOCK:
                yield from _block(block)
                block = []
        yield from _block(block)


def _pinned(options: dict[str, Any]) -> Options:
    """The options with ``today`` fixed in them: ``count`` and then ``rows`` (called with the
    same options by the loader) make the very same shop even when a minute passes between."""
    options.setdefault("today", iso(dt.datetime.now(dt.UTC)))
    return Options.of(options)


def _block(block: list[Customer]) -> Iterator[dict[str, Any]]:
    for c in block:
        yield {"object": "customer", "ref": c.ref, "data": c.data, "events": c.customer_events}
    for c in block:
        for order in c.orders:
            yield {
                "object": "order",
                "ref": order["_ref"],
                "events": order["_events"],
                "data": {k: v for k, v in order.items() if k not in PRIVATE},
            }
    for c in block:
        for item in c.items:
            yield {"object": "order_item", "data": item}
    for c in block:
        for coupon in _coupons(c):
            yield {"object": "coupon", "data": coupon}


def _coupons(c: Customer) -> list[dict[str, Any]]:
    """The coupons orders redeemed, and a welcome coupon for some (still valid or expired)."""
    out = []
    for order in c.orders:
        if order.get("coupon_code"):
            placed = order["_placed"]
            out.append(
                {
                    "code": order["coupon_code"],
                    "customer": {"ref": c.ref},
                    "kind": "amount",
                    "value": order["discount"],
                    "min_spend": 99,
                    "source": "manual",
                    "status": "redeemed" if order["status"] != "cancelled" else "expired",
                    "issued_at": iso(placed - dt.timedelta(days=3)),
                    "valid_until": (placed + dt.timedelta(days=30)).date().isoformat(),
                    "redeemed_at": order["placed_at"],
                    "order": {"ref": order["_ref"]},
                }
            )
    if c.index % 10 == 3:
        issued = c.signed_up
        until = issued + dt.timedelta(days=14)
        out.append(
            {
                "code": f"HELLO-S{c.options.seed % 100:02d}{c.index:07d}",
                "customer": {"ref": c.ref},
                "kind": "amount",
                "value": 30,
                "min_spend": 199,
                "source": "welcome-series",
                "status": "issued" if until > c.options.today else "expired",
                "issued_at": iso(issued),
                "valid_until": until.date().isoformat(),
            }
        )
    return out
