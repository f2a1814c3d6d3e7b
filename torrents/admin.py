from __future__ import annotations

from django.contrib import admin

from plank.secrets import mask
from torrents.forms import IndexerForm
from torrents.models import (
    BlockedRelease,
    Download,
    EngineCommand,
    Indexer,
    IndexerAnswer,
    IndexerHealth,
    ReleasePreferences,
    TitleSearch,
)


@admin.register(Download)
class DownloadAdmin(admin.ModelAdmin):
    list_display = (
        "title",
        "state",
        "progress_percent",
        "peers",
        "download_rate",
        "eta",
        "added_at",
        "completed_at",
    )
    list_filter = ("state", "title__kind")
    search_fields = ("title__title", "info_hash", "title__release_name")
    list_select_related = ("title",)
    readonly_fields = ("added_at", "metadata_at", "completed_at", "progress_at")
    raw_id_fields = ("title",)
    date_hierarchy = "added_at"

    @admin.display(description="progress", ordering="progress")
    def progress_percent(self, obj: Download) -> str:
        return f"{obj.progress:.0%}"


@admin.register(EngineCommand)
class EngineCommandAdmin(admin.ModelAdmin):
    list_display = ("action", "info_hash", "delete_files", "created_at")
    list_filter = ("action",)
    search_fields = ("info_hash",)


# --- Find and get --------------------------------------------------------------------------


@admin.register(Indexer)
class IndexerAdmin(admin.ModelAdmin):
    # The settings page's form: the API key field never shows the saved key.
    form = IndexerForm
    list_display = ("name", "kind", "url", "enabled", "priority", "timeout", "key")
    list_filter = ("kind", "enabled")
    search_fields = ("name", "url")

    @admin.display(description="API key")
    def key(self, obj: Indexer) -> str:
        return mask(obj.api_key)


@admin.register(IndexerHealth)
class IndexerHealthAdmin(admin.ModelAdmin):
    list_display = ("name", "last_answer_at", "last_duration", "failures", "skipped_until")
    list_filter = ("indexer",)
    readonly_fields = [f.name for f in IndexerHealth._meta.fields]


@admin.register(IndexerAnswer)
class IndexerAnswerAdmin(admin.ModelAdmin):
    list_display = ("name", "search", "state", "count", "message", "started_at", "finished_at")
    list_filter = ("state", "indexer")
    readonly_fields = [f.name for f in IndexerAnswer._meta.fields]


@admin.register(TitleSearch)
class TitleSearchAdmin(admin.ModelAdmin):
    list_display = ("title", "state", "trigger", "found", "acceptable", "started_at", "next_at")
    list_filter = ("state", "trigger")
    raw_id_fields = ("title",)


@admin.register(BlockedRelease)
class BlockedReleaseAdmin(admin.ModelAdmin):
    list_display = ("title", "name", "cause", "created_at")
    list_filter = ("cause",)
    search_fields = ("name", "info_hash", "title__title")
    raw_id_fields = ("title",)


@admin.register(ReleasePreferences)
class ReleasePreferencesAdmin(admin.ModelAdmin):
    list_display = ("__str__", "preset", "min_seeders", "research_hours", "fallback")
