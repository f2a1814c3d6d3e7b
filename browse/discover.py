"""Discovery through the per-key cache: every TMDB answer a page shows comes from here.

Each function returns :class:`Fetched` (the value, and whether it is served although TMDB is
failing) or raises:

- :class:`NotConfigured` when no usable TMDB credential is set (the page shows a setup card);
- a :class:`browse.tmdb.TMDBError` (an ``UpstreamError``) when TMDB fails and nothing is cached
  (the page shows the message and a Retry button).

Keys and lifetimes (stale after / kept for):

=====================================  ===========  =======
``("tmdb", "trending", kind, page)``   10 minutes   1 day
``("tmdb", "popular", kind, page)``    10 minutes   1 day
``("tmdb", "search", query, page)``    1 hour       1 day   (movies and shows)
``("tmdb", "search", kind, q, y, p)``  1 hour       1 day   (one kind, a year or 0)
``("tmdb", "movie", id)``              12 hours     7 days
``("tmdb", "tv", id)``                 12 hours     7 days
``("tmdb", "season", id, n)``          12 hours     7 days
``("tmdb", "configuration")``          1 day        7 days
``("tmdb", "genres", kind)``           1 day        7 days
=====================================  ===========  =======

"Kept for" is longer than "stale after" so that a value can be served, flagged, while TMDB is
down. "Popular, all" has no key of its own: it merges the movie and the show page of the same
number (fetched side by side), alternating movie and show so neither crowds the other out
(TMDB's popularity scales differ between movies and shows).

The client is built from :func:`plank.models.get_preferences` (key and language) and
``settings.PLANK_TMDB_BASE_URL`` on every call: a key saved on the settings page takes effect on
the next request.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Generic, Literal, TypeVar

from django.conf import settings

from browse import tmdb
from browse.tmdb import (
    MAX_PAGE,
    ImageConfig,
    MovieDetails,
    Page,
    SeasonDetails,
    ShowDetails,
    Summary,
    TMDBAuthError,
    TMDBClient,
)
from plank.live import cache as live_cache

T = TypeVar("T")

ListType = Literal["trending", "popular"]
Filter = Literal["all", "movie", "tv"]
LIST_TYPES: tuple[str, ...] = ("trending", "popular")
FILTERS: tuple[str, ...] = ("all", "movie", "tv")

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
LIST_STALE, LIST_EXPIRE = 10 * MINUTE, DAY
SEARCH_STALE, SEARCH_EXPIRE = HOUR, DAY
DETAILS_STALE, DETAILS_EXPIRE = 12 * HOUR, 7 * DAY
CONFIG_STALE, CONFIG_EXPIRE = DAY, 7 * DAY

# A person waits for interactive fetches; background work (matching, sync) can be patient.
INTERACTIVE_RETRIES = 1
BACKGROUND_RETRIES = 3

MAX_QUERY = 100
TRENDING_WINDOW: tmdb.Window = "week"

_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="discover")


class NotConfigured(Exception):
    """No usable TMDB credential: the page shows the setup card with ``message``."""

    def __init__(self, message: str = tmdb.NO_KEY_MESSAGE) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


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
    from plank.models import get_preferences

    prefs = get_preferences()
    key = (prefs.tmdb_api_key or "").strip()
    return key, (prefs.tmdb_language or "en-US").strip() or "en-US"


def is_configured() -> bool:
    key, _ = credentials()
    return tmdb.credential_kind(key) is not None


def client(api_key: str | None = None, language: str | None = None) -> TMDBClient:
    """A client for the stored (or the given) credential; :class:`NotConfigured` if unusable."""
    stored_key, stored_language = credentials() if api_key is None or language is None else ("", "")
    key = (api_key if api_key is not None else stored_key).strip()
    lang = (language if language is not None else stored_language).strip() or "en-US"
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


def check_page(page: int) -> int:
    if isinstance(page, bool) or not isinstance(page, int) or not 1 <= page <= MAX_PAGE:
        raise ValueError(f"page must be an int from 1 to {MAX_PAGE}")
    return page


# --- lists ----------------------------------------------------------------------------------


def trending(
    kind: str = "all", page: int = 1, *, background: bool = False
) -> Fetched[Page[Summary]]:
    if kind not in FILTERS:
        raise ValueError(f"unknown kind {kind!r}")
    page = check_page(page)
    api = client()
    return _fetch(
        ("tmdb", "trending", kind, page),
        lambda: api.trending(kind, page, TRENDING_WINDOW),  # type: ignore[arg-type]
        stale=LIST_STALE,
        expire=LIST_EXPIRE,
        retries=_retries(background),
    )


def _popular_one(api: TMDBClient, kind: str, page: int, retries: int) -> Fetched[Page[Summary]]:
    return _fetch(
        ("tmdb", "popular", kind, page),
        lambda: api.popular(kind, page),  # type: ignore[arg-type]
        stale=LIST_STALE,
        expire=LIST_EXPIRE,
        retries=retries,
    )


def popular(
    kind: str = "all", page: int = 1, *, background: bool = False
) -> Fetched[Page[Summary]]:
    if kind not in FILTERS:
        raise ValueError(f"unknown kind {kind!r}")
    page = check_page(page)
    api = client()
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


def normalize_query(query: str) -> str:
    """The query as cached and sent: whitespace collapsed, case folded, at most 100 chars."""
    text = "".join(
        " " if ch.isspace() else ch
        for ch in str(query or "")
        if ch.isspace() or unicodedata.category(ch)[0] != "C"
    )
    return " ".join(text.split()).casefold()[:MAX_QUERY].strip()


def _key_part(query: str) -> str:
    # Key parts cannot hold "/"; "%" is escaped first so the spelling stays one-to-one.
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
    if kind not in FILTERS:
        raise ValueError(f"unknown kind {kind!r}")
    q = normalize_query(query)
    page = check_page(page)
    if not q:
        return Fetched(Page(page=1, total_pages=0, total_results=0, results=()))
    if kind != "all":
        fetched = search_kind(kind, q, None, page=page, background=background)
    else:
        api = client()
        fetched = _fetch(
            ("tmdb", "search", _key_part(q), page),
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
    """Movies or shows only, optionally of one year (TMDB's order, not ranked).

    Key: ``("tmdb", "search", kind, query, year or 0, page)``.
    """
    if kind not in ("movie", "tv"):
        raise ValueError(f"unknown kind {kind!r}")
    q = normalize_query(query)
    page = check_page(page)
    if not q:
        return Fetched(Page(page=1, total_pages=0, total_results=0, results=()))
    api = client()
    if kind == "movie":
        fetcher: Callable[[], Page[Summary]] = lambda: api.search_movie(q, year, page)  # noqa: E731
    else:
        fetcher = lambda: api.search_tv(q, year, page)  # noqa: E731
    return _fetch(
        ("tmdb", "search", kind, _key_part(q), year or 0, page),
        fetcher,
        stale=SEARCH_STALE,
        expire=SEARCH_EXPIRE,
        retries=_retries(background),
    )


# --- details --------------------------------------------------------------------------------


def _check_id(tmdb_id: int) -> int:
    if isinstance(tmdb_id, bool) or not isinstance(tmdb_id, int) or tmdb_id <= 0:
        raise ValueError("a TMDB id is a positive int")
    return tmdb_id


def movie(tmdb_id: int, *, background: bool = False) -> Fetched[MovieDetails]:
    return details("movie", tmdb_id, background=background)


def tv(tmdb_id: int, *, background: bool = False) -> Fetched[ShowDetails]:
    return details("tv", tmdb_id, background=background)


def details(kind: str, tmdb_id: int, *, background: bool = False) -> Fetched[Any]:
    """A movie's or a show's details (``kind`` "movie" or "tv")."""
    if kind not in ("movie", "tv"):
        raise ValueError(f"unknown kind {kind!r}")
    tmdb_id = _check_id(tmdb_id)
    api = client()
    get = api.movie if kind == "movie" else api.tv
    return _fetch(
        ("tmdb", kind, tmdb_id),
        lambda: get(tmdb_id),
        stale=DETAILS_STALE,
        expire=DETAILS_EXPIRE,
        retries=_retries(background),
    )


def season(tmdb_id: int, number: int, *, background: bool = False) -> Fetched[SeasonDetails]:
    tmdb_id = _check_id(tmdb_id)
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= 1000:
        raise ValueError("a season number is an int from 0")
    api = client()
    return _fetch(
        ("tmdb", "season", tmdb_id, number),
        lambda: api.season(tmdb_id, number),
        stale=DETAILS_STALE,
        expire=DETAILS_EXPIRE,
        retries=_retries(background),
    )


def configuration(*, background: bool = False) -> Fetched[ImageConfig]:
    api = client()
    return _fetch(
        ("tmdb", "configuration"),
        api.configuration,
        stale=CONFIG_STALE,
        expire=CONFIG_EXPIRE,
        retries=_retries(background),
    )


def genres(kind: str, *, background: bool = False) -> Fetched[dict[int, str]]:
    if kind not in ("movie", "tv"):
        raise ValueError(f"unknown kind {kind!r}")
    api = client()
    return _fetch(
        ("tmdb", "genres", kind),
        lambda: api.genres(kind),  # type: ignore[arg-type]
        stale=CONFIG_STALE,
        expire=CONFIG_EXPIRE,
        retries=_retries(background),
    )


# --- the library side -----------------------------------------------------------------------


def in_library(items: Iterable[Summary | Any]) -> set[tuple[str, int]]:
    """``(kind, tmdb_id)`` of the given items that have a Title in the library."""
    from media.models import Status, Title

    ids = {item.tmdb_id for item in items}
    if not ids:
        return set()
    rows = (
        Title.objects.filter(tmdb_id__in=ids)
        .exclude(status=Status.REMOVED)
        .values_list("kind", "tmdb_id")
    )
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
        for kind in ("movie", "tv"):
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
        except tmdb.TMDBError:
            failed += 1
    return failed


# --- health and settings changes ------------------------------------------------------------


def health() -> Any:
    """The /system/ check for TMDB: configured, reachable (cached), cache counters."""
    from plank.system import Check

    key, language = credentials()
    kind = tmdb.credential_kind(key)
    base = settings.PLANK_TMDB_BASE_URL
    if kind is None:
        message = tmdb.NO_KEY_MESSAGE if not key else tmdb.BAD_KEY_MESSAGE
        return Check(name="TMDB", ok=False, summary=message, details=[("address", base)])
    details = [
        ("credential", "API key (v3)" if kind == "v3" else "read access token (v4)"),
        ("address", base),
        ("language", language),
    ]
    counters = live_cache.stats().get("tmdb")
    if counters:
        details.append(
            (
                "cache",
                f"{counters['hits']} hits, {counters['misses']} misses, "
                f"{counters['stale_serves']} stale, {counters['upstream_calls']} TMDB calls, "
                f"{counters['errors']} errors",
            )
        )
    api = client()
    try:
        result = live_cache.fetch(
            ("tmdb", "configuration"),
            api.configuration,
            stale=CONFIG_STALE,
            expire=CONFIG_EXPIRE,
            retries=0,
        )
    except tmdb.TMDBError as exc:
        return Check(name="TMDB", ok=False, summary=exc.message, details=details)
    if result.stale:
        return Check(
            name="TMDB", ok=False, summary=result.error or "TMDB is failing", details=details
        )
    return Check(name="TMDB", ok=True, summary="connected", details=details)


def _tmdb_settings(prefs: Any) -> tuple[str, str]:
    return (prefs.tmdb_api_key or "").strip(), (prefs.tmdb_language or "").strip()


def remember_tmdb_settings(sender: type, instance: Any, **kwargs: Any) -> None:
    """pre_save of Preferences: note the stored TMDB key and language."""
    if kwargs.get("raw") or instance.pk is None:
        return
    old = sender.objects.filter(pk=instance.pk).values_list("tmdb_api_key", "tmdb_language").first()
    instance._browse_old_tmdb = (  # noqa: SLF001
        ((old[0] or "").strip(), (old[1] or "").strip()) if old else None
    )


def tmdb_settings_saved(sender: type, instance: Any, created: bool, **kwargs: Any) -> None:
    """post_save of Preferences: a new key or language makes every cached TMDB answer stale
    (in every process: the outbox relays it) and pages showing them refetch."""
    if kwargs.get("raw") or created:  # the first row holds the environment's values
        return
    old = getattr(instance, "_browse_old_tmdb", None)
    if old is not None and old == _tmdb_settings(instance):
        return
    from plank.live.events import emit

    emit(("tmdb",))
