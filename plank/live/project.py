"""The project app's live keys and declarations (``plank.live`` is the live layer itself, so
the ``plank`` app's ``live`` module is this one)."""

from __future__ import annotations

from plank.live.declarations import announce, quiet
from plank.live.keys import Key
from plank.live.models import Outbox
from plank.models import Preferences

PREFERENCES: Key = ("preferences",)

announce(Preferences, lambda prefs: [PREFERENCES])
quiet(Outbox, "the outbox rows are the announcements themselves")
