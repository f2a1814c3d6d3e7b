"""What the Tasks page (and /system/) shows of the scheduler: each task's interval, its last and
current run, its next run, in words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cachalot.api import cachalot_disabled
from django.utils import timezone

from plank import scheduler
from plank.live.keys import to_path
from plank.live.project import task_progress
from plank.models import TaskRun
from plank.system import Check
from plank.words import UNITS, ago, duration_words, split_interval, until

HISTORY = 10  # runs listed under each task


@dataclass
class TaskRow:
    task: scheduler.Task
    every: timedelta
    customised: bool
    next_run_at: datetime | None
    requested: bool
    current: TaskRun | None
    last: TaskRun | None
    history: list[TaskRun]

    @property
    def name(self) -> str:
        return self.task.name

    @property
    def progress_key(self) -> str:
        return to_path(task_progress(self.task.name))

    @property
    def every_words(self) -> str:
        return "every " + duration_words(self.every.total_seconds(), exact=True)

    @property
    def default_words(self) -> str:
        return duration_words(self.task.every.total_seconds(), exact=True)

    @property
    def interval_amount(self) -> int:
        return split_interval(self.every)[0]

    @property
    def interval_unit(self) -> str:
        return split_interval(self.every)[1]

    @property
    def last_words(self) -> str:
        """When the last run was and how long it took: "3 min ago · took 1.2 s"."""
        run = self.last
        if run is None:
            return "never"
        words = ago(run.started_at or run.queued_at)
        if run.duration is not None:
            words += " · took " + duration_words(run.duration)
        return words

    @property
    def next_words(self) -> str:
        """When the next run comes: "after this one", "in 3 h 20 min", "now"."""
        if self.current is not None:
            return "after this one"
        if self.requested:
            return "in a moment (asked for)"
        if self.next_run_at is None:
            return "—"
        return until(self.next_run_at)

    @property
    def fraction(self) -> float | None:
        run = self.current
        if run is None or not run.total:
            return None
        return min(run.done / run.total, 1.0)

    @property
    def progress_summary(self) -> str:
        run = self.current
        if run is None:
            return ""
        return scheduler.progress_data(run.pk, run.done, run.total, run.text)["summary"]


def overview() -> list[TaskRow]:
    """Every registered task, in registration order, read past the ORM cache (runs change in
    other processes all the time)."""
    rows = []
    with cachalot_disabled():
        for task in scheduler.registered():
            timetable = scheduler.timetable(task)
            runs = list(
                TaskRun.objects.filter(task=task.name).order_by("-queued_at", "-id")[:HISTORY]
            )
            current = next((r for r in runs if r.active), None)
            last = next((r for r in runs if not r.active), None)
            rows.append(
                TaskRow(
                    task=task,
                    every=scheduler.interval_of(task, timetable),
                    customised=timetable.every_seconds is not None,
                    next_run_at=timetable.next_run_at,
                    requested=timetable.run_requested_at is not None,
                    current=current,
                    last=last,
                    history=runs,
                )
            )
    return rows


def lease() -> scheduler.LeaseStatus:
    with cachalot_disabled():
        return scheduler.lease_status()


def parse_interval(amount: str, unit: str) -> timedelta:
    """The form's interval; ValueError with a message for a person."""
    sizes = dict(UNITS)
    if unit not in sizes:
        raise ValueError("Choose minutes, hours or days.")
    try:
        n = int(str(amount).strip())
    except ValueError:
        raise ValueError("The interval is a whole number.") from None
    if n <= 0:
        raise ValueError("The interval is a whole number above 0.")
    if n > 400 * 86400:  # keep the multiplication below small
        raise ValueError("An interval is from 1 minute to 365 days.")
    return timedelta(seconds=n * sizes[unit])


def health() -> Check:
    """/system/: is there a scheduler, and did any task fail last time."""
    status = lease()
    rows = overview()
    failed = [r for r in rows if r.last is not None and r.last.state == TaskRun.State.FAILED]
    if not status.alive:
        summary = (
            "not running: scheduled tasks wait until Plank's engine process runs"
            " (`manage.py serve` or `manage.py engine`)"
        )
    else:
        summary = f"running in {status.holder}"
        if failed:
            summary += f"; {len(failed)} task{'s' if len(failed) > 1 else ''} failed last time"
    details = []
    now = timezone.now()
    for r in rows:
        last = "never run" if r.last is None else f"last {r.last_words}: {r.last.outcome}"
        if r.current is not None:
            last = f"running: {r.progress_summary}"
        upcoming = "" if r.next_run_at is None else f" · next {until(r.next_run_at, now)}"
        details.append((r.task.label, f"{r.every_words} · {last}{upcoming}"))
    return Check(name="Scheduler", ok=status.alive and not failed, summary=summary, details=details)
