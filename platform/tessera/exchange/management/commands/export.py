"""``manage.py export OBJECT -o FILE [--segment KEY] [--as USER]``: CSV or Excel, streamed.

Without ``--as`` the command exports every field (it runs with the operator's access to the
machine); ``--as USER`` applies that person's rights, the same check as GraphQL and the
HTTP export. The format follows the file's extension (.csv, .xlsx).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console

from tessera.exchange import export as exporting
from tessera.exchange.cli import progress_bar


class Command(BaseCommand):
    help = "Export the records of an object or a segment to CSV or Excel."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("object_key", help="the object's key")
        parser.add_argument("-o", "--output", required=True, help="a .csv or .xlsx file")
        parser.add_argument("--segment", help="only the members of this segment")
        parser.add_argument("--fields", default="", help="field[,field]: these columns only")
        parser.add_argument("--as", dest="username", help="apply this person's rights")
        parser.add_argument("--no-bom", action="store_true", help="CSV without a UTF-8 BOM")

    def handle(self, *args: Any, **opts: Any) -> None:
        console = Console(file=self.stdout, width=120)
        output: str = opts["output"]
        extension = output.rsplit(".", 1)[-1].lower()
        if extension not in ("csv", "xlsx"):
            raise CommandError("the output is a .csv or .xlsx file")
        user_model = get_user_model()
        if opts["username"]:
            user = user_model.objects.filter(username=opts["username"]).first()
            if user is None:
                raise CommandError(f"no user {opts['username']!r}")
        else:
            user = user_model(username="manage.py", is_superuser=True, is_active=True)
        fields = [f.strip() for f in opts["fields"].split(",") if f.strip()] or None
        try:
            prepared = exporting.prepare(
                user, opts["object_key"], segment=opts["segment"], fields=fields
            )
        except exporting.ExportRefused as exc:
            raise CommandError(exc.message, returncode=1) from None
        total = prepared.rows.count()
        with progress_bar(console) as bar:
            task = bar.add_task(f"export {opts['object_key']}", total=total)
            counted = _Counted(prepared, lambda: bar.advance(task))
            if extension == "csv":
                with open(output, "wb") as out:
                    for chunk in exporting.csv_chunks(counted, bom=not opts["no_bom"]):
                        out.write(chunk)
            else:
                exporting.write_xlsx(counted, output)
        console.print(f"{total} row(s), columns: {', '.join(prepared.header)} → {output}")


class _Counted(exporting.Export):
    """An export that reports each row it yields (for the progress bar)."""

    def __init__(self, inner: exporting.Export, tick):
        super().__init__(inner.object_key, inner.fields, inner.rows)
        self._tick = tick

    def records(self):
        for row in super().records():
            self._tick()
            yield row
