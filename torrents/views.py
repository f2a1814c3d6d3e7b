"""Download pages: the list of downloads, and pause / resume / retry on a title's download."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from media import live, status
from media.models import Title
from plank.access import forbidden, may_change
from torrents import disk, downloads
from torrents.models import Download

ACTIONS = {"pause": downloads.pause, "resume": downloads.resume, "retry": downloads.retry}
DONE = {"pause": "Paused.", "resume": "Resumed.", "retry": "Looking for peers again."}


# What each download state offers (the title's status may add Retry: stalled, no peers).
_ACTIONS_BY_STATE = {
    Download.State.METADATA: ("pause",),
    Download.State.VETTING: ("pause",),
    Download.State.DOWNLOADING: ("pause",),
    Download.State.NO_PEERS: ("retry",),
    Download.State.ERROR: ("retry",),
    Download.State.PAUSED: ("resume",),
    Download.State.SEEDING: ("pause",),  # stops seeding: the files stay
    Download.State.COMPLETE: (),
}
_RETRY_WHEN = {status.STALLED, status.WAITING, status.ERROR}


@dataclass(frozen=True)
class Row:
    """One line of ``/downloads/``: the download, its title's one state, what the viewer may
    do with it."""

    download: Download
    status: status.TitleStatus
    can_change: bool
    actions: tuple[str, ...]

    @property
    def ratio(self) -> float | None:
        """Bytes sent to peers per byte received (None before any byte came)."""
        d = self.download
        return d.uploaded / d.downloaded if d.downloaded else None


def _row(user: Any, d: Download) -> Row:
    state = status.status_of(d.title)
    can_change = may_change(user, d.title)
    actions: tuple[str, ...] = ()
    if can_change:
        actions = _ACTIONS_BY_STATE.get(d.state, ())
        if state.state in _RETRY_WHEN and "retry" not in actions:
            actions = (*actions, "retry")
    return Row(d, state, can_change, actions)


@require_GET
def downloads_page(request: HttpRequest) -> HttpResponse:
    found = Download.objects.select_related("title").prefetch_related("title__files")
    context = {
        "nav": "torrents",
        "rows": [_row(request.user, d) for d in found.order_by("-added_at")],
        "disk": disk.downloads_space(),
        "downloads_key": live.DOWNLOADS,
        "list_url": f"{reverse('downloads')}?partial=list",
    }
    if request.htmx and request.GET.get("partial") == "list":
        return render(request, "torrents/downloads.html#list", context)
    return render(request, "torrents/downloads.html", context)


@require_POST
def moved_action(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    """The old address of a download's actions: 308 keeps the method (and the POST)."""
    return HttpResponsePermanentRedirect(reverse("download-action", args=[pk, name]), status=308)


@require_POST
def action(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    title = get_object_or_404(Title, pk=pk)
    if not may_change(request.user, title):
        return forbidden(request, "Only the person who added this title, or an admin, can do that.")
    # Retry works on any stuck title, with or without a download row (a crash before it).
    has_download = Download.objects.filter(title=title).exists()
    if name not in ACTIONS or not (has_download or name == "retry"):
        return _refuse(request, title, "This title has no download to change.")
    try:
        ACTIONS[name](title)
    except downloads.NothingToRetry as exc:
        return _refuse(request, title, str(exc))
    if request.htmx:
        return HttpResponse(status=204)
    messages.success(request, DONE[name])
    return redirect(title)


def _refuse(request: HttpRequest, title: Title, message: str) -> HttpResponse:
    if request.htmx:
        return HttpResponse(message, status=409)
    messages.error(request, message)
    return redirect(title)
