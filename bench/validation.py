"""How fast Tessera validates a record, against plain fastjsonschema on the same data.

A 20-field customer object (texts, email, phone, dates, enums, money, a tag list, notes)
and N valid customers, generated from a fixed seed. Two figures, in one process, best of
three passes each over the same documents:

- tessera: ``RecordValidator.validate``, exactly what ``tessera.records.service`` runs on
  every write: the compiled schema with Tessera's format functions (dates, email, phone,
  url checked by the same code as the precise engine), then the size and depth bounds;
- fastjsonschema: ``fastjsonschema.compile`` of the equivalent standard schema (the same
  types, lengths, enums, ranges, items and required fields, without ``format``).

Goal: tessera does at least half the records per second of the plain library. Run::

    .venv/bin/python bench/validation.py [--small] [--records N] [--seed S]

The last line is machine-readable::

    RESULT validation ratio=0.62 goal=>=0.5 tessera_per_s=... fastjsonschema_per_s=...
    records=... fields=20  (one line)
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tessera.settings")

import django  # noqa: E402

django.setup()

import fastjsonschema  # noqa: E402

from tessera.definitions.object_schema import compile_object_schema  # noqa: E402
from tessera.records.validation import RecordValidator  # noqa: E402

GOAL = 0.5

CUSTOMER: dict[str, Any] = {
    "type": "object",
    "required": ["name", "email"],
    "properties": {
        "name": {"x-type": "string", "maxLength": 80},
        "email": {"x-type": "email", "x-unique": True},
        "phone": {"x-type": "phone"},
        "city": {"x-type": "string", "maxLength": 60},
        "province": {"x-type": "string", "maxLength": 60},
        "postcode": {"x-type": "string", "pattern": "^[0-9]{6}$"},
        "birthday": {"x-type": "date"},
        "gender": {"x-type": "enum", "enum": ["female", "male", "other", "undisclosed"]},
        "level": {"x-type": "enum", "enum": ["bronze", "silver", "gold", "platinum"]},
        "points": {"x-type": "integer", "minimum": 0},
        "orders": {"x-type": "integer", "minimum": 0},
        "total_spent": {"x-type": "money", "minimum": 0},
        "avg_order": {"x-type": "decimal", "minimum": 0},
        "first_order_at": {"x-type": "datetime"},
        "last_order_at": {"x-type": "datetime"},
        "vip": {"x-type": "boolean"},
        "marketing_ok": {"x-type": "boolean"},
        "channels": {"x-type": "multi_enum", "enum": ["email", "sms", "wechat", "app"]},
        "tags": {
            "x-type": "list",
            "items": {"x-type": "string", "maxLength": 40},
            "maxItems": 20,
            "uniqueItems": True,
        },
        "notes": {"x-type": "text"},
    },
}

SURNAMES = ["Li", "Wang", "Zhang", "Liu", "Chen", "Yang", "Zhao", "Huang", "Zhou", "Wu"]
GIVEN = ["Lei", "Mei", "Hua", "Jun", "Ying", "Wei", "Fang", "Min", "Jie", "Xiu"]
CITIES = [
    ("Hangzhou", "Zhejiang"),
    ("Shanghai", "Shanghai"),
    ("Chengdu", "Sichuan"),
    ("Guangzhou", "Guangdong"),
    ("Wuhan", "Hubei"),
    ("杭州", "浙江"),
]
TAGS = ["new", "repeat", "coupon", "wholesale", "returns", "vip-candidate", "gift", "b2b"]
NOTES = [
    "Prefers delivery after 6pm.",
    "Asked about the loyalty programme twice; send the brochure.",
    "退货一次，原因：尺码不合适。",
    "",
]


def standard_schema(node: Any) -> Any:
    """The same constraints as standard JSON Schema: Tessera's ``format`` keywords dropped."""
    if isinstance(node, dict):
        return {k: standard_schema(v) for k, v in node.items() if k not in ("format", "x-pattern")}
    if isinstance(node, list):
        return [standard_schema(v) for v in node]
    return node


def customer(rng: random.Random, i: int) -> dict[str, Any]:
    """One valid customer; optional fields are present most of the time, as in real data."""
    city, province = rng.choice(CITIES)
    first = dt.datetime(2019, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=rng.randrange(2_000_000))
    last = first + dt.timedelta(minutes=rng.randrange(500_000))
    orders = rng.randrange(1, 60)
    spent = round(rng.uniform(10, 20_000), 2)
    doc: dict[str, Any] = {
        "name": f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)}",
        "email": f"customer{i}@example{rng.randrange(50)}.com",
        "phone": f"+86 1{rng.randrange(30, 90)} {rng.randrange(10**8):08d}",
        "city": city,
        "province": province,
        "postcode": f"{rng.randrange(10**6):06d}",
        "birthday": dt.date(
            rng.randrange(1950, 2006), rng.randrange(1, 13), rng.randrange(1, 29)
        ).isoformat(),
        "gender": rng.choice(["female", "male", "other", "undisclosed"]),
        "level": rng.choice(["bronze", "silver", "gold", "platinum"]),
        "points": rng.randrange(100_000),
        "orders": orders,
        "total_spent": spent,
        "avg_order": round(spent / orders, 2),
        "first_order_at": first.isoformat().replace("+00:00", "Z"),
        "last_order_at": last.isoformat(),
        "vip": rng.random() < 0.1,
        "marketing_ok": rng.random() < 0.6,
        "channels": rng.sample(["email", "sms", "wechat", "app"], rng.randrange(0, 4)),
        "tags": rng.sample(TAGS, rng.randrange(0, 5)),
        "notes": rng.choice(NOTES),
    }
    for optional in ("phone", "postcode", "birthday", "notes", "channels"):
        if rng.random() < 0.15:
            del doc[optional]
    return doc


def best_rates(
    engines: dict[str, Callable[[Any], Any]], docs: list[dict[str, Any]], runs: int = 3
) -> dict[str, float]:
    """Records per second of each engine, best of ``runs`` passes over all ``docs``.

    The engines take turns on slices of 2,000 documents, so a burst of load on a shared
    machine falls on both rather than on whichever happened to run then, and the clock is
    this process's CPU time: validation is single-threaded CPU work, and time spent
    waiting for a core another process holds is not the validator's.
    """
    best = dict.fromkeys(engines, float("inf"))
    slices = [docs[i : i + 2000] for i in range(0, len(docs), 2000)]
    for _ in range(runs):
        spent = dict.fromkeys(engines, 0.0)
        for part in slices:
            for name, check in engines.items():
                start = time.process_time()
                for doc in part:
                    check(doc)
                spent[name] += time.process_time() - start
        best = {name: min(best[name], spent[name]) for name in engines}
    return {name: len(docs) / seconds for name, seconds in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="20,000 records instead of 200,000")
    parser.add_argument("--records", type=int, help="how many records (overrides --small)")
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args()
    count = args.records or (20_000 if args.small else 200_000)

    schema = compile_object_schema(copy.deepcopy(CUSTOMER))
    fields = len(schema["properties"])
    tessera = RecordValidator(schema)
    plain = fastjsonschema.compile(standard_schema(schema), use_default=False)

    rng = random.Random(args.seed)
    started = time.perf_counter()
    docs = [customer(rng, i) for i in range(count)]
    seconds = time.perf_counter() - started
    print(f"generated {count:,} customers with {fields} fields in {seconds:.1f}s")
    for doc in docs[:1000]:  # the data is valid for both, or the comparison means nothing
        tessera.validate(doc)
        plain(doc)

    rates = best_rates({"tessera": tessera.validate, "fastjsonschema": plain}, docs)
    tessera_rate, plain_rate = rates["tessera"], rates["fastjsonschema"]
    ratio = tessera_rate / plain_rate
    print(f"tessera RecordValidator.validate  {tessera_rate:>12,.0f} records/s")
    print(f"fastjsonschema (standard schema)  {plain_rate:>12,.0f} records/s")
    print(f"ratio {ratio:.2f} (goal >= {GOAL})")
    print(
        f"RESULT validation ratio={ratio:.2f} goal=>={GOAL} tessera_per_s={tessera_rate:.0f} "
        f"fastjsonschema_per_s={plain_rate:.0f} records={count} fields={fields}"
    )


if __name__ == "__main__":
    main()
