"""``manage.py tessera_setup_demo``: the e-commerce CRM packs, sample shop and a live desk.

Safe to run again and again (``./tessera up`` runs it on every start): packs are ensured
(installed, upgraded, or left alone), and every other step checks before it writes. It
prints what it did and the dashboard's KPIs. See ``templates_lib.crm.demo`` for the steps.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from templates_lib.crm import demo
from templates_lib.management.commands.pack import Bar
from templates_lib.problems import PackRefused


class Command(BaseCommand):
    help = "Install the e-commerce CRM packs with sample data, the service desk and its limits."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--customers",
            type=int,
            help="size of the sample shop at its first install (default: the pack's, 5000)",
        )
        parser.add_argument("--seed", type=int, help="the sample shop's seed (default 618)")
        parser.add_argument("--no-sample", action="store_true", help="no sample data")
        parser.add_argument(
            "--no-live", action="store_true", help="no live tickets, sign-ups or carts"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["customers"] is not None and options["customers"] < 1:
            raise CommandError("--customers is a whole number from 1", returncode=2)
        report = demo.Report()
        try:
            with Bar(self.stdout._out if hasattr(self.stdout, "_out") else self.stdout) as bar:
                demo.install_packs(
                    report,
                    customers=options["customers"],
                    seed=options["seed"],
                    sample=not options["no_sample"],
                    progress=bar,
                )
        except PackRefused as exc:
            for problem in exc.problems:
                self.stderr.write(str(problem))
            raise CommandError("a pack was refused; it wrote nothing", returncode=1) from None
        demo.ensure_people(report)
        demo.ensure_limits(report)
        if not options["no_live"]:
            demo.open_live_tickets(report)
            demo.open_live_activity(report)
        for line in report.lines:
            self.stdout.write(line)
        kpis = demo.kpi_lines()
        if kpis:
            self.stdout.write("dashboard crm-kpis:")
            for line in kpis:
                self.stdout.write(line)
