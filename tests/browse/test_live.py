"""browse.live: browse's keys, and what its models' changes announce."""

from __future__ import annotations

import pytest

from browse import live
from browse.models import MetadataSync, SyncRun
from media import live as media_live
from plank.live.declarations import declaration
from plank.live.keys import is_prefix
from plank.live.models import Outbox
from tests.factories import make_title


def rows() -> list[list[list[str | int]]]:
    return [row.keys for row in Outbox.objects.order_by("seq")]


def test_every_tmdb_key_is_under_tmdb() -> None:
    for key in (
        live.CONFIGURATION,
        live.trending("all", 1),
        live.popular("movie", 2),
        live.search("house", 1),
        live.search_kind("tv", "house", None, 1),
        live.details("movie", 603),
        live.season(1396, 1),
        live.genres("tv"),
    ):
        assert is_prefix(live.TMDB, key)
    assert live.search_kind("movie", "dune", None, 1) == ("tmdb", "search", "movie", "dune", 0, 1)


def test_grid_chunks_follow_the_library_lists() -> None:
    assert live.grid_chunk("movie") == media_live.library_list("movie")
    assert live.grid_chunk("tv") == media_live.library_list("tv")
    every = live.grid_chunk("all")
    assert is_prefix(every, media_live.library_list("movie"))
    assert is_prefix(every, media_live.library_list("tv"))
    assert is_prefix(media_live.LIBRARY, every)


@pytest.mark.django_db(transaction=True)
def test_a_metadata_sync_announces_its_titles_page_once() -> None:
    title = make_title(kind="movie", title="Matrix")
    before = len(rows())
    sync = MetadataSync.objects.create(title=title, error="not sure")
    sync.error = "still not sure"
    sync.save()
    sync.delete()
    assert rows()[before:] == [[list(media_live.title(title.pk))]] * 3


@pytest.mark.django_db(transaction=True)
def test_sync_runs_are_quiet_and_say_why() -> None:
    assert declaration(SyncRun) is not None and "/system/" in declaration(SyncRun).why_quiet
    before = len(rows())
    run = SyncRun.objects.create(total=3)
    run.done = 1
    run.save()
    SyncRun.objects.filter(pk=run.pk).update(done=2)
    run.delete()
    assert len(rows()) == before
