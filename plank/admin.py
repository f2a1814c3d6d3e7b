from django.contrib import admin

from plank.models import Invite, Preferences, ScheduledTask, SchedulerLease, TaskRun


@admin.register(Preferences)
class PreferencesAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "tmdb_language",
        "dht",
        "lsd",
        "port_mapping",
        "seed_ratio",
        "updated_at",
    )
    list_filter = ("dht", "lsd", "port_mapping")
    search_fields = ("tmdb_language",)
    exclude = ("tmdb_api_key",)  # a secret: never rendered back (edit it on /settings/)

    def has_add_permission(self, request) -> bool:
        return not Preferences.objects.exists()


@admin.register(ScheduledTask)
class ScheduledTaskAdmin(admin.ModelAdmin):
    list_display = ("name", "every_seconds", "next_run_at", "run_requested_at")
    search_fields = ("name",)


@admin.register(TaskRun)
class TaskRunAdmin(admin.ModelAdmin):
    list_display = ("task", "state", "trigger", "started_at", "duration", "outcome")
    list_filter = ("state", "task")
    search_fields = ("task", "outcome")


@admin.register(SchedulerLease)
class SchedulerLeaseAdmin(admin.ModelAdmin):
    list_display = ("name", "holder", "acquired_at", "expires_at")


@admin.register(Invite)
class InviteAdmin(admin.ModelAdmin):
    """Invitations, to look at: only a hash of each link is kept (the link was shown once)."""

    list_display = ("note", "role", "created_by", "created_at", "expires_at", "used_by")
    readonly_fields = [f.name for f in Invite._meta.fields]

    def has_add_permission(self, request) -> bool:  # links are made on Settings > People
        return False
