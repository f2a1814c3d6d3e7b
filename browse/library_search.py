"""TMDB's results on the library's search page (``/search/``), beside the library's own.

The search page belongs to the library (media/search_page.py), which must not import this app:
this module registers a source there (media/search_sources.py) from ``BrowseConfig.ready``.
Results come through the per-key cache like every other TMDB read (browse/discover.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.template.loader import render_to_string

from browse import discover
from browse.tmdb import TMDBError
from browse.tmdb_answers import Summary
from media import search_sources

SHOWN = 12


@dataclass(frozen=True)
class Result:
    item: Summary
    in_library: bool


def render_results(request: HttpRequest, query: str) -> str:
    """TMDB's answer for ``query`` as the search page's column (a message when TMDB fails)."""
    try:
        fetched = discover.search(query, 1, "all")
    except TMDBError as exc:
        return render_to_string("browse/_search_results.html", {"error": exc.message}, request)
    results = fetched.value.results[:SHOWN]
    owned = discover.in_library(results)
    context = {
        "query": query,
        "results": [Result(item, (item.kind, item.tmdb_id) in owned) for item in results],
        "stale": fetched.stale,
    }
    return render_to_string("browse/_search_results.html", context, request)


def register() -> None:
    search_sources.register("tmdb", "On TMDB", render_results, available=discover.is_configured)
