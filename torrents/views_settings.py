"""``/settings/indexers/``: the indexers (add, edit, test, remove) and how releases are chosen.
Everyone may look; only an admin may change anything (``plank.access``). API keys are never
sent back to a browser."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from plank.access import ADMIN_ONLY, admin_required, forbidden, is_admin
from torrents import indexers
from torrents.forms import IndexerForm, ReleasePreferencesForm
from torrents.models import Indexer, IndexerHealth, get_release_preferences


def _rows() -> list[tuple[Indexer, list[tuple[IndexerHealth, str]]]]:
    health: dict[int, list[tuple[IndexerHealth, str]]] = {}
    for row in IndexerHealth.objects.order_by("name"):
        health.setdefault(row.indexer_id, []).append((row, indexers.skip_reason(row)))
    return [(i, health.get(i.pk, [])) for i in Indexer.objects.all()]


def _page(request: HttpRequest, **context: object) -> HttpResponse:
    context.setdefault("form", IndexerForm())
    context.setdefault("prefs_form", ReleasePreferencesForm(instance=get_release_preferences()))
    status = int(context.pop("status", 200))  # type: ignore[call-overload]
    context |= {"nav": "settings", "indexers": _rows(), "can_edit": is_admin(request.user)}
    return render(request, "torrents/indexers.html", context, status=status)


@require_GET
def settings_page(request: HttpRequest) -> HttpResponse:
    return _page(request)


@require_POST
@admin_required
def add(request: HttpRequest) -> HttpResponse:
    form = IndexerForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, open_add=True, status=400)
    indexer = form.save()
    report = indexers.test(indexer)
    level = messages.success if report.ok else messages.warning
    level(request, f"Added “{indexer.name}”. " + " ".join(report.lines[:5]))
    return redirect("indexer-settings")


@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    indexer = get_object_or_404(Indexer, pk=pk)
    if request.method == "POST":
        if not is_admin(request.user):
            return forbidden(request, ADMIN_ONLY)
        form = IndexerForm(request.POST, instance=indexer)
        if form.is_valid():
            form.save()  # announced by its declaration: its cached answers go stale
            messages.success(request, f"Saved “{indexer.name}”.")
            return redirect("indexer-settings")
        status = 400
    else:
        form, status = IndexerForm(instance=indexer), 200
    context = {
        "nav": "settings",
        "form": form,
        "indexer": indexer,
        "can_edit": is_admin(request.user),
    }
    return render(request, "torrents/indexer_edit.html", context, status=status)


@require_POST
@admin_required
def remove(request: HttpRequest, pk: int) -> HttpResponse:
    indexer = get_object_or_404(Indexer, pk=pk)
    name = indexer.name
    indexer.delete()
    messages.success(request, f"Removed “{name}”.")
    return redirect("indexer-settings")


@require_POST
@admin_required
def test(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Test": ask the indexer now and say in words what works and what is wrong."""
    indexer = get_object_or_404(Indexer, pk=pk)
    report = indexers.test(indexer)
    if request.htmx:
        return render(request, "torrents/indexer_test.html", {"report": report})
    (messages.success if report.ok else messages.error)(request, " ".join(report.lines[:8]))
    return redirect("indexer-settings")


@require_POST
@admin_required
def releases(request: HttpRequest) -> HttpResponse:
    form = ReleasePreferencesForm(request.POST, instance=get_release_preferences())
    if not form.is_valid():
        return _page(request, prefs_form=form, status=400)
    form.save()  # announced by its declaration: scores on open pages refresh
    messages.success(request, "Release preferences saved.")
    return redirect("indexer-settings")
