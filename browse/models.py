"""What browse keeps about the library's metadata: per title, when it was last matched to TMDB
and how sure the match is; per ``manage.py sync`` run, its progress (shown on /system/)."""

from __future__ import annotations

from django.db import models

from media.models import Title


class MetadataSync(models.Model):
    """The TMDB side of one library title: the last attempt, its outcome, its confidence."""

    class Source(models.TextChoices):
        AUTO = "auto", "Matched automatically"
        MANUAL = "manual", "Chosen by a person"
        NONE = "none", "Not matched"

    title = models.OneToOneField(
        Title, on_delete=models.CASCADE, primary_key=True, related_name="metadata_sync"
    )
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.NONE)
    synced_at = models.DateTimeField(
        null=True, blank=True, db_index=True, help_text="The last attempt, successful or not"
    )
    matched_at = models.DateTimeField(
        null=True, blank=True, help_text="When TMDB's metadata was last applied"
    )
    confidence = models.FloatField(
        null=True, blank=True, help_text="0–1: how sure the automatic match was"
    )
    candidate_tmdb_id = models.PositiveIntegerField(
        null=True, blank=True, help_text="The best candidate when it was not sure enough"
    )
    error = models.TextField(blank=True, help_text="Why the last attempt did not apply")

    class Meta:
        verbose_name = "metadata sync"
        verbose_name_plural = "metadata syncs"

    def __str__(self) -> str:
        return f"{self.title} — {self.get_source_display()}"


class SyncRun(models.Model):
    """One run of ``manage.py sync``; the newest is shown on /system/."""

    class State(models.TextChoices):
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        INTERRUPTED = "interrupted", "Interrupted"
        FAILED = "failed", "Failed"

    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.RUNNING)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    matched = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    lists_warmed = models.PositiveIntegerField(default=0)
    lists_failed = models.PositiveIntegerField(default=0)
    current = models.CharField(max_length=300, blank=True)
    pid = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"sync {self.started_at:%Y-%m-%d %H:%M} ({self.state}, {self.done}/{self.total})"
