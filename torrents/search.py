"""The search service: one query fanned out to every enabled indexer at once, each feed with
its own timeout, each answer kept in the per-key cache, the results merged as they arrive.

``start(query)`` sends the query to every feed that has no fresh answer for it and returns at
once; each feed's answer is fetched through ``plank.live.cache`` under
``("torrents", "search", <indexer>, <feed>, <query digest>)`` (single-flight: fifty people
running the same search make one request per feed; stale after 15 minutes), and the feed's
``IndexerAnswer`` row says how it went. Saving that row announces the search's page key (its
declaration in ``torrents.live``), so the results on the page refresh as each indexer answers.
A feed backed off after failures is skipped with the reason; one dead indexer never blocks or
fails the search.

``snapshot(query)`` is what has arrived: every feed's state and the results, deduplicated by
info-hash (the highest seeders kept, "also on …"), each parsed with the release-name parser.
``gather(query)`` starts and waits until every feed answered or timed out.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache

from django.db import connections
from django.utils import timezone

from media.release_names import Release, parse_release_name
from plank.live import cache
from plank.live.errors import UpstreamError
from plank.live.pool import DaemonPool
from torrents import indexers, live, torznab
from torrents.indexers import Endpoint
from torrents.models import Indexer, IndexerAnswer
from torrents.results import Result, merge
from torrents.torznab import Caps, Item

log = logging.getLogger(__name__)

STALE = 15 * 60.0  # a feed's answer is refreshed after this long
EXPIRE = 6 * 3600.0  # and forgotten after this long (served flagged while a refresh fails)
PRUNE_AFTER = timedelta(days=1)
State = IndexerAnswer.State
CATEGORIES = {"movies": (2000, 3000), "tv": (5000, 6000)}

_pool = DaemonPool("torrents-search", 24)


# --------------------------------------------------------------------------- the query


@dataclass(frozen=True)
class Query:
    """A search: free text (``/torrents/?q=``) or for a title (``kind`` and ids, or title and
    year; ``season`` / ``episode`` for shows)."""

    text: str = ""
    category: str = "all"  # "all", "movies", "tv"
    kind: str = ""  # "movie" or "tv" for a title search
    title: str = ""
    year: int | None = None
    imdb_id: str = ""
    tmdb_id: int | None = None
    tvdb_id: int | None = None
    season: int | None = None
    episode: int | None = None

    @property
    def digest(self) -> str:
        parts = [
            self.text.strip().lower(),
            self.category,
            self.kind,
            self.title.strip().lower(),
            self.year,
            self.imdb_id,
            self.tmdb_id,
            self.tvdb_id,
            self.season,
            self.episode,
        ]
        return hashlib.sha1(repr(parts).encode()).hexdigest()[:20]

    @property
    def words(self) -> str:
        """The text sent as ``q``: the free text, or "Title Year" / "Show S01E02"."""
        if not self.kind:
            return self.text.strip()
        if self.kind == "movie":
            return f"{self.title} {self.year}" if self.year else self.title
        code = ""
        if self.season is not None:
            code = f" S{self.season:02d}" + (f"E{self.episode:02d}" if self.episode else "")
        return f"{self.title}{code}"

    def label(self) -> str:
        return self.words or "(nothing)"


def _categories(query: Query, endpoint: Endpoint) -> list[int]:
    wanted = query.category if not query.kind else ("movies" if query.kind == "movie" else "tv")
    if wanted not in CATEGORIES:
        return list(endpoint.categories)
    low, high = CATEGORIES[wanted]
    mine = [c for c in endpoint.categories if low <= c < high or low <= c % 100000 < high]
    return mine or [low]


def params_for(query: Query, endpoint: Endpoint, caps: Caps) -> dict[str, str]:
    """The Torznab parameters for one feed: by id where its caps allow, else by words."""
    params: dict[str, str] = {"cat": ",".join(str(c) for c in _categories(query, endpoint))}
    if query.kind == "movie" and caps.movie.available:
        params["t"] = "movie"
        if query.imdb_id and caps.supports("movie", "imdbid"):
            params["imdbid"] = query.imdb_id
        elif query.tmdb_id and caps.supports("movie", "tmdbid"):
            params["tmdbid"] = str(query.tmdb_id)
        else:
            params["q"] = query.words
        return params
    if query.kind == "tv" and caps.tv.available:
        params["t"] = "tvsearch"
        by_id = False
        for name, value in (
            ("tvdbid", query.tvdb_id),
            ("tmdbid", query.tmdb_id),
            ("imdbid", query.imdb_id),
        ):
            if value and caps.supports("tvsearch", name):
                params[name] = str(value)
                by_id = True
                break
        folded = False
        if query.season is not None:
            if caps.supports("tvsearch", "season"):
                params["season"] = str(query.season)
                if query.episode is not None and caps.supports("tvsearch", "ep"):
                    params["ep"] = str(query.episode)
            else:
                folded = True
        if not by_id:
            params["q"] = query.words if folded else query.title
        return params
    params["t"] = "search"
    params["q"] = query.words
    return params


# --------------------------------------------------------------------------- what feeds answer


@dataclass(frozen=True)
class Hit:
    """One item of one feed, with its parsed name."""

    item: Item
    release: Release


@dataclass(frozen=True)
class FeedAnswer:
    hits: tuple[Hit, ...]
    took: float


# Parsing names is CPU work (a few ms each): feeds that answer together take turns, so the
# first to answer is shown first instead of every feed finishing late together (the GIL would
# interleave them), and a name seen on several indexers is parsed once.
_parsing = threading.Lock()
_parse = lru_cache(maxsize=8192)(parse_release_name)


def fetch_feed(endpoint: Endpoint, params: dict[str, str]) -> FeedAnswer:
    """The upstream call behind a cache key: one request, health recorded, names parsed."""
    started = time.monotonic()
    items = indexers.query(endpoint, params)
    with _parsing:
        hits = tuple(Hit(item, _parse(item.title)) for item in items)
    return FeedAnswer(hits, time.monotonic() - started)


@dataclass
class Run:
    """The feeds of one query still being asked in this process (``gather`` waits on it)."""

    digest: str
    pending: set[tuple[int, str]] = field(default_factory=set)
    done: threading.Condition = field(default_factory=threading.Condition)
    answered: int = 0  # feeds that answered, since the process started


_runs: dict[str, Run] = {}
_runs_lock = threading.Lock()
_last_prune = 0.0


def _run_of(digest: str) -> Run:
    with _runs_lock:
        run = _runs.get(digest)
        if run is None:
            run = _runs[digest] = Run(digest)
        return run


def _claim(run: Run, job: tuple[int, str]) -> bool:
    with run.done:
        if job in run.pending:
            return False
        run.pending.add(job)
        return True


def _release(run: Run, job: tuple[int, str], answered: bool = False) -> None:
    with run.done:
        run.pending.discard(job)
        run.answered += answered
        run.done.notify_all()


def _answer(
    digest: str,
    indexer_id: int,
    feed: str,
    name: str,
    state: str,
    count: int = 0,
    message: str = "",
) -> None:
    """Write the feed's state for this search (announced: the page refreshes)."""
    now = timezone.now()
    IndexerAnswer.objects.update_or_create(
        search=digest,
        indexer_id=indexer_id,
        endpoint=feed,
        defaults={
            "name": name[:200],
            "state": state,
            "count": count,
            "message": message[:300],
            "started_at": now,
            "finished_at": None if state == State.SEARCHING else now,
        },
    )


def _state_of(exc: UpstreamError) -> str:
    kind = getattr(exc, "kind", "")
    if kind == torznab.TIMEOUT:
        return State.TIMEOUT
    if kind == torznab.RATE_LIMITED:
        return State.RATE_LIMITED
    return State.ERROR


def start(query: Query) -> Run:
    """Ask every enabled indexer that has no fresh answer; returns at once."""
    _prune()
    run = _run_of(query.digest)
    for indexer in Indexer.objects.filter(enabled=True):
        job = (indexer.pk, "*")
        if _claim(run, job):
            _pool.submit(_search_indexer, query, indexer.pk, run, job)
    return run


def _search_indexer(query: Query, indexer_pk: int, run: Run, job: tuple[int, str]) -> None:
    """The feeds of one indexer (a Jackett / Prowlarr listing first), each on its own."""
    try:
        indexer = Indexer.objects.filter(pk=indexer_pk, enabled=True).first()
        if indexer is None:
            return
        try:
            feeds = indexers.endpoints(indexer)
        except UpstreamError as exc:
            _answer(query.digest, indexer.pk, "", indexer.name, _state_of(exc), message=exc.message)
            return
        if indexer.kind != Indexer.Kind.TORZNAB:
            # The listing worked: no row for the aggregate itself (an earlier failure's goes).
            IndexerAnswer.objects.filter(search=query.digest, indexer=indexer, endpoint="").delete()
            if not feeds:
                what = (
                    "no configured indexer"
                    if indexer.kind == Indexer.Kind.JACKETT
                    else "no enabled torrent indexer"
                )
                _answer(
                    query.digest,
                    indexer.pk,
                    "",
                    indexer.name,
                    State.ERROR,
                    message=f"{indexer.get_kind_display()} has {what}",
                )
        health = {h.endpoint: h for h in indexer.health.all()}
        for endpoint in feeds:
            key = live.search_answer(indexer.pk, endpoint.part, query.digest)
            got = cache.get(key)
            if got is not None and not got.stale:
                _keep_answered(query.digest, endpoint, got.value)
                continue
            if reason := indexers.skip_reason(health.get(endpoint.key)):
                if got is None:
                    _answer(
                        query.digest,
                        indexer.pk,
                        endpoint.key,
                        endpoint.name,
                        State.SKIPPED,
                        message=reason,
                    )
                else:
                    _keep_answered(query.digest, endpoint, got.value, f"{reason}; an older answer")
                continue
            feed_job = (indexer.pk, endpoint.part)
            if _claim(run, feed_job):
                _pool.submit(_search_feed, query, endpoint, got is not None, run, feed_job)
    finally:
        _release(run, job)
        connections.close_all()  # a pool thread holds no connection between jobs


def _keep_answered(digest: str, endpoint: Endpoint, answer: FeedAnswer, note: str = "") -> None:
    """An answer from the cache: make sure the page's row says so (once)."""
    count = len(answer.hits)
    row = IndexerAnswer.objects.filter(
        search=digest, indexer_id=endpoint.indexer_id, endpoint=endpoint.key
    ).first()
    if row is None or (row.state, row.count, row.message) != (State.ANSWERED, count, note):
        _answer(
            digest, endpoint.indexer_id, endpoint.key, endpoint.name, State.ANSWERED, count, note
        )


def _search_feed(
    query: Query, endpoint: Endpoint, aged: bool, run: Run, job: tuple[int, str]
) -> None:
    key = live.search_answer(endpoint.indexer_id, endpoint.part, query.digest)
    answered = False
    try:
        earlier = IndexerAnswer.objects.filter(
            search=query.digest, indexer_id=endpoint.indexer_id, endpoint=endpoint.key
        ).exclude(state=State.SEARCHING)
        if earlier.exists():  # an old outcome on the page: say it is being asked again
            _answer(query.digest, endpoint.indexer_id, endpoint.key, endpoint.name, State.SEARCHING)
        if aged:
            # An answer past its 15 minutes: fetched again now, in this flight (the cache serves
            # the old one only if this fails), rather than refreshed behind the page's back.
            cache.invalidate(key)
        caps = indexers.caps_of(endpoint)
        params = params_for(query, endpoint, caps)
        result = cache.fetch(
            key, lambda: fetch_feed(endpoint, params), stale=STALE, expire=EXPIRE, retries=0
        )
    except UpstreamError as exc:
        _answer(
            query.digest,
            endpoint.indexer_id,
            endpoint.key,
            endpoint.name,
            _state_of(exc),
            message=exc.message,
        )
    except Exception:  # a bug must not leave the feed "searching" forever
        log.exception("searching %s failed", endpoint.name)
        _answer(
            query.digest,
            endpoint.indexer_id,
            endpoint.key,
            endpoint.name,
            State.ERROR,
            message="Plank failed to read this answer",
        )
    else:
        note = f"may be out of date: {result.error}" if result.stale else ""
        _answer(
            query.digest,
            endpoint.indexer_id,
            endpoint.key,
            endpoint.name,
            State.ANSWERED,
            len(result.value.hits),
            note,
        )
        answered = True
    finally:
        _release(run, job, answered)
        connections.close_all()  # a pool thread holds no connection between jobs


def wait(run: Run, timeout: float) -> bool:
    """Wait until every feed of the run is done (True), or ``timeout`` seconds (False)."""
    deadline = time.monotonic() + timeout
    with run.done:
        while run.pending:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            run.done.wait(left)
    return True


def wait_first(run: Run, timeout: float) -> bool:
    """Wait until one feed of the run has answered, or all are done, or ``timeout`` seconds:
    what a page waits for before it renders (the rest arrives live)."""
    deadline = time.monotonic() + timeout
    with run.done:
        while run.pending and not run.answered:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            run.done.wait(left)
    return True


def longest_timeout() -> float:
    timeouts = list(Indexer.objects.filter(enabled=True).values_list("timeout", flat=True))
    return max(timeouts, default=10.0)


def gather(query: Query, timeout: float | None = None) -> Snapshot:
    """Search and wait for every feed (each bounded by its own timeout)."""
    run = start(query)
    # A listing first, then the feed: at most two timeouts in a row, plus a little.
    wait(run, timeout if timeout is not None else 2 * longest_timeout() + 2)
    return snapshot(query)


def _prune() -> None:
    global _last_prune
    if time.monotonic() - _last_prune < 600:
        return
    _last_prune = time.monotonic()
    IndexerAnswer.objects.filter(started_at__lt=timezone.now() - PRUNE_AFTER).delete()


# --------------------------------------------------------------------------- what has arrived


@dataclass
class FeedState:
    indexer_id: int
    feed: str
    name: str
    state: str
    count: int = 0
    message: str = ""
    took: float | None = None

    @property
    def words(self) -> str:
        if self.state == State.ANSWERED:
            text = f"answered {self.count}"
            if self.took is not None:
                text += f" in {self.took:.1f} s"
            return f"{text} ({self.message})" if self.message else text
        if self.state == State.SEARCHING:
            return "searching…"
        return self.message or IndexerAnswer.State(self.state).label.lower()


@dataclass
class Snapshot:
    query: Query
    feeds: list[FeedState]
    results: list[Result]

    @property
    def complete(self) -> bool:
        return all(f.state != State.SEARCHING for f in self.feeds)

    @property
    def answered(self) -> int:
        return sum(1 for f in self.feeds if f.state == State.ANSWERED)


def snapshot(query: Query) -> Snapshot:
    """Every feed's state for ``query`` and the merged results that have arrived."""
    digest = query.digest
    enabled = {i.pk: i for i in Indexer.objects.filter(enabled=True)}
    rows = [r for r in IndexerAnswer.objects.filter(search=digest) if r.indexer_id in enabled]
    feeds: list[FeedState] = []
    merged: dict[str, Result] = {}
    seen_indexers = set()
    for row in sorted(rows, key=lambda r: (enabled[r.indexer_id].priority, r.name)):
        seen_indexers.add(row.indexer_id)
        state = FeedState(row.indexer_id, row.endpoint, row.name, row.state, row.count, row.message)
        feeds.append(state)
        if row.state != State.ANSWERED:
            continue
        got = cache.get(live.search_answer(row.indexer_id, row.endpoint or "-", digest))
        if got is None:
            state.state = State.SEARCHING  # forgotten meanwhile: ``start`` asks again
            continue
        state.took = got.value.took
        merge(merged, got.value.hits, enabled[row.indexer_id], row.endpoint, row.name)
    for pk, indexer in enabled.items():
        if pk not in seen_indexers:
            feeds.append(FeedState(pk, "", indexer.name, State.SEARCHING))
    return Snapshot(query, feeds, list(merged.values()))


def find(query: Query, ref: str) -> Result | None:
    """A result of ``query`` by its ``ref`` (for Get), from what the feeds answered."""
    return next((r for r in snapshot(query).results if r.ref == ref), None)
