"""Recompute the statistics roll-ups from the records: `manage.py analytics_rebuild`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_date

from analytics.rollups import rollup_rebuild


class Command(BaseCommand):
    help = (
        "Recompute conversation facts and the hourly statistics from the conversations, "
        "their audit events, CSAT answers and calls. Safe to run while the product runs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--since",
            help="Only hours from this date (YYYY-MM-DD, UTC) on; default: everything.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        since = None
        if options.get("since"):
            day = parse_date(options["since"])
            if day is None:
                raise CommandError("--since must be a date, YYYY-MM-DD")
            since = datetime(day.year, day.month, day.day, tzinfo=UTC)
        result = rollup_rebuild(since=since, progress=lambda m: self.stdout.write(m))
        self.stdout.write(
            self.style.SUCCESS(
                f"Rebuilt: {result['conversations']} conversations, {result['hours']} hours."
            )
        )
