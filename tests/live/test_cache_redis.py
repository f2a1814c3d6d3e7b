"""The per-key cache on a real Redis (127.0.0.1:6379, DB 15), across real processes.

The backend is built here (not from PLANK_REDIS_URL), with a KEY_PREFIX of its own per test;
teardown deletes that prefix's keys (not FLUSHDB: other suites may share DB 15 at the same time).
Worker processes (tests/live/cache_worker.py) get the same Redis and prefix through
PLANK_REDIS_URL / PLANK_CACHE_PREFIX, so they and this process share one cache.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.core.cache.backends.redis import RedisCache

from plank.live.cache import LiveCache, Result
from plank.live.errors import UpstreamError

pytestmark = pytest.mark.redis

REDIS_URL = "redis://127.0.0.1:6379/15"
ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("cache_worker.py")
KEY = ("tmdb", "trending", "movie", 1)


class Upstream:
    def __init__(self, value: Any = "value", *, delay: float = 0) -> None:
        self.value = value
        self.delay = delay
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> Any:
        with self._lock:
            self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        if isinstance(self.value, BaseException):
            raise self.value
        return self.value


@pytest.fixture
def raw() -> redis.Redis:
    return redis.Redis.from_url(REDIS_URL)


@pytest.fixture
def prefix(raw: redis.Redis) -> Iterator[str]:
    prefix = f"live-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    for name in raw.scan_iter(match=f"{prefix}:*", count=1000):
        raw.delete(name)


@pytest.fixture
def backend(prefix: str) -> RedisCache:
    return RedisCache(REDIS_URL, {"KEY_PREFIX": prefix})


@pytest.fixture
def live(backend: RedisCache) -> Iterator[LiveCache]:
    cache = LiveCache(backend, backoff_base=0.001, backoff_cap=0.005, lease=2)
    yield cache
    cache.wait_background(5)


def worker_env(prefix: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "plank.settings",
        "PLANK_REDIS_URL": REDIS_URL,
        "PLANK_CACHE_PREFIX": prefix,
        "PLANK_DATA_DIR": str(tmp_path / "data"),
        "PLANK_SECRET_KEY": "test-only-secret-key-for-the-cache-worker",
    }


def start_worker(mode: str, prefix: str, tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            str(WORKER),
            mode,
            "--key",
            "tmdb/trending/movie/1",
            "--dir",
            str(tmp_path),
            *args,
        ],
        cwd=ROOT,
        env=worker_env(prefix, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_redis_is_a_shared_backend(live: LiveCache) -> None:
    assert live.shared and not live.local


def test_fetch_hit_invalidate_set_on_redis(live: LiveCache, backend: RedisCache) -> None:
    upstream = Upstream({"results": [1, 2, 3]})
    first = live.fetch(KEY, upstream, stale=10, expire=100)
    assert live.fetch(KEY, upstream, stale=10, expire=100) == first
    assert upstream.calls == 1
    live.invalidate(("tmdb",))
    assert live.get(KEY).stale  # type: ignore[union-attr]
    assert live.fetch(KEY, upstream, stale=10, expire=100).value == {"results": [1, 2, 3]}
    assert upstream.calls == 2
    live.set(KEY, "set directly", stale=10, expire=100)
    assert live.fetch(KEY, upstream, stale=10, expire=100).value == "set directly"
    assert live.get(("media",)) is None
    # the lock is gone once the fetch is done; the counters are plain Redis integers
    assert backend.get("plank:lock:tmdb/trending/movie/1") is None
    assert isinstance(backend.get("plank:gen:tmdb"), int)


def test_sub_second_expiry_on_redis(live: LiveCache, backend: RedisCache) -> None:
    live.fetch(KEY, Upstream("short-lived"), stale=0.2, expire=0.5)
    time.sleep(0.6)
    assert live.get(KEY) is None  # our clock: gone after 0.5 s though Redis keeps whole seconds
    time.sleep(0.6)
    assert backend.get("plank:v:tmdb/trending/movie/1") is None  # and Redis dropped it too


def test_a_hundred_threads_on_a_cold_key_make_one_upstream_call(live: LiveCache) -> None:
    upstream = Upstream(["x"], delay=0.2)
    barrier = threading.Barrier(100)
    results: list[Result] = []

    def run() -> None:
        barrier.wait()
        results.append(live.fetch(KEY, upstream, stale=10, expire=100))

    threads = [threading.Thread(target=run) for _ in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert upstream.calls == 1
    assert len(results) == 100 and all(r.value == ["x"] for r in results)


def test_two_caches_on_one_redis_share_a_fetch_and_its_failure(backend: RedisCache) -> None:
    a = LiveCache(backend, backoff_base=0.001)
    b = LiveCache(backend, backoff_base=0.001)
    slow_failure = Upstream(UpstreamError("gone", transient=False, status=404), delay=0.3)
    t = threading.Thread(target=lambda: pytest.raises(UpstreamError, a.fetch, KEY, slow_failure))
    t.start()
    time.sleep(0.1)
    other = Upstream("never called")
    with pytest.raises(UpstreamError, match="gone"):
        b.fetch(KEY, other)
    t.join(5)
    assert (slow_failure.calls, other.calls) == (1, 0)


def test_invalidate_with_an_event_id_bumps_once_across_processes(backend: RedisCache) -> None:
    a, b = LiveCache(backend), LiveCache(backend)
    a.fetch(KEY, Upstream("old"), stale=10, expire=100)
    assert a.invalidate(("tmdb",), event_id=41) is True
    a.fetch(KEY, Upstream("new"), stale=10, expire=100)
    assert b.invalidate(("tmdb",), event_id=41) is False
    assert b.get(KEY).value == "new" and not b.get(KEY).stale  # type: ignore[union-attr]


def test_four_processes_on_a_cold_key_make_one_upstream_call(
    prefix: str, tmp_path: Path, raw: redis.Redis
) -> None:
    counter = f"{prefix}:upstream-calls"
    workers = [
        start_worker("stampede", prefix, tmp_path, "--counter", counter, "--threads", "8")
        for _ in range(4)
    ]
    try:
        wait_for(lambda: len(list(tmp_path.glob("ready-*"))) == 4, 60, "4 workers ready")
        (tmp_path / "go").touch()
        outputs = [w.communicate(timeout=60) for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
    for w, (_, err) in zip(workers, outputs, strict=True):
        assert w.returncode == 0, err
    reports = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert int(raw.get(counter)) == 1
    fetched_by = {v["fetched_by"] for r in reports for v in r["values"]}
    assert len(fetched_by) == 1 and sum(len(r["values"]) for r in reports) == 32
    assert sum(r["stats"]["tmdb"]["upstream_calls"] for r in reports) == 1
    assert sum(r["stats"]["tmdb"]["joined_waits"] for r in reports) == 31


def test_a_killed_holder_lets_another_process_fetch_after_the_lease(
    prefix: str, tmp_path: Path, raw: redis.Redis, backend: RedisCache
) -> None:
    counter = f"{prefix}:upstream-calls"
    holder = start_worker("hold", prefix, tmp_path, "--counter", counter, "--lease", "1")
    try:
        wait_for(lambda: any(tmp_path.glob("holding-*")), 30, "the holder to take the lock")
        assert backend.get("plank:lock:tmdb/trending/movie/1") is not None
        live = LiveCache(backend, lease=1)
        upstream = Upstream("taken over")
        results: list[Result] = []
        waiter = threading.Thread(target=lambda: results.append(live.fetch(KEY, upstream)))
        waiter.start()
        # the holder is alive and renews its 1 s lease: the waiter keeps waiting
        waiter.join(2.0)
        assert waiter.is_alive() and upstream.calls == 0
        holder.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        holder.wait(10)
        waiter.join(10)
        assert not waiter.is_alive()
        assert time.monotonic() - killed_at < 3  # within about one lease (whole seconds in Redis)
    finally:
        if holder.poll() is None:
            holder.kill()
    assert results[0].value == "taken over"
    assert upstream.calls == 1
    assert int(raw.get(counter)) == 1  # the dead holder called once, and never finished


def test_an_unreachable_backend_degrades_to_calling_the_upstream(caplog: Any) -> None:
    # nothing listens on port 1: every Redis call fails with a connection error
    down = RedisCache("redis://127.0.0.1:1/15", {"OPTIONS": {"socket_connect_timeout": 0.2}})
    live = LiveCache(down, backoff_base=0.001)
    upstream = Upstream("served without a cache")
    assert live.fetch(KEY, upstream, stale=10, expire=100).value == "served without a cache"
    assert live.fetch(KEY, upstream, stale=10, expire=100).value == "served without a cache"
    assert upstream.calls == 2
    warnings = [
        r for r in caplog.records if r.name == "plank.live.store" and r.levelname == "WARNING"
    ]
    assert len(warnings) == 1  # an outage is logged, not flooded
