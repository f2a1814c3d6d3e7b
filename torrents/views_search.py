"""``/torrents/``: the indexer search page, its live results, and Get on a result.

The parameters are the URL (``?q=&category=&quality=&min_size=&max_size=&min_seeders=&trusted=
&sort=&order=&page=&limit=``): shareable, checked (``torrents.results.Filters``: a malformed value
is a 400 page that says which), and the results element refreshes itself as each indexer
answers (its key: ``torrents.live.results(<digest>)``).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from media.models import Kind, Title
from torrents import approvals, grab, live, search
from torrents.results import BadFilter, Filters, apply
from torrents.wanted import rules_for

# Seconds a page waits for a first indexer's answer before it renders (the rest arrives live).
# Short: Django's sync views share one thread under daphne, so this wait holds up every request.
FIRST_WAIT = 0.3


def bad_request(request: HttpRequest, message: str, back: str) -> HttpResponse:
    return render(
        request,
        "torrents/bad_request.html",
        {"nav": "torrents", "message": message, "back": back},
        status=400,
    )


def _query(filters: Filters) -> search.Query:
    return search.Query(text=filters.q, category=filters.category)


@require_GET
def search_page(request: HttpRequest) -> HttpResponse:
    if request.GET.get("partial") == "list" and not request.GET.get("q"):
        return redirect(f"{reverse('downloads')}?partial=list")  # an open page from before
    try:
        filters = Filters.from_query(request.GET)
    except BadFilter as exc:
        return bad_request(request, str(exc), reverse("torrents"))
    context = {"nav": "torrents", "filters": filters, "qualities": ("2160p", "1080p", "720p", "sd")}
    if filters.q:
        query = _query(filters)
        run = search.start(query)
        partial = request.htmx and request.GET.get("partial") == "results"
        if not partial:
            search.wait_first(run, FIRST_WAIT)
        context |= _results_context(request, filters, query)
        if partial:
            return render(request, "torrents/search.html#results", context)
    return render(request, "torrents/search.html", context)


def _results_context(request: HttpRequest, filters: Filters, query: search.Query) -> dict:
    snapshot = search.snapshot(query)
    hashes = [r.info_hash for r in snapshot.results if r.info_hash]
    known = set(Title.objects.filter(info_hash__in=hashes).values_list("info_hash", flat=True))
    page = apply(snapshot.results, filters, rules_for(), known_hashes=known)
    base = reverse("torrents")
    return {
        "snapshot": snapshot,
        "page": page,
        "results_key": live.results(query.digest),
        "results_url": f"{base}?{urlencode(filters.params(page=filters.page) | {'partial': 'results'})}",
        "prev_url": f"{base}?{urlencode(filters.params(page=page.page - 1))}"
        if page.page > 1
        else "",
        "next_url": f"{base}?{urlencode(filters.params(page=page.page + 1))}"
        if page.page < page.pages
        else "",
        "sort_urls": {
            name: f"{base}?{urlencode(filters.params(sort=name, page=1, order='asc' if filters.sort == name and filters.order == 'desc' else 'desc'))}"
            for name in ("relevance", "seeders", "size", "date")
        },
        "here": f"{base}?{urlencode(filters.params())}",
        "get_fields": filters.params(),
    }


@require_POST
def get(request: HttpRequest) -> HttpResponse:
    """Get one result of a search: a new title in the library, its download started."""
    try:
        filters = Filters.from_query(request.POST)
    except BadFilter as exc:
        return bad_request(request, str(exc), reverse("torrents"))
    back = f"{reverse('torrents')}?{urlencode(filters.params())}"
    result = search.find(_query(filters), request.POST.get("ref", ""))
    if result is None:
        messages.error(request, "That result is no longer there: search again.")
        return redirect(back)
    kind = request.POST.get("kind", "")
    if kind not in Kind.values:
        kind = Kind.TV if result.release.kind == "tv" or filters.category == "tv" else Kind.MOVIE
    if approvals.needs_approval(request.user):
        asked = approvals.ask_for_result(result, kind, request.user)
        messages.info(request, asked.message)
        return redirect(asked.title) if asked.title else redirect(back)
    try:
        added = grab.add_new(result, kind, request.user)
    except grab.GrabError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    if added.created:
        messages.success(request, f"Getting “{result.name}”.")
    else:
        messages.info(request, f"“{added.title.display_title}” is already in the library.")
    return redirect(added.title)
