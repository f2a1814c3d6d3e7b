from __future__ import annotations

from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_out


class LiveConfig(AppConfig):
    name = "plank.live"
    label = "live"
    verbose_name = "Live layer"

    def ready(self) -> None:
        # Models can be imported only once the apps are loaded, hence the imports here.
        from plank import parts, system
        from plank.live import cache, declarations, project, relay  # noqa: F401 (project: declarations)
        from plank.live.events import close_user_sockets

        declarations.discover()
        # Every serving process relays the outbox to its sockets (and drops its local caches
        # for other processes' changes); the engine process too, for its caches.
        parts.register("relay", relay.RelayPart, roles=("web", "engine"))
        system.register(relay.health)
        system.register(cache.health)
        user_logged_out.connect(close_user_sockets, dispatch_uid="plank.live.logout")
