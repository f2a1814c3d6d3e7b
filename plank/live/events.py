"""Change events: announce what went stale (``emit``) and push small values (``push``).

``emit(*prefixes)`` names the key prefixes a change made stale. It writes one outbox row in the
caller's transaction, so a change that rolls back is never announced and a committed one always
is. After the commit it drops this process's per-key cache entries under those prefixes and wakes
this process's relay, which sends ``{"type": "invalidate", "seq", "keys"}`` to the sockets; the
relays of other processes find the row by LISTEN/NOTIFY (PostgreSQL) or a short poll (SQLite).

``push(key, data)`` sends ``{"type": "set", "key", "data"}`` to every open page (or one user's),
through the channel layer: with Redis it reaches the sockets of every process, with the in-memory
layer those of this process. It is not stored and not replayed; the caller throttles it.

Order: on SQLite writes are serialised, so ``seq`` order is commit order. On PostgreSQL a
sequence hands out numbers at insert time, not commit time, so two transactions could commit out
of order and a reader that saw ``seq`` 11 could miss a 10 that committed later. ``emit`` takes a
transaction-level advisory lock before it inserts, so emitting transactions commit in ``seq``
order and "every row after N" is always complete. The price: from its ``emit`` to its commit a
transaction holds that lock, and other emitters wait. Emit at the end of a change (after its
writes), as the signal helper in ``plank.live.signals`` naturally does.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Max
from django.utils import timezone

from plank.live.keys import Key, check_key, to_json

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "plank_live"
# pg_advisory_xact_lock key that orders emits (any fixed 64-bit number; "plnklive" in ASCII).
PG_LOCK_KEY = 0x706C6E6B6C697665

BROADCAST_GROUP = "live"


def user_group(user_id: int) -> str:
    """The channel-layer group of one user's sockets."""
    return f"live.user.{int(user_id)}"


# --- emit ------------------------------------------------------------------------------------


def emit(*prefixes: Key, user_id: int | None = None, using: str = DEFAULT_DB_ALIAS) -> int | None:
    """Announce that everything under ``prefixes`` went stale, with the caller's transaction.

    Inside ``transaction.atomic`` the announcement commits (and is sent) with the change or not
    at all; outside one (autocommit) it is written and sent at once. Returns the row's ``seq``
    (None when no prefix was given). Raises :class:`ValueError` for a malformed key.
    """
    keys = _normalise(prefixes)
    if not keys:
        return None
    if user_id is not None:
        user_id = int(user_id)
    connection = connections[using]
    from plank.live.models import Outbox

    # savepoint=False: inside the caller's transaction this adds nothing; outside one it makes
    # lock + insert + notify one transaction of their own.
    with transaction.atomic(using=using, savepoint=False):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [PG_LOCK_KEY])
        row = Outbox.objects.using(using).create(keys=keys, user_id=user_id)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # Delivered at commit, dropped on rollback; the payload is only a hint.
                cursor.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, str(row.seq)])
        transaction.on_commit(
            partial(_committed, row.seq, keys, event_id(row.seq, row.created_at)), using=using
        )
    return row.seq


def _normalise(prefixes: Iterable[Key]) -> list[list[str | int]]:
    keys: list[list[str | int]] = []
    for prefix in prefixes:
        key = to_json(check_key(prefix))
        if key not in keys:
            keys.append(key)
    return keys


def _committed(seq: int, keys: list[list[str | int]], event: str) -> None:
    """After the commit, in the emitting thread: own caches first, then wake the relay."""
    _mark_emitted_here(seq)
    invalidate_key_cache(keys, event)
    from plank.live import relay

    relay.wake_all()


def event_id(seq: int, created_at: datetime) -> str:
    """An outbox row's identity for the per-key cache: its seq *and* its creation time.

    The seq alone is not enough: a restored or recreated database hands out the same numbers
    again, and a shared cache that remembered them would skip those invalidations.
    """
    return f"{seq}@{int(created_at.timestamp() * 1_000_000)}"


def invalidate_key_cache(keys: Iterable[list[str | int]], event: str) -> None:
    """Make every per-key cache entry under ``keys`` stale (this process's, or the shared one).

    ``event`` (see :func:`event_id`): a shared cache bumps its counters once however many
    processes relay the row, while the cache's ``on_invalidate`` hooks run in each of them.
    """
    try:
        from plank.live import cache
    except ImportError:  # the per-key cache is optional for the events
        return
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
    """Send ``data`` for ``key`` to every open page, or to ``user_id``'s (not stored; throttle it).

    Callable from any thread and from async code. With a shared channel layer (Redis) it reaches
    the sockets of every process; with the in-memory layer, those of this process only.
    """
    frame = {"type": "set", "key": to_json(check_key(key)), "data": data}
    group = BROADCAST_GROUP if user_id is None else user_group(user_id)
    from plank.live import relay

    relay.group_send(group, {"type": "live.set", "frame": frame})


def close_user_sockets(sender: Any = None, user: Any = None, **kwargs: Any) -> None:
    """On logout, end that user's open sockets (their pages show "offline" and stop retrying)."""
    if user is None or user.pk is None:
        return
    from plank.live import relay

    relay.group_send(user_group(user.pk), {"type": "live.logout"})


# --- the outbox: reading and pruning ---------------------------------------------------------


def current_seq(using: str = DEFAULT_DB_ALIAS) -> int:
    """The newest ``seq`` in the outbox (0 when it is empty)."""
    from plank.live.models import Outbox

    return Outbox.objects.using(using).aggregate(m=Max("seq"))["m"] or 0


def retention() -> tuple[timedelta, int]:
    """How long rows are kept, and how many at least/most: see :func:`prune`."""
    minutes = float(getattr(settings, "PLANK_LIVE_RETAIN_MINUTES", 60))
    rows = int(getattr(settings, "PLANK_LIVE_RETAIN_ROWS", 10_000))
    return timedelta(minutes=minutes), max(rows, 1)


def prune(
    *, max_age: timedelta | None = None, max_rows: int | None = None, using: str = DEFAULT_DB_ALIAS
) -> int:
    """Delete outbox rows older than ``max_age`` and all but the newest ``max_rows``.

    Always deletes a prefix in ``seq`` order (so a client's replay either finds every row after
    its ``since`` or is told to resync) and always keeps the newest row, so the current ``seq``
    survives a quiet hour. Returns how many rows went.
    """
    from plank.live.models import Outbox

    default_age, default_rows = retention()
    max_age = default_age if max_age is None else max_age
    max_rows = default_rows if max_rows is None else max(int(max_rows), 1)
    rows = Outbox.objects.using(using)
    newest = rows.aggregate(m=Max("seq"))["m"]
    if newest is None:
        return 0
    by_count = newest - max_rows  # seq numbers only grow, so this keeps at most max_rows
    by_age = rows.filter(created_at__lt=timezone.now() - max_age).aggregate(m=Max("seq"))["m"] or 0
    cutoff = min(max(by_count, by_age), newest - 1)
    if cutoff <= 0:
        return 0
    deleted, _ = rows.filter(seq__lte=cutoff).delete()
    if deleted:
        log.info("pruned %d outbox rows (seq <= %d)", deleted, cutoff)
    return deleted
