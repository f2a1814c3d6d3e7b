"""Fixtures of the find-and-get tests (imported by the test modules that use them)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.core.cache import cache as django_cache

from plank.jobs import JobWorker
from plank.live import cache
from tests.torrents.conftest import wait_for
from tests.torrents.fake_torznab import FakeIndexer, FakeRelease, FakeTorznab, running
from torrents import search, wanted


def release(title: str, n: int, **fields: object) -> FakeRelease:
    """A release with a made-up info hash (``n`` makes it unique)."""
    return FakeRelease(title, f"{n:040x}", **fields)


@pytest.fixture
def fresh_search() -> Iterator[None]:
    """Empty caches before; after, no search thread still writing rows."""
    django_cache.clear()
    cache.reset_stats()
    search._runs.clear()
    yield
    search._pool.join(30)
    wanted._pool.join(30)
    search._pool.join(30)
    django_cache.clear()


@pytest.fixture
def fake(fresh_search: None) -> Iterator[FakeTorznab]:
    """A local Torznab server with no indexer yet (``fake.add(FakeIndexer(...))``)."""
    with running() as server:
        yield server


@pytest.fixture
def jobs() -> Iterator[JobWorker]:
    """The job worker, as ``serve`` runs it (wanted titles are searched by a job)."""
    worker = JobWorker(interval=0.1)
    worker.start()
    yield worker
    worker.stop()


def wait_until(predicate: Callable[[], object], timeout: float = 15, what: str = "it") -> object:
    return wait_for(predicate, timeout, what, interval=0.05)


__all__ = ["FakeIndexer", "FakeRelease", "fake", "fresh_search", "jobs", "release", "wait_until"]
