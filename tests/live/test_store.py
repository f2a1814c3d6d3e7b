"""The live cache's layout in a Django cache backend: names, timeouts, counters, entries."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from django.core.cache.backends.locmem import LocMemCache

from plank.live.store import AGED, FRESH, INVALID, MISSING, Store


@pytest.fixture
def store() -> Iterator[Store]:
    backend = LocMemCache(f"store-test-{uuid.uuid4().hex}", {})
    yield Store(backend, "plank")
    backend.clear()


def test_names_of_a_key(store: Store) -> None:
    key, n = store.resolve(("tmdb", "trending", "movie", "1"))
    assert key == ("tmdb", "trending", "movie", 1)
    assert (n.value, n.err, n.lock) == (
        "plank:v:tmdb/trending/movie/1",
        "plank:err:tmdb/trending/movie/1",
        "plank:lock:tmdb/trending/movie/1",
    )
    assert n.counters == (
        "plank:gen:tmdb",
        "plank:gen:tmdb/trending",
        "plank:gen:tmdb/trending/movie",
        "plank:gen:tmdb/trending/movie/1",
        "plank:ver:tmdb/trending/movie/1",
    )
    assert n.buckets == ("tmdb", "tmdb/trending")
    long_name = store.resolve(("search", "x" * 500))[1].value
    assert len(long_name) < 200 and " " not in store.resolve(("search", "a b"))[1].value


def test_local_timeouts_are_kept_shared_ones_rounded_up(store: Store) -> None:
    assert store.local and store.ttl(0.25) == 0.25 and store.ttl(None) is None
    store.local = False
    assert (store.ttl(0.25), store.ttl(2.5)) == (1, 3)


def test_counters_start_at_random_and_an_entry_reads_by_them(store: Store) -> None:
    _, n = store.resolve(("media", 42))
    assert store.read(n).gens == (None, None, None)
    gens = store.ensure_counters(n, store.read(n).gens)
    assert None not in gens and store.read(n).gens == gens
    entry = store.write(n, "v", gens, now=100.0, stale=10, expire=100)
    assert (entry.fetched_at, entry.stale_at, entry.expire_at, entry.gens) == (100, 110, 200, gens)
    snap = store.read(n)
    assert snap.entry == entry
    assert [snap.state(t) for t in (105, 150, 200)] == [FRESH, AGED, MISSING]
    store.bump(n.counters[0])  # the prefix ("media",) invalidated
    assert store.read(n).state(105) == INVALID


def test_an_event_is_seen_once_per_backend(store: Store) -> None:
    assert store.first_sight(17, ("tmdb",)) is True
    assert store.first_sight(17, ("tmdb",)) is False
    assert store.first_sight(17, ("media",)) is True
