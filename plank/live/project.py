"""The project app's live keys and declarations (``plank.live`` is the live layer itself, so
the ``plank`` app's ``live`` module is this one)."""

from __future__ import annotations

from plank.live.declarations import announce, quiet
from plank.live.keys import Key
from plank.live.models import Outbox
from plank.models import (
    Invite,
    Notification,
    Preferences,
    ScheduledTask,
    SchedulerLease,
    TaskRun,
)

PREFERENCES: Key = ("preferences",)
TASKS: Key = ("tasks",)  # the Tasks page: every scheduled task, its runs
PEOPLE: Key = ("people",)  # the People settings page (issue 11)
# A person's notifications (issue 12): their menu's count and list (invalidated for them only),
# and the toasts pushed to their pages as ``set`` frames (plank/notifications.py).
NOTIFY: Key = ("notify",)


def task_progress(name: str) -> Key:
    """A task's running progress, pushed as ``set`` frames."""
    return (*TASKS, name)


announce(Preferences, lambda prefs: [PREFERENCES])
announce(Invite, lambda invite: [PEOPLE])
announce(Notification, lambda n: [NOTIFY], user=lambda n: n.user_id)
quiet(Outbox, "the outbox rows are the announcements themselves")
announce(ScheduledTask, lambda task: [TASKS])
announce(TaskRun, lambda run: [TASKS])
quiet(SchedulerLease, "renewed every second by the scheduler; read when the Tasks page loads")
