from django.apps import AppConfig


class MediaConfig(AppConfig):
    name = "media"

    def ready(self) -> None:
        from media.models import Episode, MediaFile, Season, Title
        from plank.live.signals import watch

        # Any change to the library, from a view, the admin, a command or the engine, makes the
        # library's lists and that title's page stale on every open page.
        watch(Title, keys=lambda t: [("media",)])
        watch(Season, keys=lambda s: [("media", s.show_id)])
        watch(Episode, keys=lambda e: [("media", e.season.show_id)])
        watch(MediaFile, keys=lambda f: [("media", f.title_id)])
