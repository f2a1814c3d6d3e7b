"""Releases for one title: its section on the title page (last search, candidates with their
scores and reasons, rejected ones and why, blocked releases), Find releases, Get best / Get, the
Find releases page of a TMDB title from Browse, and a Browse card's "12 releases · best 1080p".
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from media.models import Kind, Status, Title
from plank.access import forbidden, may_change
from torrents import approvals, grab, live, wanted
from torrents.models import BlockedRelease, TitleSearch
from torrents.targets import TitleTarget
from torrents.views_search import bad_request

NOT_YOURS = "Only the person who added this title, or an admin, can choose its release."


def _season(request: HttpRequest) -> int | None:
    value = request.GET.get("season") or request.POST.get("season") or ""
    return int(value) if value.isdigit() and int(value) < 1000 else None


def _section_context(request: HttpRequest, title: Title) -> dict:
    target = TitleTarget.of(title, _season(request))
    row = TitleSearch.objects.filter(title=title).first()
    searching = row is not None and row.state == TitleSearch.State.SEARCHING
    stuck = searching and row.started_at < timezone.now() - wanted.STUCK_AFTER
    searching = searching and not stuck
    shown = wanted.candidates(target, title, start=False)
    url = reverse("title-releases", args=[title.pk])
    season = f"?{urlencode({'season': target.season})}" if target.season is not None else ""
    return {
        "title": title,
        "target": target,
        "search_row": row,
        "searching": searching,
        "stuck": stuck,
        "candidates": shown,
        "blocked": list(BlockedRelease.objects.filter(title=title)),
        "waiting": not title.magnet or title.status == Status.ERROR,
        "can_change": may_change(request.user, title),
        "section_key": live.title_releases(title.pk),
        "section_url": f"{url}{season}",
        "progress_key": live.results(target.query().digest),
        "progress_url": f"{url}?{urlencode({'partial': 'progress', **({'season': target.season} if target.season is not None else {})})}",
        "get_url": reverse("title-get", args=[title.pk]),
        "hidden": {"season": target.season} if target.season is not None else {},
        "seasons": list(title.seasons.exclude(number=0).values_list("number", flat=True))
        if title.kind == Kind.TV
        else [],
    }


@require_GET
def title_releases(request: HttpRequest, pk: int) -> HttpResponse:
    title = get_object_or_404(Title, pk=pk)
    context = _section_context(request, title)
    if request.htmx and request.GET.get("partial") == "progress":
        return render(request, "torrents/title_releases.html#progress", context)
    if request.htmx:
        return render(request, "torrents/title_releases.html#section", context)
    return render(request, "torrents/title_releases.html", context | {"nav": "library"})


@require_POST
def title_find(request: HttpRequest, pk: int) -> HttpResponse:
    title = get_object_or_404(Title, pk=pk)
    wanted.find_releases(title, trigger=TitleSearch.Trigger.MANUAL)
    if request.htmx:
        return HttpResponse(status=204)  # the section refreshes itself (its row changed)
    messages.info(request, "Searching the indexers for releases…")
    return redirect(title)


@require_POST
def title_get(request: HttpRequest, pk: int) -> HttpResponse:
    """Get best (no ``ref``), or Get one candidate (``ref``), for a library title."""
    title = get_object_or_404(Title, pk=pk)
    if not may_change(request.user, title):
        return forbidden(request, NOT_YOURS)
    if approvals.needs_approval(request.user):
        asked = approvals.ask_for_title(title, request.user, request.POST.get("note", "")[:500])
        messages.info(request, asked.message)
        return redirect(title)
    ref = request.POST.get("ref", "")
    if ref:
        target = TitleTarget.of(title, _season(request))
        result = next((r for r in _releases(target, title) if r.ref == ref), None)
        if result is None:
            messages.error(request, "That release is no longer among the results: search again.")
            return redirect(title)
        outcome = wanted.get_result(title, result)
    else:
        outcome = wanted.get_best(title)
    (messages.success if outcome.ok else messages.error)(request, outcome.message)
    return redirect(title)


def _releases(target: TitleTarget, title: Title | None) -> list:
    found = wanted.candidates(target, title, start=False).found
    return found.releases


@require_POST
def title_unblock(request: HttpRequest, pk: int, block_pk: int) -> HttpResponse:
    title = get_object_or_404(Title, pk=pk)
    if not may_change(request.user, title):
        return forbidden(request, NOT_YOURS)
    BlockedRelease.objects.filter(title=title, pk=block_pk).delete()
    messages.success(request, "The release may be chosen again.")
    return redirect(title)


# --------------------------------------------------------------------------- Browse's titles


def _target_from(data) -> TitleTarget | str:
    """A TMDB title from the URL (``kind``, ``tmdb``, ``title``, ``year``, ``imdb``,
    ``runtime``), or the message of what is wrong."""
    kind = data.get("kind", "")
    tmdb = data.get("tmdb", "")
    name = " ".join(str(data.get("title", "")).split())[:300]
    if kind not in Kind.values or not tmdb.isdigit() or not name:
        return "A title needs its kind (movie or tv), its TMDB id and its name."
    year = data.get("year", "")
    imdb = data.get("imdb", "")
    runtime = data.get("runtime", "")
    season = data.get("season", "")
    return TitleTarget(
        kind=kind,
        title=name,
        year=int(year) if year.isdigit() and 1870 <= int(year) <= 2100 else None,
        tmdb_id=int(tmdb),
        imdb_id=imdb if re.fullmatch(r"tt\d{5,10}", imdb) else "",
        minutes=int(runtime) if runtime.isdigit() and 0 < int(runtime) < 1000 else None,
        season=(int(season) if season.isdigit() else 1) if kind == Kind.TV else None,
    )


def _target_params(target: TitleTarget) -> dict[str, str]:
    params = {"kind": target.kind, "tmdb": str(target.tmdb_id), "title": target.title}
    for name, value in (
        ("year", target.year),
        ("imdb", target.imdb_id),
        ("runtime", target.minutes),
        ("season", target.season),
    ):
        if value:
            params[name] = str(value)
    return params


def _in_library(target: TitleTarget) -> Title | None:
    return (
        Title.objects.in_library()
        .filter(kind=target.kind, tmdb_id=target.tmdb_id)
        .order_by("added_at")
        .first()
    )


@require_GET
def find_page(request: HttpRequest) -> HttpResponse:
    target = _target_from(request.GET)
    if isinstance(target, str):
        return bad_request(request, target, reverse("browse:index"))
    owned = _in_library(target)
    if owned is not None and not request.htmx:
        return redirect(owned)  # its own page has its releases
    shown = wanted.candidates(target, None)
    url = f"{reverse('find-releases')}?{urlencode(_target_params(target))}"
    context = {
        "nav": "browse",
        "target": target,
        "candidates": shown,
        "params": _target_params(target),
        "results_key": live.results(target.query().digest),
        "results_url": f"{url}&partial=results",
        "details_url": reverse("browse:details", args=[target.kind, target.tmdb_id]),
        "words_url": f"{reverse('torrents')}?{urlencode({'q': target.query().words})}",
    }
    if request.htmx and request.GET.get("partial") == "results":
        return render(request, "torrents/find.html#results", context)
    return render(request, "torrents/find.html", context)


@require_POST
def find_get(request: HttpRequest) -> HttpResponse:
    """Get best (no ``ref``) or one release of a TMDB title: a new title in the library."""
    target = _target_from(request.POST)
    if isinstance(target, str):
        return bad_request(request, target, reverse("browse:index"))
    back = f"{reverse('find-releases')}?{urlencode(_target_params(target))}"
    owned = _in_library(target)
    shown = wanted.candidates(target, owned, start=False)
    ref = request.POST.get("ref", "")
    if ref:
        chosen = next((s for s in shown.ranked if s.candidate.ref == ref), None)
    else:
        chosen = shown.best
    if chosen is None:
        messages.error(
            request,
            "No release fits yet."
            if not ref
            else "That release is no longer among the results: search again.",
        )
        return redirect(back)
    result = chosen.candidate
    if owned is not None and not may_change(request.user, owned):
        return forbidden(request, NOT_YOURS)
    if approvals.needs_approval(request.user):  # for a title of theirs in the library too
        asked = approvals.ask_for_result(result, target.kind, request.user, owned)
        messages.info(request, asked.message)
        return redirect(asked.title) if asked.title else redirect(back)
    if owned is not None:
        outcome = wanted.get_result(owned, result)
        (messages.success if outcome.ok else messages.error)(request, outcome.message)
        return redirect(owned)
    try:
        added = grab.add_new(result, target.kind, request.user)
    except grab.GrabError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    messages.success(request, f"Getting “{result.name}”.")
    return redirect(added.title)


@require_GET
def badge(request: HttpRequest, kind: str, tmdb_id: int) -> HttpResponse:
    """A Browse card's "12 releases · best 1080p" (empty when nothing is kept for it)."""
    if kind not in Kind.values:
        return HttpResponse(status=404)
    target = TitleTarget(
        kind=kind, title="-", tmdb_id=tmdb_id, season=1 if kind == Kind.TV else None
    )
    context = {
        "summary": wanted.summary(target),
        "badge_key": live.badge(kind, tmdb_id),
        "badge_url": reverse("release-badge", args=[kind, tmdb_id]),
    }
    return render(request, "torrents/badge.html", context)
