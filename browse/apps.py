from __future__ import annotations

from datetime import timedelta

from django.apps import AppConfig
from django.db.models.signals import post_save, pre_save


class BrowseConfig(AppConfig):
    name = "browse"
    verbose_name = "Browse"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Models can be imported only once the apps are loaded, hence the imports here. The
        # live declarations (browse/live.py) are imported by the live app, with every app's.
        from browse import discover, home_rows, library_search, matching, scheduled
        from media.models import Title
        from plank import scheduler, system
        from plank.models import Preferences

        # A title added by magnet is matched to TMDB in the background.
        post_save.connect(matching.on_title_saved, sender=Title, dispatch_uid="browse-match")
        # A new TMDB key or language makes the cached TMDB answers stale everywhere.
        pre_save.connect(
            discover.remember_tmdb_settings, sender=Preferences, dispatch_uid="browse-prefs-old"
        )
        post_save.connect(
            discover.tmdb_settings_saved, sender=Preferences, dispatch_uid="browse-prefs-new"
        )
        system.register(discover.health)
        # TMDB's results beside the library's on /search/ (media cannot import browse).
        library_search.register()
        home_rows.register()  # TMDB's Trending as a row of the library's home screen
        system.register(matching.sync_health)
        # manage.py sync's work, on a timetable (the Tasks page shows and changes it).
        scheduler.register(
            "metadata-sync",
            scheduled.sync_library,
            every=timedelta(days=1),
            label="Library metadata sync",
        )
