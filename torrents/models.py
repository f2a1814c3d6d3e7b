"""A title's download (what the engine is doing for it) and the commands the web processes leave
for the engine process."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from media.models import Title


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
