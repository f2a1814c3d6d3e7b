"""The torrents app's live keys and declarations.

Downloads use the library's keys (``media.live.download``): the library shows a title's
download, this app keeps it. Finding releases has its own, in two families:

* data in the per-key cache: ``("torrents", "search", <indexer>, <feed>, <digest>)`` one feed's
  answer to one search (stale after 15 minutes); ``("torrents", "caps", <indexer>, <feed>)`` a
  feed's capabilities (a day); ``("torrents", "endpoints", <indexer>)`` the indexers behind a
  Jackett / Prowlarr (an hour); ``("torrents", "releases", ...)`` the releases found for a title
  (by TMDB / IMDb id, a few hours);
* page elements: ``("torrents", "results", <digest>)`` a search's results as they arrive,
  ``("torrents", "title", <title id>)`` a title's releases section, ``("torrents", "badge", <kind>,
  <tmdb id>)`` a Browse card's "12 releases · best 1080p", ``("torrents", "indexers")`` the
  indexers' settings page.

Saving an indexer makes everything found through it stale (its searches, caps, listing, and
every title's releases, which were found with or without it).
"""

from __future__ import annotations

from media.live import DOWNLOADS, LIBRARY
from plank.live.declarations import announce, quiet
from plank.live.keys import Key
from torrents.models import (
    BlockedRelease,
    Download,
    EngineCommand,
    Indexer,
    IndexerAnswer,
    IndexerHealth,
    ReleasePreferences,
    TitleSearch,
)

INDEXERS: Key = ("torrents", "indexers")
RESULTS: Key = ("torrents", "results")
RELEASES: Key = ("torrents", "releases")
TITLES: Key = ("torrents", "title")
BADGES: Key = ("torrents", "badge")


def search(indexer_pk: int) -> Key:
    """Every cached answer of one indexer."""
    return ("torrents", "search", indexer_pk)


def search_answer(indexer_pk: int, feed: str, digest: str) -> Key:
    return ("torrents", "search", indexer_pk, feed, digest)


def caps(indexer_pk: int, feed: str | None = None) -> Key:
    return (
        ("torrents", "caps", indexer_pk) if feed is None else ("torrents", "caps", indexer_pk, feed)
    )


def endpoints(indexer_pk: int) -> Key:
    return ("torrents", "endpoints", indexer_pk)


def results(digest: str) -> Key:
    """A search's results on the page, refreshed as each indexer answers."""
    return (*RESULTS, digest)


def releases(*identity: str | int) -> Key:
    """The releases found for a title: ``releases("movie", "tmdb", 603)``."""
    return (*RELEASES, *identity)


def title_releases(title_pk: int) -> Key:
    """A library title's releases section (last search, candidates, blocklist)."""
    return (*TITLES, title_pk)


def badge(kind: str, tmdb_id: int) -> Key:
    return (*BADGES, kind, tmdb_id)


# A download's state shows on cards, title pages and the downloads page. Its progress is not a
# change to announce: it is pushed as ``set`` frames and written with ``QuerySet.update``.
announce(Download, lambda d: [LIBRARY, DOWNLOADS])
quiet(EngineCommand, "a request to the engine process; what it changes is announced when applied")
announce(
    Indexer,
    lambda i: [INDEXERS, search(i.pk), caps(i.pk), endpoints(i.pk), RELEASES, TITLES, BADGES],
)
quiet(
    IndexerHealth,
    "shown on /system/, which is read when it loads; a search page shows a feed's state through"
    " that search's IndexerAnswer rows. Written after every query",
)
announce(IndexerAnswer, lambda a: [results(a.search)])
announce(TitleSearch, lambda s: [title_releases(s.title_id)])
announce(BlockedRelease, lambda b: [title_releases(b.title_id)])
# Scores and "trusted" depend on the preferences: every page that shows them.
announce(ReleasePreferences, lambda p: [RESULTS, TITLES, BADGES])
