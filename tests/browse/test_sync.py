"""``manage.py sync``: library metadata refreshed by age, lists warmed, progress, Ctrl-C."""

from __future__ import annotations

import _thread
import io
import signal
import threading
import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.utils import timezone

from browse import matching
from browse.models import MetadataSync, SyncRun
from media.models import Season, Status, Title
from plank.models import get_preferences
from tests.browse.fake_tmdb import FakeTMDB
from tests.browse.helpers import add
from tests.conftest import MATRIX, SHOW
from tests.factories import make_title


def sync(*args: str) -> str:
    out = io.StringIO()
    call_command("sync", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_sync_matches_the_library_and_warms_the_lists(configured: FakeTMDB) -> None:
    movie = add(MATRIX, "movie")
    show = add(SHOW, "tv")
    make_title(kind="movie", title="Gone", status=Status.REMOVED)
    output = sync()
    movie.refresh_from_db()
    show.refresh_from_db()
    assert movie.tmdb_id == 603 and show.tmdb_id == 1396
    assert Season.objects.filter(show=show).count() == 6
    # a progress bar drawn in place, then a summary
    assert "\r[" in output and "] 2/2 100%" in output
    assert "Synced 2 titles: 2 updated, 0 not" in output
    run = SyncRun.objects.get()
    assert (run.state, run.total, run.done, run.matched, run.failed) == ("finished", 2, 2, 2, 0)
    assert run.finished_at is not None
    assert run.lists_warmed == 8 and run.lists_failed == 0
    for path in ("/trending/all/week", "/trending/movie/week", "/trending/tv/week"):
        assert len(configured.calls_to(path)) == 1
    assert len(configured.calls_to("/movie/popular")) == 1


def test_only_titles_older_than_the_age_unless_all(configured: FakeTMDB) -> None:
    fresh = add(MATRIX, "movie")
    old = add(SHOW, "tv")
    matching.run_match(fresh.pk)
    matching.run_match(old.pk)
    MetadataSync.objects.filter(title=old).update(synced_at=timezone.now() - timedelta(hours=30))
    configured.clear_calls()
    cache.clear()

    sync("--no-warm")
    assert SyncRun.objects.latest("started_at").total == 1
    assert configured.calls_to("/movie/603") == [] and len(configured.calls_to("/tv/1396")) == 1

    sync("--no-warm", "--older-than", "0")
    assert SyncRun.objects.order_by("-id").first().total == 2

    sync("--no-warm", "--older-than", "48")
    assert SyncRun.objects.order_by("-id").first().total == 0

    output = sync("--all", "--no-warm")
    assert SyncRun.objects.order_by("-id").first().total == 2
    assert "Synced 2 titles" in output


def test_titles_never_synced_are_always_due(configured: FakeTMDB) -> None:
    make_title(kind="movie", title="The Matrix", year=1999)
    sync("--no-warm", "--older-than", "1000")
    assert Title.objects.get().tmdb_id == 603


def test_failures_are_counted_and_the_run_goes_on(configured: FakeTMDB) -> None:
    add(MATRIX, "movie")
    add(SHOW, "tv")
    make_title(kind="movie", title="Qwxzy Plorb")
    configured.fail("/search/tv", 500)
    output = sync("--no-warm")
    run = SyncRun.objects.get()
    assert (run.done, run.matched, run.failed) == (3, 1, 1)
    assert "1 updated, 1 not (1 left as they were)" in output


def test_without_a_key_it_says_where_to_set_one(configured: FakeTMDB) -> None:
    prefs = get_preferences()
    prefs.tmdb_api_key = ""
    prefs.save()
    with pytest.raises(CommandError, match="No TMDB API key"):
        sync()
    assert SyncRun.objects.count() == 0


def test_tmdb_down_stops_before_starting(configured: FakeTMDB) -> None:
    configured.fail("/configuration", 503)
    with pytest.raises(CommandError, match="HTTP 503"):
        sync()


def test_bad_options(configured: FakeTMDB) -> None:
    with pytest.raises(CommandError):
        sync("--older-than", "-1")
    with pytest.raises(CommandError):
        sync("--pages", "99")


def test_ctrl_c_leaves_every_title_whole(configured: FakeTMDB) -> None:
    # Python's own Ctrl-C (KeyboardInterrupt), whatever an earlier test in this process left
    # (a job worker installs its own SIGINT handler).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _ctrl_c_leaves_every_title_whole(configured)
    finally:
        signal.signal(signal.SIGINT, previous)


def _ctrl_c_leaves_every_title_whole(configured: FakeTMDB) -> None:
    movie = add(MATRIX, "movie")  # synced first (lower pk)
    show = add(SHOW, "tv")
    configured.slow("/tv/1396/season/3", 1.0)

    def press_ctrl_c() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if configured.calls_to("/tv/1396/season/3"):
                _thread.interrupt_main()
                return
            time.sleep(0.01)

    presser = threading.Thread(target=press_ctrl_c, daemon=True)
    presser.start()
    with pytest.raises(CommandError) as caught:
        sync("--no-warm")
    presser.join(5)
    assert caught.value.returncode == 130
    assert "Interrupted after 1 of 2 titles" in str(caught.value)
    movie.refresh_from_db()
    show.refresh_from_db()
    assert movie.tmdb_id == 603  # done before Ctrl-C: kept
    assert show.tmdb_id is None and not Season.objects.filter(show=show).exists()  # untouched
    run = SyncRun.objects.get()
    assert (run.state, run.done, run.total) == ("interrupted", 1, 2)
    assert run.finished_at is not None

    # the next run picks up what is left
    configured.reset()
    sync("--no-warm")
    show.refresh_from_db()
    assert show.tmdb_id == 1396
    assert SyncRun.objects.order_by("-id").first().total == 1


def test_progress_is_on_the_system_page(configured: FakeTMDB, client_owner) -> None:
    add(MATRIX, "movie")
    sync("--no-warm")
    check = matching.sync_health()
    assert check.ok is True
    assert "last sync finished: 1 titles, 0 failed" == check.summary
    html = client_owner.get("/system/").content.decode()
    assert "Library metadata" in html and "last sync finished" in html
    assert "TMDB" in html and "connected" in html
    SyncRun.objects.update(state="running", done=3, total=10, current="The Matrix")
    running = matching.sync_health()
    assert running.summary == "sync running: 3 of 10 (30%)"
    assert ("now", "The Matrix") in running.details
