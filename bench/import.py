"""How fast Tessera imports customers from a CSV file, against COPY of the same rows as JSONB.

A seeded generator writes a CSV of customers (name, phone, email, city, birthday, member
level, points, total spent; phones and amounts written as people write them: "138 0013
8000", "¥3,899.50", dates as 1990/3/5). Then, in one run on PostgreSQL:

- tessera: ``tessera.exchange.jobs.create_job`` + ``importer.run`` (the very code a worker
  runs): the file counted and checked for breakage, every cell converted by its field type,
  every record validated by the object's compiled validator, upserted by phone (unique),
  written in chunks (each chunk's ids noted as created by the import: a created record is
  its own create entry in history), the job's cursor committed with each chunk;
- copy: the same CSV read with ``csv``, each row made a JSON object (column → text) and
  streamed with ``COPY … FROM STDIN`` into ``bench_copy (data jsonb)``, no index, no check.

Then a file of updates: the first twentieth of the customers again, every one's points
changed, imported into the table now holding all of them (upserted by phone; printed as
``update_rows_per_s``, no goal: a changed record is rewritten with its history row).

Ratio = tessera time / copy time (goal <= 3). Peak memory is the peak RSS of a child process
doing the import, measured at two sizes (the full run and a tenth of it): flat means the
larger run's peak is close to the smaller's. Run::

    .venv/bin/python bench/import.py [--small] [--rows N]

PostgreSQL is ``DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/tessera_bench_import),
created if missing, migrated, its record tables emptied. The last line is machine-readable::

    RESULT import ratio=2.4 goal=<=3 rows=1000000 rows_per_s=... copy_rows_per_s=... peak_mb=...
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
# bench/ itself stays off the path: bench/graphql.py would shadow the graphql package.
sys.path[:] = [str(ROOT / "platform"), str(ROOT)] + [
    entry for entry in sys.path if Path(entry or ".").resolve() != ROOT / "bench"
]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tessera.settings")

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/tessera_bench_import"
GOAL = 3.0
FULL_ROWS = 1_000_000
SMALL_ROWS = 50_000

CITIES = ["Hangzhou", "Shanghai", "Beijing", "Shenzhen", "Guangzhou", "Chengdu", "杭州", "上海"]
LEVELS = ["bronze", "silver", "gold", "platinum", "金卡", "银卡"]
SURNAMES = ["Li", "Wang", "Zhang", "Liu", "Chen", "韩", "王", "张"]
GIVEN = ["Lei", "Mei", "Hua", "Jun", "Ying", "梅梅", "芳", "伟"]
HEADER = ["姓名", "手机", "Email", "City", "生日", "会员等级", "积分", "累计消费"]

CUSTOMER = {
    "type": "object",
    "x-label": {"en": "Customer", "zh": "客户"},
    "required": ["name", "phone"],
    "properties": {
        "name": {"x-type": "string", "maxLength": 80, "x-label": {"en": "Name", "zh": "姓名"}},
        "phone": {"x-type": "phone", "x-unique": True, "x-label": {"en": "Mobile", "zh": "手机"}},
        "email": {"x-type": "email"},
        "city": {"x-type": "string", "maxLength": 60, "x-index": True},
        "birthday": {"x-type": "date", "x-label": {"en": "Birthday", "zh": "生日"}},
        "level": {
            "x-type": "enum",
            "enum": ["bronze", "silver", "gold", "platinum"],
            "x-label": {"en": "Level", "zh": "会员等级"},
            "x-enum-labels": {"gold": {"zh": "金卡"}, "silver": {"zh": "银卡"}},
        },
        "points": {"x-type": "integer", "minimum": 0, "x-label": {"en": "Points", "zh": "积分"}},
        "total_spent": {"x-type": "money", "x-label": {"en": "Total spent", "zh": "累计消费"}},
    },
}


def generate(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for i in range(rows):
            phone = f"1{rng.choice('3589')}{i:09d}"
            spaced = rng.random() < 0.3
            writer.writerow(
                [
                    f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)}",
                    f"{phone[:3]} {phone[3:7]} {phone[7:]}" if spaced else phone,
                    f"c{i}@example.com" if rng.random() < 0.8 else "",
                    rng.choice(CITIES),
                    f"{rng.randrange(1950, 2006)}/{rng.randrange(1, 13)}/{rng.randrange(1, 29)}",
                    rng.choice(LEVELS),
                    rng.randrange(0, 10_000),
                    f"¥{rng.randrange(0, 5_000_000) / 100:,.2f}",
                ]
            )


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    admin = urlunparse(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}", flush=True)


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    import django

    django.setup()


def reset() -> None:
    from django.db import connection

    from tessera.definitions.service import save_and_publish

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE records_rollup, records_event, records_recordchange, records_record, "
            "records_bulkcreation, exchange_rejectedrow, exchange_importjob "
            "RESTART IDENTITY CASCADE"
        )
        cursor.execute("DROP TABLE IF EXISTS bench_copy")
        cursor.execute("CREATE TABLE bench_copy (data jsonb)")
    save_and_publish("object", "customer", CUSTOMER)


class PeakRss:
    """The peak resident set size of this process while the block runs, sampled."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()

    @staticmethod
    def now() -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.now())
            self._stop.wait(0.05)

    def __enter__(self) -> PeakRss:
        self.peak = self.now()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.now())


def tessera_import(path: Path) -> tuple[float, int, int]:
    """(seconds, rows created, peak RSS bytes) of one import through the job code."""
    from tessera.definitions.cache import published
    from tessera.exchange import importer, jobs
    from tessera.exchange.mapping import suggest_mapping

    mapping = suggest_mapping(HEADER, published("object", "customer").body)
    assert len(mapping) == len(HEADER), mapping
    with PeakRss() as rss:
        started = time.perf_counter()
        job = jobs.create_job(path, "customer", mapping, key_fields=["phone"])
        job = importer.run(job)
        seconds = time.perf_counter() - started
    if job.status != "done" or job.rejected:
        raise SystemExit(f"import ended {job.status} with {job.rejected} rejected: {job.errors}")
    return seconds, job.created, rss.peak


def write_updates(path: Path, out: Path, rows: int) -> None:
    """The first ``rows`` customers of ``path`` again, each with one more point."""
    points = HEADER.index("积分")
    with path.open(encoding="utf-8", newline="") as source, out.open("w", newline="") as sink:
        reader, writer = csv.reader(source), csv.writer(sink)
        writer.writerow(next(reader))
        for _, row in zip(range(rows), reader, strict=False):
            row[points] = str(int(row[points]) + 1)
            writer.writerow(row)


def update_import(path: Path) -> tuple[float, int]:
    """(seconds, records updated) of an import of ``path`` upserted by phone."""
    from tessera.definitions.cache import published
    from tessera.exchange import importer, jobs
    from tessera.exchange.mapping import suggest_mapping

    mapping = suggest_mapping(HEADER, published("object", "customer").body)
    started = time.perf_counter()
    job = importer.run(jobs.create_job(path, "customer", mapping, key_fields=["phone"]))
    seconds = time.perf_counter() - started
    if job.status != "done" or job.rejected or job.created:
        raise SystemExit(f"the update import ended {job.status}: {job.errors}")
    return seconds, job.updated


def copy_jsonb(path: Path) -> float:
    from django.db import connection, transaction

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as wrapper, path.open(encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        cursor = wrapper.cursor
        with cursor.copy("COPY bench_copy (data) FROM STDIN") as copy:
            batch = []
            for row in reader:
                text = json.dumps(dict(zip(header, row, strict=True)), ensure_ascii=False)
                batch.append(text.replace("\\", "\\\\"))
                if len(batch) >= 10_000:
                    copy.write("\n".join(batch) + "\n")
                    batch = []
            if batch:
                copy.write("\n".join(batch) + "\n")
    return time.perf_counter() - started


def child(url: str, rows: int, workdir: Path) -> None:
    """One import of ``rows`` in this process (for its own peak RSS); prints JSON."""
    setup_django(url)
    path = workdir / f"customers-{rows}.csv"
    if not path.exists():
        generate(path, rows)
    reset()
    seconds, created, peak = tessera_import(path)
    print(json.dumps({"rows": rows, "seconds": seconds, "created": created, "peak": peak}))


def run_child(url: str, rows: int, workdir: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(rows), "--workdir", str(workdir)],
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"the import child failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="a quick run (under a minute)")
    parser.add_argument("--rows", type=int, help="how many customers (overrides --small)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    if not url.startswith("postgres"):
        raise SystemExit("bench/import.py compares with PostgreSQL's COPY: set a postgres URL")
    if args.child:
        child(url, args.child, Path(args.workdir))
        return
    rows = args.rows or (SMALL_ROWS if args.small else FULL_ROWS)
    started_load = load_average()
    ensure_database(url)
    setup_django(url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    workdir = Path(tempfile.mkdtemp(prefix="tessera-bench-import-"))
    path = workdir / f"customers-{rows}.csv"
    t0 = time.perf_counter()
    generate(path, rows)
    size_mb = path.stat().st_size / 1e6
    print(f"generated {rows:,} rows ({size_mb:.0f} MB) in {time.perf_counter() - t0:.1f}s")

    small = max(rows // 10, 1000)
    tenth = run_child(url, small, workdir)
    print(
        f"tessera import of {small:,}: {tenth['seconds']:.1f}s, peak {tenth['peak'] / 1e6:.0f} MB"
    )
    full = run_child(url, rows, workdir)
    assert full["created"] == rows, full
    print(f"tessera import of {rows:,}: {full['seconds']:.1f}s, peak {full['peak'] / 1e6:.0f} MB")
    copy_seconds = copy_jsonb(path)
    print(f"COPY as jsonb of {rows:,}: {copy_seconds:.1f}s")
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM records_record WHERE object_key = 'customer'")
        stored = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM bench_copy")
        copied = cursor.fetchone()[0]
    assert stored == rows and copied == rows, (stored, copied)
    updates = workdir / "updates.csv"
    write_updates(path, updates, max(rows // 20, 1))
    update_seconds, updated = update_import(updates)
    print(
        f"tessera import of {updated:,} updates among {rows:,}: {update_seconds:.1f}s "
        f"({updated / update_seconds:,.0f} rows/s)"
    )
    shutil.rmtree(workdir, ignore_errors=True)  # the CSVs: 80 MB a million rows
    ratio = full["seconds"] / copy_seconds
    growth = full["peak"] / tenth["peak"]
    print(f"load average: {started_load} at the start, {load_average()} at the end")
    with connection.cursor() as cursor:  # what the server's checkpoints allow (docs/deploy.md)
        cursor.execute("SHOW max_wal_size")
        print(f"PostgreSQL max_wal_size: {cursor.fetchone()[0]}")
    print(
        f"RESULT import ratio={ratio:.2f} goal=<={GOAL:g} rows={rows} "
        f"rows_per_s={rows / full['seconds']:.0f} copy_rows_per_s={rows / copy_seconds:.0f} "
        f"peak_mb={full['peak'] / 1e6:.0f} peak_mb_tenth={tenth['peak'] / 1e6:.0f} "
        f"peak_growth={growth:.2f} update_rows={updated} "
        f"update_rows_per_s={updated / update_seconds:.0f} load={load_average().split()[0]}"
    )


def load_average() -> str:
    """The machine's 1, 5 and 15 minute load (the ratio depends on what else runs)."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
