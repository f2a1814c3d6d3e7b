"""``/search/?q=``: the library's search, as you type under the header box and as a page.

The library answers at once (media/search.py); other sources registered in
media/search_sources.py (TMDB, from the browse app) load into the page after it, each from its
own partial (``?source=<name>``), so a slow or failing upstream never holds up the library.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from media import search, search_sources

SUGGESTIONS = 8
RESULTS = 60


def _query(request: HttpRequest) -> str:
    return request.GET.get("q", "").strip()[: search.MAX_QUERY]


@require_GET
def search_view(request: HttpRequest) -> HttpResponse:
    query = _query(request)
    partial = request.GET.get("partial") if request.htmx else None
    if partial == "source":
        source = search_sources.get(request.GET.get("source", ""))
        html = source.render(request, query) if source is not None and query else ""
        return HttpResponse(html)
    if partial == "suggest":
        results = search.search(query, limit=SUGGESTIONS)
        return render(request, "media/search.html#suggest", {"results": results})
    context = {
        "nav": "search",
        "query": query,
        "results": search.search(query, limit=RESULTS),
        "sources": search_sources.sources() if query else [],
    }
    return render(request, "media/search.html", context)
