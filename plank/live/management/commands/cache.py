"""``manage.py cache stats`` and ``manage.py cache clear PREFIX``: the per-key cache by prefix.

With local memory (no ``PLANK_REDIS_URL``) each process has a cache of its own: ``stats`` shows
this command's (nearly empty) one, and ``clear`` deletes nothing here but announces the prefix,
which makes every serving process's entries under it stale. With Redis both see the shared cache.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.template.defaultfilters import filesizeformat

from plank.cache_admin import clear_prefix, cleared_words, prefix_table


class Command(BaseCommand):
    help = "Show the per-key cache by prefix, or clear one prefix (e.g. tmdb/trending)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("stats", help="Entries, size and counters per prefix.")
        clear = sub.add_parser("clear", help="Clear a prefix: tmdb, tmdb/trending, ...")
        clear.add_argument("prefix")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "clear":
            try:
                cleared = clear_prefix(options["prefix"])
            except ValueError as exc:
                raise CommandError(f"{options['prefix']!r} is not a key prefix: {exc}") from None
            self.stdout.write(cleared_words(cleared))
            return
        table = prefix_table()
        where = f"{table.backend}" + (" (shared by every process)" if table.shared else "")
        self.stdout.write(f"Cache: {where}")
        if not table.shared:
            self.stdout.write(
                "Local memory: each process has its own cache; this shows this command's only."
                " /system/ shows the web process's."
            )
        header = ("prefix", "entries", "size", "hits", "misses", "stale", "errors")
        self.stdout.write("\t".join(header))
        for row in table.rows:
            entries = "?" if row.entries is None else str(row.entries)
            size = "?" if row.size is None else filesizeformat(row.size)
            c = row.counts
            self.stdout.write(
                "\t".join(
                    [row.prefix, entries, size]
                    + [str(c[n]) for n in ("hits", "misses", "stale_serves", "errors")]
                )
            )
        if not table.rows:
            self.stdout.write("(empty)")
