from __future__ import annotations

from datetime import timedelta

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class MediaConfig(AppConfig):
    name = "media"

    def ready(self) -> None:
        # Models (and modules that use them) can be imported only once the apps are loaded.
        from media import folder_tasks, notify, search_index, title_counts, watch
        from plank import parts, scheduler, sections, system

        parts.register("watch", watch.WatchPart, roles=("engine",))
        scheduler.register(
            "library-rescan",
            folder_tasks.rescan_all,
            every=timedelta(days=1),
            label="Re-scan library folders",
        )
        scheduler.register(
            "library-poll",
            folder_tasks.poll_unwatched,
            every=timedelta(minutes=15),
            label="Scan folders that can't be watched",
        )
        sections.register("Library folders", "library-folders", order=20)
        system.register(folder_tasks.health)
        notify.connect()  # requests answered: the person who asked is told (plank.notifications)
        # A migration that rebuilds media_title on SQLite drops the search index's triggers.
        post_migrate.connect(search_index.after_migrate, sender=self, dispatch_uid="search-index")
        post_migrate.connect(title_counts.after_migrate, sender=self, dispatch_uid="title-counts")
