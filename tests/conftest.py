"""Fixtures shared by the whole suite: people of each role, a data directory, fresh reads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from cachalot.api import cachalot_disabled
from django.core.cache import cache as django_cache
from django.test import Client

from plank.live.models import Outbox
from plank.models import get_preferences
from tests.factories import make_user

MATRIX = "magnet:?xt=urn:btih:c9e15763f722f23e98a29decdfae341b98d53056&dn=The.Matrix.1999.1080p.BluRay.x264-GRP"
SHOW = "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=Breaking.Bad.S01E02.720p.HDTV.x264-GRP"


@pytest.fixture(autouse=True)
def fast_passwords(settings) -> None:
    """A fast password hasher in the test process (a served subprocess keeps the default)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_fragments() -> Iterator[None]:
    """No rendered fragment outlives its test (issue 10): a test's rows roll back without the
    commit that would have made the per-key cache stale (plank/live/fragments.py)."""
    django_cache.clear()
    yield


@pytest.fixture
def owner(db):
    return make_user("owner", username="owner")


@pytest.fixture
def admin(db):
    return make_user("admin", username="admin")


@pytest.fixture
def member(db):
    return make_user("member", username="member")


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def client_owner(owner) -> Client:
    return logged_in(owner)


@pytest.fixture
def client_admin(admin) -> Client:
    return logged_in(admin)


@pytest.fixture
def client_member(member) -> Client:
    return logged_in(member)


@pytest.fixture
def htmx_headers() -> dict[str, str]:
    return {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def data_dir(settings, tmp_path: Path) -> Path:
    """``tmp_path/data`` as Plank's data directory, with its library and downloads folders
    (``tmp_path`` itself stands for "outside the data directory")."""
    root = (tmp_path / "data").resolve()
    settings.DATA_DIR = root
    settings.LIBRARY_DIR = root / "library"
    settings.DOWNLOADS_DIR = root / "downloads"
    settings.LIBRARY_DIR.mkdir(parents=True)
    settings.DOWNLOADS_DIR.mkdir(parents=True)
    return root


@pytest.fixture
def fresh_reads() -> Iterator[None]:
    """Read rows as they are: for tests whose threads (the engine's, the job worker's) write
    rows while the test polls; cachalot can keep a result read just before a concurrent commit
    (its known race)."""
    with cachalot_disabled():
        yield


@pytest.fixture
def empty_outbox(db) -> None:
    """The preferences row, created on first read (TMDB matching reads it after a title's
    commit), exists and the outbox is empty, before a test counts announcements."""
    get_preferences()
    Outbox.objects.all().delete()


def body(response) -> bytes:
    """The whole body, consuming an async streaming response the way an ASGI server does."""
    if not response.streaming:
        return response.content

    async def collect() -> bytes:
        return b"".join([part async for part in response.streaming_content])

    return async_to_sync(collect)()


def database_url() -> str:
    """The test database as a ``PLANK_DATABASE_URL``, for a process a test starts."""
    from django.db import connection  # the test database's name is known only once it exists

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
