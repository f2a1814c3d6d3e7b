"""Change events (interface only; the live layer fills this in).

``emit(*prefixes)`` names the key prefixes a change made stale, in the caller's transaction.
``push(key, data)`` sends a small, frequent value (download progress) to pages as a ``set`` frame.
"""

from __future__ import annotations

from typing import Any

from plank.live.keys import Key


def emit(*prefixes: Key, user_id: int | None = None) -> None:
    """Announce that everything under ``prefixes`` went stale (written with the transaction)."""


def push(key: Key, data: dict[str, Any], *, user_id: int | None = None) -> None:
    """Send ``data`` for ``key`` to every open page (throttled by the caller; not stored)."""
