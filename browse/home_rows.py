"""TMDB's Trending as a row of the library's home screen (media/home.py), with a key set.

The home screen belongs to the library, which must not import this app: this module registers
a row there from ``BrowseConfig.ready``. The titles come through the per-key cache, the same
cached answer as Browse's trending page (``discover.trending("all", 1)``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.template.loader import render_to_string

from browse import discover, live
from browse.tmdb import TMDBError
from browse.tmdb_answers import Summary
from media import home


@dataclass(frozen=True)
class Card:
    item: Summary
    in_library: bool


def render_trending(request: HttpRequest, url: str) -> str:
    """The row's cards, or "" (a hidden row) when TMDB has nothing or fails with nothing cached."""
    try:
        fetched = discover.trending("all", 1)
    except TMDBError:
        return ""
    results = fetched.value.results[: home.ROW_LIMIT]
    if not results:
        return ""
    owned = discover.in_library(results)
    cards = [Card(item, (item.kind, item.tmdb_id) in owned) for item in results]
    return render_to_string(
        "browse/_home_trending.html", {"cards": cards, "stale": fetched.stale}, request
    )


def register() -> None:
    home.register(
        "trending",
        "Trending this week",
        live.trending("all", 1),
        render_trending,
        available=discover.is_configured,
    )
