"""The library: titles (movies and shows), seasons, episodes, the files behind them, and
where each person stopped watching."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse


class Kind(models.TextChoices):
    MOVIE = "movie", "Movie"
    TV = "tv", "TV show"


class Status(models.TextChoices):
    PENDING = "pending", "Pending"
    DOWNLOADING = "downloading", "Downloading"
    COMPLETE = "complete", "Complete"
    ERROR = "error", "Error"
    REMOVED = "removed", "Removed"


class TitleQuerySet(models.QuerySet):
    def in_library(self) -> TitleQuerySet:
        """Titles the library shows: everything but those on their way out."""
        return self.exclude(status=Status.REMOVED)


class Title(models.Model):
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.MOVIE, db_index=True)
    title = models.CharField(max_length=300)
    original_title = models.CharField(max_length=300, blank=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    overview = models.TextField(blank=True)
    poster = models.CharField(
        max_length=500, blank=True, help_text="TMDB poster path, e.g. /abc.jpg"
    )
    tmdb_id = models.PositiveIntegerField(null=True, blank=True, db_index=True)
    imdb_id = models.CharField(max_length=16, blank=True)
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    status_detail = models.TextField(
        blank=True, help_text="Why the title is in error, in words a person understands"
    )
    magnet = models.TextField(blank=True)
    info_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    info_hash_v2 = models.CharField(max_length=64, unique=True, null=True, blank=True)
    release_name = models.CharField(max_length=500, blank=True)
    quality = models.CharField(max_length=32, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    added_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TitleQuerySet.as_manager()

    class Meta:
        ordering = ["-added_at", "-id"]
        indexes = [models.Index(fields=["kind", "-added_at"])]

    def __str__(self) -> str:
        return self.display_title

    def save(self, *args, **kwargs) -> None:
        # Names come from magnets, indexers and TMDB: a NUL byte is never meaningful, and
        # PostgreSQL refuses it in text columns.
        for field in ("title", "original_title", "overview", "release_name", "status_detail"):
            value = getattr(self, field)
            if value and "\x00" in value:
                setattr(self, field, value.replace("\x00", ""))
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("title", args=[self.pk])

    def set_status(self, status: str, detail: str = "") -> None:
        """Move the title to ``status`` (with ``detail``, the reason in words) and save just
        that; the save is announced by the library's declaration (``media.live``)."""
        self.status = status
        self.status_detail = detail
        self.save(update_fields=["status", "status_detail", "updated_at"])

    @property
    def display_title(self) -> str:
        return f"{self.title} ({self.year})" if self.year else self.title


class Season(models.Model):
    show = models.ForeignKey(Title, on_delete=models.CASCADE, related_name="seasons")
    number = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=300, blank=True)
    overview = models.TextField(blank=True)
    air_date = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["show", "number"]
        constraints = [
            models.UniqueConstraint(fields=["show", "number"], name="season_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.show.title} — Season {self.number}"


class Episode(models.Model):
    season = models.ForeignKey(Season, on_delete=models.CASCADE, related_name="episodes")
    number = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=300, blank=True)
    overview = models.TextField(blank=True)
    air_date = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["season", "number"]
        constraints = [
            models.UniqueConstraint(fields=["season", "number"], name="episode_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.season.show.title} S{self.season.number:02d}E{self.number:02d}"


class MediaFileQuerySet(models.QuerySet):
    def videos(self) -> MediaFileQuerySet:
        return self.filter(role=MediaFile.Role.VIDEO)

    def main_video(self) -> MediaFile | None:
        """What plays when no file is named: the largest video (the lowest id among equals)."""
        return self.videos().order_by("-size", "id").first()


class MediaFile(models.Model):
    class Role(models.TextChoices):
        VIDEO = "video", "Video"
        SUBTITLE = "subtitle", "Subtitle"

    title = models.ForeignKey(Title, on_delete=models.CASCADE, related_name="files")
    episode = models.ForeignKey(
        Episode, null=True, blank=True, on_delete=models.SET_NULL, related_name="files"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIDEO)
    torrent_path = models.CharField(
        max_length=1000, blank=True, help_text="Path inside the torrent"
    )
    torrent_index = models.IntegerField(null=True, blank=True)
    path = models.CharField(max_length=1000, blank=True, help_text="Path under the data directory")
    size = models.BigIntegerField(default=0)
    container = models.CharField(max_length=32, blank=True)
    video_codec = models.CharField(max_length=32, blank=True)
    audio_codec = models.CharField(max_length=32, blank=True)
    duration = models.FloatField(null=True, blank=True)
    language = models.CharField(max_length=16, blank=True)

    objects = MediaFileQuerySet.as_manager()

    class Meta:
        ordering = ["title", "torrent_index", "id"]

    def __str__(self) -> str:
        return self.path or self.torrent_path


class PlaybackPosition(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="playback_positions"
    )
    title = models.ForeignKey(Title, on_delete=models.CASCADE, related_name="playback_positions")
    file = models.ForeignKey(
        MediaFile, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    position = models.FloatField(default=0)
    duration = models.FloatField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "title", "file"],
                name="playback_unique_per_file",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.title}: {self.position:.0f}s"
