"""The per-key cache on a real local-memory backend, with real threads.

Each test gets its own LocMemCache location (so its own data) and its own LiveCache (so its own
flights and counters). The clock the cache decides staleness by is injected, so stale/expire
transitions are exact; the cases about real expiry and real waiting use the real clock.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache

from plank.live import cache as live_cache
from plank.live.cache import LiveCache, Result
from plank.live.errors import UpstreamError

KEY = ("tmdb", "trending", "movie", 1)


class NotFound(UpstreamError):
    """An upstream's own error class, as browse.tmdb has (keyword-only constructor)."""

    def __init__(self, message: str = "no such title", *, code: int = 34) -> None:
        super().__init__(message, transient=False, status=404)
        self.code = code


def unavailable(message: str = "TMDB is unavailable", **kw: Any) -> UpstreamError:
    return UpstreamError(message, transient=True, status=503, **kw)


class Clock:
    def __init__(self) -> None:
        self.t = time.time()

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


class Upstream:
    """A fetcher that counts its calls; ``outcomes`` are returned (or raised) in turn."""

    def __init__(
        self, *outcomes: Any, gate: threading.Event | None = None, delay: float = 0
    ) -> None:
        self.outcomes = list(outcomes)
        self.gate = gate
        self.delay = delay
        self.calls = 0
        self.started = threading.Event()
        self._lock = threading.Lock()

    def __call__(self) -> Any:
        with self._lock:
            self.calls += 1
            n = self.calls
        self.started.set()
        if self.gate is not None:
            assert self.gate.wait(10), "gate never opened"
        if self.delay:
            time.sleep(self.delay)
        outcome = self.outcomes[min(n, len(self.outcomes)) - 1] if self.outcomes else f"value-{n}"
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


class CountingLocMem(LocMemCache):
    """A real LocMemCache that also counts the operations it is asked for."""

    def __init__(self, name: str, params: dict[str, Any]) -> None:
        super().__init__(name, params)
        self.ops: list[str] = []

    def get(self, *a: Any, **kw: Any) -> Any:
        self.ops.append("get")
        return super().get(*a, **kw)

    def get_many(self, keys: Any, version: Any = None) -> Any:
        self.ops.append("get_many")
        return {k: v for k in keys if (v := LocMemCache.get(self, k, version=version)) is not None}

    def set(self, *a: Any, **kw: Any) -> Any:
        self.ops.append("set")
        return super().set(*a, **kw)

    def add(self, *a: Any, **kw: Any) -> Any:
        self.ops.append("add")
        return super().add(*a, **kw)

    def incr(self, *a: Any, **kw: Any) -> Any:
        self.ops.append("incr")
        return super().incr(*a, **kw)

    def delete(self, *a: Any, **kw: Any) -> Any:
        self.ops.append("delete")
        return super().delete(*a, **kw)


@pytest.fixture
def backend() -> Iterator[CountingLocMem]:
    cache = CountingLocMem(f"live-test-{uuid.uuid4().hex}", {"OPTIONS": {"MAX_ENTRIES": 100_000}})
    yield cache
    cache.clear()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def live(backend: CountingLocMem, clock: Clock) -> Iterator[LiveCache]:
    cache = LiveCache(backend, now=clock, backoff_base=0.001, backoff_cap=0.005, negative_ttl=5)
    yield cache
    cache.wait_background(5)


def counts(live: LiveCache, bucket: str = "tmdb") -> dict[str, int]:
    return live.stats.snapshot().get(bucket, {})


def run_threads(n: int, target: Any) -> list[Any]:
    """Run ``target`` in ``n`` threads released together; their results (or exceptions)."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = target()
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


# --- fresh, stale, expired -----------------------------------------------------------------------


def test_cold_fetch_calls_the_upstream_once_then_hits(live: LiveCache, clock: Clock) -> None:
    upstream = Upstream({"results": [1, 2]})
    first = live.fetch(KEY, upstream, stale=10, expire=100)
    second = live.fetch(KEY, upstream, stale=10, expire=100)
    assert first == Result({"results": [1, 2]}, stale=False, fetched_at=clock.t, error=None)
    assert second == first
    assert upstream.calls == 1
    c = counts(live)
    assert (c["misses"], c["hits"], c["upstream_calls"]) == (1, 1, 1)


def test_aged_value_is_served_at_once_and_refreshed_in_the_background(
    live: LiveCache, clock: Clock
) -> None:
    live.fetch(KEY, Upstream("old"), stale=10, expire=100)
    clock.advance(11)
    gate = threading.Event()
    upstream = Upstream("new", gate=gate)

    started = time.monotonic()
    result = live.fetch(KEY, upstream, stale=10, expire=100)
    assert result.value == "old" and result.stale is False
    assert time.monotonic() - started < 1  # not waiting for the blocked upstream
    assert upstream.started.wait(5)
    # more stale reads while the refresh is blocked: still the old value, no second refresh
    for _ in range(5):
        assert live.fetch(KEY, upstream, stale=10, expire=100).value == "old"
    assert counts(live)["refreshes"] == 1

    gate.set()
    assert live.wait_background(5)
    fresh = live.fetch(KEY, upstream, stale=10, expire=100)
    assert fresh == Result("new", stale=False, fetched_at=clock.t)
    assert upstream.calls == 1
    c = counts(live)
    assert (c["stale_serves"], c["hits"], c["refreshes"]) == (6, 1, 1)


def test_many_threads_reading_an_aged_value_start_one_refresh(
    live: LiveCache, clock: Clock
) -> None:
    live.fetch(KEY, Upstream("old"), stale=10, expire=100)
    clock.advance(20)
    gate = threading.Event()
    upstream = Upstream("new", gate=gate)
    results = run_threads(50, lambda: live.fetch(KEY, upstream, stale=10, expire=100))
    assert {r.value for r in results} == {"old"}
    gate.set()
    assert live.wait_background(5)
    assert upstream.calls == 1
    assert counts(live)["refreshes"] == 1
    assert live.get(KEY) == Result("new", stale=False, fetched_at=clock.t)


def test_expired_value_is_fetched_again_in_the_foreground(live: LiveCache, clock: Clock) -> None:
    live.fetch(KEY, Upstream("old"), stale=10, expire=100)
    clock.advance(100)
    upstream = Upstream("new")
    assert live.get(KEY) is None
    assert live.fetch(KEY, upstream, stale=10, expire=100).value == "new"
    assert upstream.calls == 1


def test_value_is_gone_from_the_backend_after_expire(backend: CountingLocMem) -> None:
    live = LiveCache(backend)  # the real clock: Django's own timeout removes the entry
    live.fetch(KEY, Upstream("v"), stale=0.1, expire=0.3)
    assert backend.get("plank:v:tmdb/trending/movie/1") is not None
    time.sleep(0.15)
    aged = live.get(KEY)
    assert aged is not None and aged.value == "v" and aged.stale
    time.sleep(0.25)
    assert backend.get("plank:v:tmdb/trending/movie/1") is None
    assert live.get(KEY) is None


def test_bad_arguments_are_refused(live: LiveCache) -> None:
    with pytest.raises(ValueError):
        live.fetch(KEY, Upstream(), stale=10, expire=5)
    with pytest.raises(ValueError):
        live.fetch(KEY, Upstream(), stale=-1)
    with pytest.raises(ValueError):
        live.fetch(("tmdb", ""), Upstream())
    with pytest.raises(ValueError):
        live.fetch(("tmdb", 1.5), Upstream())  # type: ignore[arg-type]


# --- single flight -------------------------------------------------------------------------------


def test_a_hundred_threads_on_a_cold_key_make_one_upstream_call(live: LiveCache) -> None:
    upstream = Upstream(["poster", "list"], delay=0.2)
    results = run_threads(100, lambda: live.fetch(KEY, upstream, stale=10, expire=100))
    assert upstream.calls == 1
    assert all(isinstance(r, Result) and r.value == ["poster", "list"] for r in results)
    # each caller has its own copy, as a cache read would give
    assert len({id(r.value) for r in results}) == 100
    c = counts(live)
    assert (c["misses"], c["joined_waits"], c["upstream_calls"]) == (100, 99, 1)


def test_threads_joining_a_failing_fetch_all_get_its_error(live: LiveCache) -> None:
    gate = threading.Event()
    upstream = Upstream(NotFound(code=7), gate=gate)
    threading.Timer(0.2, gate.set).start()
    results = run_threads(20, lambda: live.fetch(KEY, upstream, stale=10, expire=100))
    assert upstream.calls == 1
    assert all(isinstance(r, NotFound) and r.code == 7 and r.status == 404 for r in results)
    assert len({id(r) for r in results}) == 20  # each thread raises its own copy


def test_a_read_after_invalidation_does_not_join_an_outdated_fetch(live: LiveCache) -> None:
    gate = threading.Event()
    old = Upstream("before the change", gate=gate)
    first: list[Result] = []
    t = threading.Thread(target=lambda: first.append(live.fetch(KEY, old, stale=10, expire=100)))
    t.start()
    assert old.started.wait(5)
    live.invalidate(("tmdb",))
    # the running fetch began before the change: a new reader must not be handed its result
    new = Upstream("after the change")
    assert live.fetch(KEY, new, stale=10, expire=100).value == "after the change"
    gate.set()
    t.join(5)
    assert first[0].value == "after the change"  # it found newer truth stored and kept it
    assert live.get(KEY) is not None and live.get(KEY).value == "after the change"
    assert live.get(KEY).stale is False
    assert (old.calls, new.calls) == (1, 1)


# --- retries and failures ------------------------------------------------------------------------


def test_transient_errors_are_retried(live: LiveCache) -> None:
    upstream = Upstream(unavailable(), unavailable(), "ok")
    assert live.fetch(KEY, upstream, stale=10, expire=100, retries=3).value == "ok"
    assert upstream.calls == 3
    c = counts(live)
    assert (c["upstream_calls"], c["errors"]) == (3, 2)


def test_retries_are_bounded(live: LiveCache) -> None:
    upstream = Upstream(unavailable())
    with pytest.raises(UpstreamError) as raised:
        live.fetch(KEY, upstream, stale=10, expire=100, retries=2)
    assert upstream.calls == 3  # the first attempt and two retries
    assert raised.value.transient and raised.value.message == "TMDB is unavailable"


def test_4xx_is_never_retried(live: LiveCache) -> None:
    upstream = Upstream(NotFound())
    with pytest.raises(NotFound):
        live.fetch(KEY, upstream, stale=10, expire=100, retries=5)
    assert upstream.calls == 1


def test_backoff_is_full_jitter_exponential_and_capped(backend: CountingLocMem) -> None:
    delays: list[float] = []
    live = LiveCache(backend, sleep=delays.append, backoff_base=0.2, backoff_cap=0.5)
    upstream = Upstream(unavailable())
    with pytest.raises(UpstreamError):
        live.fetch(KEY, upstream, stale=10, expire=100, retries=5)
    assert upstream.calls == 6 and len(delays) == 5
    for attempt, delay in enumerate(delays):
        assert 0 <= delay <= min(0.5, 0.2 * 2**attempt)


def test_retry_after_is_honoured(live: LiveCache) -> None:
    upstream = Upstream(
        UpstreamError("slow down", transient=True, status=429, retry_after=0.3), "ok"
    )
    started = time.monotonic()
    assert live.fetch(KEY, upstream, stale=10, expire=100).value == "ok"
    assert time.monotonic() - started >= 0.3
    assert upstream.calls == 2


def test_retry_after_beyond_the_maximum_wait_stops_retrying(backend: CountingLocMem) -> None:
    live = LiveCache(backend, max_retry_wait=1, backoff_base=0.001)
    upstream = Upstream(UpstreamError("slow down", transient=True, status=429, retry_after=60))
    started = time.monotonic()
    with pytest.raises(UpstreamError, match="slow down"):
        live.fetch(KEY, upstream, stale=10, expire=100, retries=3)
    assert time.monotonic() - started < 0.5
    assert upstream.calls == 1


def test_other_exceptions_are_wrapped_and_classified(live: LiveCache) -> None:
    refused = Upstream(
        requests.ConnectionError("HTTPSConnectionPool(host='x', url=/3?api_key=SECRET)")
    )
    with pytest.raises(UpstreamError) as raised:
        live.fetch(("a", 1), refused, retries=2)
    assert refused.calls == 3 and raised.value.transient
    assert "SECRET" not in str(raised.value)
    assert isinstance(raised.value.__cause__, requests.ConnectionError)

    broken = Upstream(KeyError("results"))
    with pytest.raises(UpstreamError) as raised:
        live.fetch(("a", 2), broken, retries=2)
    assert broken.calls == 1 and not raised.value.transient


def test_stale_value_is_served_flagged_when_the_refresh_fails(
    live: LiveCache, clock: Clock
) -> None:
    live.fetch(KEY, Upstream("old"), stale=10, expire=100)
    clock.advance(11)
    down = Upstream(unavailable("TMDB is down"))
    # the first stale read does not know yet: served normally, refresh in the background
    assert live.fetch(KEY, down, stale=10, expire=100, retries=1).stale is False
    assert live.wait_background(5)
    assert down.calls == 2
    # now it knows: flagged, with the message, and the upstream is left alone (negative cache)
    flagged = live.fetch(KEY, down, stale=10, expire=100, retries=1)
    assert flagged.value == "old" and flagged.stale is True and flagged.error == "TMDB is down"
    assert down.calls == 2
    assert counts(live)["negative_hits"] == 1
    # after the negative window a refresh is tried again; the value stays flagged meanwhile
    clock.advance(6)
    assert live.fetch(KEY, down, stale=10, expire=100, retries=1).stale is True
    assert live.wait_background(5)
    assert down.calls == 4
    # and once the upstream is back the flag goes away
    clock.advance(6)
    live.fetch(KEY, Upstream("new"), stale=10, expire=100)
    assert live.wait_background(5)
    assert live.fetch(KEY, down, stale=10, expire=100) == Result("new", False, clock.t, None)


def test_invalidated_value_is_served_flagged_when_the_refetch_fails(live: LiveCache) -> None:
    live.fetch(KEY, Upstream("old"), stale=10, expire=100)
    live.invalidate(("tmdb",))
    down = Upstream(unavailable("TMDB is down"))
    result = live.fetch(KEY, down, stale=10, expire=100, retries=1)
    assert result.value == "old" and result.stale and result.error == "TMDB is down"
    assert down.calls == 2


def test_negative_cache_spares_a_dead_upstream(live: LiveCache, clock: Clock) -> None:
    upstream = Upstream(NotFound(code=9), "found after all")
    with pytest.raises(NotFound):
        live.fetch(KEY, upstream, stale=10, expire=100)
    clock.advance(4)
    with pytest.raises(NotFound) as raised:
        live.fetch(KEY, upstream, stale=10, expire=100)
    assert raised.value.code == 9 and raised.value.status == 404  # its own class, rebuilt
    assert upstream.calls == 1
    assert counts(live)["negative_hits"] == 1
    clock.advance(2)
    assert live.fetch(KEY, upstream, stale=10, expire=100).value == "found after all"
    assert upstream.calls == 2


def test_negative_window_follows_retry_after(live: LiveCache, clock: Clock) -> None:
    upstream = Upstream(
        UpstreamError("rate limited", transient=True, status=429, retry_after=20), "ok"
    )
    with pytest.raises(UpstreamError):
        live.fetch(KEY, upstream, stale=10, expire=100, retries=0)
    clock.advance(15)
    with pytest.raises(UpstreamError, match="rate limited"):
        live.fetch(KEY, upstream, stale=10, expire=100)
    clock.advance(6)
    assert live.fetch(KEY, upstream, stale=10, expire=100).value == "ok"
    assert upstream.calls == 2


# --- invalidation --------------------------------------------------------------------------------


def test_invalidating_a_prefix_reaches_every_key_under_it_and_nothing_else(live: LiveCache) -> None:
    keys = [KEY, ("tmdb", "popular", "tv", 2), ("tmdb",), ("media",), ("media", 42), ("tmdbx",)]
    for key in keys:
        live.fetch(key, Upstream(f"{key}"), stale=10, expire=100)
    live.invalidate(("tmdb",))
    stale = {key for key in keys if live.get(key).stale}  # type: ignore[union-attr]
    assert stale == {KEY, ("tmdb", "popular", "tv", 2), ("tmdb",)}

    live.invalidate(("media", 42))
    assert live.get(("media", 42)).stale  # type: ignore[union-attr]
    assert not live.get(("media",)).stale  # type: ignore[union-attr]

    # an invalidated key is refetched by its next read, in the foreground
    refetch = Upstream("refetched")
    assert live.fetch(KEY, refetch, stale=10, expire=100).value == "refetched"
    assert refetch.calls == 1
    assert (
        live.fetch(("tmdb", "popular", "tv", 2), refetch, stale=10, expire=100).value == "refetched"
    )
    assert live.fetch(("media",), refetch, stale=10, expire=100).value == "('media',)"
    assert refetch.calls == 2


def test_invalidating_a_narrower_prefix_leaves_its_siblings(live: LiveCache) -> None:
    live.fetch(KEY, Upstream("t"), stale=10, expire=100)
    live.fetch(("tmdb", "popular", "movie", 1), Upstream("p"), stale=10, expire=100)
    live.invalidate(("tmdb", "trending"))
    assert live.get(KEY).stale  # type: ignore[union-attr]
    assert not live.get(("tmdb", "popular", "movie", 1)).stale  # type: ignore[union-attr]


def test_invalidate_is_one_counter_bump_however_many_keys(
    live: LiveCache, backend: CountingLocMem
) -> None:
    for page in range(500):
        live.fetch(("tmdb", "trending", "movie", page), Upstream(page), stale=10, expire=100)
    backend.ops.clear()
    live.invalidate(("tmdb",))
    assert backend.ops == ["incr"]
    # and a read is one get_many, whatever is cached
    backend.ops.clear()
    assert live.get(("tmdb", "trending", "movie", 499)).stale  # type: ignore[union-attr]
    assert backend.ops == ["get_many"]
    backend.ops.clear()
    live.fetch(("tmdb", "trending", "movie", 499), Upstream(0), stale=10, expire=100)
    live.fetch(("tmdb", "trending", "movie", 499), Upstream(0), stale=10, expire=100)
    assert backend.ops[-1:] == ["get_many"]  # the second call was a hit: one read


def test_an_evicted_generation_counter_makes_values_stale_not_fresh(
    live: LiveCache, backend: CountingLocMem
) -> None:
    live.fetch(KEY, Upstream("old"), stale=10, expire=100)
    live.invalidate(("tmdb",))
    live.fetch(KEY, Upstream("new"), stale=10, expire=100)
    assert live.get(KEY).stale is False  # type: ignore[union-attr]
    backend.delete("plank:gen:tmdb")  # evicted
    assert live.get(KEY).stale is True  # type: ignore[union-attr]
    upstream = Upstream("newest")
    assert live.fetch(KEY, upstream, stale=10, expire=100).value == "newest"
    assert live.get(KEY).stale is False  # type: ignore[union-attr]


def test_fetch_that_started_before_an_invalidation_is_refetched_by_the_next_read(
    live: LiveCache,
) -> None:
    gate = threading.Event()
    slow = Upstream("read before the change", gate=gate)
    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda: results.append(live.fetch(KEY, slow, stale=10, expire=100)))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    assert slow.started.wait(5)
    time.sleep(0.05)  # the other two join the running fetch
    live.invalidate(("tmdb", "trending"))
    gate.set()
    for t in threads:
        t.join(5)
    # the waiters get the value ...
    assert [r.value for r in results] == ["read before the change"] * 3
    assert slow.calls == 1
    # ... but it is stored as outdated, so the next read fetches again
    assert live.get(KEY).stale  # type: ignore[union-attr]
    fresh = Upstream("read after the change")
    assert live.fetch(KEY, fresh, stale=10, expire=100).value == "read after the change"
    assert fresh.calls == 1
    assert live.fetch(KEY, fresh, stale=10, expire=100).value == "read after the change"
    assert fresh.calls == 1


def test_set_during_a_fetch_is_not_overwritten_by_the_older_fetch(live: LiveCache) -> None:
    gate = threading.Event()
    slow = Upstream("fetched before the mutation", gate=gate)
    results: list[Result] = []
    t = threading.Thread(target=lambda: results.append(live.fetch(KEY, slow, stale=10, expire=100)))
    t.start()
    assert slow.started.wait(5)
    live.set(KEY, "written by the mutation", stale=10, expire=100)
    gate.set()
    t.join(5)
    assert results[0].value == "written by the mutation"
    stored = live.get(KEY)
    assert stored is not None and stored.value == "written by the mutation" and not stored.stale
    assert live.fetch(KEY, slow, stale=10, expire=100).value == "written by the mutation"
    assert slow.calls == 1


def test_delete_during_a_fetch_leaves_an_outdated_value(live: LiveCache) -> None:
    gate = threading.Event()
    slow = Upstream("fetched before the delete", gate=gate)
    t = threading.Thread(target=lambda: live.fetch(KEY, slow, stale=10, expire=100))
    t.start()
    assert slow.started.wait(5)
    live.delete(KEY)
    gate.set()
    t.join(5)
    assert live.get(KEY).stale  # type: ignore[union-attr]
    assert live.fetch(KEY, Upstream("again"), stale=10, expire=100).value == "again"


def test_on_invalidate_hooks_run_and_a_failing_one_is_contained(live: LiveCache) -> None:
    seen: list[tuple] = []

    def broken(prefix: tuple) -> None:
        raise RuntimeError("hook bug")

    live_cache.on_invalidate.extend([broken, seen.append])
    try:
        live.invalidate(("media", "42"))
    finally:
        live_cache.on_invalidate.remove(broken)
        live_cache.on_invalidate.remove(seen.append)
    assert seen == [("media", 42)]


def test_invalidate_with_an_event_id_bumps_once_per_backend(
    live: LiveCache, backend: CountingLocMem, clock: Clock
) -> None:
    other_process = LiveCache(backend, now=clock)  # same backend, as two relays on one Redis
    live.fetch(KEY, Upstream("old"), stale=10, expire=100)
    assert live.invalidate(("tmdb",), event_id=17) is True
    live.fetch(KEY, Upstream("new"), stale=10, expire=100)
    assert other_process.invalidate(("tmdb",), event_id=17) is False  # relayed late: no-op
    assert live.get(KEY) == Result("new", False, clock.t)
    assert other_process.invalidate(("tmdb",), event_id=18) is True
    assert live.get(KEY).stale  # type: ignore[union-attr]


# --- set / get / delete --------------------------------------------------------------------------


def test_set_get_delete(live: LiveCache, clock: Clock) -> None:
    assert live.get(KEY) is None
    stored = live.set(KEY, {"n": 1}, stale=10, expire=100)
    assert stored == Result({"n": 1}, False, clock.t, None)
    assert live.get(KEY) == stored
    upstream = Upstream("fetched")
    assert live.fetch(KEY, upstream, stale=10, expire=100).value == {"n": 1}
    assert upstream.calls == 0
    clock.advance(11)
    assert live.get(KEY) == Result({"n": 1}, True, stored.fetched_at, None)  # peek: not fresh
    live.delete(KEY)
    assert live.get(KEY) is None
    assert live.fetch(KEY, upstream, stale=10, expire=100).value == "fetched"


def test_set_clears_a_recorded_failure(live: LiveCache) -> None:
    with pytest.raises(NotFound):
        live.fetch(KEY, Upstream(NotFound()), stale=10, expire=100)
    live.set(KEY, "known now", stale=10, expire=100)
    assert live.fetch(KEY, Upstream(), stale=10, expire=100) == live.get(KEY)
    assert live.get(KEY).error is None  # type: ignore[union-attr]


# --- counters ------------------------------------------------------------------------------------


def test_counters_per_top_level_and_two_part_prefix(live: LiveCache, clock: Clock) -> None:
    live.fetch(("tmdb", "trending", "movie", 1), Upstream(1), stale=10, expire=100)
    live.fetch(("tmdb", "trending", "movie", 1), Upstream(1), stale=10, expire=100)
    live.fetch(("tmdb", "popular", "tv", 1), Upstream(2), stale=10, expire=100)
    live.fetch(("media",), Upstream(3), stale=10, expire=100)
    with pytest.raises(NotFound):
        live.fetch(("media", 7), Upstream(NotFound()), stale=10, expire=100)
    with pytest.raises(NotFound):
        live.fetch(("media", 7), Upstream(NotFound()), stale=10, expire=100)
    stats = live.stats.snapshot()
    assert set(stats) == {"tmdb", "tmdb/trending", "tmdb/popular", "media", "media/7"}
    assert stats["tmdb"] | {} == {
        "hits": 1,
        "misses": 2,
        "stale_serves": 0,
        "joined_waits": 0,
        "upstream_calls": 2,
        "errors": 0,
        "refreshes": 0,
        "negative_hits": 0,
    }
    assert stats["tmdb/trending"]["hits"] == 1 and stats["tmdb/popular"]["hits"] == 0
    assert stats["media"]["misses"] == 3
    assert (stats["media/7"]["errors"], stats["media/7"]["negative_hits"]) == (1, 1)
    live.stats.reset()
    assert live.stats.snapshot() == {}


# --- across processes (two LiveCache objects on one backend, told it is shared) -------------------


@pytest.fixture
def shared_pair(backend: CountingLocMem, clock: Clock) -> tuple[LiveCache, LiveCache]:
    """Two caches with their own flights over one backend: the cross-process lock path."""
    options: dict[str, Any] = {"shared": True, "now": clock, "lease": 0.5, "backoff_base": 0.001}
    return LiveCache(backend, **options), LiveCache(backend, **options)


def test_a_second_process_waits_for_the_first_ones_fetch(
    shared_pair: tuple[LiveCache, LiveCache],
) -> None:
    a, b = shared_pair
    gate = threading.Event()
    upstream_a = Upstream("from A", gate=gate)
    t = threading.Thread(target=lambda: a.fetch(KEY, upstream_a, stale=10, expire=100))
    t.start()
    assert upstream_a.started.wait(5)
    upstream_b = Upstream("from B")
    threading.Timer(0.2, gate.set).start()
    assert b.fetch(KEY, upstream_b, stale=10, expire=100).value == "from A"
    t.join(5)
    assert (upstream_a.calls, upstream_b.calls) == (1, 0)
    assert counts(b)["joined_waits"] == 1


def test_the_lease_outlives_a_slow_fetch_while_its_holder_is_alive(
    shared_pair: tuple[LiveCache, LiveCache],
) -> None:
    a, b = shared_pair  # lease 0.5 s, renewed by A while its upstream takes 1.2 s
    upstream_a = Upstream("slow A", delay=1.2)
    t = threading.Thread(target=lambda: a.fetch(KEY, upstream_a, stale=10, expire=100))
    t.start()
    assert upstream_a.started.wait(5)
    upstream_b = Upstream("from B")
    assert b.fetch(KEY, upstream_b, stale=10, expire=100).value == "slow A"
    t.join(5)
    assert (upstream_a.calls, upstream_b.calls) == (1, 0)


def test_a_dead_holders_lock_lapses_after_the_lease(
    shared_pair: tuple[LiveCache, LiveCache], backend: CountingLocMem
) -> None:
    _, b = shared_pair
    # a process took the lock and died: nobody renews or releases it
    assert backend.add("plank:lock:tmdb/trending/movie/1", "dead-token", 0.5)
    upstream = Upstream("taken over")
    started = time.monotonic()
    assert b.fetch(KEY, upstream, stale=10, expire=100).value == "taken over"
    assert 0.4 <= time.monotonic() - started < 3
    assert upstream.calls == 1
    assert backend.get("plank:lock:tmdb/trending/movie/1") is None  # released after the fetch


def test_a_holders_failure_reaches_the_other_process_without_a_second_call(
    shared_pair: tuple[LiveCache, LiveCache],
) -> None:
    a, b = shared_pair
    gate = threading.Event()
    failing = Upstream(NotFound(), gate=gate)
    t = threading.Thread(
        target=lambda: pytest.raises(NotFound, a.fetch, KEY, failing, stale=10, expire=100)
    )
    t.start()
    assert failing.started.wait(5)
    threading.Timer(0.1, gate.set).start()
    upstream_b = Upstream("never")
    with pytest.raises(NotFound):
        b.fetch(KEY, upstream_b, stale=10, expire=100)
    t.join(5)
    assert (failing.calls, upstream_b.calls) == (1, 0)


def test_background_refresh_happens_once_across_processes(
    shared_pair: tuple[LiveCache, LiveCache], clock: Clock
) -> None:
    a, b = shared_pair
    a.fetch(KEY, Upstream("old"), stale=10, expire=100)
    clock.advance(11)
    gate = threading.Event()
    refresh_a, refresh_b = Upstream("new A", gate=gate), Upstream("new B")
    assert a.fetch(KEY, refresh_a, stale=10, expire=100).value == "old"
    assert refresh_a.started.wait(5)
    assert b.fetch(KEY, refresh_b, stale=10, expire=100).value == "old"
    gate.set()
    assert a.wait_background(5) and b.wait_background(5)
    assert (refresh_a.calls, refresh_b.calls) == (1, 0)
    assert b.get(KEY).value == "new A"  # type: ignore[union-attr]


# --- the module-level API on the project's default cache -----------------------------------------


def test_module_level_api_uses_the_default_cache() -> None:
    key = ("live-test", uuid.uuid4().hex)
    upstream = Upstream("via default")
    assert live_cache.fetch(key, upstream, stale=10, expire=60).value == "via default"
    assert live_cache.fetch(key, upstream, stale=10, expire=60).value == "via default"
    assert upstream.calls == 1
    assert live_cache.get(key).value == "via default"  # type: ignore[union-attr]
    assert live_cache.cache_for() is live_cache.cache_for("default")
    assert live_cache.cache_for().backend is caches["default"]
    assert live_cache.stats()["live-test"]["hits"] >= 1
    live_cache.invalidate(key)
    assert live_cache.get(key).stale  # type: ignore[union-attr]
    live_cache.delete(key)
    assert live_cache.get(key) is None
    check = live_cache.health()
    assert check.ok and "live-test" in dict(check.details)


def test_module_level_api_takes_another_backend(backend: CountingLocMem) -> None:
    live_cache.set(KEY, "elsewhere", backend=backend)
    assert live_cache.get(KEY, backend=backend).value == "elsewhere"  # type: ignore[union-attr]
    assert live_cache.cache_for(backend).backend is backend
    assert live_cache.cache_for(backend).shared is False
