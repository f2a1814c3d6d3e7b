"""Browse pages: the poster grid (trending / popular / search), details, seasons, adding to the
library, "Fix match", and the settings page's "test connection". Views parse the request, call
:mod:`browse.discover` / :mod:`browse.matching`, and render; TMDB trouble is a message in the
page (:func:`tmdb_trouble`), never a 500.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from browse import discover, live, matching
from browse.discover import FILTERS, LIST_TYPES, Fetched
from browse.forms import MatchChoiceForm, MatchSearchForm
from browse.models import MetadataSync
from browse.tmdb import TMDBAuthError, TMDBError, TMDBNotFound
from browse.tmdb_answers import MAX_PAGE, Page, Summary
from media import live as media_live
from media.magnets import MagnetError, parse_magnet
from media.models import Title
from plank.access import forbidden, may_change

LIST_LABELS = {"trending": "Trending", "popular": "Popular"}
FILTER_LABELS = {"all": "All", "movie": "Movies", "tv": "TV"}
RETRY_AFTER = "10"
NOT_A_SEASON = "That is not a season."


# --- parameters -----------------------------------------------------------------------------


def parse_page(raw: str | None) -> int:
    """``?page=``: an int clamped to 1..500; anything unreadable is page 1."""
    text = (raw or "").strip()
    if not (text.isascii() and text.isdigit()):
        return 1
    if len(text) > 6:
        return MAX_PAGE
    return min(max(int(text), 1), MAX_PAGE)


@dataclass(frozen=True)
class Params:
    list_type: str
    filter: str
    page: int
    query: str

    @classmethod
    def from_request(cls, request: HttpRequest) -> Params:
        list_type = request.GET.get("type", "")
        filt = request.GET.get("filter", "")
        return cls(
            list_type=list_type if list_type in LIST_TYPES else "trending",
            filter=filt if filt in FILTERS else "all",
            page=parse_page(request.GET.get("page")),
            query=discover.tidy_query(request.GET.get("q", "")),
        )

    def url(self, **changes: Any) -> str:
        values = {
            "type": self.list_type,
            "filter": self.filter,
            "page": self.page,
            "q": self.query,
        } | changes
        query: dict[str, Any] = {}
        if values["q"]:
            query["q"] = values["q"]
        else:
            query["type"] = values["type"]
        query["filter"] = values["filter"]
        if values["page"] != 1:
            query["page"] = values["page"]
        if values.get("partial"):
            query["partial"] = values["partial"]
        return f"{reverse('browse:index')}?{urlencode(query)}"


@dataclass(frozen=True)
class Card:
    item: Summary
    in_library: bool


# --- TMDB trouble ---------------------------------------------------------------------------


def setup_page(request: HttpRequest, message: str, **context: Any) -> HttpResponse:
    """The setup card: no usable TMDB key, or TMDB refused it."""
    return render(request, "browse/setup.html", {"nav": "browse", "message": message, **context})


def not_found_page(request: HttpRequest, message: str) -> HttpResponse:
    return render(
        request, "browse/not_found.html", {"nav": "browse", "message": message}, status=404
    )


def failure_page(
    request: HttpRequest, message: str, retry_url: str, **context: Any
) -> HttpResponse:
    """A cold page TMDB could not give: the message and a Retry, status 503 (never a 500)."""
    response = render(
        request,
        "browse/failure.html",
        {"nav": "browse", "message": message, "retry_url": retry_url, **context},
        status=503,
    )
    response["Retry-After"] = RETRY_AFTER
    return response


def tmdb_trouble(
    request: HttpRequest, exc: TMDBError, *, retry_url: str = "", **context: Any
) -> HttpResponse:
    """The whole page for a TMDB error: the setup card when there is no usable key or TMDB
    refused it, "not found" when TMDB has no such thing, else the message and a Retry (to
    ``retry_url``, by default this page). ``context`` goes to the setup and failure pages."""
    if isinstance(exc, TMDBAuthError):  # NotConfigured too
        return setup_page(request, exc.message, **context)
    if isinstance(exc, TMDBNotFound):
        return not_found_page(request, exc.message)
    return failure_page(request, exc.message, retry_url or request.get_full_path(), **context)


def refresh_failed() -> HttpResponse:
    """A live refresh (an htmx swap of a shown part) that TMDB failed: keep what is shown."""
    return HttpResponse(status=204)


def freshness(fetched: Fetched[Any]) -> dict[str, Any]:
    """A cached value's age for ``browse/_stale.html``: served stale (and why), fetched when."""
    fetched_at = datetime.fromtimestamp(fetched.fetched_at, tz=UTC) if fetched.fetched_at else None
    return {"stale": fetched.stale, "stale_error": fetched.error, "fetched_at": fetched_at}


# --- the grid -------------------------------------------------------------------------------


def _load(params: Params) -> Fetched[Page[Summary]]:
    if params.query:
        return discover.search(params.query, params.page, params.filter)
    return discover.listing(params.list_type, params.filter, params.page)


def _grid_context(params: Params, fetched: Fetched[Page[Summary]]) -> dict[str, Any]:
    page = fetched.value
    owned = discover.in_library(page.results)
    cards = [Card(item, (item.kind, item.tmdb_id) in owned) for item in page.results]
    return {
        "params": params,
        "page": page,
        "cards": cards,
        **freshness(fetched),
        "chunk_key": live.grid_chunk(params.filter),
        "chunk_url": params.url(partial="cards"),
        "more_url": params.url(page=params.page + 1, partial="more"),
        "prev_url": params.url(page=params.page - 1) if page.has_previous else "",
        "next_url": params.url(page=params.page + 1) if page.has_next else "",
        "first_url": params.url(page=1),
    }


def _controls(params: Params) -> dict[str, Any]:
    types = [
        (
            LIST_LABELS[t],
            Params(t, params.filter, 1, "").url(),
            t == params.list_type and not params.query,
        )
        for t in LIST_TYPES
    ]
    filters = [
        (FILTER_LABELS[f], Params(params.list_type, f, 1, params.query).url(), f == params.filter)
        for f in FILTERS
    ]
    return {"types": types, "filters": filters}


GRID_PARTIALS = {"cards": "browse/index.html#cards", "more": "browse/index.html#more"}


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    params = Params.from_request(request)
    partial = request.GET.get("partial") if request.htmx else None
    try:
        fetched = _load(params)
    except TMDBError as exc:
        if partial == "more":  # the next page, asked for by scrolling: the message and a Retry
            more = {"message": exc.message, "more_url": params.url(partial="more")}
            return render(request, "browse/index.html#more-failed", more)
        if partial:
            return refresh_failed()
        page = {"params": params, **_controls(params)}
        if isinstance(exc, TMDBNotFound):  # a list or a search always exists: TMDB misbehaved
            return failure_page(request, exc.message, request.get_full_path(), **page)
        return tmdb_trouble(request, exc, **page)
    context = {"nav": "browse", **_grid_context(params, fetched), **_controls(params)}
    return render(request, GRID_PARTIALS.get(partial or "", "browse/index.html"), context)


# --- details --------------------------------------------------------------------------------


def _details_context(kind: str, fetched: Fetched[Any], **extra: Any) -> dict[str, Any]:
    d = fetched.value
    seasons = []
    if kind == "tv":
        seasons = [
            (s, reverse("browse:season", args=[d.tmdb_id, s.season_number])) for s in d.seasons
        ]
    runtime = (
        d.runtime if kind == "movie" else (d.episode_run_time[0] if d.episode_run_time else None)
    )
    return {
        "nav": "browse",
        "kind": kind,
        "d": d,
        "runtime": runtime,
        "seasons": seasons,
        "owned": matching.find_in_library(kind, d.tmdb_id),
        **freshness(fetched),
        "library_key": media_live.library_list(kind),
        "library_url": reverse("browse:details", args=[kind, d.tmdb_id]) + "?partial=library",
        "add_url": reverse("browse:add", args=[kind, d.tmdb_id]),
        **extra,
    }


@require_GET
def details(request: HttpRequest, kind: str, tmdb_id: int) -> HttpResponse:
    partial = request.GET.get("partial") if request.htmx else None
    try:
        fetched = discover.details(kind, tmdb_id)
    except TMDBError as exc:
        return refresh_failed() if partial else tmdb_trouble(request, exc)
    context = _details_context(kind, fetched)
    if partial == "library":
        return render(request, "browse/details.html#library", context)
    return render(request, "browse/details.html", context)


def _episodes_failed(request: HttpRequest, message: str, url: str) -> HttpResponse:
    """The episode list of an opened season (an htmx swap), failed: the message and a Retry."""
    return render(request, "browse/season.html#episodes-failed", {"message": message, "url": url})


@require_GET
def season(request: HttpRequest, tmdb_id: int, number: int) -> HttpResponse:
    url = reverse("browse:season", args=[tmdb_id, number])
    try:
        fetched = discover.season(tmdb_id, number)
    except ValueError:  # past MAX_SEASON: the URL takes any number, so that this page says so
        if request.htmx:
            return _episodes_failed(request, NOT_A_SEASON, url)
        return not_found_page(request, NOT_A_SEASON)
    except TMDBError as exc:
        if request.htmx:
            return _episodes_failed(request, exc.message, url)
        return tmdb_trouble(request, exc)
    context = {
        "nav": "browse",
        "season": fetched.value,
        **freshness(fetched),
        "show_url": reverse("browse:details", args=["tv", tmdb_id]),
        "url": url,
    }
    if request.htmx:
        return render(request, "browse/season.html#episodes", context)
    return render(request, "browse/season.html", context)


@require_POST
def add(request: HttpRequest, kind: str, tmdb_id: int) -> HttpResponse:
    """ "Add to library": as wanted (no magnet yet), or with a pasted magnet link."""
    try:
        fetched = discover.details(kind, tmdb_id)
    except TMDBError as exc:
        return tmdb_trouble(request, exc, retry_url=reverse("browse:details", args=[kind, tmdb_id]))
    text = request.POST.get("magnet", "").strip()
    if text:
        try:
            magnet = parse_magnet(text)
        except MagnetError as exc:
            context = _details_context(kind, fetched, magnet_error=exc.message, magnet_text=text)
            return render(request, "browse/details.html", context, status=400)
        added = matching.add_with_magnet(fetched.value, magnet, request.user)
        if added.created:
            messages.success(request, f"Added “{added.title.display_title}” with its magnet link.")
        else:
            messages.info(request, f"“{added.title.display_title}” was already in the library.")
    else:
        added = matching.add_wanted(fetched.value, request.user)
        if added.created:
            messages.success(
                request,
                f"“{added.title.display_title}” is in the library as wanted;"
                " add a magnet link when you have one.",
            )
        else:
            messages.info(request, f"“{added.title.display_title}” is already in the library.")
    return _to_title(request, added.title)


def _to_title(request: HttpRequest, title: Title) -> HttpResponse:
    if request.htmx:
        return HttpResponseClientRedirect(title.get_absolute_url())
    return redirect(title)


# --- fix match ------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def fix_match(request: HttpRequest, title_id: int) -> HttpResponse:
    title = get_object_or_404(Title, pk=title_id)
    error, status = "", 200
    if request.method == "POST":
        if not may_change(request.user, title):
            return forbidden(
                request, "Only the person who added this title, or an admin, can fix its match."
            )
        choice = MatchChoiceForm(request.POST)
        if not choice.is_valid():
            error, status = MatchChoiceForm.INVALID, 400
        else:
            chosen = choice.cleaned_data
            try:
                fixed = matching.fix_match(title, chosen["kind"], chosen["tmdb_id"])
            except TMDBAuthError as exc:  # no usable key (NotConfigured), or TMDB refused it
                return setup_page(request, exc.message)
            except TMDBError as exc:  # not found: a result TMDB no longer has
                error, status = exc.message, 400 if isinstance(exc, TMDBNotFound) else 503
            except Title.DoesNotExist:
                messages.info(request, "This title was removed meanwhile.")
                return redirect("library")
            else:
                messages.success(request, f"Matched to “{fixed.display_title}” on TMDB.")
                return _to_title(request, fixed)

    search = MatchSearchForm(request.GET, title=title)
    terms = search.terms()
    candidates: list[matching.Candidate] = []
    search_error = ""
    try:
        candidates = matching.candidates(terms.kind, terms.query, terms.year, background=False)
    except TMDBAuthError as exc:
        return setup_page(request, exc.message)
    except TMDBError as exc:
        search_error = exc.message
        status = 503 if status == 200 else status
    context = {
        "nav": "library",
        "title": title,
        "sync": MetadataSync.objects.filter(title=title).first(),
        "search_form": search,
        "kind": terms.kind,
        "query": terms.query,
        "year": terms.year,
        "candidates": candidates,
        "current_ids": {title.tmdb_id} if title.tmdb_id else set(),
        "error": error,
        "search_error": search_error,
        "threshold": matching.CONFIDENCE_THRESHOLD,
    }
    return render(request, "browse/match.html", context, status=status)


# --- settings: test connection --------------------------------------------------------------


@require_POST
def test_connection(request: HttpRequest) -> HttpResponse:
    """For the settings page (hx-post): "Connected" or the error, as a small HTML fragment.

    Tests the key and language posted (``tmdb_api_key``, ``tmdb_language``), so a key can be
    tried before it is saved; without them, the stored ones. Never through the cache.
    """
    key = request.POST.get("tmdb_api_key", "").strip() or None
    language = request.POST.get("tmdb_language", "").strip() or None
    if key is None or language is None:
        stored_key, stored_language = discover.credentials()
        key, language = key or stored_key, language or stored_language
    try:
        text, ok = discover.test_connection(key, language), True
    except TMDBError as exc:  # NotConfigured too
        text, ok = exc.message, False
    return render(request, "browse/test_connection.html", {"ok": ok, "text": text})
