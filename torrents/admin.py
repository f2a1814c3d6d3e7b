from __future__ import annotations

from django.contrib import admin

from torrents.models import Download, EngineCommand


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
