from django.contrib import admin

from media import library
from media.models import (
    Episode,
    LibraryFolder,
    MediaFile,
    PlaybackPosition,
    Request,
    Scan,
    ScanProblem,
    Season,
    Title,
)


class SeasonInline(admin.TabularInline):
    model = Season
    extra = 0
    fields = ("number", "name", "air_date")


class MediaFileInline(admin.TabularInline):
    model = MediaFile
    extra = 0
    fields = ("role", "path", "torrent_path", "size", "episode")
    raw_id_fields = ("episode",)


@admin.register(Title)
class TitleAdmin(admin.ModelAdmin):
    list_display = ("title", "year", "kind", "status", "quality", "added_by", "added_at")
    list_filter = ("kind", "status", "added_at")
    search_fields = ("title", "original_title", "release_name", "info_hash", "imdb_id")
    readonly_fields = ("added_at", "updated_at")
    raw_id_fields = ("added_by",)
    inlines = [SeasonInline, MediaFileInline]
    date_hierarchy = "added_at"

    def delete_model(self, request, obj: Title) -> None:
        # the library's own delete: it also stops and forgets the title's download
        library.delete_title(obj)

    def delete_queryset(self, request, queryset) -> None:
        for title in queryset:
            library.delete_title(title)


@admin.register(Season)
class SeasonAdmin(admin.ModelAdmin):
    list_display = ("show", "number", "name", "air_date")
    list_filter = ("air_date",)
    search_fields = ("show__title", "name")
    raw_id_fields = ("show",)


@admin.register(Episode)
class EpisodeAdmin(admin.ModelAdmin):
    list_display = ("__str__", "name", "air_date")
    list_filter = ("season__show__kind",)
    search_fields = ("name", "season__show__title")
    raw_id_fields = ("season",)


@admin.register(MediaFile)
class MediaFileAdmin(admin.ModelAdmin):
    list_display = ("__str__", "title", "role", "size", "container", "video_codec", "audio_codec")
    list_filter = ("role", "container", "video_codec", "audio_codec")
    search_fields = ("path", "torrent_path", "title__title")
    raw_id_fields = ("title", "episode")


@admin.register(PlaybackPosition)
class PlaybackPositionAdmin(admin.ModelAdmin):
    list_display = ("user", "title", "position", "duration", "updated_at")
    list_filter = ("updated_at",)
    search_fields = ("user__username", "title__title")
    raw_id_fields = ("user", "title", "file")


@admin.register(LibraryFolder)
class LibraryFolderAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "path", "watch_state", "added_at")
    list_filter = ("kind", "watch_state")
    search_fields = ("name", "path")


@admin.register(Scan)
class ScanAdmin(admin.ModelAdmin):
    list_display = ("folder", "state", "trigger", "full", "requested_at", "outcome")
    list_filter = ("state", "trigger")


@admin.register(ScanProblem)
class ScanProblemAdmin(admin.ModelAdmin):
    list_display = ("folder", "path", "reason", "seen_at")
    search_fields = ("path", "reason")


@admin.register(Request)
class RequestAdmin(admin.ModelAdmin):
    list_display = ("title", "requested_by", "state", "created_at", "decided_by")
    list_filter = ("state",)
    raw_id_fields = ("title", "requested_by", "decided_by")
