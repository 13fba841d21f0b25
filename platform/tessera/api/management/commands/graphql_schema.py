"""``manage.py graphql_schema``: print the SDL of the current schema, or check the static one.

``--static`` prints the part that does not depend on what is published (what
``schema.graphql`` holds); ``--check FILE`` fails when FILE differs from it, for CI.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tessera.api.schema.build import current_schema, static_schema


class Command(BaseCommand):
    help = "Print the GraphQL schema (SDL); --static for the committed part, --check to compare."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--static", action="store_true", help="only the static part")
        parser.add_argument("--check", metavar="FILE", help="fail if FILE differs from --static")

    def handle(self, *args, **options) -> None:
        if options["check"]:
            wanted = str(static_schema()).strip() + "\n"
            path = Path(options["check"])
            found = path.read_text(encoding="utf-8") if path.exists() else ""
            if found != wanted:
                raise CommandError(
                    f"{path} is not the static schema the code generates; run "
                    f"`manage.py graphql_schema --static > {path}` and commit it"
                )
            self.stdout.write(f"{path} matches the generated static schema")
            return
        schema = static_schema() if options["static"] else current_schema()
        self.stdout.write(str(schema).strip())
