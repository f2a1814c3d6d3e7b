"""The races between a delete and the engine, which are expected and handled quietly.

A title (and its download) may be deleted at any moment while the engine still works on its
torrent: a progress tick, the metadata, a completion or an error arrives for a row that is gone,
and a handle of a removed torrent is used once more. None of that is a fault: the delete won, and
its own command removes the torrent. Such an error is logged at DEBUG, never as an ERROR; any
other error is still an error.
"""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist
from django.db import DatabaseError

from torrents.engine_types import EngineError, handle_gone


def deleted_meanwhile(exc: BaseException) -> bool:
    """A save of a row another process (or thread) deleted meanwhile."""
    if isinstance(exc, ObjectDoesNotExist):
        return True
    return isinstance(exc, DatabaseError) and (
        "did not affect any rows" in str(exc) or "no longer exists" in str(exc)
    )


def expected(exc: BaseException) -> bool:
    """Whether ``exc`` is one of the races above."""
    if deleted_meanwhile(exc) or handle_gone(exc):
        return True
    return isinstance(exc, EngineError) and "has no torrent" in str(exc)
