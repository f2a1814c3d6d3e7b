"""Browse pages: the poster grid (trending / popular / search), details, seasons, adding to the
library, "Fix match", and the settings page's "test connection". Views parse the request, call
:mod:`browse.discover` / :mod:`browse.matching`, and render; TMDB trouble is a message in the
page (with a Retry), never a 500.
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

from browse import discover, matching
from browse.discover import FILTERS, LIST_TYPES, Fetched, NotConfigured
from browse.models import MetadataSync
from browse.tmdb import MAX_PAGE, Page, Summary, TMDBAuthError, TMDBError, TMDBNotFound
from media.magnets import MagnetError, parse_magnet
from media.models import Kind, Title

LIST_LABELS = {"trending": "Trending", "popular": "Popular"}
FILTER_LABELS = {"all": "All", "movie": "Movies", "tv": "TV"}
RETRY_AFTER = "10"


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
        query = " ".join(request.GET.get("q", "").split())[: discover.MAX_QUERY]
        return cls(
            list_type=list_type if list_type in LIST_TYPES else "trending",
            filter=filt if filt in FILTERS else "all",
            page=parse_page(request.GET.get("page")),
            query=query,
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


def _fetched_at(fetched: Fetched[Any]) -> datetime | None:
    if not fetched.fetched_at:
        return None
    return datetime.fromtimestamp(fetched.fetched_at, tz=UTC)


def _live_key(params: Params) -> tuple[str, ...]:
    """The chunk's live key: any library change under it re-renders its badges."""
    return (
        ("media", "list", params.filter) if params.filter in ("movie", "tv") else ("media", "list")
    )


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
        "stale": fetched.stale,
        "stale_error": fetched.error,
        "fetched_at": _fetched_at(fetched),
        "chunk_key": _live_key(params),
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


def _setup(request: HttpRequest, message: str, **context: Any) -> HttpResponse:
    return render(
        request,
        "browse/setup.html",
        {"nav": "browse", "message": message, **context},
    )


def _failure(request: HttpRequest, exc: TMDBError, retry_url: str, **context: Any) -> HttpResponse:
    """A cold page TMDB could not give: the message and a Retry, status 503 (never a 500)."""
    if isinstance(exc, TMDBAuthError):
        return _setup(request, exc.message)
    response = render(
        request,
        "browse/failure.html",
        {"nav": "browse", "message": exc.message, "retry_url": retry_url, **context},
        status=503,
    )
    response["Retry-After"] = RETRY_AFTER
    return response


def _not_found(request: HttpRequest, message: str) -> HttpResponse:
    return render(
        request, "browse/not_found.html", {"nav": "browse", "message": message}, status=404
    )


# --- the grid -------------------------------------------------------------------------------


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    params = Params.from_request(request)
    partial = request.GET.get("partial") if request.htmx else None
    try:
        fetched = _load(params)
    except NotConfigured as exc:
        if partial:
            return HttpResponse(status=204)
        return _setup(request, exc.message, params=params, **_controls(params))
    except TMDBError as exc:
        if partial == "cards":
            return HttpResponse(status=204)  # a live refresh: keep what is shown
        if partial == "more":
            return render(
                request,
                "browse/index.html#more-failed",
                {"message": exc.message, "more_url": params.url(partial="more")},
            )
        return _failure(request, exc, request.get_full_path(), params=params, **_controls(params))
    context = {"nav": "browse", **_grid_context(params, fetched), **_controls(params)}
    if partial == "cards":
        return render(request, "browse/index.html#cards", context)
    if partial == "more":
        return render(request, "browse/index.html#more", context)
    return render(request, "browse/index.html", context)


# --- details --------------------------------------------------------------------------------


def _details_context(
    request: HttpRequest, kind: str, fetched: Fetched[Any], **extra: Any
) -> dict[str, Any]:
    d = fetched.value
    owned = matching.find_in_library(kind, d.tmdb_id)
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
        "owned": owned,
        "stale": fetched.stale,
        "stale_error": fetched.error,
        "fetched_at": _fetched_at(fetched),
        "library_key": ("media", "list", kind),
        "library_url": reverse("browse:details", args=[kind, d.tmdb_id]) + "?partial=library",
        "add_url": reverse("browse:add", args=[kind, d.tmdb_id]),
        **extra,
    }


@require_GET
def details(request: HttpRequest, kind: str, tmdb_id: int) -> HttpResponse:
    try:
        fetched = discover.details(kind, tmdb_id)
    except NotConfigured as exc:
        return _setup(request, exc.message)
    except TMDBNotFound as exc:
        return _not_found(request, exc.message)
    except TMDBError as exc:
        if request.htmx and request.GET.get("partial"):
            return HttpResponse(status=204)
        return _failure(request, exc, request.get_full_path())
    context = _details_context(request, kind, fetched)
    if request.htmx and request.GET.get("partial") == "library":
        return render(request, "browse/details.html#library", context)
    return render(request, "browse/details.html", context)


def _episodes_failed(request: HttpRequest, message: str, url: str) -> HttpResponse:
    """The season page's episode list, failed (an htmx swap): the message and a Retry."""
    return render(request, "browse/season.html#episodes-failed", {"message": message, "url": url})


@require_GET
def season(request: HttpRequest, tmdb_id: int, number: int) -> HttpResponse:
    url = reverse("browse:season", args=[tmdb_id, number])
    try:
        fetched = discover.season(tmdb_id, number)
    except (NotConfigured, TMDBError, ValueError) as exc:
        message = getattr(exc, "message", "That is not a season.")
        if request.htmx:  # the episode list of an opened season: the message and a Retry
            return _episodes_failed(request, message, url)
        if isinstance(exc, NotConfigured):
            return _setup(request, message)
        if isinstance(exc, (TMDBNotFound, ValueError)):
            return _not_found(request, message)
        return _failure(request, exc, request.get_full_path())
    context = {
        "nav": "browse",
        "season": fetched.value,
        "stale": fetched.stale,
        "stale_error": fetched.error,
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
    except NotConfigured as exc:
        return _setup(request, exc.message)
    except TMDBNotFound as exc:
        return _not_found(request, exc.message)
    except TMDBError as exc:
        return _failure(request, exc, reverse("browse:details", args=[kind, tmdb_id]))
    text = request.POST.get("magnet", "").strip()
    if text:
        try:
            magnet = parse_magnet(text)
        except MagnetError as exc:
            context = _details_context(
                request, kind, fetched, magnet_error=exc.message, magnet_text=text
            )
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
    if request.htmx:
        return HttpResponseClientRedirect(added.title.get_absolute_url())
    return redirect(added.title)


# --- fix match ------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def fix_match(request: HttpRequest, title_id: int) -> HttpResponse:
    title = get_object_or_404(Title, pk=title_id)
    error = ""
    status = 200
    if request.method == "POST":
        kind = request.POST.get("kind", "")
        raw_id = request.POST.get("tmdb_id", "").strip()
        if kind not in Kind.values or not raw_id.isdigit() or not 0 < int(raw_id) < 10**9:
            error, status = "Choose one of the results.", 400
        else:
            try:
                fixed = matching.fix_match(title, kind, int(raw_id))
            except NotConfigured as exc:
                return _setup(request, exc.message)
            except TMDBNotFound as exc:
                error, status = exc.message, 400
            except TMDBError as exc:
                error, status = exc.message, 503
            except Title.DoesNotExist:
                messages.info(request, "This title was removed meanwhile.")
                return redirect("library")
            else:
                messages.success(request, f"Matched to “{fixed.display_title}” on TMDB.")
                if request.htmx:
                    return HttpResponseClientRedirect(fixed.get_absolute_url())
                return redirect(fixed)

    kind = request.GET.get("kind", title.kind)
    kind = kind if kind in Kind.values else title.kind
    query = " ".join(request.GET.get("q", "").split())[: discover.MAX_QUERY] or title.title
    raw_year = request.GET.get("year", "").strip()
    if "year" in request.GET:
        year = int(raw_year) if raw_year.isdigit() and 1870 <= int(raw_year) <= 2200 else None
    else:
        year = title.year
    candidates: list[matching.Candidate] = []
    search_error = ""
    try:
        page = discover.search_kind(kind, query, year, background=False).value
        if not page.results and year is not None:
            page = discover.search_kind(kind, query, None, background=False).value
        candidates = matching.rank_candidates(query, year, list(page.results))
    except NotConfigured as exc:
        return _setup(request, exc.message)
    except TMDBError as exc:
        search_error = exc.message
        if status == 200:
            status = 503
    owned = {c.summary.tmdb_id for c in candidates if c.summary.tmdb_id == title.tmdb_id}
    context = {
        "nav": "library",
        "title": title,
        "sync": MetadataSync.objects.filter(title=title).first(),
        "kind": kind,
        "query": query,
        "year": year,
        "candidates": candidates,
        "current_ids": owned,
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
    try:
        if key is None or language is None:
            stored_key, stored_language = discover.credentials()
            key = key or stored_key
            language = language or stored_language
        text = discover.test_connection(key, language)
        ok = True
    except NotConfigured as exc:
        text, ok = exc.message, False
    except TMDBError as exc:
        text, ok = exc.message, False
    return render(request, "browse/test_connection.html", {"ok": ok, "text": text})
