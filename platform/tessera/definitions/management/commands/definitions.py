"""``manage.py definitions``: validate, load, publish, export and diff definition files.

A thin shell over ``tessera.definitions.service``: every check and every write is the
service's, so the CLI refuses exactly what the admin and GraphQL refuse. Any error exits
non-zero; ``load`` saves all its files or none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from tessera.definitions import diff as diffing
from tessera.definitions import service
from tessera.definitions.errors import ValidationFailed
from tessera.definitions.models import Kind
from tessera.definitions.service import PublishRefused

from ..definition_files import (
    export,
    in_dependency_order,
    read_all,
    read_migration,
    render_report,
)


class Command(BaseCommand):
    help = (
        'Work with definition files ({"kind": ..., "key": ..., "body": {...}}): '
        "validate, load (and publish), publish a draft, export the published ones, diff."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

        validate = actions.add_parser(
            "validate", help="check files as 'load --publish' would; print every error"
        )
        validate.add_argument("paths", nargs="+", metavar="FILE_OR_DIR")

        load = actions.add_parser("load", help="save files as drafts, optionally publish them")
        load.add_argument("paths", nargs="+", metavar="FILE_OR_DIR")
        load.add_argument("--publish", action="store_true", help="publish each one after saving")
        load.add_argument("--migration", metavar="FILE", help="migration for the one object loaded")

        publish = actions.add_parser("publish", help="publish the draft of one definition")
        publish.add_argument("kind", choices=Kind.values)
        publish.add_argument("key")
        publish.add_argument("--migration", metavar="FILE", help="rename / convert / drop steps")

        exporting = actions.add_parser("export", help="write published ones as <kind>/<key>.json")
        exporting.add_argument("directory", metavar="DIR")
        exporting.add_argument("--kind", choices=Kind.values)

        diff = actions.add_parser("diff", help="show the draft's changes to the published version")
        diff.add_argument("kind", choices=Kind.values)
        diff.add_argument("key")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        getattr(self, f"handle_{action}")(**options)

    # --- actions ---------------------------------------------------------------------------

    def handle_validate(self, paths: list[str], **options: Any) -> None:
        items, problems = read_all(paths)
        self._fail_on(problems, nothing="")
        self.stdout.write(f"{len(items)} file(s) valid")

    def handle_load(
        self, paths: list[str], publish: bool, migration: str | None, **options: Any
    ) -> None:
        items, problems = read_all(paths, publishing=publish)
        self._fail_on(problems, nothing="; nothing was saved")
        steps = self._migration(migration)
        if steps is not None:
            if not publish:
                raise CommandError("--migration applies when publishing: add --publish")
            if len(items) != 1:
                raise CommandError(
                    f"--migration applies to one definition, but {len(items)} were given: "
                    "load the others separately"
                )
        with transaction.atomic():
            for item in in_dependency_order(items):
                self._load_one(item, publish, steps)

    def handle_publish(self, kind: str, key: str, migration: str | None, **options: Any) -> None:
        definition = self._publish(kind, key, self._migration(migration), where=f"{kind} {key}")
        self.stdout.write(f"published {kind} {key} v{definition.version}")

    def handle_export(self, directory: str, kind: str | None, **options: Any) -> None:
        written = export(Path(directory), kind)
        for path in written:
            self.stdout.write(str(path))
        self.stdout.write(f"{len(written)} published definition(s) written to {directory}")

    def handle_diff(self, kind: str, key: str, **options: Any) -> None:
        published, pending = service.current(kind, key), service.draft(kind, key)
        if published is None and pending is None:
            raise CommandError(f"there is no {kind} {key!r}")
        if pending is None:
            self.stdout.write(
                f"{kind} {key} v{published.version} is published and has no draft: "
                "nothing to compare"
            )
            return
        before = f"v{published.version} (published)" if published else "(nothing published)"
        self.stdout.write(f"--- {kind} {key} {before}")
        self.stdout.write(f"+++ {kind} {key} v{pending.version} (draft)")
        self.stdout.write(diffing.render(service.compare(kind, key)))

    # --- helpers ---------------------------------------------------------------------------

    def _load_one(self, item, publish: bool, migration: dict[str, Any] | None) -> None:
        published = service.current(item.kind, item.key)
        pending = service.draft(item.kind, item.key)
        if pending is None and published is not None and published.body == item.body:
            self.stdout.write(f"unchanged {item.label} v{published.version} (published)")
            return
        if pending is not None and pending.body == item.body and not publish:
            self.stdout.write(f"unchanged {item.label} v{pending.version} (draft)")
            return
        try:
            saved = service.save_draft(item.kind, item.key, item.body)
        except ValidationFailed as exc:
            for error in exc.errors:
                self.stderr.write(f"{item.path}: {error}")
            raise CommandError(
                f"{item.path}: {item.label} was refused; nothing was saved"
            ) from None
        self.stdout.write(f"saved draft {item.label} v{saved.version}")
        if publish:
            definition = self._publish(item.kind, item.key, migration, where=str(item.path))
            self.stdout.write(f"published {item.label} v{definition.version}")

    def _publish(self, kind: str, key: str, migration: dict[str, Any] | None, *, where: str):
        try:
            return service.publish(kind, key, migration=migration)
        except ValidationFailed as exc:
            for error in exc.errors:
                self.stderr.write(f"{where}: {error}")
            raise CommandError(f"{kind} {key} was not published: {exc}") from None
        except PublishRefused as exc:
            raise CommandError(
                f"{kind} {key} was not published: {exc}\n{render_report(exc.report)}"
            ) from None

    def _migration(self, path: str | None) -> dict[str, Any] | None:
        if path is None:
            return None
        try:
            return read_migration(path)
        except ValueError as exc:
            raise CommandError(str(exc)) from None

    def _fail_on(self, problems, *, nothing: str) -> None:
        if not problems:
            return
        for problem in problems:
            self.stderr.write(str(problem))
        files = len({p.path for p in problems})
        raise CommandError(f"{len(problems)} error(s) in {files} file(s){nothing}")
