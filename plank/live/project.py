"""The project app's live keys and declarations (``plank.live`` is the live layer itself, so
the ``plank`` app's ``live`` module is this one)."""

from __future__ import annotations

from plank.live.declarations import announce, quiet
from plank.live.keys import Key
from plank.live.models import Outbox
from plank.models import Invite, Preferences, ScheduledTask, SchedulerLease, TaskRun

PREFERENCES: Key = ("preferences",)
TASKS: Key = ("tasks",)  # the Tasks page: every scheduled task, its runs
PEOPLE: Key = ("people",)  # the People settings page (issue 11)


def task_progress(name: str) -> Key:
    """A task's running progress, pushed as ``set`` frames."""
    return (*TASKS, name)


announce(Preferences, lambda prefs: [PREFERENCES])
announce(Invite, lambda invite: [PEOPLE])
quiet(Outbox, "the outbox rows are the announcements themselves")
announce(ScheduledTask, lambda task: [TASKS])
announce(TaskRun, lambda run: [TASKS])
quiet(SchedulerLease, "renewed every second by the scheduler; read when the Tasks page loads")
