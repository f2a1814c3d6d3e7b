"""The per-key cache as people see it: by prefix (entries, size, and this process's counters),
and clearing a prefix: its stored values deleted, and the prefix announced, so every page that
shows something under it refetches and every other process drops its own copies."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote

from plank.live import cache, counters
from plank.live.events import emit
from plank.live.keys import from_path


@dataclass
class PrefixRow:
    prefix: str  # a key path: "tmdb", "tmdb/trending"
    entries: int | None  # None: the backend can't list its keys
    size: int | None
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(counters.COUNTERS, 0))

    @property
    def top(self) -> bool:
        return "/" not in self.prefix


@dataclass
class Table:
    rows: list[PrefixRow]
    backend: str
    shared: bool
    listable: bool


def prefix_table() -> Table:
    """Every prefix with a counter or a stored value: top-level ones and two-part ones."""
    live = cache.cache_for()
    listed = cache.listing(backend=live)
    base = f"{live.store.namespace}:v:"
    rows: dict[str, PrefixRow] = {}

    def row(bucket: str) -> PrefixRow:
        if bucket not in rows:
            zero = None if listed is None else 0
            rows[bucket] = PrefixRow(bucket, zero, zero)
        return rows[bucket]

    for name, size in listed or []:
        path = unquote(name[len(base) :].split("~", 1)[0])
        parts = path.split("/")
        for bucket in {parts[0], "/".join(parts[:2])}:
            r = row(bucket)
            r.entries = (r.entries or 0) + 1
            r.size = (r.size or 0) + size
    for bucket, counts in live.stats.snapshot().items():
        row(bucket).counts = counts
    ordered = sorted(rows.values(), key=lambda r: (r.prefix.split("/")[0], not r.top, r.prefix))
    return Table(ordered, type(live.backend).__name__, live.shared, listed is not None)


@dataclass(frozen=True)
class Cleared:
    prefix: str
    deleted: int | None


def clear_prefix(path: str) -> Cleared:
    """Clear everything under the key path ``path`` ("tmdb/trending"). ValueError for a path
    that is not a key."""
    prefix = from_path(path.strip().strip("/"))
    deleted = cache.clear(prefix)
    # Not a model row: the cache under this prefix was emptied, so the pages showing it refetch
    # and the other processes' relays drop their local copies.
    emit(prefix)
    return Cleared("/".join(str(p) for p in prefix), deleted)


def cleared_words(cleared: Cleared) -> str:
    if cleared.deleted is None:
        return (
            f"Everything cached under {cleared.prefix} is now out of date and is fetched again"
            " when next asked for (this cache can't list its entries to delete them)."
        )
    n = cleared.deleted
    return (
        f"Cleared {cleared.prefix}: {n:,} entr{'y' if n == 1 else 'ies'} deleted here; pages"
        " showing it refetch, and other processes drop their copies."
    )
