"""The scheduler: one lease holder, due runs queued and executed by its workers, progress,
cancel, intervals, Run now, and runs that lost their process run again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from plank import scheduler
from plank.live.models import Outbox
from plank.models import ScheduledTask, SchedulerLease, TaskRun
from plank.scheduler import Run, Scheduler, SchedulerPart, execute
from tests.conftest import database_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_reads")]

State = TaskRun.State
CALLS: list[str] = []


@pytest.fixture
def only(settings) -> Iterator[Callable[..., None]]:
    """Register test tasks in place of the project's (put back afterwards)."""
    saved = dict(scheduler._tasks)
    scheduler._tasks.clear()
    settings.PLANK_SCHEDULER_TICK_SECONDS = 0.05
    CALLS.clear()

    def add(name: str, fn: Callable[[Run], str | None], every: float = 3600) -> None:
        scheduler.register(name, fn, every=timedelta(seconds=every), label=name.title())

    yield add
    scheduler._tasks.clear()
    scheduler._tasks.update(saved)


def wait_for(predicate: Callable[[], object], timeout: float = 20.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def hello(run: Run) -> str:
    CALLS.append("hello")
    run.progress(1, 1, "said hello")
    return "Said hello."


def test_exactly_one_holder_of_the_lease(only) -> None:
    a, b = Scheduler("a"), Scheduler("b")
    assert a.tick() is True
    assert b.tick() is False, "the lease is held"
    assert a.tick() is True, "renewing"
    SchedulerLease.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert b.tick() is True, "a lapsed lease goes to the next"
    assert a.tick() is False
    assert SchedulerLease.objects.get().holder == "b"


def test_the_lease_under_contention_goes_to_one(only) -> None:
    """Eight threads (each its own connection) grab at once: exactly one wins each round."""
    for _round in range(3):
        SchedulerLease.objects.all().delete()
        barrier = threading.Barrier(8)
        wins: list[str] = []

        def grab(name: str, barrier: threading.Barrier = barrier, wins: list[str] = wins) -> None:
            barrier.wait()
            try:
                if scheduler.take_lease(name, 15):
                    wins.append(name)
            finally:
                from django.db import connection  # each thread closes its own connection

                connection.close()

        threads = [threading.Thread(target=grab, args=(f"p{n}",)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(wins) == 1, wins


def test_a_due_task_is_queued_once_and_run_by_the_part(only) -> None:
    only("hello", hello)
    ScheduledTask.objects.create(name="hello", next_run_at=timezone.now())
    part = SchedulerPart(holder="test")
    part.start()
    try:
        run = wait_for(lambda: TaskRun.objects.filter(task="hello", state=State.DONE).first())
    finally:
        part.stop()
    assert run.outcome == "Said hello."
    assert run.duration is not None and run.duration >= 0
    assert run.started_at and run.finished_at and run.trigger == "schedule"
    assert (run.done, run.total) == (1, 1)
    assert CALLS == ["hello"]
    row = ScheduledTask.objects.get(name="hello")
    assert row.next_run_at > timezone.now() + timedelta(minutes=59), "one interval later"
    assert TaskRun.objects.count() == 1
    assert not SchedulerLease.objects.get().expires_at > timezone.now(), "released at stop"


def test_a_new_task_first_runs_one_interval_after_it_is_seen(only) -> None:
    only("hello", hello)
    Scheduler("a").tick()
    row = ScheduledTask.objects.get(name="hello")
    assert row.next_run_at > timezone.now() + timedelta(minutes=59)
    assert not TaskRun.objects.exists()


def test_run_now_and_the_interval(only) -> None:
    only("hello", hello)
    boss = Scheduler("a")
    boss.tick()
    assert "starts in a moment" in scheduler.request_run("hello")
    boss.tick()
    run = TaskRun.objects.get(task="hello")
    assert (run.state, run.trigger) == (State.QUEUED, "run now")
    assert "already running" in scheduler.request_run("hello")
    boss.tick()
    assert TaskRun.objects.count() == 1, "a waiting run is not queued twice"
    assert execute(run.pk) == "Said hello."

    scheduler.set_interval("hello", timedelta(minutes=5))
    row = ScheduledTask.objects.get(name="hello")
    assert row.every_seconds == 300
    assert (
        timezone.now() + timedelta(minutes=4)
        < row.next_run_at
        < timezone.now() + timedelta(minutes=6)
    )
    with pytest.raises(ValueError, match="1 minute to 365 days"):
        scheduler.set_interval("hello", timedelta(seconds=5))
    scheduler.set_interval("hello", None)
    assert ScheduledTask.objects.get(name="hello").every_seconds is None
    with pytest.raises(LookupError):
        scheduler.request_run("nope")


def slow(run: Run) -> str:
    n = 0
    while not run.cancelled:
        n += 1
        run.progress(n, None, f"step {n}")
        time.sleep(0.02)
    return f"Stopped after {n} steps."


def test_cancel_stops_a_running_task_within_a_second(only) -> None:
    only("slow", slow)
    ScheduledTask.objects.create(name="slow", next_run_at=timezone.now())
    part = SchedulerPart(holder="test")
    part.start()
    try:
        run = wait_for(lambda: TaskRun.objects.filter(task="slow", state=State.RUNNING).first())
        wait_for(lambda: TaskRun.objects.get(pk=run.pk).done > 0)  # progress reaches the row
        asked = time.monotonic()
        assert scheduler.cancel(run.pk) == "Stopping…"
        wait_for(lambda: TaskRun.objects.get(pk=run.pk).state == State.CANCELLED, timeout=5)
        assert time.monotonic() - asked < 1.5
    finally:
        part.stop()
    run.refresh_from_db()
    assert run.outcome.startswith("Stopped after ")
    assert ScheduledTask.objects.get(name="slow").run_requested_at is None, "not run again"


def test_cancel_of_a_waiting_run(only) -> None:
    only("hello", hello)
    ScheduledTask.objects.create(name="hello", next_run_at=timezone.now())
    Scheduler("a").tick()
    run = TaskRun.objects.get()
    assert scheduler.cancel(run.pk) == "Cancelled before it started."
    assert execute(run.pk).startswith("Not run")
    assert CALLS == []


def test_a_failing_task_is_a_failed_run_in_words(only) -> None:
    def broken(run: Run) -> str:
        raise RuntimeError("the disk is full")

    only("broken", broken)
    run = TaskRun.objects.create(task="broken")
    assert execute(run.pk) == "Failed: the disk is full"
    run.refresh_from_db()
    assert run.state == State.FAILED
    assert "RuntimeError: the disk is full" in run.error


def test_stopping_the_part_interrupts_a_run_which_runs_again(only) -> None:
    only("slow", slow)
    ScheduledTask.objects.create(name="slow", next_run_at=timezone.now())
    part = SchedulerPart(holder="test")
    part.start()
    run = wait_for(lambda: TaskRun.objects.filter(task="slow", state=State.RUNNING).first())
    part.stop()
    run.refresh_from_db()
    assert run.state == State.INTERRUPTED
    assert ScheduledTask.objects.get(name="slow").run_requested_at is not None


def test_a_run_whose_process_died_is_interrupted_and_run_again(only) -> None:
    only("hello", hello)
    long_ago = timezone.now() - timedelta(minutes=5)
    run = TaskRun.objects.create(
        task="hello", state=State.RUNNING, started_at=long_ago, heartbeat_at=long_ago
    )
    ScheduledTask.objects.create(name="hello", next_run_at=timezone.now() + timedelta(days=1))
    boss = Scheduler("a")
    boss.tick()
    run.refresh_from_db()
    assert run.state == State.INTERRUPTED
    assert "process ended" in run.outcome
    rerun = TaskRun.objects.exclude(pk=run.pk).get()
    assert (rerun.state, rerun.trigger) == (State.QUEUED, "run now")


def test_changes_are_announced(only, empty_outbox) -> None:
    only("hello", hello)
    ScheduledTask.objects.create(name="hello", next_run_at=timezone.now())
    Outbox.objects.all().delete()
    Scheduler("a").tick()
    assert [["tasks"]] in [row.keys for row in Outbox.objects.all()]


def test_history_is_trimmed(only, settings) -> None:
    settings.PLANK_SCHEDULER_KEEP_RUNS = 3
    only("hello", hello)
    for _ in range(5):
        execute(TaskRun.objects.create(task="hello").pk)
    assert TaskRun.objects.filter(task="hello").count() == 3


def test_the_project_registers_its_tasks() -> None:
    names = {t.name for t in scheduler.registered()}
    assert {"outbox-prune", "database-upkeep"} <= names
    assert {r.name: r.roles for r in __import__("plank.parts").parts.registered()}[
        "scheduler"
    ] == frozenset({"engine"})


def test_outbox_prune_and_database_upkeep_run(settings) -> None:
    settings.PLANK_LIVE_RETAIN_ROWS = 2
    for i in range(5):
        Outbox.objects.create(keys=[["x", i]])
    run = TaskRun.objects.create(task="outbox-prune")  # announced too: more rows
    before = Outbox.objects.count()
    assert execute(run.pk) == f"Removed {before + 1 - 2} old announcements."  # +1: the start's
    run = TaskRun.objects.create(task="database-upkeep")
    outcome = execute(run.pk)
    assert TaskRun.objects.get(pk=run.pk).state == State.DONE, outcome
    if django_settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        assert "PRAGMA optimize" in outcome
    else:
        assert "ANALYZE" in outcome


SERVE = """
import os, sys, time, django
os.environ["DJANGO_SETTINGS_MODULE"] = "plank.settings"
django.setup()
from django.conf import settings
settings.PLANK_SCHEDULER_TICK_SECONDS = 0.1
from plank.scheduler import SchedulerPart
part = SchedulerPart(holder=sys.argv[1])
part.start()
print("started", flush=True)
time.sleep(600)
"""


def test_two_processes_one_scheduler(only, tmp_path: Path) -> None:
    """Two engine processes on one database: one holds the lease; kill it and the other takes
    over within the lease time."""
    env = {**os.environ, "PLANK_DATABASE_URL": database_url()}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SERVE, name],
            env=env,
            stdout=subprocess.PIPE,
            cwd=django_settings.BASE_DIR,
        )
        for name in ("one", "two")
    ]
    try:
        holder = wait_for(
            lambda: (
                SchedulerLease.objects.filter(expires_at__gt=timezone.now())
                .values_list("holder", flat=True)
                .first()
            )
        )
        leader = procs[0] if holder == "one" else procs[1]
        leader.send_signal(signal.SIGKILL)
        other = "two" if holder == "one" else "one"
        wait_for(
            lambda: SchedulerLease.objects.filter(
                holder=other, expires_at__gt=timezone.now()
            ).exists(),
            timeout=django_settings.PLANK_SCHEDULER_LEASE_SECONDS + 10,
        )
    finally:
        for p in procs:
            p.kill()
            p.wait()
