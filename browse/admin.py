from __future__ import annotations

from django.contrib import admin

from browse.models import MetadataSync, SyncRun


@admin.register(MetadataSync)
class MetadataSyncAdmin(admin.ModelAdmin):
    list_display = ("title", "source", "confidence", "synced_at", "matched_at", "short_error")
    list_filter = ("source",)
    search_fields = ("title__title", "title__original_title", "error")
    raw_id_fields = ("title",)
    readonly_fields = ("synced_at", "matched_at")

    @admin.display(description="error")
    def short_error(self, obj: MetadataSync) -> str:
        return obj.error[:80]


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = ("started_at", "state", "done", "total", "matched", "failed", "finished_at")
    list_filter = ("state",)
    readonly_fields = [f.name for f in SyncRun._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False
