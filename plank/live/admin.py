from django.contrib import admin

from plank.live.models import Outbox


@admin.register(Outbox)
class OutboxAdmin(admin.ModelAdmin):
    list_display = ("seq", "keys", "user_id", "created_at")
    list_filter = ("created_at",)
    search_fields = ("keys",)
    readonly_fields = ("seq", "keys", "user_id", "created_at")

    def has_add_permission(self, request) -> bool:
        return False  # announcements come from changes, not from a form
