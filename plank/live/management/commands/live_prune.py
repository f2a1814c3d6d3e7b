"""``manage.py live_prune``: delete old outbox rows (the relay also does it now and then)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from plank.live.outbox import prune, retention


class Command(BaseCommand):
    help = (
        "Delete outbox rows older than --minutes and beyond the newest --rows (the newest stays)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        age, rows = retention()
        parser.add_argument("--minutes", type=float, default=age.total_seconds() / 60)
        parser.add_argument("--rows", type=int, default=rows)

    def handle(self, *args: Any, minutes: float, rows: int, **options: Any) -> None:
        deleted = prune(max_age=timedelta(minutes=minutes), max_rows=rows)
        self.stdout.write(f"pruned {deleted} outbox row(s)")
