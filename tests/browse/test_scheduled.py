"""The metadata sync as a scheduled task: the same work as ``manage.py sync``, with its
outcome in words on the Tasks page, progress, and a cancel between two titles."""

from __future__ import annotations

from browse.models import SyncRun
from plank import scheduler
from plank.models import TaskRun
from tests.browse.fake_tmdb import FakeTMDB
from tests.browse.helpers import add
from tests.conftest import MATRIX, SHOW


def test_the_sync_is_a_scheduled_task() -> None:
    task = scheduler.get("metadata-sync")
    assert task is not None and task.label == "Library metadata sync"
    assert task.every.total_seconds() == 86400


def test_a_run_syncs_the_library(configured: FakeTMDB) -> None:
    movie = add(MATRIX, "movie")
    add(SHOW, "tv")
    run = TaskRun.objects.create(task="metadata-sync")
    outcome = scheduler.execute(run.pk)
    assert outcome == "Synced 2 of 2 titles: 2 updated.", outcome
    movie.refresh_from_db()
    assert movie.tmdb_id == 603
    record = SyncRun.objects.get()
    assert (record.state, record.done, record.matched) == ("finished", 2, 2)
    run.refresh_from_db()
    assert (run.state, run.done, run.total) == ("done", 2, 2)


def test_a_cancelled_run_stops_between_titles(configured: FakeTMDB) -> None:
    add(MATRIX, "movie")
    add(SHOW, "tv")
    run = TaskRun.objects.create(task="metadata-sync", cancel_requested=True)
    outcome = scheduler.execute(run.pk)
    assert outcome.endswith("stopped (the next run goes on from there).")
    assert TaskRun.objects.get(pk=run.pk).state == "cancelled"
    assert SyncRun.objects.get().state == "interrupted"


def test_without_a_key_it_says_so(db) -> None:
    run = TaskRun.objects.create(task="metadata-sync")
    assert scheduler.execute(run.pk) == "Skipped: no TMDB key is set (Settings → TMDB)."
