from __future__ import annotations

from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "plank.live"
    label = "live"
    verbose_name = "Live layer"

    def ready(self) -> None:
        from plank import parts, system
        from plank.live import cache, relay

        # Every serving process relays the outbox to its sockets (and drops its local caches
        # for other processes' changes); the engine process too, for its caches.
        parts.register("relay", relay.RelayPart, roles=("web", "engine"))
        system.register(relay.health)
        system.register(cache.health)

        from django.contrib.auth.signals import user_logged_out

        from plank.live.events import close_user_sockets

        user_logged_out.connect(close_user_sockets, dispatch_uid="plank.live.logout")
