"""Releases for a title: Find releases, the release cache per title, Get best, and the loops that
keep a wanted title moving (searched at once, again on a schedule, and the automatic fallback).

- :class:`TitleTarget` is what is searched for: a library title, or a TMDB title from Browse.
  Searches go by id where a feed's caps allow (``t=movie&imdbid=``, ``t=tvsearch&tvdbid=&season=``)
  and by title and year elsewhere (``torrents.search.params_for``); only releases that match the
  title are kept (:func:`matches`: the ids, else the parsed title and year, and the season /
  episode for shows).
- :func:`candidates` is what a page shows: the feeds' states and the matching releases, scored
  (``torrents.selection``). When every feed has answered, the matching releases are kept for a
  few hours under ``("torrents", "releases", <kind>, "tmdb", <id>)`` (or the IMDb id, or the
  title's own id): Browse cards read "12 releases · best 1080p" from there.
- :func:`find_releases` runs a title's search in the background (its ``TitleSearch`` row says
  how it went, live); with ``get_best`` the best release starts when it ends.
- :func:`get_best` starts the best acceptable release now (``torrents.grab``).
- :func:`on_download_failed` (``torrents.signals.download_failed``): a release Plank chose that
  is refused by vetting or finds no peers is blocked for the title, and the next one starts.
- :func:`research_wanted` (the scheduler's task): wanted titles with nothing yet, searched again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import connections, transaction
from django.utils import timezone
from django_tasks import task

from media import requests
from media.models import Status, Title
from plank.live import cache
from plank.live.events import emit
from plank.live.keys import Key
from plank.live.pool import DaemonPool
from torrents import grab, live, search, selection, signals
from torrents.grab import GrabError
from torrents.models import BlockedRelease, Indexer, TitleSearch, get_release_preferences
from torrents.results import Result
from torrents.search import FeedState
from torrents.selection import Rules, Scored
from torrents.targets import TitleTarget, matches

log = logging.getLogger(__name__)

KEEP_SECONDS = 4 * 3600.0  # the release cache per title: stale after this long...
FORGET_SECONDS = 24 * 3600.0  # ...forgotten after this long
STUCK_AFTER = timedelta(minutes=5)  # a search "searching" this long lost its process
State = TitleSearch.State
Trigger = TitleSearch.Trigger

_pool = DaemonPool("torrents-wanted", 4)


# --------------------------------------------------------------------------- candidates


@dataclass
class Found:
    """What the feeds answered for a target: the matching releases, and the rest."""

    target: TitleTarget
    feeds: list[FeedState]
    releases: list[Result]
    others: int  # releases that did not match the title
    complete: bool
    searched_at: float = field(default_factory=time.time)


@dataclass
class Candidates:
    found: Found
    ranked: list[Scored]

    @property
    def best(self) -> Scored | None:
        return selection.best(self.ranked)

    @property
    def accepted(self) -> list[Scored]:
        return [s for s in self.ranked if not s.rejected]

    @property
    def rejected(self) -> list[Scored]:
        return [s for s in self.ranked if s.rejected]


def rules_for(title: Title | None = None) -> Rules:
    prefs = get_release_preferences()
    blocked = (
        frozenset(title.blocked_releases.values_list("info_hash", flat=True))
        if title
        else frozenset()
    )
    return Rules(
        weights=selection.weights_for(prefs.preset, prefs.weights),
        min_seeders=prefs.min_seeders,
        trusted=frozenset(prefs.trusted()),
        languages=tuple(prefs.language_codes()) or ("en",),
        blocked=blocked,
    )


def gather_found(target: TitleTarget, snapshot: search.Snapshot) -> Found:
    kept = [r for r in snapshot.results if matches(r, target)]
    return Found(target, snapshot.feeds, kept, len(snapshot.results) - len(kept), snapshot.complete)


def remember(found: Found) -> None:
    """Keep a finished search's releases for the title (a few hours), and tell the pages that
    show them: not a model row, so announced here."""
    cache.set(found.target.cache_key(), found, stale=KEEP_SECONDS, expire=FORGET_SECONDS)
    keys: list[Key] = []
    if found.target.tmdb_id:
        keys.append(live.badge(found.target.kind, found.target.tmdb_id))
    if found.target.title_pk:
        keys.append(live.title_releases(found.target.title_pk))
    if keys:
        emit(*keys)


def remembered(target: TitleTarget) -> Found | None:
    got = cache.get(target.cache_key())
    return got.value if got is not None else None


def candidates(
    target: TitleTarget, title: Title | None = None, *, start: bool = True
) -> Candidates:
    """The live view of a target's search: started if need be, what arrived, scored. A search
    that has finished is kept (``remember``) the first time it is seen finished."""
    query = target.query()
    if start:
        search.start(query)
    snapshot = search.snapshot(query)
    found = gather_found(target, snapshot)
    if found.complete and snapshot.feeds:
        kept = remembered(target)
        if kept is None or kept.searched_at < time.time() - search.STALE or _differs(kept, found):
            remember(found)
    return Candidates(
        found, selection.rank(found.releases, target.selection_target(), rules_for(title))
    )


def _differs(kept: Found, found: Found) -> bool:
    return {r.ref for r in kept.releases} != {r.ref for r in found.releases}


def summary(target: TitleTarget) -> str:
    """ "12 releases · best 1080p" from the release cache ("" when nothing is kept)."""
    found = remembered(target)
    if found is None:
        return ""
    ranked = selection.rank(found.releases, target.selection_target(), rules_for())
    top = selection.best(ranked)
    count = len(found.releases)
    words = f"{count} release{'s' if count != 1 else ''}"
    if top is None:
        return f"{words} · none fits" if count else "no releases"
    quality = (
        top.features.resolution if top.features and top.features.resolution != "unknown" else ""
    )
    return f"{words} · best {quality or top.candidate.release.source or 'unknown quality'}"


# --------------------------------------------------------------------------- a title's search


def begin(title: Title, *, trigger: str, get_best: bool) -> TitleSearch:
    """Mark ``title``'s search as started (its row, shown live on the title page)."""
    now = timezone.now()
    row, _ = TitleSearch.objects.get_or_create(title=title, defaults={"started_at": now})
    row.state, row.trigger, row.get_best = State.SEARCHING, trigger, get_best
    row.started_at, row.finished_at, row.next_at, row.outcome = now, None, None, ""
    row.attempts += 1
    row.save()
    return row


def find_releases(
    title: Title, *, trigger: str = Trigger.MANUAL, get_best: bool = False
) -> TitleSearch:
    """Search for ``title``'s releases in the background; its TitleSearch row says how it goes."""
    row = begin(title, trigger=trigger, get_best=get_best)
    pk = title.pk
    transaction.on_commit(lambda: _pool.submit(_search_in_background, pk))
    return row


def _search_in_background(title_pk: int) -> None:
    try:
        run_title_search(title_pk)
    except Exception:  # the row must never stay "searching"
        log.exception("the release search of title %s failed", title_pk)
        TitleSearch.objects.filter(title_id=title_pk, state=State.SEARCHING).update(
            state=State.FAILED, outcome="The search failed; try again.", finished_at=timezone.now()
        )
        emit(live.title_releases(title_pk))  # a QuerySet.update: the declaration does not see it
    finally:
        connections.close_all()  # a pool thread holds no connection between jobs


def _wanted(title: Title) -> bool:
    """A title waiting for a release: no magnet yet, or the one it had failed."""
    return not title.magnet or title.status == Status.ERROR


def run_title_search(title_pk: int) -> TitleSearch | None:
    """Search now (wait for every feed), keep what matches, and start the best if asked."""
    title = Title.objects.filter(pk=title_pk).first()
    row = TitleSearch.objects.filter(title_id=title_pk).first()
    if title is None or row is None:
        return None
    target = TitleTarget.of(title)
    snapshot = search.gather(target.query())
    found = gather_found(target, snapshot)
    remember(found)
    ranked = selection.rank(found.releases, target.selection_target(), rules_for(title))
    top = selection.best(ranked)
    row.refresh_from_db()
    seen = row.finished_at  # another writer (a fallback) changes it: see the end
    row.found = len(found.releases)
    row.acceptable = sum(1 for s in ranked if not s.rejected)
    row.finished_at = timezone.now()
    answered = sum(1 for f in found.feeds if f.state == search.State.ANSWERED)
    if top is not None and row.get_best and _wanted(title):
        try:
            started = _start(title, top)
        except GrabError as exc:
            row.state, row.outcome = State.FAILED, f"Found {_count(found)}, but {exc.message}"
        else:
            row.state, row.outcome = (
                State.STARTED,
                f"Found {_count(found)}; started {_named(started)}.",
            )
    elif top is not None:
        row.state = State.FOUND
        row.outcome = f"Found {_count(found)}; the best is {_named(top)}."
    else:
        row.state = State.NOTHING if answered else State.FAILED
        why = _nothing(found, ranked)
        if _wanted(title):
            hours = get_release_preferences().research_hours
            row.next_at = timezone.now() + timedelta(hours=hours)
            why += f" Searching again at {timezone.localtime(row.next_at):%H:%M}."
        row.outcome = why
    with transaction.atomic():
        # The release just started may have been refused already, and the fallback (another
        # thread) has said what it started next: its word is newer, keep it.
        if (
            TitleSearch.objects.filter(pk=row.pk).values_list("finished_at", flat=True).first()
            != seen
        ):
            row.refresh_from_db()
            return row
        row.save()
    return row


def _count(found: Found) -> str:
    n = len(found.releases)
    return f"{n} release{'s' if n != 1 else ''}"


def _named(scored: Scored) -> str:
    return f"“{scored.candidate.name}” (score {scored.score})"


def _nothing(found: Found, ranked: list[Scored]) -> str:
    if not found.feeds:
        return "No indexer is enabled: add one on Settings → Indexers."
    if not any(f.state == search.State.ANSWERED for f in found.feeds):
        return (
            "No indexer answered: "
            + "; ".join(f"{f.name}: {f.words}" for f in found.feeds[:4])
            + "."
        )
    if not found.releases:
        extra = f" ({found.others} other results did not match the title)" if found.others else ""
        return f"No release of this title was found{extra}."
    reasons = sorted({s.rejected for s in ranked})
    return f"{_count(found)} found, none fits: " + "; ".join(reasons[:3]) + "."


def _start(title: Title, scored: Scored) -> Scored:
    grab.attach(title, scored.candidate)
    return scored


# --------------------------------------------------------------------------- Get best


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str
    scored: Scored | None = None


def get_best(title: Title, *, trigger: str = Trigger.MANUAL) -> Outcome:
    """Start the best acceptable release of ``title`` now, from what the search found; when
    nothing is kept yet, search first and start it when the search ends."""
    target = TitleTarget.of(title)
    found = remembered(target)
    if found is None:
        find_releases(title, trigger=trigger, get_best=True)
        return Outcome(
            True, "Searching the indexers; the best release starts as soon as it is found."
        )
    ranked = selection.rank(found.releases, target.selection_target(), rules_for(title))
    top = selection.best(ranked)
    if top is None:
        return Outcome(False, _nothing(found, ranked))
    try:
        grab.attach(title, top.candidate)
    except GrabError as exc:
        return Outcome(False, exc.message)
    row, _ = TitleSearch.objects.get_or_create(title=title, defaults={"trigger": trigger})
    row.state, row.trigger, row.finished_at = State.STARTED, trigger, timezone.now()
    row.found, row.acceptable = len(found.releases), sum(1 for s in ranked if not s.rejected)
    row.outcome = f"Started {_named(top)}."
    row.next_at = None
    row.save()
    return Outcome(True, f"Started “{top.candidate.name}”.", top)


def get_result(title: Title, result: Result) -> Outcome:
    """Start a release the person chose (Get on one row)."""
    try:
        grab.attach(title, result)
    except GrabError as exc:
        return Outcome(False, exc.message)
    row, _ = TitleSearch.objects.get_or_create(title=title)
    row.state, row.finished_at, row.next_at = State.STARTED, timezone.now(), None
    row.outcome = f"Started “{result.name}” (chosen by hand)."
    row.save()
    return Outcome(True, f"Started “{result.name}”.")


# --------------------------------------------------------------------------- fallback


def block(title: Title, info_hash: str, name: str, reason: str, cause: str) -> BlockedRelease:
    row, _ = BlockedRelease.objects.update_or_create(
        title=title,
        info_hash=info_hash.lower(),
        defaults={"name": name[:500], "reason": reason, "cause": cause},
    )
    return row


def on_download_failed(sender: Any, title: Title, reason: str, cause: str, **kwargs: Any) -> None:
    """``download_failed``: a release Plank chose that was refused or found no peers is blocked
    for the title and the next candidate starts (in the background: this runs on the engine's
    thread)."""
    if cause not in (signals.REFUSED, signals.NO_PEERS):
        return
    if not TitleSearch.objects.filter(title_id=title.pk).exists():
        return  # a magnet someone pasted: not Plank's choice to replace
    if not get_release_preferences().fallback:
        return
    info_hash, name = title.info_hash or "", title.release_name or title.magnet[:200]
    if info_hash:
        block(title, info_hash, name, reason, cause)
    _pool.submit(_fall_back, title.pk, name, reason)


def _fall_back(title_pk: int, name: str, reason: str) -> None:
    try:
        title = Title.objects.filter(pk=title_pk).first()
        if title is None:
            return
        target = TitleTarget.of(title)
        found = remembered(target)
        if found is None or not found.complete:
            found = gather_found(target, search.gather(target.query()))
            remember(found)
        ranked = selection.rank(found.releases, target.selection_target(), rules_for(title))
        top = selection.best(ranked)
        failed = f"“{name}” failed ({reason.rstrip('.')}) and is blocked for this title"
        row, _ = TitleSearch.objects.get_or_create(title=title)
        row.trigger, row.finished_at = Trigger.FALLBACK, timezone.now()
        if top is None:
            hours = get_release_preferences().research_hours
            row.state, row.next_at = State.NOTHING, timezone.now() + timedelta(hours=hours)
            row.outcome = f"{failed}; no other release fits. Searching again at {timezone.localtime(row.next_at):%H:%M}."
            row.save()
            return
        try:
            grab.attach(title, top.candidate)
        except GrabError as exc:
            row.state, row.outcome = (
                State.FAILED,
                f"{failed}; the next one could not start: {exc.message}",
            )
        else:
            row.state, row.outcome = State.STARTED, f"{failed}; started the next: {_named(top)}."
        row.save()
    except Exception:
        log.exception("the fallback of title %s failed", title_pk)
    finally:
        connections.close_all()  # a pool thread holds no connection between jobs


# --------------------------------------------------------------------------- the schedule


def wanted_titles():
    """Titles with no release yet, whose next search is due (or that were never searched)."""
    now = timezone.now()
    waiting = Title.objects.in_library().filter(
        magnet="", info_hash__isnull=True, status=Status.PENDING
    )
    stuck = now - STUCK_AFTER
    due = (
        waiting.filter(release_search__next_at__lte=now)
        | waiting.filter(release_search__isnull=True)
        | waiting.filter(
            release_search__state=State.SEARCHING, release_search__started_at__lt=stuck
        )
    )
    return due.distinct().order_by("added_at")


def research_wanted(run: Any = None) -> str:
    """The scheduled task: search each due wanted title again and start what fits."""
    titles = list(wanted_titles())
    started = nothing = 0
    for number, title in enumerate(titles, start=1):
        if run is not None and getattr(run, "cancelled", False):
            break
        if run is not None:
            run.progress(number - 1, len(titles), title.display_title)
        begin(title, trigger=Trigger.SCHEDULE, get_best=True)
        row = run_title_search(title.pk)
        if row is not None and row.state == State.STARTED:
            started += 1
        else:
            nothing += 1
    if run is not None:
        run.progress(len(titles), len(titles), "")
    if not titles:
        return "No wanted title is due."
    return f"Searched {len(titles)} wanted title{'s' if len(titles) != 1 else ''}: {started} started, {nothing} still waiting."


def on_title_saved(sender: Any, instance: Title, created: bool, **kwargs: Any) -> None:
    """A title added as wanted (no magnet) is searched at once, and gets its best release."""
    if not created or kwargs.get("raw") or instance.magnet or instance.status != Status.PENDING:
        return
    if not instance.tmdb_id and not instance.imdb_id:
        return  # not a Browse title: nothing reliable to search for
    title = instance
    transaction.on_commit(lambda: _when_wanted(title.pk))


def _when_wanted(title_pk: int) -> None:
    title = Title.objects.filter(pk=title_pk).first()
    if title is None or title.magnet:
        return
    if not Indexer.objects.filter(enabled=True).exists():
        return
    # A member whose Get needs approval gets the search, not the download: they ask.
    begin(title, trigger=Trigger.WANTED, get_best=not requests.needs_approval(title.added_by))
    # A job, not a thread: the title may come from a command or a request whose process ends
    # before the search does; the job worker (in the engine process) sees it through.
    try:
        search_wanted.enqueue(title_pk)
    except Exception:
        log.exception("could not queue the release search of title %s", title_pk)


@task()
def search_wanted(title_id: int) -> str:
    """The background job: ``search_wanted.enqueue(pk)`` searches a wanted title and starts
    its best release."""
    row = run_title_search(title_id)
    return row.outcome if row is not None else "The title is gone."
