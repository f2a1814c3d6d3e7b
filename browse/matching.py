"""Library metadata from TMDB: match a title added by magnet, refresh a matched one, fix a match.

A title with no TMDB id is searched by its name and year (in the background: :data:`match_title`)
and the best candidate is applied when its confidence reaches :data:`CONFIDENCE_THRESHOLD`; one
with an id is refreshed by it (``manage.py sync``); :func:`fix_match` applies a person's choice.
TMDB is read first, then each title is written in one transaction. The score and the rules:
``docs/browse.md``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from difflib import SequenceMatcher
from typing import TYPE_CHECKING, Any

from cachalot.api import cachalot_disabled
from django.db import transaction
from django.utils import timezone
from django_tasks import task

from browse import discover
from browse.discover import title_words
from browse.models import MetadataSync, SyncRun
from browse.tmdb import TMDBError, TMDBNotFound
from browse.tmdb_answers import MovieDetails, SeasonDetails, ShowDetails, Summary
from media import library
from media import live as media_live
from media.models import Episode, Kind, Season, Status, Title
from plank.live.events import emit
from plank.system import Check

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from media.magnets import Magnet

logger = logging.getLogger(__name__)

CONFIDENCE_THRESHOLD = 0.75

Details = MovieDetails | ShowDetails


@dataclass(frozen=True, slots=True)
class Candidate:
    summary: Summary
    confidence: float


@dataclass(frozen=True)
class MatchOutcome:
    title_id: int
    applied: bool
    tmdb_id: int | None = None
    confidence: float | None = None
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Collected:
    """Everything TMDB says about one title, read before the write transaction."""

    details: Details
    seasons: tuple[SeasonDetails, ...] | None = None  # None: not fetched (shows only)
    notes: list[str] = field(default_factory=list)


# --- scoring --------------------------------------------------------------------------------


def similarity(a: str, b: str) -> float:
    left, right = title_words(a), title_words(b)
    if not left or not right:
        return 0.0
    if left == right:
        return 1.0
    return SequenceMatcher(None, left, right, autojunk=False).ratio()


def year_agreement(wanted: int | None, found: int | None) -> float:
    if wanted is None or found is None:
        return 0.5
    if wanted == found:
        return 1.0
    return 0.5 if abs(wanted - found) == 1 else 0.0


def popularity_score(popularity: float) -> float:
    return min(1.0, math.log10(1 + max(popularity, 0.0)) / 3)


def score(name: str, year: int | None, item: Summary) -> float:
    title_score = max(similarity(name, item.title), similarity(name, item.original_title))
    return round(
        0.6 * title_score**2
        + 0.3 * year_agreement(year, item.year)
        + 0.1 * popularity_score(item.popularity),
        4,
    )


def rank_candidates(name: str, year: int | None, items: list[Summary]) -> list[Candidate]:
    """Candidates best first; the best's confidence lowered when the runner-up is close."""
    scored = sorted(
        (Candidate(item, score(name, year, item)) for item in items),
        key=lambda c: -c.confidence,
    )
    if len(scored) >= 2:
        margin = scored[0].confidence - scored[1].confidence
        if margin < 0.05:
            penalty = round(min(0.1, (0.05 - margin) * 2), 4)
            scored[0] = Candidate(scored[0].summary, round(scored[0].confidence - penalty, 4))
    return scored


def candidates(
    kind: str, name: str, year: int | None, *, background: bool = True
) -> list[Candidate]:
    """TMDB's answers for a name (and year), scored. Without a hit for the year, the year is
    dropped from the search (releases are sometimes dated a year off). ``background``: False
    when a person waits (the "Fix match" page)."""
    results: list[Summary] = []
    if year is not None:
        results = list(discover.search_kind(kind, name, year, background=background).value.results)
    if not results:
        results = list(discover.search_kind(kind, name, None, background=background).value.results)
    return rank_candidates(name, year, results[:20])


# --- reading TMDB ---------------------------------------------------------------------------


def collect(kind: str, tmdb_id: int, *, with_seasons: bool = True) -> Collected:
    """Details (and for shows every season's episodes) through the cache. Raises TMDBError."""
    details = discover.details(kind, tmdb_id, background=True).value
    if kind != "tv" or not with_seasons:
        return Collected(details)
    seasons: list[SeasonDetails] = []
    notes: list[str] = []
    for summary in details.seasons:
        try:
            seasons.append(discover.season(tmdb_id, summary.season_number, background=True).value)
        except TMDBNotFound:
            notes.append(f"season {summary.season_number} not on TMDB")
    return Collected(details, tuple(seasons), notes)


# --- writing --------------------------------------------------------------------------------


def _fill(title: Title, details: Details) -> list[str]:
    title.title = (details.title or title.title)[:300]
    title.original_title = (details.original_title or "")[:300]
    if details.year is not None:
        title.year = details.year
    title.overview = details.overview
    title.poster = details.poster_path or ""
    title.tmdb_id = details.tmdb_id
    title.imdb_id = (details.imdb_id or "")[:16]
    title.kind = details.kind
    return [
        "title",
        "original_title",
        "year",
        "overview",
        "poster",
        "tmdb_id",
        "imdb_id",
        "kind",
        "updated_at",
    ]


def _sync_seasons(title: Title, seasons: tuple[SeasonDetails, ...]) -> None:
    """Season and episode rows for ``seasons``: added, or updated in place (never deleted)."""
    existing = {s.number: s for s in Season.objects.filter(show=title)}
    new_seasons, changed_seasons = [], []
    for sd in seasons:
        values = {"name": sd.name[:300], "overview": sd.overview, "air_date": sd.air_date}
        row = existing.get(sd.season_number)
        if row is None:
            new_seasons.append(Season(show=title, number=sd.season_number, **values))
        elif any(getattr(row, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(row, k, v)
            changed_seasons.append(row)
    Season.objects.bulk_create(new_seasons)
    if changed_seasons:
        Season.objects.bulk_update(changed_seasons, ["name", "overview", "air_date"])
    season_ids = dict(Season.objects.filter(show=title).values_list("number", "id"))
    episodes = {(e.season_id, e.number): e for e in Episode.objects.filter(season__show=title)}
    new_episodes, changed_episodes = [], []
    for sd in seasons:
        season_id = season_ids[sd.season_number]
        for ep in sd.episodes:
            values = {"name": ep.name[:300], "overview": ep.overview, "air_date": ep.air_date}
            row = episodes.get((season_id, ep.episode_number))
            if row is None:
                new_episodes.append(
                    Episode(season_id=season_id, number=ep.episode_number, **values)
                )
            elif any(getattr(row, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(row, k, v)
                changed_episodes.append(row)
    Episode.objects.bulk_create(new_episodes, batch_size=500)
    if changed_episodes:
        Episode.objects.bulk_update(
            changed_episodes, ["name", "overview", "air_date"], batch_size=500
        )
    if new_seasons or changed_seasons or new_episodes or changed_episodes:
        # Bulk writes send no signals, so the declarations do not see these rows. LIBRARY is
        # what the title's own save announces in this transaction: one announcement for both.
        emit(media_live.LIBRARY)


def apply(
    title_id: int,
    collected: Collected,
    *,
    source: str,
    confidence: float | None,
    only_if_unmatched: bool = False,
    replace_seasons: bool = False,
) -> Title | None:
    """Write ``collected`` onto the title in one transaction (announced by the saves).

    ``only_if_unmatched``: do nothing when the title got a TMDB id meanwhile (someone fixed it
    or added it from the details page while the automatic match was searching). Returns the
    title, or None when it is gone or was skipped.
    """
    now = timezone.now()
    with transaction.atomic():
        title = Title.objects.select_for_update().filter(pk=title_id).first()
        if title is None:
            return None
        if only_if_unmatched and title.tmdb_id is not None:
            return None
        fields = _fill(title, collected.details)
        title.save(update_fields=fields)
        if replace_seasons or title.kind != Kind.TV:
            Season.objects.filter(show=title).delete()
        if title.kind == Kind.TV and collected.seasons is not None:
            _sync_seasons(title, collected.seasons)
        defaults: dict[str, Any] = {
            "source": source,
            "matched_at": now,
            # A show whose seasons were not read yet stays due for the next sync.
            "synced_at": now if title.kind != Kind.TV or collected.seasons is not None else None,
            "error": "; ".join(collected.notes),
            "candidate_tmdb_id": None,
        }
        if confidence is not None:
            defaults["confidence"] = confidence
        MetadataSync.objects.update_or_create(title=title, defaults=defaults)
    return title


def _record_failure(
    title_id: int, message: str, *, confidence: float | None = None, candidate: int | None = None
) -> None:
    with transaction.atomic():
        if not Title.objects.filter(pk=title_id).exists():
            return
        sync, _ = MetadataSync.objects.get_or_create(title_id=title_id)
        sync.synced_at = timezone.now()
        sync.error = message[:2000]
        if confidence is not None:
            sync.confidence = confidence
        sync.candidate_tmdb_id = candidate
        sync.save()


# --- the entry points -----------------------------------------------------------------------


def run_match(title_id: int) -> MatchOutcome:
    """Match (or refresh) one title now. Never raises for TMDB trouble: the outcome says it."""
    title = Title.objects.filter(pk=title_id).first()
    if title is None:
        return MatchOutcome(title_id, False, message="The title is gone.")
    try:
        if title.tmdb_id is not None:
            return _refresh(title)
        return _match(title)
    except TMDBError as exc:  # NotConfigured too
        _record_failure(title_id, exc.message)
        return MatchOutcome(title_id, False, message=exc.message)


def _refresh(title: Title) -> MatchOutcome:
    sync = MetadataSync.objects.filter(title=title).first()
    source = sync.source if sync and sync.source != MetadataSync.Source.NONE else "auto"
    assert title.tmdb_id is not None
    collected = collect(title.kind, title.tmdb_id)
    applied = apply(title.pk, collected, source=source, confidence=None)
    return MatchOutcome(
        title.pk,
        applied is not None,
        title.tmdb_id,
        sync.confidence if sync else None,
        "Refreshed from TMDB." if applied else "The title is gone.",
    )


def _match(title: Title) -> MatchOutcome:
    found = candidates(title.kind, title.title, title.year)
    if not found:
        message = "TMDB has nothing by that name."
        _record_failure(title.pk, message, confidence=0.0)
        return MatchOutcome(title.pk, False, confidence=0.0, message=message)
    best = found[0]
    if best.confidence < CONFIDENCE_THRESHOLD:
        message = (
            f"Not sure enough: the best candidate “{best.summary.title}”"
            f"{f' ({best.summary.year})' if best.summary.year else ''} scored"
            f" {best.confidence:.2f}; use “Fix match” to choose."
        )
        _record_failure(
            title.pk, message, confidence=best.confidence, candidate=best.summary.tmdb_id
        )
        return MatchOutcome(title.pk, False, best.summary.tmdb_id, best.confidence, message)
    collected = collect(title.kind, best.summary.tmdb_id)
    applied = apply(
        title.pk, collected, source="auto", confidence=best.confidence, only_if_unmatched=True
    )
    if applied is None:
        return MatchOutcome(title.pk, False, message="Matched meanwhile by someone else.")
    return MatchOutcome(
        title.pk, True, best.summary.tmdb_id, best.confidence, f"Matched “{applied.title}”."
    )


@task()
def match_title(title_id: int) -> dict[str, Any]:
    """The background job: ``match_title.enqueue(pk)``; ``match_title.call(pk)`` runs it here."""
    return run_match(title_id).as_dict()


def enqueue_match(title_id: int) -> None:
    """Queue a match for the job worker; a failure to queue is logged, never raised."""
    try:
        match_title.enqueue(title_id)
    except Exception:
        logger.exception("could not queue the TMDB match of title %s", title_id)


def fix_match(title: Title, kind: str, tmdb_id: int) -> Title:
    """A person's choice: apply TMDB ``kind``/``tmdb_id`` to ``title`` (raises TMDBError,
    NotConfigured). The old show's seasons go when the show changes."""
    if kind not in Kind.values:
        raise ValueError(f"unknown kind {kind!r}")
    collected = collect(kind, tmdb_id)
    changed = title.kind != kind or title.tmdb_id != tmdb_id
    applied = apply(title.pk, collected, source="manual", confidence=1.0, replace_seasons=changed)
    if applied is None:
        raise Title.DoesNotExist("the title is gone")
    return applied


# --- adding from the details page -----------------------------------------------------------


@dataclass(frozen=True)
class Added:
    title: Title
    created: bool


def find_in_library(kind: str, tmdb_id: int) -> Title | None:
    titles = Title.objects.in_library().filter(kind=kind, tmdb_id=tmdb_id)
    return titles.order_by("added_at", "id").first()


def add_wanted(details: Details, user: AbstractBaseUser | None) -> Added:
    """Record a TMDB title as wanted: status pending, TMDB metadata, no magnet yet."""
    with transaction.atomic():
        if existing := find_in_library(details.kind, details.tmdb_id):
            return Added(existing, created=False)
        title = Title(
            status=Status.PENDING,
            magnet="",
            info_hash=None,
            added_by=user if user is not None and user.is_authenticated else None,
        )
        _fill(title, details)
        title.save()
        now = timezone.now()
        MetadataSync.objects.create(
            title=title,
            source="manual",
            confidence=1.0,
            matched_at=now,
            synced_at=now if title.kind != Kind.TV else None,
        )
    if title.kind == Kind.TV:  # seasons and episodes in the background
        transaction.on_commit(lambda: enqueue_match(title.pk))
    return Added(title, created=True)


def add_with_magnet(details: Details, magnet: Magnet, user: AbstractBaseUser | None) -> Added:
    """Add ``magnet`` to the library (media.library.add_magnet) and give it ``details``.

    A wanted entry for the same TMDB title (no magnet yet) is fulfilled: it goes. One
    transaction (one announcement): add_magnet's own, and apply's, are savepoints in it.
    """
    with transaction.atomic():
        result = library.add_magnet(magnet, details.kind, user)
        if not result.created:
            # That magnet is already a title: lead there, never rewrite it with these details.
            return Added(result.title, created=False)
        apply(
            result.title.pk,
            Collected(details),
            source="manual",
            confidence=1.0,
            replace_seasons=result.title.kind != details.kind
            or result.title.tmdb_id not in (None, details.tmdb_id),
        )
        wanted = Title.objects.filter(
            kind=details.kind, tmdb_id=details.tmdb_id, magnet="", info_hash__isnull=True
        ).exclude(pk=result.title.pk)
        wanted.delete()  # one by one, with signals: each announced by its declaration
        if details.kind == Kind.TV:
            transaction.on_commit(lambda: enqueue_match(result.title.pk))
    result.title.refresh_from_db()
    return Added(result.title, created=result.created)


# --- the hook on new titles -----------------------------------------------------------------


def on_title_saved(sender: type[Title], instance: Title, created: bool, **kwargs: Any) -> None:
    """post_save of Title: a new title without TMDB id is matched once the add commits."""
    if not created or instance.tmdb_id is not None or kwargs.get("raw"):
        return
    pk = instance.pk

    def queue() -> None:
        try:
            configured = discover.is_configured()
        except Exception:  # the preferences table may not exist yet (migrations)
            return
        if configured:
            enqueue_match(pk)

    transaction.on_commit(queue)


# --- /system/ -------------------------------------------------------------------------------


def sync_health() -> Check:
    """The /system/ check for library metadata: the newest sync run and the match counts.

    Read past the ORM cache: a sync runs in another process and writes progress often.
    """
    with cachalot_disabled():
        run = SyncRun.objects.order_by("-started_at", "-id").first()
        titles = Title.objects.in_library()
        total = titles.count()
        matched = titles.filter(tmdb_id__isnull=False).count()
        unsure = MetadataSync.objects.filter(
            title__tmdb_id__isnull=True, candidate_tmdb_id__isnull=False
        ).count()
    details = [
        ("titles", str(total)),
        ("matched to TMDB", str(matched)),
        ("waiting for a person", str(unsure)),
    ]
    if run is None:
        return Check(
            name="Library metadata",
            ok=True,
            summary=f"{matched} of {total} titles matched; no sync run yet",
            details=details,
        )
    percent = int(100 * run.done / run.total) if run.total else 100
    summary = {
        SyncRun.State.RUNNING: f"sync running: {run.done} of {run.total} ({percent}%)",
        SyncRun.State.FINISHED: f"last sync finished: {run.done} titles, {run.failed} failed",
        SyncRun.State.INTERRUPTED: f"last sync interrupted at {run.done} of {run.total}",
        SyncRun.State.FAILED: f"last sync failed at {run.done} of {run.total}",
    }[SyncRun.State(run.state)]
    details += [
        ("sync started", timezone.localtime(run.started_at).strftime("%Y-%m-%d %H:%M:%S")),
        ("progress", f"{run.done} / {run.total} ({percent}%)"),
        ("updated", str(run.matched)),
        ("failed", str(run.failed)),
        ("lists warmed", f"{run.lists_warmed} ({run.lists_failed} failed)"),
    ]
    if run.state == SyncRun.State.RUNNING and run.current:
        details.append(("now", run.current))
    if run.finished_at:
        details.append(
            ("sync ended", timezone.localtime(run.finished_at).strftime("%Y-%m-%d %H:%M:%S"))
        )
    return Check(
        name="Library metadata",
        ok=run.state != SyncRun.State.FAILED,
        summary=summary,
        details=details,
    )
