"""The outbox table's reads and writes: the one module that queries :class:`Outbox`.

``emit`` writes rows (:func:`insert`, :func:`set_keys`), the relay follows them
(:func:`current_seq`, :func:`rows_after`) and prunes them (:func:`prune`), a connecting socket
asks what to replay (:func:`replay_plan`). Why an insert on PostgreSQL takes a lock, and how
replay and pruning fit together: docs/live-layer.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Max, Min, Q
from django.utils import timezone

from plank.live.models import Outbox

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "plank_live"
# pg_advisory_xact_lock key that orders the emitting transactions ("plnklive" in ASCII).
PG_LOCK_KEY = 0x706C6E6B6C697665
BATCH = 500  # rows per read of the relay
REPLAY_SCAN = 10  # a filtered replay reads at most this many times its limit of rows

JsonKey = list[str | int]  # a key as stored and sent: a JSON array


class Row(NamedTuple):
    seq: int
    keys: list[JsonKey]
    user_id: int | None
    created_at: datetime


def event_id(seq: int, created_at: datetime) -> str:
    """A row's identity for the per-key cache: its seq *and* its creation time.

    The seq alone is not enough: a restored or recreated database hands out the same numbers
    again, and a shared cache that remembered them would skip those invalidations.
    """
    return f"{seq}@{int(created_at.timestamp() * 1_000_000)}"


# --- writing ---------------------------------------------------------------------------------


def insert(keys: list[JsonKey], user_id: int | None, *, using: str = DEFAULT_DB_ALIAS) -> Row:
    """Write a row, in the caller's transaction (or in one of its own under autocommit).

    On PostgreSQL it first takes the transaction-level advisory lock that makes emitting
    transactions commit in ``seq`` order, and notifies the relays (delivered at commit).
    """
    connection = connections[using]
    postgres = connection.vendor == "postgresql"
    with transaction.atomic(using=using, savepoint=False):
        if postgres:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [PG_LOCK_KEY])
        row = Outbox.objects.using(using).create(keys=keys, user_id=user_id)
        if postgres:
            with connection.cursor() as cursor:
                # Delivered at commit, dropped on rollback; the payload is only a hint.
                cursor.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, str(row.seq)])
    return Row(row.seq, keys, user_id, row.created_at)


def set_keys(seq: int, keys: list[JsonKey], *, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Replace the keys of row ``seq`` (written by this transaction); False when it is gone."""
    return Outbox.objects.using(using).filter(seq=seq).update(keys=keys) == 1


# --- reading ---------------------------------------------------------------------------------


def current_seq(using: str = DEFAULT_DB_ALIAS) -> int:
    """The newest ``seq`` in the outbox (0 when it is empty)."""
    return Outbox.objects.using(using).aggregate(m=Max("seq"))["m"] or 0


def rows_after(after: int, limit: int = BATCH, *, using: str = DEFAULT_DB_ALIAS) -> list[Row]:
    """The rows after ``after``, oldest first, at most ``limit``."""
    rows = Outbox.objects.using(using).filter(seq__gt=after).order_by("seq")
    values = rows.values_list("seq", "keys", "user_id", "created_at")[:limit]
    return [Row(*value) for value in values]


def replay_plan(
    since: int | None,
    user_id: int,
    limit: int,
    *,
    wanted: Callable[[list[JsonKey]], bool] | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> tuple[int, list[tuple[int, list[JsonKey]]] | None]:
    """What a socket that connects with ``since`` is owed: ``(H, rows)``; rows None = resync.

    ``H`` is the newest ``seq``; ``rows`` are ``(seq, keys)`` for everyone or ``user_id``, with
    ``since < seq <= H``, and, given ``wanted``, only those whose keys it wants (what the page
    watches). Resync when rows after ``since`` were pruned, when more than ``limit`` rows are
    owed, when more than ``REPLAY_SCAN * limit`` rows would have to be read to find them, or
    when ``since`` is ahead of the outbox (a restored database).
    """
    outbox = Outbox.objects.using(using)
    span = outbox.aggregate(low=Min("seq"), high=Max("seq"))
    high = span["high"] or 0
    if since is None or since == high:
        return high, []
    low = span["low"]
    if since > high or (low is not None and since < low - 1):
        return high, None
    mine = Q(user_id__isnull=True) | Q(user_id=user_id)
    read = limit + 1 if wanted is None else REPLAY_SCAN * limit + 1
    candidates = list(
        outbox.filter(mine, seq__gt=since, seq__lte=high)
        .order_by("seq")
        .values_list("seq", "keys")[:read]
    )
    if len(candidates) >= read:
        return high, None
    rows = candidates if wanted is None else [row for row in candidates if wanted(row[1])]
    if len(rows) > limit:
        return high, None
    # A prune between the two reads could have taken rows we meant to send: look again.
    low_now = outbox.aggregate(low=Min("seq"))["low"]
    if low_now is not None and since < low_now - 1:
        return high, None
    return high, rows


# --- pruning ---------------------------------------------------------------------------------


def retention() -> tuple[timedelta, int]:
    """How long rows are kept, and how many at most (at least one): see :func:`prune`."""
    minutes = float(settings.PLANK_LIVE_RETAIN_MINUTES)
    return timedelta(minutes=minutes), max(int(settings.PLANK_LIVE_RETAIN_ROWS), 1)


def prune(
    *, max_age: timedelta | None = None, max_rows: int | None = None, using: str = DEFAULT_DB_ALIAS
) -> int:
    """Delete rows older than ``max_age`` and all but the newest ``max_rows``.

    Always deletes a prefix in ``seq`` order (so a client's replay either finds every row after
    its ``since`` or is told to resync) and always keeps the newest row, so the current ``seq``
    survives a quiet hour. Returns how many rows went.
    """
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
