"""Change events, the live layer's public API: ``emit`` what went stale, ``push`` small values.

``emit`` writes one outbox row per transaction (and per addressee) with the caller's change, and
after the commit drops this process's cached data under the row's keys and wakes its relays;
``push`` sends a value that is not stored. How the pieces fit: docs/live-layer.md.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from plank.live import cache, hub, outbox
from plank.live.keys import Key, check_key, to_json
from plank.live.outbox import JsonKey

log = logging.getLogger(__name__)

# --- emit ------------------------------------------------------------------------------------


def emit(*prefixes: Key, user_id: int | None = None, using: str = DEFAULT_DB_ALIAS) -> int | None:
    """Announce that everything under ``prefixes`` went stale, with the caller's transaction.

    Inside ``transaction.atomic`` the announcement commits (and is sent) with the change or not
    at all, and every ``emit`` of the transaction for the same ``user_id`` adds its prefixes to
    one row (each prefix once, in order). Outside one (autocommit) each call writes its row and
    sends it at once. Returns the row's ``seq`` (None when no prefix was given). Raises
    :class:`ValueError` for a malformed key.
    """
    keys = _normalise(prefixes)
    if not keys:
        return None
    if user_id is not None:
        user_id = int(user_id)
    connection = connections[using]
    if connection.in_atomic_block:
        seq = _add_to_pending(connection, keys, user_id, using)
        if seq is not None:
            return seq
    row = outbox.insert(keys, user_id, using=using)
    announcement = _Announcement(row.seq, outbox.event_id(row.seq, row.created_at), user_id, keys)
    # Under autocommit the row has committed already, and on_commit runs the callable at once.
    transaction.on_commit(_Pending(announcement, keys), using=using)
    return row.seq


def _normalise(prefixes: Iterable[Key]) -> list[JsonKey]:
    keys: list[JsonKey] = []
    for prefix in prefixes:
        key = to_json(check_key(prefix))
        if key not in keys:
            keys.append(key)
    return keys


class _Announcement:
    """The one row a transaction wrote for one addressee (``user_id``; None: everyone)."""

    def __init__(self, seq: int, event: str, user_id: int | None, keys: list[JsonKey]) -> None:
        self.seq = seq
        self.event = event
        self.user_id = user_id
        # Every key any savepoint level gave the row: the keys of the committed row, and those
        # of savepoints that rolled back (after the commit we cannot tell which levels did; for
        # those few keys this process's cache is dropped in vain, the sockets never see them).
        self.every_key = list(keys)
        self.done = False


class _Pending:
    """The ``on_commit`` callable of an announcement, holding the row's keys at its level.

    Registered when the row is inserted, and again (with the merged keys) by an ``emit`` inside
    a savepoint that started after it, so that Django drops it with that savepoint if it rolls
    back, together with the UPDATE it made. At the commit the first surviving one does the work.
    """

    def __init__(self, announcement: _Announcement, keys: list[JsonKey]) -> None:
        self.announcement = announcement
        self.keys = keys

    def __call__(self) -> None:
        announcement = self.announcement
        if announcement.done:
            return
        announcement.done = True
        _committed(announcement.seq, announcement.every_key, announcement.event)


def _add_to_pending(
    connection: BaseDatabaseWrapper, keys: list[JsonKey], user_id: int | None, using: str
) -> int | None:
    """Add ``keys`` to the row this transaction already wrote for ``user_id``; its seq.

    None when there is no such row (then the caller inserts one). ``connection.run_on_commit``
    is a plain attribute of Django's connection, not documented API: the list of ``(savepoint
    ids, callable, robust)`` waiting for the commit. Django itself drops the entries of a
    savepoint or transaction that rolls back, so a ``_Pending`` found there belongs to a row
    that is still part of this transaction.
    """
    found = None
    for sids, func, _robust in reversed(connection.run_on_commit):
        if isinstance(func, _Pending) and func.announcement.user_id == user_id:
            found = sids, func
            break
    if found is None:
        return None
    sids, pending = found
    announcement = pending.announcement
    new = [key for key in keys if key not in pending.keys]
    if not new:
        return announcement.seq
    merged = pending.keys + new
    if not outbox.set_keys(announcement.seq, merged, using=using):
        return None  # the row went (deleted by hand in this transaction): write a new one
    announcement.every_key += [key for key in new if key not in announcement.every_key]
    active = {sid for sid in connection.savepoint_ids if sid is not None}
    if active <= sids:
        # No savepoint started since ``pending`` was registered: whatever rolls this UPDATE
        # back drops ``pending`` too.
        pending.keys = merged
    else:
        transaction.on_commit(_Pending(announcement, merged), using=using)
    return announcement.seq


def _committed(seq: int, keys: list[JsonKey], event: str) -> None:
    """After the commit, in the emitting thread: own caches first, then wake the relays."""
    _mark_emitted_here(seq)
    invalidate_key_cache(keys, event)
    hub.wake_all()


def invalidate_key_cache(keys: Iterable[JsonKey], event: str) -> None:
    """Make every per-key cache entry under ``keys`` stale (this process's, or the shared one).

    ``event`` (see :func:`plank.live.outbox.event_id`): a shared cache bumps its counters once
    however many processes relay the row, while the cache's ``on_invalidate`` hooks run in each.
    """
    for key in keys:
        try:
            cache.invalidate(tuple(key), event_id=event)
        except Exception:  # a cache outage must not lose the announcement
            log.exception("could not invalidate the per-key cache under %s", key)


# Rows this process emitted and committed, so its relay need not drop its caches for them again.
# Bounded: only the most recent ones matter (the relay sees a row within a second of its commit).
_EMITTED_HERE_MAX = 10_000
_emitted_here: OrderedDict[int, None] = OrderedDict()
_emitted_here_lock = threading.Lock()


def _mark_emitted_here(seq: int) -> None:
    with _emitted_here_lock:
        _emitted_here[seq] = None
        while len(_emitted_here) > _EMITTED_HERE_MAX:
            _emitted_here.popitem(last=False)


def emitted_here(seq: int) -> bool:
    """True when this process emitted ``seq`` and already dropped its own caches for it."""
    with _emitted_here_lock:
        return _emitted_here.pop(seq, False) is None


# --- push ------------------------------------------------------------------------------------


def push(key: Key, data: dict[str, Any], *, user_id: int | None = None) -> None:
    """Send ``data`` for ``key`` to the open pages that show it, or to ``user_id``'s.

    Not stored; the caller throttles it. Each relay keeps the newest value per key and sends
    every socket that watches it one ``set`` frame per tick with all its values. Callable from
    any thread and from async code; it reaches the sockets of every process of this Plank
    (through Redis when there is one, else over the local wake-up sockets).
    """
    frame = {"key": to_json(check_key(key)), "data": data}
    hub.push(frame, None if user_id is None else int(user_id))


def close_user_sockets(sender: Any = None, user: Any = None, **kwargs: Any) -> None:
    """On logout, end that user's open sockets (their pages show "offline" and stop retrying)."""
    if user is None or user.pk is None:
        return
    hub.logout(int(user.pk))
