from __future__ import annotations

from django.urls import path, register_converter

from browse import posters, views
from browse.tmdb import check_season


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


class SeasonConverter:
    """A season number, 0 (the specials) to ``browse.tmdb.MAX_SEASON``; more is no match (404)."""

    regex = "[0-9]{1,4}"

    def to_python(self, value: str) -> int:
        return check_season(int(value))  # a ValueError is "no match" to the resolver

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(KindConverter, "tmdbkind")
register_converter(TMDBIdConverter, "tmdbid")
register_converter(SeasonConverter, "season")

app_name = "browse"

urlpatterns = [
    path("", views.index, name="index"),
    path("test-connection", views.test_connection, name="test-connection"),
    path("posters/<str:size>/<str:name>", posters.poster, name="poster"),
    path("match/<int:title_id>/", views.fix_match, name="match"),
    path("<tmdbkind:kind>/<tmdbid:tmdb_id>/", views.details, name="details"),
    path("<tmdbkind:kind>/<tmdbid:tmdb_id>/add", views.add, name="add"),
    path("tv/<tmdbid:tmdb_id>/season/<season:number>/", views.season, name="season"),
]
