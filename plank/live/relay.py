"""The relay: one per server process and event loop, it hands new outbox rows to the sockets.

Woken by ``emit`` after a commit in this process, by ``LISTEN`` on PostgreSQL, or by a short
poll on SQLite; for rows of other processes it first drops this process's caches. It runs on the
loop of the sockets (daphne's under ``serve``). The whole story: docs/live-layer.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

import psycopg
from cachalot.api import invalidate as cachalot_invalidate
from channels.layers import get_channel_layer
from django.apps import apps
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, close_old_connections, connections

from plank.live import events, hub, outbox, wakeup
from plank.live.fanout import Fanout, Socket
from plank.live.keys import Key, check_key
from plank.live.outbox import JsonKey, Row
from plank.system import Check

log = logging.getLogger(__name__)

T = TypeVar("T")

RELAYS_GROUP = "live.relays"  # the channel-layer group of every process's relays
CLOSE_LOGGED_OUT = 4401


def invalidate_text(seq: int, keys: list[JsonKey]) -> str:
    """The ``invalidate`` frame of one outbox row, as sent (encoded once for every socket)."""
    return json.dumps({"type": "invalidate", "seq": seq, "keys": keys}, separators=(",", ":"))


# --- in the relay's thread -------------------------------------------------------------------

_cachalot_tables: list[str] | None = None


def _all_cachalot_tables() -> list[str]:
    """Every table of an installed model (no introspection query), less the uncachable ones."""
    global _cachalot_tables
    if _cachalot_tables is None:
        skip = set(settings.CACHALOT_UNCACHABLE_TABLES)
        tables = {m._meta.db_table for m in apps.get_models(include_auto_created=True)}
        _cachalot_tables = sorted(tables - skip)
    return _cachalot_tables


def drop_cachalot() -> None:
    """Invalidate every table in this process's django-cachalot cache.

    A row names keys, not tables, and one change may touch tables its keys do not hint at, so
    every table goes: a few dozen cache writes, done only for rows of other processes.
    """
    if not settings.CACHALOT_ENABLED:
        return
    tables = _all_cachalot_tables()
    if tables:
        cachalot_invalidate(*tables)


def read_new_rows(after: int) -> list[Row]:
    """The rows after ``after``, with this process's caches dropped for other processes' rows.

    For such a row: the per-key cache under its keys, and, when the cache is local memory,
    every cachalot table (the emitting process did the same after its commit). Caches go before
    frames, so a page that refetches on the frame gets fresh data.
    """
    rows = outbox.rows_after(after)
    foreign = [row for row in rows if not events.emitted_here(row.seq)]
    for row in foreign:
        events.invalidate_key_cache(row.keys, outbox.event_id(row.seq, row.created_at))
    if foreign and not settings.CACHE_IS_SHARED:
        drop_cachalot()
    return rows


def _close_thread_connections() -> None:
    for conn in connections.all(initialized_only=True):
        conn.close()


def checkpoint_sqlite() -> None:
    """Fold SQLite's write-ahead log back into the database file and truncate it."""
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        busy, pages, moved = cursor.fetchone()
    log.debug("wal checkpoint: busy=%s log=%s checkpointed=%s", busy, pages, moved)


def _listen_params() -> dict[str, Any]:
    params = connections[DEFAULT_DB_ALIAS].get_connection_params()
    for name in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(name, None)
    params.setdefault("keepalives", 1)
    params.setdefault("keepalives_idle", 30)
    return params


# --- the relay ---------------------------------------------------------------------------------


class Relay:
    """Follows the outbox and delivers rows to the sockets of one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.last_seq = 0
        self.ready = asyncio.Event()
        self.stopped = False
        self.listening = False  # a LISTEN connection is up (PostgreSQL)
        self.delivered = 0
        self.vendor = connections[DEFAULT_DB_ALIAS].vendor
        self.fanout = Fanout(loop, float(settings.PLANK_LIVE_SET_TICK_SECONDS))
        self.wakeups = wakeup.Listener(
            loop, on_wake=self._wake_now, on_push=self.take_value, on_logout=self.logout
        )
        self._wake = asyncio.Event()
        self._db = ThreadPoolExecutor(1, thread_name_prefix="plank-relay")
        self._maint = ThreadPoolExecutor(1, thread_name_prefix="plank-relay-maint")
        self._tasks: list[asyncio.Task[None]] = []

    # sockets

    @property
    def socket_count(self) -> int:
        return len(self.fanout)

    def add(self, socket: Socket) -> None:
        self.fanout.add(socket)

    def discard(self, socket: Socket) -> None:
        self.fanout.discard(socket)

    def watch(self, socket: Socket, keys: list[Key]) -> tuple[Key, ...]:
        """What ``socket`` shows from now on (ValueError on a malformed key)."""
        return self.fanout.watch(socket, keys)

    def wants(self, socket: Socket, keys: list[JsonKey]) -> bool:
        return self.fanout.wants(socket, keys)

    # pushed values and logouts (on the relay's loop)

    def take_value(self, frame: dict[str, Any], user_id: int | None) -> None:
        """A ``set`` frame pushed in this process or another: sent with the next tick."""
        try:
            key = check_key(frame["key"])
        except (KeyError, ValueError):
            log.debug("ignoring a pushed value without a proper key: %r", frame)
            return
        data = frame.get("data")
        self.fanout.value(key, data if isinstance(data, dict) else {}, user_id)

    def logout(self, user_id: int) -> None:
        self.fanout.logout(int(user_id), CLOSE_LOGGED_OUT)

    def _wake_now(self) -> None:
        self._wake.set()

    # life

    def start(self) -> None:
        """Start on ``self.loop`` (call from that loop's thread)."""
        self.wakeups.start()
        self._tasks.append(self.loop.create_task(self._run(), name="plank-relay"))
        if hub.layer_is_shared(get_channel_layer()):
            self._tasks.append(self.loop.create_task(self._from_layer(), name="plank-relay-layer"))

    def wake(self) -> None:
        """Look at the outbox now (thread-safe)."""
        if self.stopped:
            return
        try:
            self.loop.call_soon_threadsafe(self._wake.set)
        except RuntimeError:  # the loop is closed
            self.stopped = True

    async def stop(self) -> None:
        """Stop (on the relay's loop): tasks cancelled, the thread's connections closed."""
        self.stopped = True
        self.wakeups.stop()
        self.fanout.close()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        await asyncio.gather(
            asyncio.wrap_future(self._db.submit(_close_thread_connections)),
            asyncio.wrap_future(self._maint.submit(_close_thread_connections)),
            return_exceptions=True,
        )
        self._shutdown_threads()
        hub.forget(self)

    def close_now(self) -> None:
        """Stop from outside the loop, once it has stopped running (process shutdown)."""
        self.stopped = True
        self.wakeups.stop()
        for executor in (self._db, self._maint):
            try:
                executor.submit(_close_thread_connections)
            except RuntimeError:  # already shut down
                pass
        self._shutdown_threads()
        hub.forget(self)

    def _shutdown_threads(self) -> None:
        self._db.shutdown(wait=False, cancel_futures=False)
        self._maint.shutdown(wait=False, cancel_futures=False)

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.wrap_future(self._db.submit(fn, *args))

    # the loop

    def _poll_seconds(self) -> float:
        if self.vendor == "postgresql" and self.listening:
            return float(settings.PLANK_LIVE_PG_POLL_SECONDS)
        if self.wakeups.up:  # other processes wake us: the poll only makes good a lost one
            return float(settings.PLANK_LIVE_WAKE_POLL_SECONDS)
        return max(float(settings.PLANK_RELAY_POLL_SECONDS), 0.01)

    async def _run(self) -> None:
        await self._start_position()
        if self.vendor == "postgresql":
            self._tasks.append(self.loop.create_task(self._listen(), name="plank-relay-listen"))
        self._tasks.append(self.loop.create_task(self._maintain(), name="plank-relay-maintenance"))
        failures = 0
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self._poll_seconds())
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self._catch_up()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception:
                failures += 1
                level = logging.WARNING if failures == 1 else logging.DEBUG
                log.log(
                    level, "relay could not read the outbox (%d in a row)", failures, exc_info=True
                )
                await self._in_thread(_close_thread_connections)
                await asyncio.sleep(min(0.1 * 2**failures, 5.0))

    async def _start_position(self) -> None:
        """Start after the newest row: a new process owes its (new) sockets no history."""
        delay = 0.1
        failures = 0
        while True:
            try:
                self.last_seq = await self._in_thread(outbox.current_seq)
                break
            except asyncio.CancelledError:
                raise
            except Exception:
                failures += 1
                level = logging.WARNING if failures == 1 else logging.DEBUG
                log.log(level, "relay cannot read the outbox yet; retrying", exc_info=True)
                await self._in_thread(_close_thread_connections)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        self.ready.set()

    async def _catch_up(self) -> None:
        while True:
            rows = await self._in_thread(read_new_rows, self.last_seq)
            for row in rows:
                await self._deliver(row)
                self.last_seq = row.seq
                # The sockets' drain tasks send this row before the next one is queued, so a
                # burst of rows never fills the queue of a socket whose client keeps up.
                await asyncio.sleep(0)
            if len(rows) < outbox.BATCH:
                return

    async def _deliver(self, row: Row) -> None:
        """Serialise the row once and offer it to the sockets that watch one of its keys."""
        self.fanout.row(row.seq, row.keys, row.user_id, invalidate_text(row.seq, row.keys))
        self.delivered += 1

    async def _from_layer(self) -> None:
        """With a shared channel layer (Redis): pushed values and logouts of other processes."""
        layer = get_channel_layer()
        delay = 1.0
        while True:
            try:
                channel = await layer.new_channel("live.relay.")
                await layer.group_add(RELAYS_GROUP, channel)
                delay = 1.0
                while True:
                    message = await layer.receive(channel)
                    if message.get("origin") == hub.ORIGIN:
                        continue  # this process's own, delivered already
                    if message.get("type") == "live.value":
                        self.take_value(message["frame"], message.get("user"))
                    elif message.get("type") == "live.logout":
                        self.logout(int(message["user"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("relay lost the channel layer; retrying", exc_info=True)
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, 30.0)

    async def _listen(self) -> None:
        """Wake on ``NOTIFY plank_live``; reconnect with backoff; catch up after each connect."""
        delay = 1.0
        while True:
            try:
                params = await self._in_thread(_listen_params)
                conn = await psycopg.AsyncConnection.connect(autocommit=True, **params)
                async with conn:
                    await conn.execute(f"LISTEN {outbox.NOTIFY_CHANNEL}")
                    self.listening = True
                    delay = 1.0
                    self._wake.set()  # rows committed while we were not listening
                    async for _notify in conn.notifies():
                        self._wake.set()
            except asyncio.CancelledError:
                self.listening = False
                raise
            except Exception:
                log.warning(
                    "relay lost its LISTEN connection; polling until it is back", exc_info=True
                )
            self.listening = False
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, 30.0)

    async def _maintain(self) -> None:
        """Now and then: prune the outbox; on SQLite, checkpoint the write-ahead log."""
        prune_every = float(settings.PLANK_LIVE_PRUNE_SECONDS)
        checkpoint_every = float(settings.PLANK_LIVE_CHECKPOINT_SECONDS)
        loop = self.loop
        # Spread processes apart so they do not all prune at the same moment.
        next_prune = loop.time() + prune_every * random.uniform(0.2, 1.0)
        next_checkpoint = loop.time() + checkpoint_every * random.uniform(0.5, 1.0)
        while True:
            await asyncio.sleep(max(min(next_prune, next_checkpoint) - loop.time(), 0.05))
            now = loop.time()
            jobs: list[Callable[[], object]] = [close_old_connections]
            if now >= next_prune:
                jobs.append(outbox.prune)
                next_prune = now + prune_every * random.uniform(0.8, 1.2)
            if now >= next_checkpoint and self.vendor == "sqlite":
                jobs.append(checkpoint_sqlite)
            if now >= next_checkpoint:
                next_checkpoint = now + checkpoint_every * random.uniform(0.8, 1.2)
            for job in jobs:
                try:
                    await asyncio.wrap_future(self._maint.submit(job))
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.warning(
                        "relay maintenance %s failed", getattr(job, "__name__", job), exc_info=True
                    )
                    await asyncio.wrap_future(self._maint.submit(_close_thread_connections))


# --- the relays of this process ------------------------------------------------------------


def relay_for_loop(loop: asyncio.AbstractEventLoop | None = None) -> Relay:
    """The relay of ``loop`` (the running one by default), started if need be.

    Idempotent: one relay per loop. Call it from the loop's thread.
    """
    return hub.ensure(loop or asyncio.get_running_loop(), _start)


def _start(loop: asyncio.AbstractEventLoop) -> Relay:
    relay = Relay(loop)
    relay.start()
    return relay


# --- the process part ----------------------------------------------------------------------


def server_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop of daphne's Twisted asyncio reactor, when one is installed."""
    reactor = sys.modules.get("twisted.internet.reactor")
    loop = getattr(reactor, "_asyncioEventloop", None)
    if isinstance(loop, asyncio.AbstractEventLoop) and not loop.is_closed():
        return loop
    return None


class RelayPart:
    """The ``relay`` part: on daphne's loop under ``serve``, else on a loop thread of its own."""

    name = "relay"

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        loop = server_loop()
        if loop is None:
            loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=loop.run_forever, name="plank-relay-loop", daemon=True
            )
            self._thread.start()
        self.loop = loop
        # Runs as soon as the loop does (daphne's starts with server.run()).
        loop.call_soon_threadsafe(relay_for_loop, loop)

    def stop(self) -> None:
        loop = self.loop
        if loop is None:
            return
        relay = cast(Relay | None, hub.get(loop))
        if relay is not None:
            if loop.is_running():
                try:
                    asyncio.run_coroutine_threadsafe(relay.stop(), loop).result(timeout=5)
                except Exception:
                    log.warning("relay did not stop cleanly", exc_info=True)
                    relay.close_now()
            else:
                relay.close_now()
        if self._thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(timeout=5)
            loop.close()
            self._thread = None


def health() -> Check:
    """The relay's line on /system/."""
    running = cast(list[Relay], hub.relays())
    layer = get_channel_layer()
    details = [
        ("channel layer", "shared (Redis)" if hub.layer_is_shared(layer) else "in-process"),
        ("cache", "shared (Redis)" if settings.CACHE_IS_SHARED else "local memory"),
    ]
    if not running:
        serving = "web" in settings.PLANK_ROLES
        return Check(
            name="Live events",
            ok=not serving,
            summary="relay not running in this process",
            details=details,
        )
    relay = running[0]
    if relay.vendor == "postgresql":
        mode = "LISTEN/NOTIFY" if relay.listening else "polling (LISTEN connection down)"
    elif relay.wakeups.up:
        mode = f"local wake-ups (poll every {relay._poll_seconds():g} s as a fallback)"
    else:
        mode = f"polling every {relay._poll_seconds():g} s"
    details += [
        ("wake-up", mode),
        ("last seq", str(relay.last_seq)),
        ("open sockets", str(sum(r.socket_count for r in running))),
        ("rows delivered", str(sum(r.delivered for r in running))),
    ]
    ok = relay.ready.is_set() and (relay.vendor != "postgresql" or relay.listening)
    return Check(
        name="Live events",
        ok=ok,
        summary=f"{relay.socket_count} sockets, seq {relay.last_seq}",
        details=details,
    )
