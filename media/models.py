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
    removing_files = models.BooleanField(
        default=False, help_text="Being deleted with its files (status removed until it is gone)"
    )

    objects = TitleQuerySet.as_manager()

    class Meta:
        ordering = ["-added_at", "-id"]
        indexes = [
            models.Index(fields=["kind", "-added_at"]),
            # The library grid's other sorts, read a page at a time (media/library_pages.py).
            models.Index(fields=["kind", "title", "id"], name="title_kind_name"),
            models.Index(fields=["kind", "-year", "title", "id"], name="title_kind_year"),
        ]

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

    def mark_removed(self, *, delete_files: bool) -> None:
        """The first step of a delete (``media.library.delete_title``): the title leaves the
        library at once, and what is left to do survives a crash (``finish_deletions``)."""
        self.status = Status.REMOVED
        self.removing_files = delete_files
        self.save(update_fields=["status", "removing_files", "updated_at"])

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
    path = models.CharField(
        max_length=1000,
        blank=True,
        help_text="Path under its library folder, or under the data directory when it has none",
    )
    size = models.BigIntegerField(default=0)
    container = models.CharField(max_length=32, blank=True)
    video_codec = models.CharField(max_length=32, blank=True)
    audio_codec = models.CharField(max_length=32, blank=True)
    duration = models.FloatField(null=True, blank=True)
    language = models.CharField(max_length=16, blank=True)
    # Library folders (media/scan.py): where the file was found, and what a re-scan compares.
    folder = models.ForeignKey(
        "LibraryFolder", null=True, blank=True, on_delete=models.CASCADE, related_name="files"
    )
    mtime_ns = models.BigIntegerField(null=True, blank=True)
    partial_hash = models.CharField(
        max_length=40, blank=True, help_text="Of the size and the first and last 64 KiB"
    )
    missing_since = models.DateTimeField(
        null=True, blank=True, help_text="Gone from its folder since (it stays in the library)"
    )
    scan_note = models.CharField(
        max_length=300, blank=True, help_text="What the last scan made of the file, in words"
    )

    objects = MediaFileQuerySet.as_manager()

    class Meta:
        ordering = ["title", "torrent_index", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["folder", "path"],
                condition=models.Q(folder__isnull=False),
                name="mediafile_unique_in_folder",
            )
        ]
        indexes = [models.Index(fields=["size", "partial_hash"], name="mediafile_size_hash")]

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
        # One row per person and file, and one per person and title for "no file": two partial
        # constraints, because SQLite has no NULLS NOT DISTINCT (models.W047, and no constraint).
        constraints = [
            models.UniqueConstraint(
                fields=["user", "title", "file"],
                condition=models.Q(file__isnull=False),
                name="playback_unique_per_file",
            ),
            models.UniqueConstraint(
                fields=["user", "title"],
                condition=models.Q(file__isnull=True),
                name="playback_unique_without_file",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.title}: {self.position:.0f}s"


# --- library folders and their scans (media/folders.py, media/scan.py, media/watch.py) -------


class LibraryFolder(models.Model):
    """A folder of the household's own files, movies or shows, that Plank scans and watches."""

    class FolderKind(models.TextChoices):
        MOVIES = "movies", "Movies"
        SHOWS = "shows", "Shows"

    class Watch(models.TextChoices):
        UNKNOWN = "unknown", "Not watched yet"
        WATCHING = "watching", "Watching for changes"
        FAILED = "failed", "Can't watch: scanned on a timetable instead"

    name = models.CharField(max_length=100, unique=True)
    path = models.CharField(max_length=1000, unique=True, help_text="Absolute, links resolved")
    kind = models.CharField(max_length=8, choices=FolderKind.choices)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    added_at = models.DateTimeField(auto_now_add=True)
    watch_state = models.CharField(max_length=10, choices=Watch.choices, default=Watch.UNKNOWN)
    watch_detail = models.TextField(blank=True, help_text="Why it can't be watched, and the fix")
    watch_checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.path})"

    def get_absolute_url(self) -> str:
        return reverse("library-folder", args=[self.pk])

    @property
    def title_kind(self) -> str:
        """The kind of title its files are: a movie, or an episode of a show."""
        return Kind.MOVIE if self.kind == self.FolderKind.MOVIES else Kind.TV


class Scan(models.Model):
    """One scan of a library folder: what it found, how far it is, how it ended."""

    class State(models.TextChoices):
        QUEUED = "queued", "Waiting to start"
        RUNNING = "running", "Scanning"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Failed"
        INTERRUPTED = "interrupted", "Interrupted"

    ACTIVE = (State.QUEUED, State.RUNNING)

    folder = models.ForeignKey(LibraryFolder, on_delete=models.CASCADE, related_name="scans")
    full = models.BooleanField(default=False, help_text="Open every file again")
    trigger = models.CharField(max_length=16, default="button")
    state = models.CharField(max_length=12, choices=State.choices, default=State.QUEUED)
    requested_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    holder = models.CharField(max_length=100, blank=True)
    cancel_requested = models.BooleanField(default=False)
    seen = models.IntegerField(default=0)
    to_probe = models.IntegerField(default=0)
    probed = models.IntegerField(default=0)
    added = models.IntegerField(default=0)
    updated = models.IntegerField(default=0)
    unchanged = models.IntegerField(default=0)
    moved = models.IntegerField(default=0)
    missing = models.IntegerField(default=0)
    returned = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)
    ignored = models.IntegerField(default=0)
    current = models.CharField(max_length=1000, blank=True)
    outcome = models.TextField(blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["folder", "state"])]

    def __str__(self) -> str:
        return f"scan {self.pk} of {self.folder_id} ({self.state})"

    @property
    def active(self) -> bool:
        return self.state in self.ACTIVE


class ScanProblem(models.Model):
    """A file in a library folder that is not in the library, and why ("not a video")."""

    folder = models.ForeignKey(LibraryFolder, on_delete=models.CASCADE, related_name="problems")
    path = models.CharField(max_length=1000)
    size = models.BigIntegerField(default=0)
    mtime_ns = models.BigIntegerField(default=0)
    ctime_ns = models.BigIntegerField(default=0)
    reason = models.CharField(max_length=300)
    seen_at = models.DateTimeField()

    class Meta:
        ordering = ["folder", "path"]
        constraints = [
            models.UniqueConstraint(fields=["folder", "path"], name="scanproblem_unique_path")
        ]

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


# --- requests: a member's Get waiting for an admin (media/requests.py) ---------------------


class Request(models.Model):
    """A person asked for a title; an admin approves (the search and download start) or
    declines, with a note. See ``media.requests``."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for approval"
        APPROVED = "approved", "Approved"
        DECLINED = "declined", "Declined"
        WITHDRAWN = "withdrawn", "Withdrawn"

    title = models.ForeignKey(Title, on_delete=models.CASCADE, related_name="requests")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="title_requests"
    )
    note = models.TextField(blank=True, help_text="What the person asking said")
    release_name = models.CharField(
        max_length=500, blank=True, help_text="The release they picked, if they picked one"
    )
    magnet = models.TextField(blank=True, help_text="That release's magnet link, if known")
    state = models.CharField(
        max_length=10, choices=State.choices, default=State.PENDING, db_index=True
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decision_note = models.TextField(blank=True, help_text="What the admin said")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["title", "requested_by"],
                condition=models.Q(state="pending"),
                name="request_one_pending_per_person",
            )
        ]

    def __str__(self) -> str:
        return f"{self.requested_by} asks for {self.title} [{self.state}]"

    @property
    def pending(self) -> bool:
        return self.state == self.State.PENDING
