"""Fixtures for browse tests: a fake TMDB on 127.0.0.1 and clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import cache

from browse.tmdb import TMDBClient
from plank.live import cache as live_cache
from plank.models import get_preferences
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


def configure(settings, fake: FakeTMDB, tmp_path: Path) -> None:
    """Make ``fake`` Plank's TMDB, with its key in the preferences, and empty the caches."""
    settings.PLANK_TMDB_BASE_URL = fake.base_url
    settings.POSTERS_DIR = tmp_path / "posters"
    prefs = get_preferences()
    prefs.tmdb_api_key = FAKE_API_KEY
    prefs.save()
    cache.clear()
    live_cache.reset_stats()


@pytest.fixture
def configured(db: None, settings, fake_tmdb: FakeTMDB, tmp_path: Path) -> Iterator[FakeTMDB]:
    """The fake TMDB as Plank's TMDB, its key in the preferences, empty caches."""
    configure(settings, fake_tmdb, tmp_path)
    yield fake_tmdb
    cache.clear()


@pytest.fixture
def configured_tx(
    transactional_db: None, settings, fake_tmdb: FakeTMDB, tmp_path: Path
) -> Iterator[FakeTMDB]:
    """``configured`` with committed rows, for tests whose threads read the database."""
    configure(settings, fake_tmdb, tmp_path)
    yield fake_tmdb
    cache.clear()
