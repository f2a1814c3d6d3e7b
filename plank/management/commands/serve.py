"""``manage.py serve``: a whole Plank process (HTTP, WebSocket, and its parts)."""

from __future__ import annotations

import gc
import logging

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from plank.live import outlet
from plank.parts import Parts

log = logging.getLogger("plank.serve")


class Command(BaseCommand):
    help = "Serve Plank over HTTP and WebSocket (daphne), with the engine, relay and job worker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--web-only",
            action="store_true",
            help="Serve pages and sockets only; the engine and jobs run in `manage.py engine`.",
        )

    def handle(self, *args, host: str, port: int, web_only: bool, **options) -> None:
        # daphne.server installs Twisted's asyncio reactor on import: import it first.
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server

        from plank.asgi import application

        roles = {"web"} if web_only else {"web", "engine"}
        settings.PLANK_ROLES = frozenset(roles)
        parts = Parts(roles)
        parts.start()
        self.stdout.write(f"Plank is serving on http://{host}:{port}/ ({', '.join(sorted(roles))})")
        server = Server(
            application=application,
            endpoints=build_endpoint_description_strings(host=host, port=port),
            signal_handlers=True,
            verbosity=0,
        )
        outlet.serving(server)  # the sockets find their connection for back-pressure
        # Fewer full collections: with a thousand open sockets, a full GC pause is the worst
        # latency spike on the live layer (measured in bench/bench_live.py).
        gc.set_threshold(50_000, 50, 100)
        try:
            server.run()
        finally:
            parts.stop()
