"""What GraphQL costs over a plain Django JSON view returning the same data.

100 customers with 20 custom fields each, and each one's last 5 orders (of 8), newest
first. The same request goes through

- graphql: the ``/graphql`` view (``tessera.api.view.graphql``): token, schema of the
  current revision, parse, validate, limits, execution with the batched loaders;
- plain: a hand-written Django view with the same token check, the customers in one query,
  their last 5 orders in one window-function query, dicts out through ``JsonResponse``;
- role (information): the GraphQL request by a person with a role rather than a superuser,
  so the permission checks (rights query, field masks, row rules) are on the path.

Both answers are compared (they must hold the same data). Each figure is the median of
warm runs, the two taking turns; SQL queries are counted per request. A cProfile of one
GraphQL request prints where its time goes. Goals: graphql / plain <= 2.5, <= 4 queries.
Run::

    .venv/bin/python bench/graphql.py [--small] [--sqlite]

PostgreSQL is ``DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/tessera_bench_graphql),
created if missing and migrated; its records are replaced. The last line is machine-readable::

    RESULT graphql ratio=2.1 goal=<=2.5 queries=4 plain_queries=3 graphql_ms=... plain_ms=...
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import json
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
# this file is named like the graphql package: keep its folder off the import path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tessera.settings")

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/tessera_bench_graphql"
GOAL_RATIO, GOAL_QUERIES = 2.5, 4
CUSTOMERS, ORDERS_EACH, LAST = 100, 8, 5
LEVELS = ["bronze", "silver", "gold", "platinum"]
CITIES = ["Hangzhou", "Shanghai", "Beijing", "Shenzhen", "Chengdu"]
STATUSES = ["placed", "paid", "shipped", "delivered"]

# 20 custom fields of every common type
FIELDS: dict[str, dict[str, Any]] = {
    "name": {"x-type": "string"},
    "email": {"x-type": "email"},
    "phone": {"x-type": "phone"},
    "city": {"x-type": "string", "x-index": True},
    "street": {"x-type": "string"},
    "zip": {"x-type": "string"},
    "birthday": {"x-type": "date"},
    "level": {"x-type": "enum", "enum": LEVELS},
    "points": {"x-type": "integer", "minimum": 0, "maximum": 1_000_000},
    "total_spent": {"x-type": "money"},
    "vip": {"x-type": "boolean"},
    "newsletter": {"x-type": "boolean"},
    "tags": {"x-type": "list", "items": {"x-type": "string"}},
    "notes": {"x-type": "text"},
    "homepage": {"x-type": "url"},
    "first_seen_at": {"x-type": "datetime"},
    "last_seen_at": {"x-type": "datetime"},
    "visits": {"x-type": "integer", "minimum": 0, "maximum": 1_000_000},
    "discount": {"x-type": "decimal"},
    "source": {"x-type": "string"},
}
CUSTOMER = {"type": "object", "required": ["name"], "properties": FIELDS}
ORDER = {
    "type": "object",
    "x-time-field": "placed_at",
    "properties": {
        "customer": {
            "x-type": "relation",
            "x-relation": {"object": "customer", "related_name": "orders"},
        },
        "total": {"x-type": "money"},
        "placed_at": {"x-type": "datetime", "x-index": True},
        "status": {"x-type": "enum", "enum": STATUSES},
    },
}
ORDER_FIELDS = ["total", "placed_at", "status"]
QUERY = (
    "query($first: Int!) { customers(first: $first, orderBy: [id_ASC]) { nodes { id "
    + " ".join(FIELDS)
    + " orders(first: 5, orderBy: [placed_at_DESC]) { nodes { id "
    + " ".join(ORDER_FIELDS)
    + " } } } } }"
)


def configure(sqlite: bool) -> str:
    if sqlite:
        url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='tessera-bench-')) / 'graphql.sqlite3'}"
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


def load() -> str:
    """Publish the objects, write the records, return a token of a superuser."""
    from django.contrib.auth import get_user_model

    from tessera.api import tokens
    from tessera.definitions import service
    from tessera.records.models import Record, RecordChange

    RecordChange.objects.all().delete()
    Record.objects.all().delete()
    for key, body in (("customer", CUSTOMER), ("order", ORDER)):
        if (
            service.current(key and "object", key) is None
            or service.current("object", key).body != body
        ):
            service.save_and_publish("object", key, body)
    version = {k: service.current("object", k).version for k in ("customer", "order")}
    rng = random.Random(7)
    now = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
    customers = Record.objects.bulk_create(
        [
            Record(
                object_key="customer",
                schema_version=version["customer"],
                data={
                    "name": f"Customer {i}",
                    "email": f"c{i}@example.com",
                    "phone": f"+86 138 0000 {i:04}",
                    "city": rng.choice(CITIES),
                    "street": f"{i} West Lake Road",
                    "zip": f"{310000 + i}",
                    "birthday": f"19{70 + i % 30}-0{1 + i % 9}-1{i % 9}",
                    "level": rng.choice(LEVELS),
                    "points": rng.randrange(0, 10_000),
                    "total_spent": round(rng.uniform(0, 20_000), 2),
                    "vip": i % 7 == 0,
                    "newsletter": i % 2 == 0,
                    "tags": ["bench", LEVELS[i % 4]],
                    "notes": "Prefers delivery after 18:00. " * 3,
                    "homepage": f"https://example.com/c/{i}",
                    "first_seen_at": "2020-01-01T08:00:00.000000Z",
                    "last_seen_at": "2024-05-01T09:30:00.000000Z",
                    "visits": rng.randrange(1, 500),
                    "discount": 0.05 * (i % 5),
                    "source": rng.choice(["tmall", "jd", "web", "store"]),
                },
            )
            for i in range(CUSTOMERS)
        ]
    )
    Record.objects.bulk_create(
        [
            Record(
                object_key="order",
                schema_version=version["order"],
                data={
                    "customer": customer.pk,
                    "total": round(rng.uniform(10, 900), 2),
                    "placed_at": (now - dt.timedelta(days=rng.randrange(0, 700), minutes=j))
                    .isoformat(timespec="microseconds")
                    .replace("+00:00", "Z"),
                    "status": rng.choice(STATUSES),
                },
            )
            for customer in customers
            for j in range(ORDERS_EACH)
        ]
    )
    user = get_user_model().objects.filter(username="bench").first()
    if user is None:
        user = get_user_model().objects.create_superuser("bench", "bench@example.com", None)
    raw, _ = tokens.issue(user, "bench", ["read"])
    return raw


def role_token() -> str:
    """A person with a role (not a superuser) who may read every field of both objects."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from tessera.api import tokens
    from tessera.api.models import ObjectPermission

    group, _ = Group.objects.get_or_create(name="bench-sales")
    for key in ("customer", "order"):
        ObjectPermission.objects.update_or_create(
            group=group, object_key=key, defaults={"read_fields": ["*"]}
        )
    user = get_user_model().objects.filter(username="bench-sales").first()
    if user is None:
        user = get_user_model().objects.create_user("bench-sales")
    user.groups.add(group)
    raw, _ = tokens.issue(user, "bench", ["read"])
    return raw


def plain_view(request):
    """The hand-written baseline: what a person writes without GraphQL."""
    from django.db.models import F, Window
    from django.db.models.expressions import RawSQL
    from django.db.models.functions import RowNumber
    from django.http import JsonResponse

    from tessera.api import tokens
    from tessera.definitions.fields.base import SqlType
    from tessera.records.indexes import field_expression
    from tessera.records.models import Record

    header = request.META.get("HTTP_AUTHORIZATION", "")
    if tokens.authenticate(header.partition(" ")[2]) is None:
        return JsonResponse({"error": "unauthenticated"}, status=401)
    customers = list(Record.objects.filter(object_key="customer").order_by("id")[:CUSTOMERS])
    link = RawSQL(field_expression("customer", SqlType.NUMBER), [])
    placed = RawSQL(field_expression("placed_at", SqlType.TEXT), [])
    orders = (
        Record.objects.filter(object_key="order")
        .annotate(_parent=link)
        .filter(_parent__in=[c.pk for c in customers])
        .annotate(_n=Window(RowNumber(), partition_by=[link], order_by=[placed.desc(), F("id")]))
        .filter(_n__lte=LAST)
        .order_by("_parent", "_n")
    )
    per: dict[int, list[dict[str, Any]]] = {}
    for order in orders:
        row = {"id": str(order.pk)}
        row.update({f: order.data.get(f) for f in ORDER_FIELDS})
        per.setdefault(int(order._parent), []).append(row)
    nodes = []
    for customer in customers:
        node = {"id": str(customer.pk)}
        node.update({f: customer.data.get(f) for f in FIELDS})
        node["orders"] = {"nodes": per.get(customer.pk, [])}
        nodes.append(node)
    return JsonResponse({"data": {"customers": {"nodes": nodes}}})


def requests_for(token: str):
    from django.test import RequestFactory

    factory = RequestFactory()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    body = json.dumps({"query": QUERY, "variables": {"first": CUSTOMERS}})

    def graphql_request():
        return factory.post("/graphql", body, content_type="application/json", **headers)

    def plain_request():
        return factory.get("/plain", **headers)

    return graphql_request, plain_request


def run_once(view, make_request) -> tuple[float, Any]:
    started = time.perf_counter()
    response = view(make_request())
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.content[:500]
    return elapsed, response


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="a quick run (under a minute)")
    parser.add_argument("--sqlite", action="store_true", help="a temporary SQLite file")
    args = parser.parse_args()
    url = configure(args.sqlite)
    print(f"database {urlparse(url).scheme}: {CUSTOMERS} customers x 20 fields, last {LAST} of "
          f"{ORDERS_EACH} orders each")  # fmt: skip
    token = load()

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tessera.api.view import graphql

    graphql_request, plain_request = requests_for(token)
    role_request, _ = requests_for(role_token())
    views = {
        "graphql": (graphql, graphql_request),
        "plain": (plain_view, plain_request),
        "role": (graphql, role_request),  # the same query by a person with a role
    }
    answers, queries = {}, {}
    for name, (view, make) in views.items():
        run_once(view, make)  # warm: schema built, caches filled
        with CaptureQueriesContext(connection) as captured:
            _, response = run_once(view, make)
        queries[name] = captured.captured_queries
        answers[name] = json.loads(response.content)
    if not answers["graphql"] == answers["plain"] == answers["role"]:
        raise SystemExit("the two views disagree on the data")
    runs = 15 if args.small else 60
    times: dict[str, list[float]] = {name: [] for name in views}
    for _ in range(runs):
        for name, (view, make) in views.items():
            times[name].append(run_once(view, make)[0])
    medians = {name: statistics.median(t) * 1000 for name, t in times.items()}

    profile = cProfile.Profile()
    profile.enable()
    for _ in range(5):
        run_once(graphql, graphql_request)
    profile.disable()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(12)
    print("where a GraphQL request's time goes (5 requests, by own time):")
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:3000])

    for name in views:
        print(f"{name:<8} {medians[name]:8.2f} ms  {len(queries[name])} SQL queries")
        for query in queries[name]:
            print(f"           {query['sql'][:110]}")
    ratio = medians["graphql"] / medians["plain"]
    print(f"graphql / plain {ratio:.2f} (goal <= {GOAL_RATIO}); "
          f"graphql queries {len(queries['graphql'])} (goal <= {GOAL_QUERIES})")  # fmt: skip
    print(
        f"RESULT graphql ratio={ratio:.2f} goal=<={GOAL_RATIO} queries={len(queries['graphql'])} "
        f"plain_queries={len(queries['plain'])} graphql_ms={medians['graphql']:.2f} "
        f"plain_ms={medians['plain']:.2f} customers={CUSTOMERS} fields={len(FIELDS)} "
        f"orders_each={LAST} runs={runs} db={urlparse(url).scheme} "
        f"role_ms={medians['role']:.2f} role_queries={len(queries['role'])}"
    )


if __name__ == "__main__":
    main()
