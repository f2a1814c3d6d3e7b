"""The scheduler: Plank's recurring background work, exactly one for the whole deployment.

Apps register their tasks from ``AppConfig.ready``::

    scheduler.register("metadata-sync", sync_library, every=timedelta(hours=24),
                       label="Library metadata sync")

``fn(run)`` does the work. ``run.progress(done, total, text)`` says how far it is (``total`` None
when the amount of work is not known yet: the page then shows a count, never a made-up
percentage); ``run.cancelled`` turns True within a second of someone pressing Cancel, or when the
process is stopping: the task then stops where it is, leaving everything consistent. ``fn``
returns its outcome in a few words ("Synced 12 titles; 2 could not be matched"); an exception
is a failed run with its message.

How it runs (the whole story: docs/scheduler.md). Every engine process has the ``scheduler``
part. Every ``PLANK_SCHEDULER_TICK_SECONDS`` each one tries to take or renew the lease (one
:class:`~plank.models.SchedulerLease` row); the one that holds it is the scheduler, and it queues
a run of each task that is due or that someone asked to run now: a :class:`~plank.models.TaskRun`
row and a django-tasks job on the ``scheduled`` queue, in one transaction. The part's own job
workers (the database worker of ``plank.jobs``, on that queue only) execute the runs, so a long
scan never holds up the general jobs. Intervals are edited on the Tasks page and kept in
:class:`~plank.models.ScheduledTask` rows; the registered value is the default. A run whose
process died is found by its stale heartbeat, marked interrupted, and run again.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, close_old_connections, connections, transaction
from django.utils import timezone
from django_tasks import task

from plank import slow
from plank.jobs import SCHEDULED_QUEUE, JobWorker
from plank.live.events import emit, push
from plank.live.project import TASKS, task_progress
from plank.models import ScheduledTask, SchedulerLease, TaskRun

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
MIN_INTERVAL = timedelta(minutes=1)
MAX_INTERVAL = timedelta(days=365)
PUSH_SECONDS = 0.5  # progress frames at most this often
WRITE_SECONDS = 2.0  # progress written to the run's row at most this often
CANCEL_CHECK_SECONDS = 0.25  # how often ``run.cancelled`` asks the database
HEARTBEAT_SECONDS = 5.0  # how often a process says its runs are alive
EMIT_SECONDS = 5.0  # without Redis, how often a running task names the Tasks page stale
ORPHAN_SECONDS = 30.0  # a running run without a heartbeat this long lost its process

State = TaskRun.State


@dataclass(frozen=True)
class Task:
    name: str
    fn: Callable[[Run], str | None]
    every: timedelta
    label: str


_tasks: dict[str, Task] = {}


def register(
    name: str, fn: Callable[[Run], str | None], *, every: timedelta, label: str = ""
) -> None:
    """Add a recurring task (from an ``AppConfig.ready``); registering a name again replaces it."""
    if not name or len(name) > 64 or "/" in name:
        raise ValueError(f"a task name is 1 to 64 characters without '/': {name!r}")
    if not MIN_INTERVAL <= every <= MAX_INTERVAL:
        raise ValueError(f"{name}: the interval must be from {MIN_INTERVAL} to {MAX_INTERVAL}")
    _tasks[name] = Task(name, fn, every, label or name)


def unregister(name: str) -> None:
    """Forget a task (tests that register their own)."""
    _tasks.pop(name, None)


def registered() -> list[Task]:
    return list(_tasks.values())


def get(name: str) -> Task | None:
    return _tasks.get(name)


def process_id() -> str:
    """This process, as the lease and the runs name it."""
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


# --- intervals, Run now, Cancel ------------------------------------------------------------


def timetable(task: Task) -> ScheduledTask:
    """The task's row, made on first sight: its first run comes one interval after that."""
    row = ScheduledTask.objects.filter(name=task.name).first()
    if row is None:
        try:
            with transaction.atomic():
                row = ScheduledTask.objects.create(
                    name=task.name, next_run_at=timezone.now() + task.every
                )
        except IntegrityError:  # another process made it meanwhile
            row = ScheduledTask.objects.get(name=task.name)
    return row


def interval_of(task: Task, row: ScheduledTask | None = None) -> timedelta:
    row = row if row is not None else timetable(task)
    return timedelta(seconds=row.every_seconds) if row.every_seconds else task.every


def set_interval(name: str, every: timedelta | None) -> ScheduledTask:
    """Change how often ``name`` runs (None: back to its default). The next run moves with it:
    one new interval after the last run started (now, when that is already past)."""
    task = _known(name)
    if every is not None and not MIN_INTERVAL <= every <= MAX_INTERVAL:
        raise ValueError("An interval is from 1 minute to 365 days.")
    row = timetable(task)
    row.every_seconds = None if every is None or every == task.every else int(every.total_seconds())
    last = TaskRun.objects.filter(task=name, started_at__isnull=False).order_by("-started_at")
    started = last.values_list("started_at", flat=True).first() or timezone.now()
    row.next_run_at = max(started + interval_of(task, row), timezone.now())
    row.save(update_fields=["every_seconds", "next_run_at", "updated_at"])  # announced: TASKS
    return row


def request_run(name: str) -> str:
    """Ask for a run now (the scheduler queues it within a tick). Returns what happens, in words."""
    task = _known(name)
    if TaskRun.objects.filter(task=name, state__in=TaskRun.ACTIVE).exists():
        return f"{task.label} is already running."
    row = timetable(task)
    row.run_requested_at = timezone.now()
    row.save(update_fields=["run_requested_at", "updated_at"])  # announced: TASKS
    if not lease_status().alive:
        return (
            f"{task.label} will run as soon as Plank's engine process is running"
            " (no scheduler is running now)."
        )
    return f"{task.label} starts in a moment."


def cancel(run_id: int) -> str:
    """Cancel a run: a waiting one at once, a running one within a second. In words."""
    run = TaskRun.objects.filter(pk=run_id).first()
    if run is None or not run.active:
        return "That run is not running any more."
    if run.state == State.QUEUED:
        # A conditional update: the worker may be starting it at this very moment.
        if TaskRun.objects.filter(pk=run_id, state=State.QUEUED).update(
            state=State.CANCELLED,
            finished_at=timezone.now(),
            outcome="Cancelled before it started.",
        ):
            emit(
                TASKS
            )  # a QuerySet.update (so it can be conditional): the declaration can't see it
            return "Cancelled before it started."
    TaskRun.objects.filter(pk=run_id).update(cancel_requested=True)
    emit(TASKS)  # QuerySet.update, see above
    return "Stopping…"


def _known(name: str) -> Task:
    task = _tasks.get(name)
    if task is None:
        raise LookupError(f"There is no task called {name!r}.")
    return task


# --- the lease -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LeaseStatus:
    holder: str
    alive: bool
    acquired_at: datetime | None
    expires_at: datetime | None


def take_lease(holder: str, seconds: float) -> bool:
    """Take or renew the scheduler's lease for ``holder``; True when ``holder`` has it now.

    Two conditional updates and an insert, each atomic on SQLite and PostgreSQL alike, so two
    processes never both hold it (a lapsed lease goes to the first that asks).
    """
    now = timezone.now()
    until = now + timedelta(seconds=seconds)
    leases = SchedulerLease.objects.filter(name=LEASE_NAME)
    if leases.filter(holder=holder).update(expires_at=until):
        return True
    if leases.filter(expires_at__lt=now).update(holder=holder, acquired_at=now, expires_at=until):
        return True
    try:
        with transaction.atomic():
            SchedulerLease.objects.create(
                name=LEASE_NAME, holder=holder, acquired_at=now, expires_at=until
            )
    except IntegrityError:
        return False
    return True


def release_lease(holder: str) -> None:
    """Give the lease up (a clean stop), so the next process need not wait for it to lapse."""
    SchedulerLease.objects.filter(name=LEASE_NAME, holder=holder).update(expires_at=timezone.now())


def lease_status() -> LeaseStatus:
    lease = SchedulerLease.objects.filter(name=LEASE_NAME).first()
    if lease is None:
        return LeaseStatus("", False, None, None)
    return LeaseStatus(
        lease.holder, lease.expires_at > timezone.now(), lease.acquired_at, lease.expires_at
    )


# --- a run ---------------------------------------------------------------------------------

_stopping = threading.Event()  # set while this process's scheduler part stops
_running: dict[int, Run] = {}  # runs executing in this process, for the heartbeat
_running_lock = threading.Lock()


class Run:
    """What a task's ``fn`` gets: report progress, notice a cancel."""

    def __init__(self, row: TaskRun, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.id = row.pk
        self.task = row.task
        self.trigger = row.trigger
        self.done = 0
        self.total: int | None = None
        self.text = ""
        self.cancel_seen = False
        self.interrupted = False  # the cancel came from the process stopping
        self._clock = clock
        self._lock = threading.Lock()
        self._last_push = self._last_write = self._last_check = -math.inf
        self._last_emit = -math.inf
        self._rate_from: tuple[float, int] | None = None

    def progress(self, done: int, total: int | None = None, text: str = "") -> None:
        """How far the run is: ``done`` of ``total`` (None: not known yet), and what it is doing."""
        with self._lock:
            self.done = max(int(done), 0)
            self.total = None if total is None else max(int(total), 0)
            self.text = str(text)[:300]
            now = self._clock()
            if self._rate_from is None and self.done > 0:
                self._rate_from = (now, self.done)
            push_now = now - self._last_push >= PUSH_SECONDS
            write_now = now - self._last_write >= WRITE_SECONDS
            if push_now:
                self._last_push = now
            if write_now:
                self._last_write = now
        if push_now:
            push(task_progress(self.task), self.snapshot())
        if write_now:
            self._write()

    def snapshot(self) -> dict[str, Any]:
        """The progress as the Tasks page shows it (the ``set`` frame's data)."""
        return progress_data(self.id, self.done, self.total, self.text, self.eta())

    def eta(self) -> float | None:
        """Seconds left at the rate so far; None until the total and a rate are known."""
        if self.total is None or self._rate_from is None:
            return None
        since, done0 = self._rate_from
        elapsed = self._clock() - since
        if elapsed < 1.0 or self.done <= done0:
            return None
        rate = (self.done - done0) / elapsed
        return max(self.total - self.done, 0) / rate

    @property
    def cancelled(self) -> bool:
        """True once someone cancelled this run or the process is stopping (then stop soon)."""
        if self.cancel_seen:
            return True
        if _stopping.is_set():
            self.cancel_seen = self.interrupted = True
            return True
        now = self._clock()
        if now - self._last_check >= CANCEL_CHECK_SECONDS:
            self._last_check = now
            flag = TaskRun.objects.filter(pk=self.id).values_list("cancel_requested", flat=True)
            if flag.first() in (True, None):  # asked to stop, or the row went away
                self.cancel_seen = True
        return self.cancel_seen

    def _write(self) -> None:
        # Progress rows change every few seconds: written with update() and shown through the
        # pushed frames, not announced (the page would refetch every two seconds)...
        TaskRun.objects.filter(pk=self.id).update(
            done=self.done, total=self.total, text=self.text, heartbeat_at=timezone.now()
        )
        now = self._clock()
        if not settings.REDIS_URL and now - self._last_emit >= EMIT_SECONDS:
            # ...but without a shared channel layer the pushes reach only this process's
            # sockets: name the Tasks page stale now and then, so every process's pages refetch.
            self._last_emit = now
            emit(TASKS)


def progress_data(
    run_id: int, done: int, total: int | None, text: str, eta: float | None = None
) -> dict[str, Any]:
    fraction = min(done / total, 1.0) if total else None
    if total is None:
        summary = f"{done:,} so far"
    else:
        summary = f"{done:,} of {total:,}" + (f" · {fraction:.0%}" if fraction is not None else "")
    return {
        "run": run_id,
        "done": done,
        "total": total,
        "fraction": round(fraction, 4) if fraction is not None else None,
        "summary": summary,
        "text": text,
        "eta": round(eta) if eta is not None else None,
    }


def execute(run_id: int, *, holder: str | None = None) -> str:
    """Run the queued run ``run_id`` here and record how it went; returns the outcome."""
    now = timezone.now()
    claimed = TaskRun.objects.filter(pk=run_id, state=State.QUEUED).update(
        state=State.RUNNING, started_at=now, heartbeat_at=now, holder=holder or process_id()
    )
    if not claimed:
        return "Not run: it was cancelled before it started, or it ran already."
    emit(TASKS)  # the claim is a conditional QuerySet.update, which the declaration can't see
    row = TaskRun.objects.get(pk=run_id)
    handle = Run(row)
    with _running_lock:
        _running[run_id] = handle
    started = time.monotonic()
    state, outcome, error = State.DONE, "", ""
    try:
        known = _tasks.get(row.task)
        if known is None:
            raise LookupError(f"this version of Plank has no task called {row.task!r}")
        with slow.work(f"scheduled task {row.task}"):
            outcome = str(known.fn(handle) or "").strip()
        if handle.cancel_seen:
            state = State.INTERRUPTED if handle.interrupted else State.CANCELLED
    except Exception as exc:  # a failing task is a failed run, never a dead worker
        log.exception("scheduled task %s (run %s) failed", row.task, run_id)
        state, error = State.FAILED, f"{type(exc).__name__}: {exc}"
        outcome = f"Failed: {exc}" if str(exc) else f"Failed ({type(exc).__name__})."
    finally:
        with _running_lock:
            _running.pop(run_id, None)
    _finish(row, handle, state, outcome or _default_outcome(state), error, started)
    return row.outcome


def _default_outcome(state: str) -> str:
    return {
        State.DONE: "Done.",
        State.CANCELLED: "Cancelled.",
        State.INTERRUPTED: "Stopped when Plank shut down; it runs again after the restart.",
    }.get(state, "Failed.")


def _finish(
    row: TaskRun, handle: Run, state: str, outcome: str, error: str, started: float
) -> None:
    row.state, row.outcome, row.error = state, outcome[:2000], error[:4000]
    row.finished_at = timezone.now()
    row.duration = round(time.monotonic() - started, 3)
    row.done, row.total, row.text = handle.done, handle.total, ""
    with transaction.atomic():
        row.save(
            update_fields=[
                "state",
                "outcome",
                "error",
                "finished_at",
                "duration",
                "done",
                "total",
                "text",
            ]
        )  # announced: TASKS
        if state == State.INTERRUPTED:
            _request_again(row.task)
    push(task_progress(row.task), {**handle.snapshot(), "text": outcome[:300], "finished": True})
    _prune_history(row.task)


def _request_again(name: str) -> None:
    ScheduledTask.objects.filter(name=name).update(run_requested_at=timezone.now())


def _prune_history(name: str) -> None:
    keep = int(settings.PLANK_SCHEDULER_KEEP_RUNS)
    old = TaskRun.objects.filter(task=name).exclude(state__in=TaskRun.ACTIVE).order_by("-queued_at")
    ids = list(old.values_list("pk", flat=True)[keep : keep + 1000])
    if ids:
        TaskRun.objects.filter(pk__in=ids).delete()  # quiet: pages show the newest runs only


@task(queue_name=SCHEDULED_QUEUE)
def run_scheduled(run_id: int) -> str:
    """The django-tasks job of one run (queued by the scheduler, run by its workers)."""
    return execute(run_id)


# --- the scheduler -------------------------------------------------------------------------


class Scheduler:
    """One process's view: take or renew the lease; while holding it, queue what is due."""

    def __init__(self, holder: str | None = None) -> None:
        self.holder = holder or process_id()
        self.leader = False
        self._last_heartbeat = -math.inf
        self._last_orphan_check = -math.inf

    def tick(self) -> bool:
        """One look: returns whether this process is the scheduler now."""
        self._heartbeat()
        self.leader = take_lease(self.holder, float(settings.PLANK_SCHEDULER_LEASE_SECONDS))
        if not self.leader:
            return False
        if time.monotonic() - self._last_orphan_check >= ORPHAN_SECONDS / 3:
            self._last_orphan_check = time.monotonic()
            recover_orphans()
        for known in registered():
            self._queue_if_due(known)
        return True

    def _queue_if_due(self, known: Task) -> TaskRun | None:
        row = timetable(known)
        now = timezone.now()
        requested = row.run_requested_at is not None
        if not requested and (row.next_run_at is not None and row.next_run_at > now):
            return None
        if TaskRun.objects.filter(task=known.name, state__in=TaskRun.ACTIVE).exists():
            return None  # a long run is not piled on; the next one is queued after it
        with transaction.atomic():
            run = TaskRun.objects.create(
                task=known.name, trigger="run now" if requested else "schedule"
            )  # announced: TASKS
            row.run_requested_at = None
            row.next_run_at = now + interval_of(known, row)
            row.save(update_fields=["run_requested_at", "next_run_at", "updated_at"])
            run_scheduled.enqueue(run.pk)
        log.info("queued %s (run %s, %s)", known.name, run.pk, run.trigger)
        return run

    def _heartbeat(self) -> None:
        if time.monotonic() - self._last_heartbeat < HEARTBEAT_SECONDS:
            return
        self._last_heartbeat = time.monotonic()
        with _running_lock:
            ids = list(_running)
        if ids:
            TaskRun.objects.filter(pk__in=ids).update(heartbeat_at=timezone.now())


def recover_orphans() -> int:
    """Runs whose process died (no heartbeat for ``ORPHAN_SECONDS``): interrupted, run again."""
    cutoff = timezone.now() - timedelta(seconds=ORPHAN_SECONDS)
    orphans = list(TaskRun.objects.filter(state=State.RUNNING, heartbeat_at__lt=cutoff))
    for run in orphans:
        with transaction.atomic():
            if not TaskRun.objects.filter(pk=run.pk, state=State.RUNNING).update(
                state=State.INTERRUPTED,
                finished_at=timezone.now(),
                outcome="Plank stopped while this ran (its process ended); it runs again now.",
            ):
                continue
            _request_again(run.task)
            emit(TASKS)  # conditional QuerySet.update: the declaration can't see it
        log.warning("run %s of %s lost its process; running it again", run.pk, run.task)
    return len(orphans)


class SchedulerPart:
    """The ``scheduler`` process part (engine role): the lease loop and the scheduled workers."""

    name = "scheduler"

    def __init__(self, holder: str | None = None) -> None:
        self.scheduler = Scheduler(holder)
        self.workers = [
            JobWorker(
                interval=0.5,
                queues=(SCHEDULED_QUEUE,),
                excluded=(),
                thread_name=f"plank-scheduled-{n}",
            )
            for n in range(max(int(settings.PLANK_SCHEDULER_WORKERS), 1))
        ]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        _stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="plank-scheduler", daemon=True)
        self._thread.start()
        for worker in self.workers:
            worker.start()

    def _loop(self) -> None:
        tick = float(settings.PLANK_SCHEDULER_TICK_SECONDS)
        while not self._stop.is_set():
            try:
                close_old_connections()
                self.scheduler.tick()
            except Exception:  # the database may be away for a moment: try again next tick
                log.warning("the scheduler's tick failed", exc_info=True)
                _close_connections()
            self._stop.wait(tick)
        try:
            release_lease(self.scheduler.holder)
        except Exception:
            log.warning("could not release the scheduler's lease", exc_info=True)
        _close_connections()

    def stop(self) -> None:
        self._stop.set()  # no more runs queued by this process
        if self._thread is not None:
            self._thread.join(timeout=10)
        _stopping.set()  # running tasks see ``run.cancelled`` and stop
        for worker in self.workers:
            worker.worker.running = False
        for worker in self.workers:
            if worker.thread is not None:
                worker.thread.join(timeout=15)
        _stopping.clear()  # runs started here from now on (a command, a test) are not stopping

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


def _close_connections() -> None:
    for conn in connections.all(initialized_only=True):
        conn.close()
