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

HISTORY = 10  # runs listed under each task

UNITS = (("minutes", 60), ("hours", 3600), ("days", 86400))


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
        moment = run.started_at or run.queued_at
        ago = max((timezone.now() - moment).total_seconds(), 0)
        words = "just now" if ago < 60 else duration_words(ago) + " ago"
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
        return _when(self.next_run_at, timezone.now())

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


def split_interval(every: timedelta) -> tuple[int, str]:
    """An interval as the form shows it: the largest unit that divides it (90 minutes stays
    minutes)."""
    seconds = int(every.total_seconds())
    for unit, size in reversed(UNITS):
        if seconds % size == 0:
            return seconds // size, unit
    return max(round(seconds / 60), 1), "minutes"


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


def duration_words(seconds: float | None, *, exact: bool = False) -> str:
    """``3.2 s``, ``4 min 10 s``, ``2 h 5 min``; ``exact`` for intervals: ``24 hours``."""
    if seconds is None:
        return "—"
    if exact:
        n, unit = split_interval(timedelta(seconds=seconds))
        return f"{n} {unit[:-1] if n == 1 else unit}"
    if seconds < 10:
        return f"{seconds:.1f} s"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, s = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {s} s" if s else f"{minutes} min"
    hours, m = divmod(minutes, 60)
    return f"{hours} h {m} min" if m else f"{hours} h"


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
    table: list[list[object]] = [["task", "every", "last run", "next run"]]
    now = timezone.now()
    for r in rows:
        last = "never" if r.last is None else f"{r.last.get_state_display()}: {r.last.outcome}"
        if r.current is not None:
            last = f"running: {r.progress_summary}"
        upcoming = "—" if r.next_run_at is None else _when(r.next_run_at, now)
        table.append(
            [r.task.label, duration_words(r.every.total_seconds(), exact=True), last, upcoming]
        )
    return Check(name="Scheduler", ok=status.alive and not failed, summary=summary, table=table)


def _when(moment: datetime, now: datetime) -> str:
    delta = (moment - now).total_seconds()
    if delta <= 0:
        return "now"
    return "in " + duration_words(delta)
