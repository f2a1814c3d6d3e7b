from __future__ import annotations

from datetime import timedelta

from django.apps import AppConfig


class TorrentsConfig(AppConfig):
    name = "torrents"
    verbose_name = "Torrents"

    def ready(self) -> None:
        # Models can be imported only once the apps are loaded, hence the imports here.
        from media import downloading, signals
        from plank import parts, system
        from plank.live import cache
        from torrents import downloads, engine, engine_part, notify, preferences
        from torrents.signals import download_completed

        parts.register("engine", engine_part.engine_part, roles=("engine",))
        system.register(engine_part.engine_check)
        if preferences.on_invalidate not in cache.on_invalidate:
            cache.on_invalidate.append(preferences.on_invalidate)
        # The library's narrow interface to downloads (media never imports torrents).
        downloading.register_reader(engine.current)
        downloading.register_panel("torrents/panel.html")
        signals.title_added.connect(downloads.on_title_added, dispatch_uid="torrents-start")
        signals.title_deleting.connect(downloads.on_title_deleting, dispatch_uid="torrents-remove")
        download_completed.connect(
            engine_part.on_download_completed, dispatch_uid="torrents-file-into-library"
        )
        notify.connect()  # downloads finished or failed: the people concerned are told
        self._find_and_get()

    def _find_and_get(self) -> None:
        """Indexers, searches and release choice: their settings page, their health on /system/,
        the automatic fallback, and wanted titles searched when they are added."""
        # Models can be imported only once the apps are loaded, hence the imports here.
        from django.db.models.signals import post_save

        from media.models import Title
        from media.signals import request_approved
        from plank import scheduler, sections, system
        from torrents import approvals, indexers, wanted
        from torrents.signals import download_failed

        # Each wanted title has its own next search (every few hours: a release setting); the
        # task looks for the ones that are due.
        scheduler.register(
            "wanted-releases",
            wanted.research_wanted,
            every=timedelta(minutes=15),
            label="Search again for wanted titles",
        )
        sections.register("Indexers", "indexer-settings", order=20)
        system.register(indexers.health_check)
        download_failed.connect(wanted.on_download_failed, dispatch_uid="torrents-fallback")
        post_save.connect(wanted.on_title_saved, sender=Title, dispatch_uid="torrents-wanted")
        request_approved.connect(approvals.on_request_approved, dispatch_uid="torrents-approved")
