"""Fault injection for the crash tests: ``crash_point(name)`` kills this process with SIGKILL when
``PLANK_CRASH_AT`` names that point, and does nothing otherwise (it is never set outside tests).

The points are named ``<step>.<where>``, at the moments a crash could hurt: after a title's add
commits (``add.committed``), when metadata arrives (``metadata.received``), when the files are
chosen (``vetting.chosen``), when a download finishes and when that commits
(``completion.finished``, ``completion.committed``), while a file is written into the library
(``import.writing``), and during a delete (``delete.marked``, ``delete.files``,
``delete.engine``). tests/torrents/test_crash.py kills a real ``serve`` at each one and shows
that a restart reaches the same end state as a run that was never interrupted.
"""

from __future__ import annotations

import logging
import os
import signal

from django.conf import settings

log = logging.getLogger(__name__)


def crash_point(name: str) -> None:
    if name in settings.PLANK_CRASH_AT:
        log.warning("crash point %s: killing this process (PLANK_CRASH_AT)", name)
        os.kill(os.getpid(), signal.SIGKILL)
