"""The per-key cache by prefix (entries, size, counters) and clearing one prefix: on the
process's local memory, on a real Redis, on /system/ and with ``manage.py cache``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.core.management import CommandError, call_command
from django.test import Client

from plank import cache_admin
from plank.live import cache
from plank.live.cache import LiveCache
from plank.live.models import Outbox

REDIS_URL = "redis://127.0.0.1:6379/15"


class Upstream:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> dict:
        self.calls += 1
        return {"results": ["x" * 200], "call": self.calls}


@pytest.fixture
def default_cache() -> Iterator[LiveCache]:
    """The default per-key cache, emptied of this test's keys before and after."""
    live = cache.cache_for()
    for prefix in (("tmdb",), ("indexers",)):
        cache.clear(prefix, backend=live)
    live.stats.reset()
    yield live
    for prefix in (("tmdb",), ("indexers",)):
        cache.clear(prefix, backend=live)


def fill(live: LiveCache) -> dict[str, Upstream]:
    ups = {name: Upstream() for name in ("trending", "popular", "feed")}
    live.fetch(("tmdb", "trending", "movie", 1), ups["trending"])
    live.fetch(("tmdb", "trending", "movie", 1), ups["trending"])  # a hit
    live.fetch(("tmdb", "popular", "tv", 1), ups["popular"])
    live.fetch(("indexers", "feed", 3), ups["feed"])
    return ups


def test_listing_and_clearing_on_local_memory() -> None:
    live = LiveCache(LocMemCache(f"admin-{uuid.uuid4().hex}", {}), shared=False)
    ups = fill(live)
    names = cache.listing(backend=live)
    assert names is not None and len(names) == 3
    assert all(size > 200 for _name, size in names), "sizes are the pickled values'"
    assert len(cache.listing(("tmdb",), backend=live)) == 2
    assert len(cache.listing(("tmdb", "trending"), backend=live)) == 1
    assert cache.listing(("tmdb", "trend"), backend=live) == [], "a prefix is whole segments"

    assert cache.clear(("tmdb", "trending"), backend=live) == 1
    assert cache.listing(("tmdb", "trending"), backend=live) == []
    live.fetch(("tmdb", "trending", "movie", 1), ups["trending"])
    live.fetch(("tmdb", "popular", "tv", 1), ups["popular"])
    assert (ups["trending"].calls, ups["popular"].calls) == (2, 1), "only the cleared prefix"


@pytest.mark.redis
def test_listing_and_clearing_on_redis() -> None:
    prefix = f"admin-test-{uuid.uuid4().hex[:12]}"
    raw = redis.Redis.from_url(REDIS_URL)
    try:
        raw.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    try:
        live = LiveCache(RedisCache(REDIS_URL, {"KEY_PREFIX": prefix}), backoff_base=0.001)
        ups = fill(live)
        live.fetch(("tmdb", "search", "a*b[c]?"), Upstream())  # glob characters in a key
        assert len(cache.listing(("tmdb",), backend=live)) == 3
        assert len(cache.listing(("tmdb", "search", "a*b[c]?"), backend=live)) == 1
        assert all(size > 0 for _n, size in cache.listing(backend=live))
        assert cache.clear(("tmdb",), backend=live) == 3
        assert (
            cache.listing(("tmdb",), backend=live) == [] and len(cache.listing(backend=live)) == 1
        )
        live.fetch(("indexers", "feed", 3), ups["feed"])
        assert ups["feed"].calls == 1, "other prefixes untouched"
    finally:
        for name in raw.scan_iter(match=f"{prefix}:*", count=1000):
            raw.delete(name)


@pytest.mark.django_db(transaction=True)
def test_clearing_announces_the_prefix(default_cache: LiveCache, empty_outbox) -> None:
    fill(default_cache)
    cleared = cache_admin.clear_prefix("tmdb/trending")
    assert cleared.prefix == "tmdb/trending"
    if cache.listing(backend=default_cache) is not None:
        assert cleared.deleted == 1
    assert [["tmdb", "trending"]] in [row.keys for row in Outbox.objects.all()]
    with pytest.raises(ValueError):
        cache_admin.clear_prefix("")
    with pytest.raises(ValueError):
        cache_admin.clear_prefix("tmdb//x")


@pytest.mark.django_db
def test_the_table_by_prefix(default_cache: LiveCache) -> None:
    fill(default_cache)
    table = cache_admin.prefix_table()
    rows = {r.prefix: r for r in table.rows}
    assert rows["tmdb"].counts["hits"] == 1 and rows["tmdb"].counts["misses"] == 2
    assert rows["tmdb/trending"].counts["hits"] == 1
    if table.listable:
        assert (rows["tmdb"].entries, rows["tmdb/trending"].entries) == (2, 1)
        assert rows["tmdb"].size >= rows["tmdb/trending"].size > 0
    order = [r.prefix for r in table.rows if r.prefix.startswith("tmdb")]
    assert order[0] == "tmdb", "a prefix before the prefixes under it"


@pytest.mark.django_db
def test_system_page_lists_and_clears(
    default_cache: LiveCache, client_member: Client, client_admin: Client
) -> None:
    ups = fill(default_cache)
    page = client_member.get("/system/").content.decode()
    assert "Per-key cache, by prefix" in page and "<code>tmdb/trending</code>" in page
    assert 'data-open-dialog="clear-' not in page, "members don't clear"
    assert client_member.post("/system/cache/clear", {"prefix": "tmdb"}).status_code == 403

    admin_page = client_admin.get("/system/").content.decode()
    assert "Clear tmdb/trending?" in admin_page
    response = client_admin.post("/system/cache/clear", {"prefix": "tmdb/trending"}, follow=True)
    assert (
        "Cleared tmdb/trending" in response.content.decode()
        or "out of date" in response.content.decode()
    )
    default_cache.fetch(("tmdb", "trending", "movie", 1), ups["trending"])
    assert ups["trending"].calls == 2
    bad = client_admin.post("/system/cache/clear", {"prefix": "//"}, follow=True)
    assert "is not a cache prefix; nothing was cleared." in bad.content.decode()


@pytest.mark.django_db
def test_manage_py_cache(default_cache: LiveCache, capsys: pytest.CaptureFixture[str]) -> None:
    fill(default_cache)
    call_command("cache", "stats")
    out = capsys.readouterr().out
    assert "prefix\tentries\tsize\thits" in out
    assert any(line.startswith("tmdb/trending\t") for line in out.splitlines())
    call_command("cache", "clear", "tmdb")
    assert "tmdb" in capsys.readouterr().out
    with pytest.raises(CommandError, match="not a key prefix"):
        call_command("cache", "clear", "a//b")
