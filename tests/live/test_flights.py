"""Single-flight plumbing: in-process flights, and the cross-process lease lock."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from django.core.cache.backends.locmem import LocMemCache

from plank.live.flights import Flight, Flights, Lease
from plank.live.store import Names, Store

KEY = ("tmdb", "trending", "movie", 1)


@pytest.fixture
def store() -> Iterator[Store]:
    backend = LocMemCache(f"flights-test-{uuid.uuid4().hex}", {})
    yield Store(backend, "plank")
    backend.clear()


@pytest.fixture
def names(store: Store) -> Names:
    return store.resolve(KEY)[1]


def test_callers_of_one_key_join_one_flight_until_it_lands() -> None:
    flights = Flights()
    first, leads = flights.join("k", (1, 2))
    again, joins = flights.join("k", (1, 2))
    assert leads and not joins and again is first
    other, leads_other = flights.join("other", (1, 2))
    assert leads_other and other is not first
    flights.land("k", first)
    assert flights.join("k", (1, 2)) != (first, False)


def test_a_flight_that_started_before_a_change_is_not_joined() -> None:
    flights = Flights()
    old, _ = flights.join("k", (1, 2))
    old.gens = (1, 2)  # the fetch started with these counters
    assert flights.join("k", (1, 2)) == (old, False)
    newer, leads = flights.join("k", (1, 3))  # a counter moved since
    assert leads and newer is not old
    flights.land("k", old)  # the old flight landing does not drop the newer one
    assert flights.join("k", (1, 3)) == (newer, False)


def test_each_waiter_gets_its_own_copy() -> None:
    flight = Flight()
    value = {"results": [1, 2]}
    copies = [flight.copy(value) for _ in range(3)]
    assert all(c == value and c is not value for c in copies)
    assert len({id(c) for c in copies}) == 3
    unpicklable = threading.Lock()
    assert Flight().copy(unpicklable) is unpicklable


def test_the_lease_is_taken_once_and_released_by_its_holder(store: Store, names: Names) -> None:
    lease = Lease(store, lease=5, max_hold=60)
    token = lease.acquire(names, lambda: None)
    assert isinstance(token, str) and token
    assert store.backend.get(names.lock) == token
    lease.release(names, "someone else's token")
    assert store.backend.get(names.lock) == token
    lease.release(names, token)
    assert store.backend.get(names.lock) is None


def test_a_waiter_gets_what_settles_while_the_lock_is_held(store: Store, names: Names) -> None:
    lease = Lease(store, lease=5, max_hold=60)
    assert lease.acquire(names, lambda: None)
    polls: list[int] = []

    def settled() -> str | None:
        polls.append(1)
        return "the holder's value" if len(polls) == 3 else None

    assert lease.acquire(names, settled) == "the holder's value"
    assert len(polls) == 3


def test_a_lock_renewed_outlives_its_lease_then_lapses(store: Store, names: Names) -> None:
    lease = Lease(store, lease=0.3, max_hold=60)
    token = lease.acquire(names, lambda: None)
    assert isinstance(token, str)
    with lease.renewed(names, token):
        time.sleep(0.7)
        assert store.backend.get(names.lock) == token  # renewed while the holder works
    time.sleep(0.5)
    assert store.backend.get(names.lock) is None  # not renewed any more: lapsed
