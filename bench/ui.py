"""How long the operator UI takes to render a table page of 50 records, against a plain Django
view that renders the same 50 rows.

A customer object of 12 fields, N customers (default 2,000), a screen with one table block of
8 columns and 50 rows per page. Two figures, in one process, on SQLite in a temporary folder
(``--postgres`` uses DATABASE_URL instead), median of ``--runs`` requests each after a warm-up:

- tessera: ``GET /app/s/customers/`` through Django's test client, so the whole stack runs
  (middleware, session, sign-in, the person's rights, the screen lookup, the table block: the
  permission-narrowed query, the count, the page, the template), as an operator with a role
  whose fields are an allow-list;
- plain: a Django view with ``login_required`` that reads the same 50 newest customers and
  their count and renders the same 8 columns with a template, served beside the real URLs and
  called through the same client, so it passes the same middleware and session.

Goal (issue 11): a table page of 50 records under 300 ms server time on SQLite. Run::

    .venv/bin/python bench/ui.py [--records N] [--runs R] [--postgres]

The last line is machine-readable::

    RESULT ui ratio=... goal=<=300ms ms=... plain_ms=... records=... rows=50 queries=...
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
# bench/graphql.py would shadow the graphql package: this folder is not an import root
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
GOAL_MS = 300.0
COLUMNS = ["name", "email", "phone", "city", "level", "points", "total_spent", "vip"]


def configure(postgres: bool) -> None:
    var = tempfile.mkdtemp(prefix="tessera-bench-ui-")
    os.environ["TESSERA_VAR_DIR"] = var
    if not postgres:
        os.environ["DATABASE_URL"] = f"sqlite:///{Path(var) / 'ui.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tessera.settings")
    os.environ["DEBUG"] = "false" if os.environ.get("BENCH_DEBUG") != "1" else "true"
    os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 50)
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.SECURE_SSL_REDIRECT = False
    call_command("migrate", verbosity=0)


def load(records: int):
    from django.contrib.auth.models import Group, User

    from tessera.api.models import ObjectPermission
    from tessera.definitions import service
    from tessera.records.models import Record

    body = {
        "x-label": {"en": "Customer", "zh": "客户"},
        "x-title-field": "name",
        "required": ["name"],
        "properties": {
            "name": {"x-type": "string", "x-label": {"en": "Name", "zh": "姓名"}},
            "email": {"x-type": "email"},
            "phone": {"x-type": "phone"},
            "city": {"x-type": "string", "x-index": True},
            "level": {"x-type": "enum", "enum": ["bronze", "silver", "gold"]},
            "points": {"x-type": "integer"},
            "total_spent": {"x-type": "money"},
            "vip": {"x-type": "boolean"},
            "birthday": {"x-type": "date"},
            "note": {"x-type": "text"},
            "source": {"x-type": "string"},
            "tags": {"x-type": "list", "items": {"x-type": "string"}},
        },
    }
    service.save_and_publish("object", "customer", body)
    service.save_and_publish(
        "screen",
        "customers",
        {
            "x-label": {"en": "Customers"},
            "blocks": [
                {"type": "table", "object": "customer", "columns": COLUMNS, "page_size": 50}
            ],
        },
    )
    rng = random.Random(7)
    cities = ["Hangzhou", "Shanghai", "Beijing", "Shenzhen", "Ningbo"]
    definition = service.current("object", "customer")
    Record.objects.bulk_create(
        Record(
            object_key="customer",
            schema_version=definition.version,
            data={
                "name": f"Customer {i}",
                "email": f"c{i}@example.com",
                "phone": f"+86 138 0000 {i:04d}",
                "city": rng.choice(cities),
                "level": rng.choice(["bronze", "silver", "gold"]),
                "points": rng.randint(0, 5000),
                "total_spent": round(rng.uniform(0, 9000), 2),
                "vip": rng.random() < 0.1,
                "note": "x" * 40,
                "source": "web",
                "tags": ["a", "b"],
            },
        )
        for i in range(records)
    )
    group = Group.objects.create(name="support")
    ObjectPermission.objects.create(group=group, object_key="customer", read_fields=COLUMNS)
    user = User.objects.create_user("olivia", "o@example.com", "pw-123456789")
    user.groups.add(group)
    return user


def plain_view(request):
    from django.contrib.auth.decorators import login_required
    from django.http import HttpResponse
    from django.template import engines

    from tessera.records.models import Record

    @login_required
    def view(request):
        rows = list(Record.objects.filter(object_key="customer").order_by("-id")[:50])
        count = Record.objects.filter(object_key="customer").count()
        template = engines["django"].from_string(
            "<table><tr>{% for c in columns %}<th>{{ c }}</th>{% endfor %}</tr>"
            "{% for r in rows %}<tr>{% for v in r %}<td>{{ v }}</td>{% endfor %}</tr>{% endfor %}"
            "</table><p>{{ count }}</p>"
        )
        cells = [[r.data.get(c, "") for c in COLUMNS] for r in rows]
        return HttpResponse(template.render({"columns": COLUMNS, "rows": cells, "count": count}))

    return view(request)


def median_ms(call, runs: int) -> float:
    call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="a quick run (under a minute)")
    parser.add_argument("--records", type=int)
    parser.add_argument("--runs", type=int)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    args.records = args.records or (500 if args.small else 2000)
    args.runs = args.runs or (10 if args.small else 30)
    configure(args.postgres)
    from django.db import connection
    from django.test import Client

    user = load(args.records)
    client = Client()
    client.force_login(user)
    response = client.get("/app/s/customers/")
    assert response.status_code == 200 and response.content.count(b"<tr data-id=") == 50
    assert b"Customer" in response.content
    # the plain view is served beside the real URLs, so both pass the same middleware
    import types

    from django.conf import settings
    from django.urls import clear_url_caches, path

    from tessera import urls

    module = types.ModuleType("bench_ui_urls")
    module.urlpatterns = [path("plain/", plain_view), *urls.urlpatterns]
    sys.modules["bench_ui_urls"] = module
    settings.ROOT_URLCONF = "bench_ui_urls"
    clear_url_caches()
    assert client.get("/plain/").content.count(b"<tr>") == 51

    def plain():
        client.get("/plain/")

    queries: list[str] = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        client.get("/app/s/customers/")
    tessera_ms = median_ms(lambda: client.get("/app/s/customers/"), args.runs)
    plain_ms = median_ms(plain, args.runs)
    ratio = tessera_ms / plain_ms
    print(f"database: {connection.vendor}, {args.records} customers, 50 rows, 8 columns")
    print(
        f"tessera table page: {tessera_ms:.1f} ms (median of {args.runs}), {len(queries)} queries"
    )
    print(f"plain Django view:  {plain_ms:.1f} ms")
    verdict = "met" if tessera_ms <= GOAL_MS else "MISSED"
    print(f"goal: under {GOAL_MS:.0f} ms server time: {verdict}")
    print(
        f"RESULT ui ratio={ratio:.2f} goal=<={GOAL_MS:.0f}ms ms={tessera_ms:.1f} "
        f"plain_ms={plain_ms:.1f} records={args.records} rows=50 queries={len(queries)}"
    )


if __name__ == "__main__":
    main()
