"""Search results: one release merged across feeds, and the filters, sorts and pages of
``/torrents/`` (``?quality=&min_size=&max_size=&min_seeders=&trusted=&sort=&order=&page=&limit=``).

Every value of the URL is checked: an unknown choice (a sort, an order, a quality) falls back to
its default, a malformed number (``page=abc``, ``min_size=lots``) is a :class:`BadFilter` with a
message for the 400 page. Sizes are written ``700MB``, ``1.5GB`` or a number of megabytes.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from media.release_names import Release
from torrents.models import Indexer
from torrents.selection import Rules, Scored, Target, features, score

QUALITIES = ("2160p", "1080p", "720p", "sd")
SORTS = ("relevance", "seeders", "size", "date")
ORDERS = ("desc", "asc")
CATEGORIES = ("all", "movies", "tv")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_PAGE = 1000
MAX_QUERY = 200


@dataclass
class Result:
    """One release, merged across the feeds that have it."""

    ref: str  # names it in a Get form (never the link: it may carry a key)
    name: str
    info_hash: str
    size: int
    seeders: int | None
    leechers: int | None
    published: float | None
    release: Release
    indexer: str
    indexer_id: int
    feed: str
    priority: int
    link: str
    magnet: str
    imdb_id: str = ""
    tmdb_id: int | None = None
    tvdb_id: int | None = None
    also_on: list[str] = field(default_factory=list)
    min_seeders: int = 0  # the indexer's own minimum

    @property
    def age_days(self) -> float | None:
        return None if self.published is None else max((time.time() - self.published) / 86400, 0.0)


def result_ref(info_hash: str, indexer_id: int, feed: str, guid: str, name: str) -> str:
    basis = info_hash or f"{indexer_id}/{feed}/{guid or name}"
    return hashlib.sha1(basis.encode()).hexdigest()[:16]


def merge(
    merged: dict[str, Result], hits: Iterable[Any], indexer: Indexer, feed: str, name: str
) -> None:
    """Add one feed's hits to ``merged``, by info-hash: the highest seeders kept, "also on"."""
    for hit in hits:
        item = hit.item
        key = item.info_hash or f"{hit.release.title.lower()}|{item.size}"
        result = Result(
            ref=result_ref(item.info_hash, indexer.pk, feed, item.guid, item.title),
            name=item.title,
            info_hash=item.info_hash,
            size=item.size,
            seeders=item.seeders,
            leechers=item.leechers,
            published=item.published,
            release=hit.release,
            indexer=name,
            indexer_id=indexer.pk,
            feed=feed,
            priority=indexer.priority,
            link=item.link,
            magnet=item.magnet,
            imdb_id=item.imdb_id,
            tmdb_id=item.tmdb_id,
            tvdb_id=item.tvdb_id,
            min_seeders=indexer.min_seeders,
        )
        kept = merged.get(key)
        if kept is None:
            merged[key] = result
            continue
        better = (result.seeders or 0) > (kept.seeders or 0)
        if better:
            merged[key] = replace(result, also_on=[*kept.also_on, kept.indexer])
        elif name not in kept.also_on and name != kept.indexer:
            kept.also_on.append(name)
        if not merged[key].magnet and (result.magnet or kept.magnet):
            merged[key].magnet = result.magnet or kept.magnet


# --------------------------------------------------------------------------- filters


class BadFilter(ValueError):
    """A value of the URL that cannot be read; the message says which and how to write it."""


_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(k|m|g|t)?i?b?\s*", re.I)
_UNITS = {None: 1e6, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}


def parse_size(text: str, name: str) -> int | None:
    """ "700MB", "1.5 GB", "2g", "800" (megabytes) -> bytes; "" -> None."""
    if not text.strip():
        return None
    m = _SIZE.fullmatch(text)
    if m is None:
        raise BadFilter(f"{name} must be a size such as 700MB or 1.5GB, not “{text[:40]}”.")
    unit = m.group(2).lower() if m.group(2) else None
    return int(float(m.group(1)) * _UNITS[unit])


def _whole(text: str, name: str, low: int, high: int, default: int | None) -> int | None:
    if not text.strip():
        return default
    if not text.strip().isdigit() or not low <= int(text) <= high:
        raise BadFilter(f"{name} must be a whole number from {low} to {high}, not “{text[:40]}”.")
    return int(text)


def _choice(value: str, choices: tuple[str, ...], default: str) -> str:
    value = value.strip().lower()
    return value if value in choices else default


@dataclass(frozen=True)
class Filters:
    q: str = ""
    category: str = "all"
    quality: str = ""
    min_size: int | None = None
    max_size: int | None = None
    min_seeders: int | None = None
    trusted: bool = False
    sort: str = "relevance"
    order: str = "desc"
    page: int = 1
    limit: int = DEFAULT_LIMIT

    @classmethod
    def from_query(cls, data: Mapping[str, str]) -> Filters:
        """Read the URL's parameters (raises BadFilter for a malformed number)."""
        get = lambda name: str(data.get(name, "") or "")  # noqa: E731
        min_size = parse_size(get("min_size"), "min_size")
        max_size = parse_size(get("max_size"), "max_size")
        if min_size is not None and max_size is not None and min_size > max_size:
            raise BadFilter("min_size is larger than max_size.")
        return cls(
            q=" ".join(get("q").split())[:MAX_QUERY],
            category=_choice(get("category"), CATEGORIES, "all"),
            quality=_choice(get("quality"), QUALITIES, ""),
            min_size=min_size,
            max_size=max_size,
            min_seeders=_whole(get("min_seeders"), "min_seeders", 0, 1_000_000, None),
            trusted=get("trusted").strip().lower() in ("1", "true", "yes", "on"),
            sort=_choice(get("sort"), SORTS, "relevance"),
            order=_choice(get("order"), ORDERS, "desc"),
            page=_whole(get("page"), "page", 1, MAX_PAGE, 1) or 1,
            limit=_whole(get("limit"), "limit", 1, MAX_LIMIT, DEFAULT_LIMIT) or DEFAULT_LIMIT,
        )

    def params(self, **changes: Any) -> dict[str, str]:
        """The URL's parameters, with ``changes`` (defaults left out)."""
        values = replace(self, **changes)
        out = {"q": values.q}
        defaults = Filters()
        for name in ("category", "quality", "min_seeders", "sort", "order", "page", "limit"):
            value = getattr(values, name)
            if value != getattr(defaults, name) and value not in ("", None):
                out[name] = str(value)
        for name in ("min_size", "max_size"):
            if (value := getattr(values, name)) is not None:
                out[name] = f"{value / 1e6:g}MB"
        if values.trusted:
            out["trusted"] = "1"
        return out


@dataclass
class Row:
    """A result on the page: its score (with reasons) and whether the library has it."""

    result: Result
    scored: Scored
    in_library: bool = False

    @property
    def quality(self) -> str:
        f = self.scored.features
        return f.resolution if f and f.resolution != "unknown" else ""

    @property
    def badges(self) -> list[str]:
        return quality_badges(self.result)


@dataclass
class Page:
    rows: list[Row]
    total: int  # after the filters
    found: int  # before them
    page: int
    pages: int


def _resolution_matches(row: Row, quality: str) -> bool:
    return row.quality == quality


def apply(
    results: list[Result],
    filters: Filters,
    rules: Rules,
    target: Target | None = None,
    known_hashes: Iterable[str] = (),
) -> Page:
    """Score, filter, sort and page ``results``."""
    known = set(known_hashes)
    target = target or Target(kind="tv" if filters.category == "tv" else "movie")
    rows = [Row(r, score(r, target, rules), r.info_hash in known) for r in results]
    found = len(rows)
    if filters.quality:
        rows = [r for r in rows if _resolution_matches(r, filters.quality)]
    if filters.min_size is not None:
        rows = [r for r in rows if r.result.size >= filters.min_size]
    if filters.max_size is not None:
        rows = [r for r in rows if r.result.size <= filters.max_size]
    floor = filters.min_seeders
    if floor is not None:
        rows = [r for r in rows if (r.result.seeders or 0) >= floor]
    if filters.trusted:
        rows = [r for r in rows if (r.result.release.group or "").lower() in rules.trusted]
    reverse = filters.order == "desc"
    if filters.sort == "relevance":
        rows.sort(
            key=lambda r: (not r.scored.rejected, r.scored.points, r.result.seeders or 0),
            reverse=reverse,
        )
    elif filters.sort == "seeders":
        rows.sort(key=lambda r: r.result.seeders or 0, reverse=reverse)
    elif filters.sort == "size":
        rows.sort(key=lambda r: r.result.size, reverse=reverse)
    else:
        rows.sort(key=lambda r: r.result.published or 0, reverse=reverse)
    pages = max(math.ceil(len(rows) / filters.limit), 1)
    page = min(filters.page, pages)
    start = (page - 1) * filters.limit
    return Page(rows[start : start + filters.limit], len(rows), found, page, pages)


def quality_badges(result: Result) -> list[str]:
    """The parsed quality as badges: resolution, source, codec, group."""
    f = features(result.name, result.release)
    badges = [b for b in (result.release.quality, result.release.source, result.release.codec) if b]
    if f.audio:
        badges.append(f.audio.upper())
    return badges
