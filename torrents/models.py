"""A title's download (what the engine is doing for it) and the commands the web processes leave
for the engine process."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from media.models import Title
from plank.secrets import EncryptedTextField


class Download(models.Model):
    class State(models.TextChoices):
        METADATA = "metadata", "Fetching metadata"
        VETTING = "vetting", "Checking the files"
        DOWNLOADING = "downloading", "Downloading"
        PAUSED = "paused", "Paused"
        SEEDING = "seeding", "Seeding"
        COMPLETE = "complete", "Complete"
        ERROR = "error", "Error"
        NO_PEERS = "no_peers", "No peers"

    title = models.OneToOneField(Title, on_delete=models.CASCADE, related_name="download")
    info_hash = models.CharField(max_length=64, unique=True)
    save_path = models.CharField(max_length=1000)
    state = models.CharField(
        max_length=12, choices=State.choices, default=State.METADATA, db_index=True
    )
    progress = models.FloatField(default=0, help_text="0..1 of the bytes Plank wants")
    download_rate = models.BigIntegerField(default=0, help_text="bytes per second")
    upload_rate = models.BigIntegerField(default=0, help_text="bytes per second")
    peers = models.PositiveIntegerField(default=0)
    eta = models.PositiveIntegerField(null=True, blank=True, help_text="seconds left, if known")
    total_size = models.BigIntegerField(default=0, help_text="bytes of the files kept")
    downloaded = models.BigIntegerField(default=0, help_text="bytes of the kept files already here")
    uploaded = models.BigIntegerField(default=0, help_text="bytes sent to peers, all time")
    error = models.TextField(blank=True)
    added_at = models.DateTimeField(auto_now_add=True)
    searching_since = models.DateTimeField(
        default=timezone.now, help_text="when the current search for metadata began"
    )
    metadata_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    progress_at = models.DateTimeField(
        null=True, blank=True, help_text="when the progress fields were last written"
    )
    resume_tries = models.PositiveSmallIntegerField(
        default=0, help_text="times the search for peers was retried"
    )

    class Meta:
        ordering = ["-added_at", "-id"]

    def __str__(self) -> str:
        return f"{self.title} [{self.state}]"

    def look_for_peers(self, *, again: bool = False) -> None:
        """Start (``again``: restart) the search for peers, from the metadata if it is missing."""
        self.state = self.State.DOWNLOADING if self.metadata_at else self.State.METADATA
        self.searching_since = timezone.now()
        fields = ["state", "searching_since"]
        if again:
            self.resume_tries += 1
            self.error = ""
            fields += ["resume_tries", "error"]
        self.save(update_fields=fields)

    def fail(self, message: str) -> None:
        self.state = self.State.ERROR
        self.error = message
        self.save(update_fields=["state", "error"])

    @property
    def finished(self) -> bool:
        """Every kept file is here (the title may still be seeding)."""
        return self.state in {self.State.SEEDING, self.State.COMPLETE}

    @property
    def active(self) -> bool:
        return self.state in {
            self.State.METADATA,
            self.State.VETTING,
            self.State.DOWNLOADING,
            self.State.NO_PEERS,
        }


class EngineCommand(models.Model):
    """Something a process without the engine asks of it; the engine part applies and deletes
    these every second. Keyed by info hash (not by title) so a removal outlives the title."""

    class Action(models.TextChoices):
        ADD = "add", "Add"
        PAUSE = "pause", "Pause"
        RESUME = "resume", "Resume"
        REMOVE = "remove", "Remove"
        RETRY = "retry", "Retry"

    info_hash = models.CharField(max_length=64, db_index=True)
    action = models.CharField(max_length=8, choices=Action.choices)
    delete_files = models.BooleanField(default=False)
    save_path = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.action} {self.info_hash}"


# --- Find and get: indexers, their health, searches, and the releases chosen for titles --------


class Indexer(models.Model):
    """Where Plank looks for releases: a Torznab feed, or a Jackett / Prowlarr server whose own
    indexers Plank lists and queries one by one (``torrents.indexers``)."""

    class Kind(models.TextChoices):
        TORZNAB = "torznab", "Torznab feed"
        JACKETT = "jackett", "Jackett"
        PROWLARR = "prowlarr", "Prowlarr"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.TORZNAB)
    url = models.URLField(
        "URL",
        max_length=500,
        help_text="A Torznab feed (…/api), or the base URL of Jackett or Prowlarr.",
    )
    api_key = EncryptedTextField("API key", blank=True, help_text="Stored encrypted.")
    enabled = models.BooleanField(default=True)
    priority = models.PositiveSmallIntegerField(
        default=25, help_text="1 (first) to 50 (last): breaks ties between equal releases."
    )
    categories = models.CharField(
        max_length=200,
        blank=True,
        help_text="Torznab category ids, comma-separated (empty: 2000 movies and 5000 TV).",
    )
    timeout = models.FloatField(
        default=10.0, help_text="Seconds to wait for an answer before going on without it."
    )
    min_seeders = models.PositiveIntegerField(
        "minimum seeders", default=1, help_text="Releases with fewer seeders are rejected."
    )
    added_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["priority", "name"]

    def __str__(self) -> str:
        return self.name

    def category_ids(self) -> list[int]:
        found = [int(p) for p in self.categories.replace(" ", "").split(",") if p.isdigit()]
        return found or [2000, 5000]


class IndexerHealth(models.Model):
    """How one feed has been answering: for /system/ and for the back-off that skips it.

    ``endpoint`` is "" for a plain Torznab indexer, else the Jackett / Prowlarr id of one of the
    indexers behind it. ``recent`` holds the last outcomes, newest last: ``o`` answered, ``t``
    timed out, ``e`` failed, ``r`` rate limited."""

    RECENT = 20

    indexer = models.ForeignKey(Indexer, on_delete=models.CASCADE, related_name="health")
    endpoint = models.CharField(max_length=100, blank=True)
    name = models.CharField(max_length=200)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_answer_at = models.DateTimeField(null=True, blank=True)
    last_duration = models.FloatField(null=True, blank=True, help_text="seconds")
    recent = models.CharField(max_length=RECENT, blank=True)
    failures = models.PositiveIntegerField(default=0, help_text="failures in a row")
    failure_kind = models.CharField(max_length=16, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    skipped_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["indexer", "name"]
        constraints = [
            models.UniqueConstraint(fields=["indexer", "endpoint"], name="indexer_health_unique")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def error_rate(self) -> float | None:
        """The share of the recent attempts that failed (None before the first)."""
        if not self.recent:
            return None
        return sum(1 for c in self.recent if c != "o") / len(self.recent)

    def skipped(self, now=None) -> bool:
        now = now or timezone.now()
        return self.skipped_until is not None and self.skipped_until > now


class IndexerAnswer(models.Model):
    """What one indexer answered to one search: the search page's inline state per indexer
    ("answered 12", "timed out", "skipped until 14:05 — 3 timeouts"). ``search`` is the
    search's digest (``torrents.search.Query.digest``); rows older than a day are pruned."""

    class State(models.TextChoices):
        SEARCHING = "searching", "Searching"
        ANSWERED = "answered", "Answered"
        TIMEOUT = "timeout", "Timed out"
        ERROR = "error", "Error"
        RATE_LIMITED = "rate_limited", "Rate limited"
        SKIPPED = "skipped", "Skipped"

    search = models.CharField(max_length=40, db_index=True)
    indexer = models.ForeignKey(Indexer, on_delete=models.CASCADE, related_name="+")
    endpoint = models.CharField(max_length=100, blank=True)
    name = models.CharField(max_length=200)
    state = models.CharField(max_length=12, choices=State.choices, default=State.SEARCHING)
    count = models.PositiveIntegerField(default=0)
    message = models.CharField(max_length=300, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["search", "indexer", "endpoint"], name="indexer_answer_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name}: {self.state}"


class TitleSearch(models.Model):
    """The last search for a title's release and how it ended, shown live on the title page;
    for a wanted title, also when it is searched again (``next_at``)."""

    class State(models.TextChoices):
        SEARCHING = "searching", "Searching"
        FOUND = "found", "Found"
        STARTED = "started", "Started"
        NOTHING = "nothing", "Nothing suitable"
        FAILED = "failed", "Failed"
        ASKED = "asked", "Waiting for approval"

    class Trigger(models.TextChoices):
        MANUAL = "manual", "Find releases"
        WANTED = "wanted", "Added as wanted"
        SCHEDULE = "schedule", "Scheduled search"
        FALLBACK = "fallback", "Automatic fallback"
        APPROVED = "approved", "Request approved"

    title = models.OneToOneField(Title, on_delete=models.CASCADE, related_name="release_search")
    state = models.CharField(max_length=10, choices=State.choices, default=State.SEARCHING)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.MANUAL)
    get_best = models.BooleanField(
        default=False, help_text="Start the best release as soon as the search ends."
    )
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    found = models.PositiveIntegerField(default=0, help_text="releases that match the title")
    acceptable = models.PositiveIntegerField(default=0, help_text="of those, not rejected")
    outcome = models.TextField(blank=True, help_text="How it ended, in words")
    attempts = models.PositiveIntegerField(default=0)
    next_at = models.DateTimeField(
        null=True, blank=True, db_index=True, help_text="when a wanted title is searched again"
    )

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.title}: {self.state}"


class BlockedRelease(models.Model):
    """A release that will not be chosen again for this title (refused, no peers, or by hand)."""

    title = models.ForeignKey(Title, on_delete=models.CASCADE, related_name="blocked_releases")
    info_hash = models.CharField(max_length=64)
    name = models.CharField(max_length=500, blank=True)
    reason = models.TextField(blank=True)
    cause = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["title", "info_hash"], name="blocked_release_unique")
        ]

    def __str__(self) -> str:
        return f"{self.title}: {self.name or self.info_hash}"


class ReleasePreferences(models.Model):
    """One row: how releases are chosen (preset, weights, trusted groups, schedule)."""

    class Preset(models.TextChoices):
        STREAMING = "streaming", "Streaming: plays now in the browser, healthy swarm"
        QUALITY = "quality", "Quality: the best picture, whatever it takes"
        SMALL = "small", "Small: the smallest file that looks right"

    preset = models.CharField(max_length=10, choices=Preset.choices, default=Preset.STREAMING)
    weights = models.JSONField(
        default=dict, blank=True, help_text="Points that override the preset's, by name."
    )
    trusted_groups = models.TextField(
        blank=True, help_text="Release groups you trust, one per line or comma-separated."
    )
    languages = models.CharField(
        max_length=100, default="en", help_text="Preferred audio languages, e.g. en, fr."
    )
    min_seeders = models.PositiveIntegerField(
        "minimum seeders", default=2, help_text="Releases with fewer seeders are rejected."
    )
    research_hours = models.PositiveSmallIntegerField(
        "search wanted titles again every (hours)", default=6
    )
    fallback = models.BooleanField(
        "automatic fallback",
        default=True,
        help_text="When a release is refused or finds no peers, start the next one.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "release preferences"
        verbose_name_plural = "release preferences"

    def __str__(self) -> str:
        return "Release preferences"

    def save(self, *args, **kwargs) -> None:
        self.pk = 1  # a single row
        super().save(*args, **kwargs)

    def trusted(self) -> set[str]:
        parts = self.trusted_groups.replace(",", "\n").splitlines()
        return {p.strip().lower() for p in parts if p.strip()}

    def language_codes(self) -> list[str]:
        return [p.strip().lower() for p in self.languages.split(",") if p.strip()]


def get_release_preferences() -> ReleasePreferences:
    """The release preferences row, created with the defaults on first use."""
    prefs = ReleasePreferences.objects.filter(pk=1).first()
    if prefs is None:
        prefs, _ = ReleasePreferences.objects.get_or_create(pk=1)
    return prefs
