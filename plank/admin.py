from django.contrib import admin

from plank.models import Preferences


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
