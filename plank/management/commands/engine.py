"""``manage.py engine``: the process that owns the BitTorrent session and the jobs.

When Plank is scaled out, run one of these beside several ``serve --web-only`` processes. It
also serves HTTP, because streaming a file that is still downloading needs the engine's piece
map: the proxy sends ``/media/<id>/stream`` here (see the README).
"""

from __future__ import annotations

from django.core.management.base import CommandParser

from plank.management.commands.serve import Command as ServeCommand


class Command(ServeCommand):
    help = "Run the BitTorrent engine and the job worker, and serve streams (scaled-out setup)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8001)

    def handle(self, *args, host: str, port: int, **options) -> None:
        # One process: the engine and the jobs must run exactly once.
        super().handle(*args, host=host, port=port, web_only=False, workers=1, **options)
