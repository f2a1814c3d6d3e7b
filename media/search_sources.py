"""Other places the search page looks in besides the library: a registry.

``media`` must not import the apps that know other sources (``browse`` has TMDB), so they
register here from their ``AppConfig.ready``; the search page (media/search_page.py) shows each
registered source's results beside the library's, loaded after the page so a slow upstream
never delays the library's own answer::

    search_sources.register("tmdb", "On TMDB", render_tmdb_results)

``render(request, query)`` returns the HTML of its results (a partial of its own app), or ""
when it has nothing to say (no API key set, say).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest

Render = Callable[[HttpRequest, str], str]


@dataclass(frozen=True)
class Source:
    name: str
    label: str
    render: Render
    available: Callable[[], bool]


_sources: dict[str, Source] = {}


def register(
    name: str, label: str, render: Render, *, available: Callable[[], bool] = lambda: True
) -> None:
    """Add (or replace) a source; ``available()`` says whether to offer it at all right now."""
    _sources[name] = Source(name, label, render, available)


def sources() -> list[Source]:
    """The sources offered now, in the order they registered."""
    return [source for source in _sources.values() if source.available()]


def get(name: str) -> Source | None:
    source = _sources.get(name)
    return source if source is not None and source.available() else None
