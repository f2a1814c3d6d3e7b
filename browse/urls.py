from __future__ import annotations

from django.urls import path, register_converter

from browse import posters, views


class KindConverter:
    regex = "movie|tv"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return str(value)


class TMDBIdConverter:
    """A TMDB id: 1 to 999999999 (``browse.tmdb.MAX_ID``)."""

    regex = "[1-9][0-9]{0,8}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(KindConverter, "tmdbkind")
register_converter(TMDBIdConverter, "tmdbid")

app_name = "browse"

urlpatterns = [
    path("", views.index, name="index"),
    path("test-connection", views.test_connection, name="test-connection"),
    path("posters/<str:size>/<str:name>", posters.poster, name="poster"),
    path("match/<int:title_id>/", views.fix_match, name="match"),
    path("<tmdbkind:kind>/<tmdbid:tmdb_id>/", views.details, name="details"),
    path("<tmdbkind:kind>/<tmdbid:tmdb_id>/add", views.add, name="add"),
    path("tv/<tmdbid:tmdb_id>/season/<int:number>/", views.season, name="season"),
]
