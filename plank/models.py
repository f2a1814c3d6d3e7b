"""Settings an owner changes at run time. The environment gives their first value."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from plank.secrets import EncryptedTextField


class Preferences(models.Model):
    """One row: the household's settings, edited on /settings/ (and in the admin)."""

    tmdb_api_key = EncryptedTextField(
        "TMDB API key",
        blank=True,
        help_text=(
            "A v3 API key (32 characters) or a v4 read access token, from themoviedb.org →"
            " Settings → API. Stored encrypted."
        ),
    )
    tmdb_language = models.CharField("TMDB language", max_length=16, default="en-US")
    dht = models.BooleanField(
        "DHT", default=True, help_text="Find peers through the distributed hash table."
    )
    lsd = models.BooleanField("Local peer discovery", default=True)
    port_mapping = models.BooleanField("Port mapping (UPnP / NAT-PMP)", default=True)
    seed_ratio = models.FloatField(
        "Seed to ratio",
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0), MaxValueValidator(100.0)],
        help_text="Leave empty to stop sharing when a download completes.",
    )
    metadata_timeout = models.PositiveIntegerField(
        "Give up finding peers after (seconds)",
        default=120,
        validators=[MinValueValidator(5), MaxValueValidator(3600)],
    )
    members_need_approval = models.BooleanField(
        "Members' downloads need an admin's approval",
        default=False,
        help_text="A member's Get becomes a request that an admin approves or declines.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "preferences"
        verbose_name_plural = "preferences"

    def __str__(self) -> str:
        return "Preferences"

    def save(self, *args, **kwargs) -> None:
        self.pk = 1  # a single row
        super().save(*args, **kwargs)


def get_preferences() -> Preferences:
    """The preferences row, created from the environment on first use."""
    prefs = Preferences.objects.filter(pk=1).first()
    if prefs is None:
        prefs, _ = Preferences.objects.get_or_create(
            pk=1,
            defaults={
                "tmdb_api_key": settings.PLANK_TMDB_API_KEY,
                "dht": settings.PLANK_TORRENT_DHT,
                "lsd": settings.PLANK_TORRENT_LSD,
                "port_mapping": settings.PLANK_TORRENT_UPNP,
                "seed_ratio": settings.PLANK_TORRENT_SEED_RATIO,
                "metadata_timeout": settings.PLANK_METADATA_TIMEOUT,
            },
        )
    return prefs


# --- the scheduler (plank/scheduler.py) -------------------------------------------------------


class ScheduledTask(models.Model):
    """A registered task's run-time settings and timetable (the code gives the default interval)."""

    name = models.CharField(max_length=64, unique=True)
    every_seconds = models.PositiveIntegerField(
        "Interval (seconds)",
        null=True,
        blank=True,
        validators=[MinValueValidator(60), MaxValueValidator(365 * 24 * 3600)],
        help_text="Empty: the interval the task comes with.",
    )
    next_run_at = models.DateTimeField(null=True, blank=True)
    run_requested_at = models.DateTimeField(
        null=True, blank=True, help_text="Someone asked for a run now; the scheduler queues it."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TaskRun(models.Model):
    """One run of a scheduled task: when, how long, how it went (in words), its progress."""

    class State(models.TextChoices):
        QUEUED = "queued", "Waiting to start"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        INTERRUPTED = "interrupted", "Interrupted"

    ACTIVE = (State.QUEUED, State.RUNNING)

    task = models.CharField(max_length=64, db_index=True)
    trigger = models.CharField(max_length=16, default="schedule")  # "schedule", "run now", ...
    state = models.CharField(max_length=12, choices=State.choices, default=State.QUEUED)
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True, help_text="Seconds")
    outcome = models.TextField(blank=True, help_text="How it went, in words")
    error = models.TextField(blank=True)
    done = models.BigIntegerField(default=0)
    total = models.BigIntegerField(null=True, blank=True)
    text = models.CharField(max_length=300, blank=True, help_text="What it is doing now")
    cancel_requested = models.BooleanField(default=False)
    holder = models.CharField(max_length=100, blank=True, help_text="The process running it")
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-queued_at", "-id"]
        indexes = [models.Index(fields=["task", "-queued_at"])]

    def __str__(self) -> str:
        return f"{self.task} #{self.pk} ({self.state})"

    @property
    def active(self) -> bool:
        return self.state in self.ACTIVE


class SchedulerLease(models.Model):
    """Who is the scheduler: one row, held by one process at a time and renewed while it lives."""

    name = models.CharField(max_length=32, primary_key=True)
    holder = models.CharField(max_length=100)
    acquired_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name}: {self.holder}"


# --- people: invitations (plank/people.py) ----------------------------------------------------


class Invite(models.Model):
    """A one-time link to create an account with a role. Only a hash of its token is kept: the
    link is shown once, to whoever made it."""

    class Role(models.TextChoices):  # an invitation never makes an owner
        MEMBER = "member", "Member"
        ADMIN = "admin", "Admin"

    token_hash = models.CharField(max_length=64, unique=True)
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.MEMBER)
    note = models.CharField(max_length=200, blank=True, help_text="Who it is for")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"invitation ({self.role}) {self.note or self.pk}"


class Notification(models.Model):
    """Something that happened to a person's titles: a download finished or was refused, a
    request was answered. Shown as a toast on their open pages and in the user menu
    (plank/notifications.py); the apps that know what happened create them."""

    class Kind(models.TextChoices):
        FINISHED = "finished", "Download finished"
        REFUSED = "refused", "Download refused or failed"
        REQUEST_ANSWERED = "request_answered", "Request answered"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    text = models.CharField(max_length=500)
    url = models.CharField(max_length=500, blank=True, help_text="A page of this Plank")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="notification_user_new")]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.text}"
