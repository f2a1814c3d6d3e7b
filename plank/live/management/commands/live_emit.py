"""``manage.py live_emit media/list/movie download/42``: announce that keys went stale.

For operators (after fixing data by hand) and scripts: every open page under those keys
refreshes, and every process drops its cached data under them.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from plank.live.events import emit
from plank.live.keys import from_path


class Command(BaseCommand):
    help = "Announce that everything under the given key paths (e.g. media/list/movie) went stale."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="KEY_PATH")
        parser.add_argument("--user", type=int, default=None, help="Only this user's pages.")

    def handle(self, *args: Any, paths: list[str], user: int | None, **options: Any) -> None:
        try:
            keys = [from_path(p.strip("/")) for p in paths]
        except ValueError as exc:
            raise CommandError(f"bad key path: {exc}") from exc
        seq = emit(*keys, user_id=user)
        self.stdout.write(f"emitted seq {seq}")
