"""Browse's live keys (the TMDB answers in the per-key cache, the grid's chunks) and which of
its models' changes make which keys stale. The keys' lifetimes: ``docs/browse.md``."""

from __future__ import annotations

from browse.models import MetadataSync, SyncRun
from media import live as media_live
from plank.live.declarations import announce, quiet
from plank.live.keys import Key

# Every TMDB answer. Announced when the TMDB key or language changes: each answer was fetched
# with the old ones.
TMDB: Key = ("tmdb",)
CONFIGURATION: Key = ("tmdb", "configuration")


def trending(kind: str, page: int) -> Key:
    return ("tmdb", "trending", kind, page)


def popular(kind: str, page: int) -> Key:
    """One kind's popular page ("all" is merged from the two and has no key of its own)."""
    return ("tmdb", "popular", kind, page)


def search(query: str, page: int) -> Key:
    """Movies and shows together; ``query`` is a key part (see ``discover.key_part``)."""
    return ("tmdb", "search", query, page)


def search_kind(kind: str, query: str, year: int | None, page: int) -> Key:
    """One kind, of one year or any (0)."""
    return ("tmdb", "search", kind, query, year or 0, page)


def details(kind: str, tmdb_id: int) -> Key:
    return ("tmdb", kind, tmdb_id)


def season(tmdb_id: int, number: int) -> Key:
    return ("tmdb", "season", tmdb_id, number)


def genres(kind: str) -> Key:
    return ("tmdb", "genres", kind)


def grid_chunk(kind: str) -> Key:
    """A page of the browse grid: its "In library" badges follow the library's list of ``kind``
    ("movie" or "tv"), or every list for "all"."""
    if kind in ("movie", "tv"):
        return media_live.library_list(kind)
    return media_live.LISTS


# A title's page shows why its last match did not apply (media/templates/media/title.html).
announce(MetadataSync, lambda sync: [media_live.title(sync.title_id)])
quiet(
    SyncRun,
    "shown only on /system/, which has no live element (it is read when it loads); a sync"
    " writes its progress with QuerySet.update after every title",
)
