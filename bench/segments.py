"""How fast Tessera counts a segment over customers and their orders, against hand-written SQL.

A seeded generator makes customers (name, city, level, points, total_spent, birthday) and
orders (customer, total, placed_at within two years, category). The objects are published
through ``tessera.definitions.service.save_and_publish`` (``x-index`` on city, level and
points, ``x-time-field: placed_at``, a 90-day order count kept as a rollup), then the records
are bulk-loaded (PostgreSQL ``COPY``, SQLite ``executemany``) into ``records_record``, the
rollup built set-based by ``tessera.records.rollups.compute`` and the tables analysed. The same
rows go into typed tables ``bench_customer`` / ``bench_order``, indexed alike.

The segment: three field conditions and one 90-day order aggregate. It is counted by

- tessera: ``tree.parse`` once, then ``compiler.matching(node, "customer").count()`` (reads
  the rollup);
- typed: hand-written SQL on the typed tables, the 90-day count live over ``bench_order``
  through its (customer_id, placed_at) index;
- jsonb (SQLite: json_extract): hand-written SQL on ``records_record`` as a person would write
  it, the 90-day count live over the order records through the relation index;
- live (information): Tessera with ``use_rollups=False``.

All counts must agree. Each figure is the median of 5 warm runs, engines taking turns.
Freshness: 50 orders are created one by one through ``tessera.records.service.create`` for
customers one order below the threshold; the time until ``matching`` includes the customer
is measured (p95 printed; the rollup is updated in the writing transaction).

Goals: tessera / typed <= 1.5 and tessera / jsonb <= 1.1 on PostgreSQL; tessera /
json_extract <= 1.3 on SQLite. Run::

    .venv/bin/python bench/segments.py [--small] [--sqlite]

PostgreSQL is ``DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/tessera_bench),
created if missing, migrated, and its record tables emptied. The last line is
machine-readable::

    RESULT segments ratio=0.9 goal=<=1.5 jsonb_ratio=... tessera_ms=... typed_ms=... ...
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tessera.settings")

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/tessera_bench"
GOAL_TYPED = 1.5
GOAL_JSONB = 1.1
GOAL_SQLITE = 1.3
RUNS = 5
FRESH_ORDERS = 50
WINDOW_DAYS = 90
# No generated order is placed in the last GAP before its 90th day: otherwise orders would
# leave the window while the benchmark runs, and the rollup (swept by the tick) would
# briefly disagree with the live counts.
GAP = dt.timedelta(hours=6)
CHUNK = 50_000

CITIES = [
    "Hangzhou", "Shanghai", "Beijing", "Shenzhen", "Guangzhou", "Chengdu", "Wuhan", "Nanjing",
    "Xi'an", "Suzhou", "Tianjin", "Chongqing", "Changsha", "Zhengzhou", "Qingdao", "Dalian",
    "Xiamen", "Ningbo", "Hefei", "Fuzhou", "Jinan", "Kunming", "Harbin", "Shenyang",
    "Changchun", "Nanning", "Guiyang", "Taiyuan", "Shijiazhuang", "Lanzhou",
]  # fmt: skip
LEVELS = ["bronze", "silver", "gold", "platinum"]
CATEGORIES = ["skincare", "makeup", "fragrance", "haircare", "body", "tools"]
SURNAMES = ["Li", "Wang", "Zhang", "Liu", "Chen", "Yang", "Zhao", "Huang", "Zhou", "Wu"]
GIVEN = ["Lei", "Mei", "Hua", "Jun", "Ying", "Wei", "Fang", "Min", "Jie", "Xiu"]

CUSTOMER: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"x-type": "string", "maxLength": 80},
        "city": {"x-type": "string", "maxLength": 60, "x-index": True},
        "level": {"x-type": "enum", "enum": LEVELS, "x-index": True},
        "points": {"x-type": "integer", "minimum": 0, "x-index": True},
        "total_spent": {"x-type": "money", "minimum": 0},
        "birthday": {"x-type": "date"},
    },
}
ORDER: dict[str, Any] = {
    "type": "object",
    "x-time-field": "placed_at",
    "required": ["customer", "total", "placed_at"],
    "properties": {
        "customer": {
            "x-type": "relation",
            "x-relation": {
                "object": "customer",
                "related_name": "orders",
                "rollups": [{"aggregate": "count", "window": f"P{WINDOW_DAYS}D"}],
            },
        },
        "total": {"x-type": "money", "minimum": 0},
        "placed_at": {"x-type": "datetime"},
        "category": {"x-type": "enum", "enum": CATEGORIES},
    },
}
CITY, SEG_LEVELS, MIN_POINTS, MIN_ORDERS = "Hangzhou", ["gold", "platinum"], 100, 2
SEGMENT = {
    "all": [
        {"field": "city", "op": "eq", "value": CITY},
        {"field": "level", "op": "in", "value": SEG_LEVELS},
        {"field": "points", "op": "gte", "value": MIN_POINTS},
        {"metric": "orders.count", "window": f"P{WINDOW_DAYS}D", "op": "gte", "value": MIN_ORDERS},
    ]
}


def configure(sqlite: bool) -> str:
    """Point Django at the benchmark database (creating it if missing); returns the URL."""
    if sqlite:
        path = Path(tempfile.mkdtemp(prefix="tessera-bench-")) / "segments.sqlite3"
        url = f"sqlite:///{path}"
    else:
        url = os.environ.get("DATABASE_URL") or DEFAULT_URL
        ensure_database(url)
    os.environ["DATABASE_URL"] = url
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return url


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    admin = urlunparse(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


def progress():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=False,
    )


class Generator:
    """Customers and orders from one seed; ids are the record ids they will have."""

    def __init__(self, customers: int, orders: int, now: dt.datetime, seed: int = 42):
        self.rng = random.Random(seed)
        self.customers, self.orders, self.now = customers, orders, now
        self.first_customer = 1
        self.first_order = customers + 1
        self.window_start = now - dt.timedelta(days=WINDOW_DAYS)

    def customer_rows(self) -> Iterator[tuple]:
        rng = self.rng
        for i in range(self.customers):
            yield (
                self.first_customer + i,
                f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)}",
                rng.choice(CITIES),
                rng.choice(LEVELS),
                rng.randrange(0, 5000) if rng.random() < 0.9 else rng.randrange(0, 100),
                round(rng.uniform(0, 50_000), 2),
                dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(20_000)),
            )

    def order_rows(self) -> Iterator[tuple]:
        rng, n = self.rng, self.customers
        span = 2 * 365 * 86400
        now_ts = int(self.now.timestamp())
        gap_low = (self.window_start + GAP).timestamp()
        gap_high = self.window_start.timestamp()
        for i in range(self.orders):
            # a skewed customer: the first ones buy far more often than the last
            customer = self.first_customer + int(n * rng.random() ** 1.8)
            ts = now_ts - rng.randrange(60, span)
            if gap_high <= ts < gap_low:
                ts -= GAP.total_seconds()
            placed = dt.datetime.fromtimestamp(ts, dt.UTC)
            yield (
                self.first_order + i,
                customer,
                round(rng.uniform(5, 2000), 2),
                placed,
                rng.choice(CATEGORIES),
            )


def iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # iso_datetime


def customer_json(row: tuple) -> str:
    _id, name, city, level, points, spent, birthday = row
    return json.dumps(
        {
            "name": name,
            "city": city,
            "level": level,
            "points": points,
            "total_spent": spent,
            "birthday": birthday.isoformat(),
        }
    )


def order_json(row: tuple) -> str:
    _id, customer, total, placed, category = row
    # what json.dumps writes, formatted directly (5M of them); placed_at is whole seconds,
    # stored in the one UTC shape records.service normalises datetimes to
    stamp = placed.isoformat()[:19]
    return (
        f'{{"customer": {customer}, "total": {total!r}, '
        f'"placed_at": "{stamp}.000000Z", "category": "{category}"}}'
    )


def chunks(rows: Iterator[tuple], size: int = CHUNK) -> Iterator[list[tuple]]:
    batch: list[tuple] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


TYPED_TABLES_PG = [
    "CREATE TABLE bench_customer (id bigint PRIMARY KEY, city text, level text, points int, "
    "total_spent numeric, birthday date)",
    "CREATE TABLE bench_order (id bigint PRIMARY KEY, customer_id bigint, total numeric, "
    "placed_at timestamptz, category text)",
]
TYPED_TABLES_SQLITE = [
    "CREATE TABLE bench_customer (id integer PRIMARY KEY, city text, level text, points int, "
    "total_spent numeric, birthday text)",
    "CREATE TABLE bench_order (id integer PRIMARY KEY, customer_id integer, total numeric, "
    "placed_at text, category text)",
]
TYPED_INDEXES = [
    "CREATE INDEX bench_customer_city ON bench_customer (city)",
    "CREATE INDEX bench_customer_level ON bench_customer (level)",
    "CREATE INDEX bench_customer_points ON bench_customer (points)",
    "CREATE INDEX bench_order_customer_placed ON bench_order (customer_id, placed_at)",
]


def reset(postgres: bool) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_order")
        cursor.execute("DROP TABLE IF EXISTS bench_customer")
        if postgres:
            cursor.execute(
                "TRUNCATE records_rollup, records_event, records_recordchange, records_record "
                "RESTART IDENTITY CASCADE"
            )
        for sql in TYPED_TABLES_PG if postgres else TYPED_TABLES_SQLITE:
            cursor.execute(sql)


def publish() -> tuple[int, int]:
    from tessera.definitions.service import save_and_publish

    customer = save_and_publish("object", "customer", CUSTOMER)
    order = save_and_publish("object", "order", ORDER)
    return customer.version, order.version


def load(gen: Generator, versions: tuple[int, int], postgres: bool) -> None:
    from django.db import connection, transaction

    stamp = iso(gen.now)
    with progress() as bar, transaction.atomic():
        for label, rows, total, to_json, version, typed in (
            (
                "customers",
                gen.customer_rows(),
                gen.customers,
                customer_json,
                versions[0],
                lambda r: (r[0], r[2], r[3], r[4], r[5], r[6]),
            ),
            (
                "orders",
                gen.order_rows(),
                gen.orders,
                order_json,
                versions[1],
                lambda r: r,
            ),
        ):
            task = bar.add_task(label, total=total)
            object_key = "customer" if label == "customers" else "order"
            table = "bench_customer" if label == "customers" else "bench_order"
            for batch in chunks(rows):
                records = [(r[0], object_key, to_json(r), 1, version, stamp, stamp) for r in batch]
                typed_rows = [typed(r) for r in batch]
                if postgres:
                    copy_rows(connection, records, typed_rows, table)
                else:
                    sqlite_rows(connection, records, typed_rows, table)
                bar.advance(task, len(batch))
        if postgres:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence('records_record', 'id'), "
                    "(SELECT max(id) FROM records_record))"
                )


def copy_rows(connection, records: list[tuple], typed_rows: list[tuple], table: str) -> None:
    with connection.cursor() as wrapper:
        cursor = wrapper.cursor  # psycopg's own cursor, for COPY
        # The JSON is ASCII (json.dumps escapes the rest) with no tab or newline; COPY text
        # format only needs backslashes doubled.
        text = "".join(
            "\t".join((str(r[0]), r[1], r[2].replace("\\", "\\\\"), "1", str(r[4]), r[5], r[6]))
            + "\n"
            for r in records
        )
        with cursor.copy(
            "COPY records_record (id, object_key, data, version, schema_version, created_at, "
            "updated_at) FROM STDIN"
        ) as copy:
            copy.write(text)
        with cursor.copy(f"COPY {table} FROM STDIN") as copy:
            copy.write("".join("\t".join(map(str, row)) + "\n" for row in typed_rows))


def sqlite_rows(connection, records: list[tuple], typed_rows: list[tuple], table: str) -> None:
    raw = connection.connection
    raw.executemany(
        "INSERT INTO records_record (id, object_key, data, version, schema_version, created_at, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        records,
    )
    marks = ", ".join("?" * len(typed_rows[0]))
    raw.executemany(
        f"INSERT INTO {table} VALUES ({marks})",
        [tuple(iso(v) if isinstance(v, dt.datetime) else v for v in row) for row in typed_rows],
    )


def build_rollups_and_analyze(postgres: bool) -> float:
    from django.db import connection, transaction

    from tessera.records import rollups

    started = time.perf_counter()
    (spec,) = rollups.specs_of("order", ORDER)
    with transaction.atomic():
        rollups.compute(spec)
    with connection.cursor() as cursor:
        for sql in TYPED_INDEXES:
            cursor.execute(sql)
        cursor.execute("ANALYZE")
    return time.perf_counter() - started


def typed_sql(postgres: bool) -> str:
    mark = "%s"
    return (
        "SELECT COUNT(*) FROM bench_customer c "
        f"WHERE c.city = {mark} AND c.level IN ({mark}, {mark}) AND c.points >= {mark} "
        "AND (SELECT COUNT(*) FROM bench_order o "
        f"WHERE o.customer_id = c.id AND o.placed_at >= {mark}) >= {mark}"
    )


def hand_sql(postgres: bool) -> str:
    """What a person writes on the JSON column, with the expressions the indexes are on."""
    if postgres:
        return (
            "SELECT COUNT(*) FROM records_record c WHERE c.object_key = 'customer' "
            "AND c.data ->> 'city' = %s AND c.data ->> 'level' IN (%s, %s) "
            "AND (c.data ->> 'points')::numeric >= %s "
            "AND (SELECT COUNT(*) FROM records_record o WHERE o.object_key = 'order' "
            "AND (o.data ->> 'customer')::numeric = c.id "
            "AND o.data ->> 'placed_at' >= %s) >= %s"
        )
    return (
        "SELECT COUNT(*) FROM records_record c WHERE c.object_key = 'customer' "
        "AND json_extract(c.data, '$.city') = %s AND json_extract(c.data, '$.level') IN (%s, %s) "
        "AND json_extract(c.data, '$.points') >= %s "
        "AND (SELECT COUNT(*) FROM records_record o WHERE o.object_key = 'order' "
        "AND json_extract(o.data, '$.customer') = c.id "
        "AND json_extract(o.data, '$.placed_at') >= %s) >= %s"
    )


def scalar(sql: str, params: list[Any]) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.fetchone()[0])


def engines(postgres: bool) -> dict[str, Callable[[], int]]:
    from decimal import Decimal

    from tessera.conditions.compiler import matching
    from tessera.conditions.tree import parse

    node = parse(SEGMENT, "customer")

    def since() -> dt.datetime:
        return dt.datetime.now(dt.UTC) - dt.timedelta(days=WINDOW_DAYS)

    def typed() -> int:
        bound: Any = since() if postgres else iso(since())
        return scalar(typed_sql(postgres), [CITY, *SEG_LEVELS, MIN_POINTS, bound, MIN_ORDERS])

    points = Decimal(MIN_POINTS) if postgres else MIN_POINTS

    def hand() -> int:
        return scalar(hand_sql(postgres), [CITY, *SEG_LEVELS, points, iso(since()), MIN_ORDERS])

    return {
        "tessera": lambda: matching(node, "customer").count(),
        "typed": typed,
        "jsonb" if postgres else "json_extract": hand,
        "live": lambda: matching(node, "customer", use_rollups=False).count(),
    }


def timed(
    runs: dict[str, Callable[[], int]], once: set[str]
) -> tuple[dict[str, float], dict[str, int]]:
    """Median of RUNS warm runs; engines in ``once`` (seconds each) are timed on one cold run."""
    counts, times = {}, {name: [] for name in runs}
    for name, run in runs.items():  # warm-up, and the counts
        started = time.perf_counter()
        counts[name] = run()
        if name in once:
            times[name].append((time.perf_counter() - started) * 1000)
    for _ in range(RUNS):
        for name, run in runs.items():
            if name in once:
                continue
            started = time.perf_counter()
            run()
            times[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(t) for name, t in times.items()}, counts


def explain(postgres: bool) -> str:
    from django.db import connection

    from tessera.conditions.compiler import compile_condition
    from tessera.conditions.tree import parse

    compiled = compile_condition(parse(SEGMENT, "customer"), "customer")
    sql = (
        "SELECT COUNT(*) FROM records_record WHERE records_record.object_key = %s "
        f"AND ({compiled.sql})"
    )
    prefix = "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " if postgres else "EXPLAIN QUERY PLAN "
    with connection.cursor() as cursor:
        cursor.execute(prefix + sql, ["customer", *compiled.params])
        rows = cursor.fetchall()
    if postgres:
        return "\n".join(row[0] for row in rows)
    return "\n".join(str(row[-1]) for row in rows)


def freshness(gen: Generator) -> list[float]:
    """Seconds from the start of each order's write until the segment includes its customer."""
    from django.db import connection

    from tessera.conditions.compiler import matching
    from tessera.conditions.tree import parse
    from tessera.records import service

    node = parse(SEGMENT, "customer")
    # customers that meet the field conditions and are exactly one order short
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.id FROM bench_customer c JOIN records_rollup r "
            "ON r.record_id = c.id AND r.name = %s "
            "WHERE c.city = %s AND c.level IN (%s, %s) AND c.points >= %s AND r.value = %s "
            "ORDER BY c.id LIMIT %s",
            [
                f"orders.count@P{WINDOW_DAYS}D",
                CITY,
                *SEG_LEVELS,
                MIN_POINTS,
                MIN_ORDERS - 1,
                FRESH_ORDERS,
            ],
        )
        candidates = [row[0] for row in cursor.fetchall()]
    delays = []
    for customer in candidates:
        if matching(node, "customer").filter(pk=customer).exists():
            raise SystemExit(f"customer {customer} is in the segment before its order")
        started = time.perf_counter()
        service.create(
            "order",
            {
                "customer": customer,
                "total": 99.5,
                "placed_at": iso(dt.datetime.now(dt.UTC)),
                "category": "tools",
            },
        )
        while not matching(node, "customer").filter(pk=customer).exists():
            if time.perf_counter() - started > 30:
                raise SystemExit(f"customer {customer} not in the segment 30 s after its order")
            time.sleep(0.001)
        delays.append(time.perf_counter() - started)
    return delays


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="a quick run (under a minute)")
    parser.add_argument("--sqlite", action="store_true", help="a temporary SQLite file")
    parser.add_argument("--customers", type=int, help="how many customers (overrides --small)")
    args = parser.parse_args()
    postgres = not args.sqlite
    if args.customers:
        customers = args.customers
    elif postgres:
        customers = 50_000 if args.small else 1_000_000
    else:
        customers = 20_000 if args.small else 200_000
    orders = customers * 5

    url = configure(args.sqlite)
    where = urlparse(url)._replace(netloc=urlparse(url).hostname or "").geturl()
    print(f"database {where}: {customers:,} customers, {orders:,} orders")
    reset(postgres)
    versions = publish()
    gen = Generator(customers, orders, dt.datetime.now(dt.UTC))
    started = time.perf_counter()
    load(gen, versions, postgres)
    print(f"loaded in {time.perf_counter() - started:.1f}s")
    print(f"rollup, typed indexes, ANALYZE in {build_rollups_and_analyze(postgres):.1f}s")

    print("plan of Tessera's query:")
    print(explain(postgres))
    # SQLite does not search the relation index from a correlated subquery (see docs)
    medians, counts = timed(engines(postgres), set() if postgres else {"json_extract", "live"})
    if len(set(counts.values())) != 1:
        raise SystemExit(f"the counts disagree: {counts}")
    count = counts["tessera"]
    hand_name = "jsonb" if postgres else "json_extract"
    for name, ms in medians.items():
        print(f"{name:<13} {ms:10.2f} ms  (count {counts[name]:,})")
    delays = freshness(gen)
    if not delays:
        raise SystemExit("no customer one order short of the segment: freshness not measured")
    fresh_ms = p95(delays) * 1000
    worst = max(delays) * 1000
    print(f"freshness: {len(delays)} orders, p95 {fresh_ms:.1f} ms, max {worst:.1f} ms")
    typed_ratio = medians["tessera"] / medians["typed"]
    hand_ratio = medians["tessera"] / medians[hand_name]
    print(f"tessera / typed {typed_ratio:.2f} (goal <= {GOAL_TYPED})")
    figures = (
        f"tessera_ms={medians['tessera']:.2f} typed_ms={medians['typed']:.2f} "
        f"{hand_name}_ms={medians[hand_name]:.2f} live_ms={medians['live']:.2f} "
        f"freshness_p95_ms={fresh_ms:.1f} customers={customers} orders={orders} count={count}"
    )
    if postgres:
        print(f"tessera / jsonb {hand_ratio:.2f} (goal <= {GOAL_JSONB})")
        print(
            f"RESULT segments ratio={typed_ratio:.2f} goal=<={GOAL_TYPED} "
            f"jsonb_ratio={hand_ratio:.2f} {figures}"
        )
    else:
        print(f"tessera / json_extract {hand_ratio:.2f} (goal <= {GOAL_SQLITE})")
        print(
            f"RESULT segments_sqlite ratio={hand_ratio:.2f} goal=<={GOAL_SQLITE} "
            f"typed_ratio={typed_ratio:.2f} {figures}"
        )


if __name__ == "__main__":
    main()
