"""The live cache's counters, per top-level and two-part key prefix, kept per process.

``hits`` (fresh value served), ``misses`` (no usable value), ``stale_serves``, ``joined_waits``
(a miss served by someone else's fetch), ``upstream_calls`` (each retry counted), ``errors``,
``refreshes`` (background refreshes started), ``negative_hits`` (answered from a recorded failure).
"""

from __future__ import annotations

import threading

from plank.live.keys import Key, to_path

COUNTERS = (
    "hits",
    "misses",
    "stale_serves",
    "joined_waits",
    "upstream_calls",
    "errors",
    "refreshes",
    "negative_hits",
)


def buckets(key: Key) -> tuple[str, ...]:
    """The buckets a key counts in: ``"tmdb"`` and ``"tmdb/trending"`` for a TMDB list."""
    return (to_path(key[:1]),) + ((to_path(key[:2]),) if len(key) > 1 else ())


class Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, dict[str, int]] = {}

    def add(self, buckets: tuple[str, ...], name: str, n: int = 1) -> None:
        with self._lock:
            for bucket in buckets:
                counts = self._counts.get(bucket)
                if counts is None:
                    counts = self._counts[bucket] = dict.fromkeys(COUNTERS, 0)
                counts[name] += n

    def snapshot(self) -> dict[str, dict[str, int]]:
        """Every bucket's counters, by bucket name."""
        with self._lock:
            return {bucket: dict(counts) for bucket, counts in sorted(self._counts.items())}

    def top_level(self) -> dict[str, dict[str, int]]:
        """The top-level buckets only: each counted event is in exactly one of them."""
        return {bucket: c for bucket, c in self.snapshot().items() if "/" not in bucket}

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


def total(top_level: dict[str, dict[str, int]]) -> dict[str, int]:
    """Every counter summed over the top-level buckets (see :meth:`Counters.top_level`)."""
    summed = dict.fromkeys(COUNTERS, 0)
    for counts in top_level.values():
        for name in COUNTERS:
            summed[name] += counts[name]
    return summed
