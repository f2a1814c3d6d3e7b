"""Benchmarks of plank.live.cache; run on demand: ``.venv/bin/python bench/bench_cache.py``.

(a) Stampede: N threads ask for one cold key at the same moment; the upstream takes 50 ms.
    Upstream calls (and wall time) for ``LiveCache.fetch`` next to Django's ``cache.get_or_set``.
(b) Hit cost: microseconds per call of ``LiveCache.fetch`` on a fresh key next to a bare
    ``cache.get`` of the same value, on local memory and on Redis.

Redis is 127.0.0.1:6379 DB 15 (override with BENCH_REDIS_URL), under a key prefix of its own that
is deleted afterwards. Without Redis the Redis rows are skipped, with a note.
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "plank.settings")

import django  # noqa: E402

django.setup()

import redis  # noqa: E402
from django.core.cache.backends.base import BaseCache  # noqa: E402
from django.core.cache.backends.locmem import LocMemCache  # noqa: E402
from django.core.cache.backends.redis import RedisCache  # noqa: E402

from plank.live.cache import LiveCache  # noqa: E402

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
FETCH_SECONDS = 0.05
STAMPEDE_SIZES = (1, 10, 100, 1000)

# Something like one page of a TMDB list: 20 titles with a handful of fields.
PAGE = {
    "page": 1,
    "results": [
        {
            "id": 1000 + i,
            "title": f"Title number {i}",
            "overview": "A fairly ordinary overview of a film, one or two sentences long. " * 2,
            "poster_path": f"/poster{i}.jpg",
            "vote_average": 7.1,
            "release_date": "2024-05-01",
        }
        for i in range(20)
    ],
}


class Upstream:
    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> dict[str, Any]:
        with self._lock:
            self.calls += 1
        time.sleep(FETCH_SECONDS)
        return PAGE


def stampede(n: int, ask: Callable[[Upstream], Any]) -> tuple[int, float, list[BaseException]]:
    """``n`` threads released together each call ``ask``; (upstream calls, wall ms, errors)."""
    upstream = Upstream()
    barrier = threading.Barrier(n + 1)
    errors: list[BaseException] = []

    def run() -> None:
        barrier.wait()
        try:
            ask(upstream)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, daemon=True) for _ in range(n)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = (time.perf_counter() - started) * 1000
    return upstream.calls, elapsed, errors


def calls(outcome: tuple[int, float, list[BaseException]]) -> str:
    n, _, errors = outcome
    if not errors:
        return str(n)
    kinds = sorted({type(e).__name__ for e in errors})
    return f"{n} ({len(errors)} failed: {', '.join(kinds)})"


def bench_stampede(name: str, backend: BaseCache) -> None:
    live = LiveCache(backend)
    for n in STAMPEDE_SIZES:
        ours_key = ("bench", "stampede", uuid.uuid4().hex)
        theirs_key = f"bench:get_or_set:{uuid.uuid4().hex}"
        ours = stampede(n, lambda up, k=ours_key: live.fetch(k, up, stale=60, expire=600))
        theirs = stampede(n, lambda up, k=theirs_key: backend.get_or_set(k, up, timeout=600))
        print(
            f"  {name:<7} {n:>5} | {calls(ours):>10} {ours[1]:>9.0f} | "
            f"{theirs[1]:>9.0f} {calls(theirs):>16}"
        )


def per_call_us(fn: Callable[[], Any], iterations: int, repeats: int = 5) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(iterations):
            fn()
        samples.append((time.perf_counter() - started) / iterations * 1e6)
    return statistics.median(samples)


def bench_hits(name: str, backend: BaseCache, iterations: int) -> None:
    live = LiveCache(backend)
    key = ("tmdb", "trending", "movie", 1)
    upstream = Upstream()
    live.fetch(key, upstream, stale=3600, expire=7200)
    backend.set("bench:bare", PAGE, 7200)
    assert live.fetch(key, upstream, stale=3600, expire=7200).value == PAGE and upstream.calls == 1

    ours = per_call_us(lambda: live.fetch(key, upstream, stale=3600, expire=7200), iterations)
    bare = per_call_us(lambda: backend.get("bench:bare"), iterations)
    peek = per_call_us(lambda: live.get(key), iterations)
    assert upstream.calls == 1
    print(
        f"  {name:<7} | {ours:>15.1f} | {bare:>9.1f} | {ours - bare:>+8.1f} | {peek:>13.1f}"
        f"   (key of {len(key)} parts: one get_many of {len(key) + 2} names)"
    )


def redis_reachable() -> bool:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        print(f"  (Redis at {REDIS_URL} unreachable: {exc}; Redis rows skipped)")
        return False
    return True


def main() -> None:
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    with_redis = redis_reachable()
    created: list[BaseCache] = []

    def backends() -> list[tuple[str, BaseCache]]:
        """Fresh backend objects (fresh connection pools) for each part."""
        made: list[tuple[str, BaseCache]] = [
            (
                "locmem",
                LocMemCache(f"bench-{uuid.uuid4().hex}", {"OPTIONS": {"MAX_ENTRIES": 100_000}}),
            )
        ]
        if with_redis:
            made.append(("redis", RedisCache(REDIS_URL, {"KEY_PREFIX": prefix})))
        created.extend(b for _, b in made)
        return made

    try:
        print(
            f"(a) stampede: N threads, one cold key, upstream takes {FETCH_SECONDS * 1000:.0f} ms"
        )
        print("  backend     N | ours calls   ours ms |    gos ms get_or_set calls")
        for name, backend in backends():
            bench_stampede(name, backend)
        print()
        print("(b) hit cost, microseconds per call (median of 5 runs)")
        print("  backend | LiveCache.fetch | cache.get | overhead | LiveCache.get")
        for name, backend in backends():
            bench_hits(name, backend, 20_000 if name == "locmem" else 3_000)
    finally:
        for backend in created:
            if isinstance(backend, LocMemCache):
                backend.clear()
        if with_redis:
            client = redis.Redis.from_url(REDIS_URL)
            for name in client.scan_iter(match=f"{prefix}:*", count=1000):
                client.delete(name)


if __name__ == "__main__":
    main()
