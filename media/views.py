"""The library's pages. Views parse the request, call media.library, and render."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from media import downloading, home, library, library_pages, live
from media.forms import AddMagnetForm
from media.models import Kind, Title
from plank.access import forbidden, may_change

PARTIALS = {"grid", "tabs", "page"}  # parts of the library page that htmx fetches alone


def _kind(request: HttpRequest) -> str:
    kind = request.GET.get("type", Kind.MOVIE)
    return kind if kind in Kind.values else Kind.MOVIE


def _library_context(request: HttpRequest, form: AddMagnetForm | None = None) -> dict:
    kind = _kind(request)
    sort = request.GET.get("sort", library.DEFAULT_SORT)
    if sort not in library.SORTS:
        sort = library.DEFAULT_SORT
    query = request.GET.get("q", "").strip()[:200]
    after = library_pages.valid_cursor(request.GET.get("after", ""), sort)
    until = library_pages.valid_cursor(request.GET.get("until", ""), sort) if after else ""
    base = reverse("library")
    listing = {"type": kind, "sort": sort, "q": query}
    return {
        "grid_key": live.library_list(kind),
        "counts_key": live.COUNTS,
        "grid_url": f"{base}?{urlencode({'partial': 'grid', **listing})}",
        "page_base": f"{base}?{urlencode({'partial': 'page', **listing})}&",
        "link_base": f"{base}?{urlencode(listing)}&",
        "tabs_url": f"{base}?{urlencode({'partial': 'tabs', 'type': kind})}",
        "nav": "library",
        "kind": kind,
        "kind_label": Kind(kind).label,
        "sort": sort,
        "sorts": [("added", "Recently added"), ("title", "Title"), ("year", "Year")],
        "query": query,
        "page_after": after,
        "page_until": until,
        # Lazy: read only when the cached fragments must be rendered anew.
        "page": SimpleLazyObject(
            lambda: library_pages.page(
                kind,
                sort,
                after=after,
                until=until,
                size=settings.PLANK_LIBRARY_PAGE_SIZE,
                query=query,
            )
        ),
        "counts": SimpleLazyObject(library.counts),
        "form": form or AddMagnetForm(initial={"type": kind}),
        # The home screen's rows: on the plain library page only (no tab, filter, sort or page).
        "home_rows": home.rows(request, base) if _is_home(request) else [],
    }


def _is_home(request: HttpRequest) -> bool:
    return not any(request.GET.get(name) for name in ("type", "q", "sort", "after"))


@require_GET
def library_page(request: HttpRequest) -> HttpResponse:
    partial = request.GET.get("partial")
    if partial == "row" and request.htmx:
        return _home_row(request)
    context = _library_context(request)
    if request.htmx and request.htmx.target == "library-grid":
        partial = "grid"  # the filter box: its pushed URL stays a whole page's URL
    if request.htmx and not request.htmx.history_restore_request and partial in PARTIALS:
        return render(request, f"media/library.html#{partial}", context)
    return render(request, "media/library.html", context)


def _home_row(request: HttpRequest) -> HttpResponse:
    """One home row alone (its live refresh); an unknown or withdrawn row renders as nothing."""
    row = home.row(request, request.GET.get("row", ""), reverse("library"))
    if row is None:
        return HttpResponse("")
    return render(request, "media/_home_rows.html#row", {"row": row})


@require_http_methods(["GET", "POST"])
def add(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _preview(request)
    form = AddMagnetForm(request.POST)
    if not form.is_valid():
        if request.htmx:
            return render(request, "media/library.html#add-form", {"form": form}, status=200)
        request.GET = request.GET.copy()
        request.GET["type"] = request.POST.get("type", Kind.MOVIE)
        context = _library_context(request, form=form) | {"open_add": True}
        return render(request, "media/library.html", context, status=400)
    result = library.add_magnet(
        form.cleaned_data["magnet"], form.cleaned_data["type"], request.user
    )
    title = result.title
    if not result.created:
        messages.info(request, f"“{title.display_title}” is already in your library.")
        if request.htmx:
            return HttpResponseClientRedirect(title.get_absolute_url())
        return redirect(title)
    if request.htmx:
        response = render(
            request,
            "media/library.html#add-form",
            {"form": AddMagnetForm(initial={"type": title.kind}), "added": title},
        )
        return trigger_client_event(
            response, "library:changed", {"id": title.pk, "kind": title.kind}
        )
    messages.success(request, f"Added “{title.display_title}”.")
    return redirect(f"{reverse('library')}?type={title.kind}")


def _preview(request: HttpRequest) -> HttpResponse:
    """The add dialog's preview of a pasted magnet: parsed name and the guessed kind."""
    form = AddMagnetForm({"magnet": request.GET.get("magnet", ""), "type": Kind.MOVIE})
    magnet = form.cleaned_data["magnet"] if form.is_valid() else None
    context = {
        "magnet": magnet,
        "release": library.parse_release_name(magnet.name) if magnet and magnet.name else None,
        "guessed_kind": library.guess_kind(magnet) if magnet else None,
        "error": None
        if magnet or not request.GET.get("magnet", "").strip()
        else form.errors.get("magnet", [""])[0],
    }
    return render(request, "media/library.html#add-preview", context)


@require_GET
def title_detail(request: HttpRequest, pk: int) -> HttpResponse:
    title = get_object_or_404(Title.objects.select_related("added_by"), pk=pk)
    context = {
        "nav": "library",
        "title": title,
        "files": list(title.files.select_related("episode__season")),
        "seasons": list(title.seasons.prefetch_related("episodes"))
        if title.kind == Kind.TV
        else [],
        "can_delete": _can_delete(request, title),
        "has_video": title.files.filter(role="video").exists(),
        "download": downloading.download_of(title),
        "download_panel": downloading.panel_template(),
        "detail_key": live.title(title.pk),
        "detail_url": f"{title.get_absolute_url()}?partial=detail",
    }
    if request.htmx and request.GET.get("partial") == "detail":
        return render(request, "media/title.html#detail", context)
    return render(request, "media/title.html", context)


def _can_delete(request: HttpRequest, title: Title) -> bool:
    return may_change(request.user, title)


@require_http_methods(["GET", "POST"])
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    title = Title.objects.in_library().filter(pk=pk).first()  # a removed one is on its way out
    if title is None:
        if request.htmx:
            return HttpResponse("This title was already removed.", status=404)
        messages.info(request, "This title was already removed.")
        return redirect("library")
    if not _can_delete(request, title):
        return forbidden(
            request, "Only the person who added this title, or an admin, can delete it."
        )
    if request.method == "GET":
        return render(request, "media/confirm_delete.html", {"nav": "library", "title": title})
    kind, name = title.kind, title.display_title
    library.delete_title(title, delete_files=request.POST.get("delete_files") == "on")
    if request.htmx and request.POST.get("from") == "title":
        messages.success(request, f"Deleted “{name}”.")
        return HttpResponseClientRedirect(f"{reverse('library')}?type={kind}")
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Trigger"] = json.dumps({"library:changed": {"kind": kind}})
        return response
    messages.success(request, f"Deleted “{name}”.")
    return redirect(f"{reverse('library')}?type={kind}")
