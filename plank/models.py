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
