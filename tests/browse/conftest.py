"""Fixtures for browse tests: a fake TMDB on 127.0.0.1 and clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from browse.tmdb import TMDBClient
from tests.browse.fake_tmdb import FAKE_API_KEY, FAKE_BEARER_TOKEN, FakeTMDB, start_fake_tmdb


@pytest.fixture
def fake_tmdb() -> Iterator[FakeTMDB]:
    """A running fake TMDB: ``.base_url``, ``.calls``, ``.fail(...)``, ``.slow(...)``, ..."""
    fake = start_fake_tmdb()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def tmdb(fake_tmdb: FakeTMDB) -> TMDBClient:
    """A client with the fake's v3 API key."""
    return TMDBClient(FAKE_API_KEY, fake_tmdb.base_url)


@pytest.fixture
def tmdb_v4(fake_tmdb: FakeTMDB) -> TMDBClient:
    """A client with the fake's v4 read access token."""
    return TMDBClient(FAKE_BEARER_TOKEN, fake_tmdb.base_url)
