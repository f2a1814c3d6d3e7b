from __future__ import annotations

from django.apps import AppConfig


class TorrentsConfig(AppConfig):
    name = "torrents"
    verbose_name = "Torrents"

    def ready(self) -> None:
        from plank import parts, system
        from plank.live import cache
        from torrents.downloads import engine_check, engine_part
        from torrents.preferences import on_invalidate

        parts.register("engine", engine_part, roles=("engine",))
        system.register(engine_check)
        if on_invalidate not in cache.on_invalidate:
            cache.on_invalidate.append(on_invalidate)
