"""Discovery through the per-key cache: every TMDB answer a page shows comes from here.

Each function returns :class:`Fetched` (the value, and whether it is served although TMDB is
failing) or raises a :class:`browse.tmdb.TMDBError`: :class:`NotConfigured` when no usable key
is set, another one when TMDB fails and nothing is cached. The client is built from the
preferences on every call, so a key saved on the settings page takes effect at once. Keys,
lifetimes and the merged "popular, all" page: ``docs/browse.md``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from django.conf import settings

from browse import live
from browse.tmdb import (
    BAD_KEY_MESSAGE,
    NO_KEY_MESSAGE,
    TMDBAuthError,
    TMDBClient,
    TMDBError,
    Window,
    check_id,
    check_page,
    check_season,
)
from browse.tmdb_answers import (
    MAX_PAGE,
    ImageConfig,
    MovieDetails,
    Page,
    SeasonDetails,
    ShowDetails,
    Summary,
    empty_page,
)
from media.models import Title
from plank.live import cache as live_cache
from plank.live.events import emit
from plank.live.keys import to_path
from plank.models import Preferences, get_preferences
from plank.system import Check
from plank.tmdb_credentials import credential_kind

T = TypeVar("T")

LIST_TYPES: tuple[str, ...] = ("trending", "popular")
FILTERS: tuple[str, ...] = ("all", "movie", "tv")
KINDS: tuple[str, ...] = ("movie", "tv")

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
LIST_STALE, LIST_EXPIRE = 10 * MINUTE, DAY
SEARCH_STALE, SEARCH_EXPIRE = HOUR, DAY
DETAILS_STALE, DETAILS_EXPIRE = 12 * HOUR, 7 * DAY
CONFIG_STALE, CONFIG_EXPIRE = DAY, 7 * DAY

# A person waits for interactive fetches; background work (matching, sync) can be patient.
INTERACTIVE_RETRIES = 1
BACKGROUND_RETRIES = 3

MAX_QUERY = 100
TRENDING_WINDOW: Window = "week"
DEFAULT_LANGUAGE = "en-US"

_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="discover")


class NotConfigured(TMDBAuthError):
    """No usable TMDB credential (none, or malformed), so nothing was sent: the page shows the
    setup card with ``message``."""

    def __init__(self, message: str = NO_KEY_MESSAGE) -> None:
        super().__init__(message, transient=False)


@dataclass(frozen=True, slots=True)
class Fetched(Generic[T]):
    """A value from the cache. ``stale``: served although TMDB failed (``error`` says how)."""

    value: T
    stale: bool = False
    error: str | None = None
    fetched_at: float = 0.0


# --- the client -----------------------------------------------------------------------------


def credentials() -> tuple[str, str]:
    """The TMDB credential and language from the preferences (the environment seeds them)."""
    prefs = get_preferences()
    key = (prefs.tmdb_api_key or "").strip()
    return key, (prefs.tmdb_language or "").strip() or DEFAULT_LANGUAGE


def is_configured() -> bool:
    key, _ = credentials()
    return credential_kind(key) is not None


def client(api_key: str | None = None, language: str | None = None) -> TMDBClient:
    """A client for the stored (or the given) credential; :class:`NotConfigured` if unusable."""
    stored_key, stored_language = credentials() if api_key is None or language is None else ("", "")
    key = (api_key if api_key is not None else stored_key).strip()
    lang = (language if language is not None else stored_language).strip() or DEFAULT_LANGUAGE
    try:
        return TMDBClient(key, settings.PLANK_TMDB_BASE_URL, language=lang)
    except TMDBAuthError as exc:  # empty or malformed: nothing was sent to TMDB
        raise NotConfigured(exc.message) from None


def test_connection(api_key: str | None = None, language: str | None = None) -> str:
    """``"Connected"`` or raises (NotConfigured / TMDBError); never through the cache."""
    return client(api_key, language).test_connection()


# --- the cache ------------------------------------------------------------------------------


def _fetch(
    key: tuple[str | int, ...],
    fetcher: Callable[[], T],
    *,
    stale: float,
    expire: float,
    retries: int,
) -> Fetched[T]:
    result = live_cache.fetch(key, fetcher, stale=stale, expire=expire, retries=retries)
    return Fetched(result.value, result.stale, result.error, result.fetched_at)


def _retries(background: bool) -> int:
    return BACKGROUND_RETRIES if background else INTERACTIVE_RETRIES


def _check_kind(kind: str, allowed: tuple[str, ...]) -> str:
    if kind not in allowed:
        raise ValueError(f"unknown kind {kind!r}")
    return kind


# --- lists ----------------------------------------------------------------------------------


def trending(
    kind: str = "all", page: int = 1, *, background: bool = False
) -> Fetched[Page[Summary]]:
    kind, page, api = _check_kind(kind, FILTERS), check_page(page), client()
    return _fetch(
        live.trending(kind, page),
        lambda: api.trending(kind, page, TRENDING_WINDOW),  # type: ignore[arg-type]
        stale=LIST_STALE,
        expire=LIST_EXPIRE,
        retries=_retries(background),
    )


def _popular_one(api: TMDBClient, kind: str, page: int, retries: int) -> Fetched[Page[Summary]]:
    return _fetch(
        live.popular(kind, page),
        lambda: api.popular(kind, page),  # type: ignore[arg-type]
        stale=LIST_STALE,
        expire=LIST_EXPIRE,
        retries=retries,
    )


def popular(
    kind: str = "all", page: int = 1, *, background: bool = False
) -> Fetched[Page[Summary]]:
    kind, page, api = _check_kind(kind, FILTERS), check_page(page), client()
    retries = _retries(background)
    if kind != "all":
        return _popular_one(api, kind, page, retries)
    # Both halves side by side: a cold "all" page costs one TMDB round trip, not two.
    movies_future = _pool.submit(_popular_one, api, "movie", page, retries)
    try:
        shows = _popular_one(api, "tv", page, retries)
    finally:
        movies = movies_future.result()
    return merge_pages(movies, shows)


def merge_pages(*parts: Fetched[Page[Summary]]) -> Fetched[Page[Summary]]:
    """Pages of the same number merged: items alternate between the parts, in each one's order."""
    results: list[Summary] = []
    queues = [list(part.value.results) for part in parts]
    while any(queues):
        for queue in queues:
            if queue:
                results.append(queue.pop(0))
    page = Page(
        page=parts[0].value.page,
        total_pages=min(max(p.value.total_pages for p in parts), MAX_PAGE),
        total_results=sum(p.value.total_results for p in parts),
        results=tuple(results),
    )
    errors = [p.error for p in parts if p.error]
    return Fetched(
        page,
        stale=any(p.stale for p in parts),
        error=errors[0] if errors else None,
        fetched_at=min(p.fetched_at for p in parts),
    )


def listing(list_type: str, kind: str, page: int) -> Fetched[Page[Summary]]:
    """The browse grid's data: ``list_type`` "trending" or "popular", ``kind`` a filter."""
    if list_type == "popular":
        return popular(kind, page)
    if list_type == "trending":
        return trending(kind, page)
    raise ValueError(f"unknown list {list_type!r}")


# --- search ---------------------------------------------------------------------------------


def tidy_query(text: str) -> str:
    """A query as a person typed it, tidied for the page: whitespace collapsed, at most
    :data:`MAX_QUERY` characters."""
    return " ".join(str(text or "").split())[:MAX_QUERY]


def normalize_query(query: str) -> str:
    """The query as cached and sent: whitespace collapsed, case folded, at most 100 chars."""
    text = "".join(
        " " if ch.isspace() else ch
        for ch in str(query or "")
        if ch.isspace() or unicodedata.category(ch)[0] != "C"
    )
    return " ".join(text.split()).casefold()[:MAX_QUERY].strip()


def key_part(query: str) -> str:
    """A query as a key part: key parts cannot hold "/" ("%" is escaped first, so the spelling
    stays one-to-one)."""
    return query.replace("%", "%25").replace("/", "%2F")


_ARTICLES = ("the ", "a ", "an ")


def title_words(text: str) -> str:
    """A title compared loosely: accents off, case folded, "&" as "and", punctuation as spaces."""
    decomposed = unicodedata.normalize("NFKD", str(text or ""))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    plain = plain.replace("&", " and ")
    return " ".join(re.sub(r"[^\w]+", " ", plain).replace("_", " ").split())


def _variants(text: str) -> set[str]:
    words = title_words(text)
    out = {words} if words else set()
    for article in _ARTICLES:
        if words.startswith(article):
            out.add(words[len(article) :])
    return out


def search_rank(query: str, item: Summary) -> int:
    """0: the title is the query; 1: it starts with the query; 2: anything else."""
    wanted = title_words(query)
    if not wanted:
        return 2
    names = _variants(item.title) | _variants(item.original_title)
    if wanted in names:
        return 0
    if any(name.startswith(wanted) for name in names):
        return 1
    return 2


def rank_results(query: str, results: Iterable[Summary]) -> tuple[Summary, ...]:
    """Exact titles first, then prefixes, then the rest; by TMDB popularity within each."""
    return tuple(sorted(results, key=lambda item: (search_rank(query, item), -item.popularity)))


def search(
    query: str, page: int = 1, kind: str = "all", *, background: bool = False
) -> Fetched[Page[Summary]]:
    """Movies and shows together (``kind`` "all"), or one kind; ranked within the page."""
    kind, q, page = _check_kind(kind, FILTERS), normalize_query(query), check_page(page)
    if not q:
        return Fetched(empty_page())
    if kind != "all":
        fetched = search_kind(kind, q, None, page=page, background=background)
    else:
        api = client()
        fetched = _fetch(
            live.search(key_part(q), page),
            lambda: api.search(q, page),
            stale=SEARCH_STALE,
            expire=SEARCH_EXPIRE,
            retries=_retries(background),
        )
    ranked = replace(fetched.value, results=rank_results(q, fetched.value.results))
    return replace(fetched, value=ranked)


def search_kind(
    kind: str, query: str, year: int | None = None, *, page: int = 1, background: bool = True
) -> Fetched[Page[Summary]]:
    """Movies or shows only, optionally of one year (TMDB's order, not ranked)."""
    kind, q, page = _check_kind(kind, KINDS), normalize_query(query), check_page(page)
    if not q:
        return Fetched(empty_page())
    api = client()
    if kind == "movie":
        fetcher: Callable[[], Page[Summary]] = lambda: api.search_movie(q, year, page)  # noqa: E731
    else:
        fetcher = lambda: api.search_tv(q, year, page)  # noqa: E731
    return _fetch(
        live.search_kind(kind, key_part(q), year, page),
        fetcher,
        stale=SEARCH_STALE,
        expire=SEARCH_EXPIRE,
        retries=_retries(background),
    )


# --- details --------------------------------------------------------------------------------


def movie(tmdb_id: int, *, background: bool = False) -> Fetched[MovieDetails]:
    return details("movie", tmdb_id, background=background)


def tv(tmdb_id: int, *, background: bool = False) -> Fetched[ShowDetails]:
    return details("tv", tmdb_id, background=background)


def details(kind: str, tmdb_id: int, *, background: bool = False) -> Fetched[Any]:
    """A movie's or a show's details (``kind`` "movie" or "tv")."""
    kind, tmdb_id, api = _check_kind(kind, KINDS), check_id(tmdb_id), client()
    get = api.movie if kind == "movie" else api.tv
    return _fetch(
        live.details(kind, tmdb_id),
        lambda: get(tmdb_id),
        stale=DETAILS_STALE,
        expire=DETAILS_EXPIRE,
        retries=_retries(background),
    )


def season(tmdb_id: int, number: int, *, background: bool = False) -> Fetched[SeasonDetails]:
    tmdb_id, number, api = check_id(tmdb_id), check_season(number), client()
    return _fetch(
        live.season(tmdb_id, number),
        lambda: api.season(tmdb_id, number),
        stale=DETAILS_STALE,
        expire=DETAILS_EXPIRE,
        retries=_retries(background),
    )


def _configuration(api: TMDBClient, retries: int) -> Fetched[ImageConfig]:
    return _fetch(
        live.CONFIGURATION,
        api.configuration,
        stale=CONFIG_STALE,
        expire=CONFIG_EXPIRE,
        retries=retries,
    )


def configuration(*, background: bool = False) -> Fetched[ImageConfig]:
    return _configuration(client(), _retries(background))


def genres(kind: str, *, background: bool = False) -> Fetched[dict[int, str]]:
    kind, api = _check_kind(kind, KINDS), client()
    return _fetch(
        live.genres(kind),
        lambda: api.genres(kind),  # type: ignore[arg-type]
        stale=CONFIG_STALE,
        expire=CONFIG_EXPIRE,
        retries=_retries(background),
    )


# --- the library side -----------------------------------------------------------------------


def in_library(items: Iterable[Summary | Any]) -> set[tuple[str, int]]:
    """``(kind, tmdb_id)`` of the given items that have a Title in the library."""
    ids = {item.tmdb_id for item in items}
    if not ids:
        return set()
    rows = Title.objects.in_library().filter(tmdb_id__in=ids).values_list("kind", "tmdb_id")
    return {(kind, tmdb_id) for kind, tmdb_id in rows}


def warm(pages: int = 1, *, progress: Callable[[str], None] | None = None) -> int:
    """Fetch the first ``pages`` of every browse list (and configuration, genres) into the cache.

    Returns how many lists failed. Used by ``manage.py sync``.
    """
    jobs: list[tuple[str, Callable[[], object]]] = [
        ("configuration", lambda: configuration(background=True)),
        ("genres movie", lambda: genres("movie", background=True)),
        ("genres tv", lambda: genres("tv", background=True)),
    ]
    for number in range(1, pages + 1):
        for kind in FILTERS:
            jobs.append(
                (
                    f"trending {kind} {number}",
                    lambda k=kind, n=number: trending(k, n, background=True),
                )
            )
        for kind in KINDS:
            jobs.append(
                (
                    f"popular {kind} {number}",
                    lambda k=kind, n=number: popular(k, n, background=True),
                )
            )
    failed = 0
    for label, job in jobs:
        if progress is not None:
            progress(label)
        try:
            job()
        except TMDBError:
            failed += 1
    return failed


# --- health and settings changes ------------------------------------------------------------


def health() -> Check:
    """The /system/ check for TMDB: configured, reachable (cached), cache counters."""
    key, language = credentials()
    kind = credential_kind(key)
    base = settings.PLANK_TMDB_BASE_URL
    if kind is None:
        message = NO_KEY_MESSAGE if not key else BAD_KEY_MESSAGE
        return Check(name="TMDB", ok=False, summary=message, details=[("address", base)])
    details = [
        ("credential", "API key (v3)" if kind == "v3" else "read access token (v4)"),
        ("address", base),
        ("language", language),
    ]
    counters = live_cache.stats().get(to_path(live.TMDB))
    if counters:
        details.append(
            (
                "cache",
                f"{counters['hits']} hits, {counters['misses']} misses, "
                f"{counters['stale_serves']} stale, {counters['upstream_calls']} TMDB calls, "
                f"{counters['errors']} errors",
            )
        )
    try:
        fetched = _configuration(client(), retries=0)
    except TMDBError as exc:
        return Check(name="TMDB", ok=False, summary=exc.message, details=details)
    if fetched.stale:
        return Check(
            name="TMDB", ok=False, summary=fetched.error or "TMDB is failing", details=details
        )
    return Check(name="TMDB", ok=True, summary="connected", details=details)


def _tmdb_settings(prefs: Preferences) -> tuple[str, str]:
    return (prefs.tmdb_api_key or "").strip(), (prefs.tmdb_language or "").strip()


def remember_tmdb_settings(sender: type[Preferences], instance: Preferences, **kwargs: Any) -> None:
    """pre_save of Preferences: note the stored TMDB key and language."""
    if kwargs.get("raw") or instance.pk is None:
        return
    old = sender.objects.filter(pk=instance.pk).values_list("tmdb_api_key", "tmdb_language").first()
    instance._browse_old_tmdb = (  # noqa: SLF001
        ((old[0] or "").strip(), (old[1] or "").strip()) if old else None
    )


def tmdb_settings_saved(
    sender: type[Preferences], instance: Preferences, created: bool, **kwargs: Any
) -> None:
    """post_save of Preferences: a new key or language makes every cached TMDB answer stale
    (in every process: the outbox relays it) and pages showing them refetch."""
    if kwargs.get("raw") or created:  # the first row holds the environment's values
        return
    old = getattr(instance, "_browse_old_tmdb", None)
    if old is not None and old == _tmdb_settings(instance):
        return
    # Not a row of browse's: the TMDB identity every cached answer was fetched with changed.
    # (The preferences' own save is announced by their declaration, plank/live/project.py.)
    emit(live.TMDB)
