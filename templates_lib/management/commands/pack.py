"""``manage.py pack``: plan, install, upgrade, uninstall, export and list template packs.

A thin shell over ``templates_lib.service``. Exit codes: 0 done (or, for ``plan``, would
succeed); 1 refused (every problem printed with its pack, file and JSON path; nothing was
written); 2 wrong usage; 3 conflicts between changes made here and the pack's, which the
plan shows and ``--mine`` / ``--theirs`` settle.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from templates_lib import service
from templates_lib.plan import MINE, THEIRS, Plan
from templates_lib.problems import PackRefused
from templates_lib.service import UnresolvedConflicts

REFUSED, USAGE, CONFLICTS = 1, 2, 3


class Bar:
    """A rich progress bar per stage of sample data (only drawn on a terminal)."""

    def __init__(self, stream) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(file=stream),
            transient=False,
        )
        self.task = None

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.task is not None:
            self.progress.stop()

    def start(self, label: str, total: int | None) -> None:
        if self.task is None:
            self.progress.start()  # drawn only when there is something to count
        self.task = self.progress.add_task(label, total=total)

    def advance(self, count: int = 1) -> None:
        if self.task is not None:
            self.progress.advance(self.task, count)


class Command(BaseCommand):
    help = "Template packs: plan, install, upgrade, uninstall, export, list."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

        def target(sub, verb: str) -> None:
            sub.add_argument("pack", help=f"the pack to {verb}: a folder, a .zip, or a pack key")
            sub.add_argument(
                "--from",
                dest="library",
                action="append",
                default=[],
                metavar="DIR",
                help="also look for packs (and dependencies) in DIR",
            )

        def choices(sub) -> None:
            sub.add_argument(
                "--mine",
                action="append",
                default=[],
                metavar="KIND:KEY",
                help="keep this instance's version of a conflicting definition",
            )
            sub.add_argument(
                "--theirs",
                action="append",
                default=[],
                metavar="KIND:KEY",
                help="take the pack's version of a conflicting definition",
            )
            group = sub.add_mutually_exclusive_group()
            group.add_argument("--all-mine", action="store_true", help="--mine for every conflict")
            group.add_argument("--all-theirs", action="store_true", help="--theirs for every one")

        plan = actions.add_parser("plan", help="show what install or upgrade would do")
        target(plan, "plan")
        choices(plan)
        plan.add_argument("--json", action="store_true", help="print the plan as JSON")
        plan.add_argument("--verbose", action="store_true", help="list unchanged ones too")

        install = actions.add_parser("install", help="install a pack and its dependencies")
        target(install, "install")
        choices(install)
        install.add_argument("--no-sample", action="store_true", help="skip the sample data")
        install.add_argument(
            "--ensure",
            action="store_true",
            help="upgrade it if an older version is installed; do nothing if it is installed",
        )

        upgrade = actions.add_parser("upgrade", help="upgrade an installed pack")
        target(upgrade, "upgrade to")
        choices(upgrade)

        remove = actions.add_parser("uninstall", help="remove what a pack installed")
        remove.add_argument("pack", help="the key of the installed pack")
        remove.add_argument(
            "--delete-data", action="store_true", help="delete its objects' records too"
        )
        remove.add_argument("--dry-run", action="store_true", help="only show what it would do")

        export = actions.add_parser("export", help="write definitions as a pack")
        export.add_argument("out", help="a new folder, or a file name ending in .zip")
        export.add_argument("refs", nargs="*", metavar="KIND:KEY", help="definitions to export")
        export.add_argument("--pack", dest="from_pack", help="every definition of this pack")
        export.add_argument("--all", action="store_true", help="every published definition")
        export.add_argument("--key", required=True, help="the new pack's key")
        export.add_argument("--version", dest="pack_version", default="1.0.0")
        export.add_argument("--name-en")
        export.add_argument("--name-zh")
        export.add_argument("--with-data", action="store_true", help="records as sample data")
        export.add_argument(
            "--no-references",
            action="store_true",
            help="refuse instead of exporting the definitions the chosen ones refer to",
        )

        listing = actions.add_parser("list", help="installed packs (and available ones)")
        listing.add_argument("--available", action="store_true")
        listing.add_argument("--from", dest="library", action="append", default=[])

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        try:
            getattr(self, f"handle_{action}")(**options)
        except PackRefused as exc:
            for problem in exc.problems:
                self.stderr.write(str(problem))
            raise CommandError(
                f"refused: {len(exc.problems)} problem(s); nothing was written",
                returncode=REFUSED,
            ) from None
        except UnresolvedConflicts as exc:
            self.stdout.write(exc.plan.render())
            raise CommandError(f"{exc}; nothing was written", returncode=CONFLICTS) from None

    # --- actions ---------------------------------------------------------------------------

    def handle_plan(self, pack: str, library: list[str], **options: Any) -> None:
        result = service.plan(pack, library=library, resolutions=self._resolutions(options))
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
        else:
            self.stdout.write(result.render(verbose=options["verbose"]))
        self._exit_for(result)

    def handle_install(self, pack: str, library: list[str], **options: Any) -> None:
        write = service.ensure if options["ensure"] else service.install
        with self._bar() as bar:
            result = write(
                pack,
                library=library,
                resolutions=self._resolutions(options),
                sample=not options["no_sample"],
                progress=bar,
            )
        self.stdout.write(result.render())
        self.stdout.write(self._done(result, "installed"))

    def handle_upgrade(self, pack: str, library: list[str], **options: Any) -> None:
        result = service.upgrade(pack, library=library, resolutions=self._resolutions(options))
        self.stdout.write(result.render())
        self.stdout.write(self._done(result, "upgraded"))

    def handle_uninstall(self, pack: str, delete_data: bool, dry_run: bool, **options) -> None:
        if dry_run:
            result = service.uninstall(pack, delete_data=delete_data, dry_run=True)
            self.stdout.write(result.render())
            self._exit_for(result)
            return
        with self._bar() as bar:
            result = service.uninstall(pack, delete_data=delete_data, progress=bar)
        self.stdout.write(result.render())
        self.stdout.write(f"uninstalled {pack}")

    def handle_export(self, out: str, refs: list[str], **options: Any) -> None:
        parsed = [self._ref(r) for r in refs]
        name = None
        if options["name_en"] or options["name_zh"]:
            en = options["name_en"] or options["name_zh"]
            name = {"en": en, "zh": options["name_zh"] or en}
        done = service.export(
            out,
            key=options["key"],
            version=options["pack_version"],
            refs=parsed,
            pack=options["from_pack"],
            everything=options["all"],
            name=name,
            with_data=options["with_data"],
            include_references=not options["no_references"],
        )
        done.pack.files.close()
        count = len(done.pack.definitions)
        self.stdout.write(f"exported {count} definition(s) as {done.pack} to {done.location}")
        for kind, key in done.added:
            self.stdout.write(f"  also exported {kind} {key} (referred to by the chosen ones)")
        for dep, spec in (done.manifest.get("depends") or {}).items():
            self.stdout.write(f"  depends on {dep} {spec}")
        for plugin in done.manifest.get("plugins") or []:
            self.stdout.write(f"  needs the plugin {plugin['entry_point']} ({plugin['pip']})")
        if done.dropped_links:
            self.stdout.write(
                f"  {done.dropped_links} link(s) to records outside the export were left out"
            )

    def handle_list(self, available: bool, library: list[str], **options: Any) -> None:
        rows = service.installed()
        if not rows:
            self.stdout.write("no packs installed")
        for row in rows:
            count = row.definitions.count()
            self.stdout.write(f"{row.key} {row.version}  {row.name['en']}  ({count} definitions)")
        if available:
            self.stdout.write("available:")
            for candidate in service.available(library):
                self.stdout.write(f"  {candidate.key} {candidate.version}  {candidate.location}")

    # --- helpers ---------------------------------------------------------------------------

    def _bar(self) -> Bar:
        return Bar(self.stdout._out if hasattr(self.stdout, "_out") else self.stdout)

    def _ref(self, text: str) -> tuple[str, str]:
        kind, sep, key = text.partition(":")
        if not sep or not kind or not key:
            raise CommandError(f"{text!r} is not KIND:KEY (e.g. object:customer)", returncode=USAGE)
        return kind, key

    def _resolutions(self, options: dict[str, Any]) -> dict[str, str]:
        chosen: dict[str, str] = {}
        if options.get("all_mine"):
            chosen["*"] = MINE
        if options.get("all_theirs"):
            chosen["*"] = THEIRS
        for side, names in (
            (MINE, options.get("mine") or []),
            (THEIRS, options.get("theirs") or []),
        ):
            for name in names:
                kind, key = self._ref(name)
                chosen[f"{kind}:{key}"] = side
        return chosen

    def _exit_for(self, result: Plan) -> None:
        if result.problems:
            raise CommandError("the plan was refused; nothing was written", returncode=REFUSED)
        if result.conflicts:
            raise CommandError(
                f"{len(result.conflicts)} conflict(s) to settle first", returncode=CONFLICTS
            )

    def _done(self, result: Plan, verb: str = "") -> str:
        done = []
        for mode, past in (("install", "installed"), ("upgrade", "upgraded")):
            packs = [f"{p.key} {p.version}" for p in result.packs if p.mode == mode]
            if packs:
                done.append(f"{past} {', '.join(packs)}")
        return "; ".join(done) or "nothing to do"
