"""``manage.py import FILE --object KEY``: preview, dry run or run an import, with progress.

Exit codes: 0 done (or a dry run made), 1 the file, mapping or object was refused (every
problem printed with its path), 3 rows were rejected and ``--strict`` was given.
"""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.table import Table

from tessera.definitions.cache import published
from tessera.exchange import importer, jobs
from tessera.exchange.checking import PlanRefused
from tessera.exchange.cli import progress_bar
from tessera.exchange.mapping import suggest_mapping
from tessera.exchange.models import ImportJob, ImportStatus
from tessera.exchange.reading import FileProblem, open_table
from tessera.exchange.views import rejected_csv


class Command(BaseCommand):
    help = "Import a CSV or Excel file into an object (mapping suggested from the header)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", help="a .csv, .xlsx or .xlsm file")
        parser.add_argument("--object", dest="object_key", help="the object's key")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="COLUMN=FIELD",
            help="map a column (repeatable); without any, the suggested mapping is used",
        )
        parser.add_argument("--key", default="", help="upsert key: field[,field] (unique)")
        parser.add_argument("--preview", action="store_true", help="show the first rows only")
        parser.add_argument("--dry-run", action="store_true", help="check every row, write none")
        parser.add_argument("--background", action="store_true", help="run on a Celery worker")
        parser.add_argument("--resume", type=int, metavar="JOB", help="resume an import job")
        parser.add_argument("--encoding", help="the file's encoding (else detected)")
        parser.add_argument("--region", help="default country of phones, e.g. CN")
        parser.add_argument("--timezone", help="of times without an offset, e.g. Asia/Shanghai")
        parser.add_argument("--day-first", action="store_true", help="05/03/2024 is 5 March")
        parser.add_argument("--clear-empty", action="store_true", help="empty cells clear fields")
        parser.add_argument("--rejected", metavar="CSV", help="write rejected rows there")
        parser.add_argument("--strict", action="store_true", help="exit 3 if rows are rejected")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **opts: Any) -> None:
        console = Console(file=self.stdout, width=120)
        try:
            if opts["resume"]:
                job = ImportJob.objects.filter(pk=opts["resume"]).first()
                if job is None:
                    raise CommandError(f"no import job #{opts['resume']}")
                self._run(console, job, opts)
                return
            if not opts["file"] or not opts["object_key"]:
                raise CommandError("give a FILE and --object (or --resume JOB)")
            self._start(console, opts)
        except (FileProblem, PlanRefused) as exc:
            for error in exc.errors:
                console.print(f"[red]refused[/red] {error.path}: {error.message} [{error.code}]")
            raise CommandError("nothing was imported", returncode=1) from None

    def _options(self, opts: dict[str, Any]) -> dict[str, Any]:
        options: dict[str, Any] = {}
        for name in ("encoding", "region", "timezone"):
            if opts[name]:
                options[name] = opts[name]
        if opts["day_first"]:
            options["day_first"] = True
        if opts["clear_empty"]:
            options["empty"] = "clear"
        return options

    def _start(self, console: Console, opts: dict[str, Any]) -> None:
        object_key, path = opts["object_key"], opts["file"]
        options = self._options(opts)
        definition = published("object", object_key)
        if definition is None:
            raise CommandError(f"{object_key!r} is not a published object")
        mapping: dict[str, str] = {}
        for item in opts["map"]:
            column, sep, field = item.partition("=")
            if not sep:
                raise CommandError(f"--map takes COLUMN=FIELD, not {item!r}")
            mapping[column] = field
        if not mapping:
            with open_table(path, encoding=options.get("encoding")) as table:
                mapping = suggest_mapping(table.header, definition.body)
                unmapped = [c for c in table.header if c not in mapping]
            shown = ", ".join(f"{c} → {f}" for c, f in mapping.items())
            console.print(f"mapping (suggested): {shown}", soft_wrap=True)
            if unmapped:
                console.print("not imported: " + ", ".join(unmapped), soft_wrap=True)
        key = [k.strip() for k in opts["key"].split(",") if k.strip()]
        if opts["preview"]:
            shown = importer.preview(
                path, object_key, mapping=mapping, key_fields=key, options=options
            )
            table = Table("row", *mapping.values(), "problems")
            for row in shown.rows:
                data = row["data"] or {}
                problems = "; ".join(f"{e['column']}: {e['message']}" for e in row["errors"])
                table.add_row(
                    str(row["row"]), *(str(data.get(f, "")) for f in mapping.values()), problems
                )
            console.print(table)
            return
        if opts["dry_run"]:
            with progress_bar(console) as bar:
                task = bar.add_task("checking", total=None)
                report = importer.dry_run(
                    path, object_key, mapping, key, options, progress=lambda n: bar.advance(task, n)
                )
            self._report(console, report.as_dict(), opts)
            return
        job = jobs.create_job(
            path, object_key, mapping, key_fields=key, options=options, copy=opts["background"]
        )
        console.print(f"import #{job.pk} of {path} into {object_key}")
        if opts["background"]:
            jobs.start(job)
            self._follow(console, job)
        else:
            self._run(console, job, opts)

    def _run(self, console: Console, job: ImportJob, opts: dict[str, Any]) -> None:
        with progress_bar(console) as bar:
            task = bar.add_task(f"import #{job.pk}", total=job.total_rows, completed=job.rows_done)

            def advance(current: ImportJob) -> None:
                bar.update(task, total=current.total_rows, completed=current.rows_done)

            job = importer.run(job, progress=advance)
            bar.update(task, total=job.total_rows, completed=job.rows_done)
        self._finished(console, job, opts)

    def _follow(self, console: Console, job: ImportJob) -> None:
        with progress_bar(console) as bar:
            task = bar.add_task(f"import #{job.pk} (worker)", total=None)
            while True:
                job.refresh_from_db()
                bar.update(task, total=job.total_rows, completed=job.rows_done)
                if job.status not in (ImportStatus.PENDING, ImportStatus.RUNNING):
                    break
                time.sleep(0.5)
        self._finished(console, job, {"rejected": None, "strict": False, "json": False})

    def _finished(self, console: Console, job: ImportJob, opts: dict[str, Any]) -> None:
        if job.status == ImportStatus.FAILED:
            for error in job.errors:
                console.print(f"[red]refused[/red] {error['path']}: {error['message']}")
            raise CommandError(f"import #{job.pk} failed; nothing was written", returncode=1)
        counts = {k: getattr(job, k) for k in ("created", "updated", "unchanged", "rejected")}
        console.print(
            f"import #{job.pk} {job.status}: " + ", ".join(f"{v} {k}" for k, v in counts.items())
        )
        if opts.get("rejected") and job.rejected:
            with open(opts["rejected"], "w", encoding="utf-8-sig", newline="") as out:
                out.write(rejected_csv(job))
            console.print(f"rejected rows written to {opts['rejected']}")
        if opts.get("strict") and job.rejected:
            raise CommandError(f"{job.rejected} row(s) rejected", returncode=3)

    def _report(self, console: Console, report: dict[str, Any], opts: dict[str, Any]) -> None:
        if opts["json"]:
            self.stdout.write(json.dumps(report, ensure_ascii=False))
        else:
            console.print(
                f"dry run: {report['total']} rows; would create {report['created']}, "
                f"update {report['updated']}, leave {report['unchanged']} unchanged, "
                f"reject {report['rejected']}"
            )
            if report["errors"]:
                table = Table("row", "column", "reason")
                for error in report["errors"][:50]:
                    table.add_row(str(error["row"]), str(error["column"] or ""), error["message"])
                console.print(table)
        if opts["strict"] and report["rejected"]:
            raise CommandError(f"{report['rejected']} row(s) would be rejected", returncode=3)
