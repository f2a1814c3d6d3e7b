"""The relay: rows written by *another process* reach this process's sockets and caches.

The other process is a real one: a Python subprocess that sets Django up on the same database
as the test (the SQLite test file or the PostgreSQL test database) and writes through the ORM.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from cachalot.api import get_last_invalidation
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import connection

from plank.live import cache as live_cache
from plank.live import hub
from plank.live import relay as relays
from plank.live.events import emit
from plank.live.models import Outbox

from .conftest import Connect, Person, Socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_cleanup")]

BASE_DIR = Path(settings.BASE_DIR)

# Django on the test database in a process of its own; then the code in argv[2].
PRELUDE = """
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "plank.settings")
import django
django.setup()
from django.conf import settings
from django.db import connections
settings.DATABASES["default"]["NAME"] = sys.argv[1]
connections["default"].settings_dict["NAME"] = sys.argv[1]
exec(sys.argv[2])
"""


def other_process(code: str) -> str:
    """Run ``code`` in another process on the test database; its stdout."""
    name = str(connection.settings_dict["NAME"])
    result = subprocess.run(
        [sys.executable, "-c", PRELUDE, name, code],
        cwd=BASE_DIR,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(BASE_DIR), os.environ.get("PYTHONPATH")])
            ),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


aother_process = sync_to_async(other_process, thread_sensitive=False)
EMIT = "from plank.live.events import emit; print(emit({keys}))"


async def test_a_row_from_another_process_reaches_the_socket(
    connect: Connect, alice: Person
) -> None:
    socket = await connect(alice)
    await socket.receive()
    seq = int(await aother_process(EMIT.format(keys='("media", "list", "movie"), ("download", 3)')))
    frame = await socket.receive(timeout=5)
    assert frame == {
        "type": "invalidate",
        "seq": seq,
        "keys": [["media", "list", "movie"], ["download", 3]],
    }


async def test_another_process_user_row_reaches_only_that_user(
    bob: Person, two_sockets: tuple[Socket, Socket]
) -> None:
    a, b = two_sockets
    seq = int(
        await aother_process(
            f"from plank.live.events import emit; print(emit(('playback', 1), user_id={bob.user_id}))"
        )
    )
    assert await b.receive(timeout=5) == {
        "type": "invalidate",
        "seq": seq,
        "keys": [["playback", 1]],
    }
    assert await a.nothing(0.3)


async def test_another_process_change_drops_cachalot_here(connect: Connect, alice: Person) -> None:
    socket = await connect(alice)
    await socket.receive()

    def count() -> int:
        return Group.objects.filter(name__startswith="g").count()

    acount = sync_to_async(count)
    assert await acount() == 0
    assert await acount() == 0  # now cached by cachalot

    await aother_process(
        "from django.contrib.auth.models import Group; Group.objects.create(name='g1')"
    )
    if not settings.CACHE_IS_SHARED:
        # A local-memory cache cannot see another process's write: this is what the relay fixes.
        assert await acount() == 0
    await aother_process(
        "from django.contrib.auth.models import Group; from plank.live.events import emit\n"
        "Group.objects.create(name='g2'); emit(('groups',))"
    )
    frame = await socket.receive(timeout=5)
    assert frame["keys"] == [["groups"]]
    assert await acount() == 2


async def test_own_emits_do_not_flush_cachalot_again(connect: Connect, alice: Person) -> None:
    socket = await connect(alice)
    await socket.receive()
    before = await sync_to_async(get_last_invalidation)("auth_group")
    await sync_to_async(emit)(("groups",))
    assert (await socket.receive())["type"] == "invalidate"
    assert await sync_to_async(get_last_invalidation)("auth_group") == before
    if not settings.CACHE_IS_SHARED:
        await aother_process(EMIT.format(keys='("groups",)'))
        assert (await socket.receive(timeout=5))["type"] == "invalidate"
        assert await sync_to_async(get_last_invalidation)("auth_group") > before


async def test_another_process_emit_drops_the_per_key_cache_here(
    connect: Connect, alice: Person
) -> None:
    socket = await connect(alice)
    await socket.receive()
    calls: list[int] = []
    key = ("media", "list", uuid.uuid4().hex)  # the cache may be a Redis that outlives tests

    def fetch() -> None:
        live_cache.fetch(key, lambda: calls.append(1), stale=300)

    afetch = sync_to_async(fetch)
    await afetch()
    await afetch()
    assert len(calls) == 1
    await aother_process(EMIT.format(keys='("media", "list")'))
    assert (await socket.receive(timeout=5))["keys"] == [["media", "list"]]
    await afetch()
    assert len(calls) == 2


async def test_postgres_wakes_the_relay_by_notify(
    connect: Connect, alice: Person, settings
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    settings.PLANK_LIVE_PG_POLL_SECONDS = 60.0  # so only a NOTIFY can bring the row in time
    socket = await connect(alice)
    await socket.receive()
    relay = relays.relay_for_loop()
    for _ in range(50):
        if relay.listening:
            break
        await asyncio.sleep(0.1)
    assert relay.listening
    await asyncio.sleep(0.2)  # LISTEN is in place
    seq = int(await aother_process(EMIT.format(keys='("media",)')))
    assert await socket.receive(timeout=5) == {
        "type": "invalidate",
        "seq": seq,
        "keys": [["media"]],
    }


async def test_the_relay_prunes_and_checkpoints(connect: Connect, alice: Person, settings) -> None:
    settings.PLANK_LIVE_PRUNE_SECONDS = 0.2
    settings.PLANK_LIVE_CHECKPOINT_SECONDS = 0.2
    settings.PLANK_LIVE_RETAIN_ROWS = 2
    for i in range(6):
        await sync_to_async(emit)(("media", i))
    socket = await connect(alice)
    await socket.receive()
    for _ in range(50):
        if await Outbox.objects.acount() == 2:
            break
        await asyncio.sleep(0.1)
    assert await Outbox.objects.acount() == 2
    if connection.vendor == "sqlite":
        wal = Path(f"{connection.settings_dict['NAME']}-wal")
        for _ in range(50):
            if not wal.exists() or wal.stat().st_size == 0:
                break
            await asyncio.sleep(0.1)
        assert not wal.exists() or wal.stat().st_size == 0


async def test_health_reports_the_relay(connect: Connect, alice: Person) -> None:
    socket = await connect(alice)
    await socket.receive()
    relay = relays.relay_for_loop()
    for _ in range(50):  # on PostgreSQL, healthy means LISTENing
        if relay.listening or connection.vendor != "postgresql":
            break
        await asyncio.sleep(0.1)
    check = relays.health()
    assert check.ok
    assert check.summary.startswith("1 sockets")
    details = dict(check.details)
    assert details["open sockets"] == "1"


def test_health_without_a_relay() -> None:
    check = relays.health()
    assert check.summary == "relay not running in this process"
    assert check.ok  # this process does not serve


def _wait_for_relay(loop: asyncio.AbstractEventLoop) -> relays.Relay:
    deadline = time.monotonic() + 5
    while True:
        found = [r for r in hub.relays() if r.loop is loop and r.ready.is_set()]
        if found:
            return found[0]
        assert time.monotonic() < deadline, "the relay did not start"
        time.sleep(0.02)


def test_the_relay_part_runs_on_a_loop_of_its_own_outside_daphne(monkeypatch) -> None:
    """``manage.py engine`` and friends have no daphne loop: the part brings its own."""
    # (channels.testing imports daphne.server, which installs a reactor this process never runs.)
    monkeypatch.setattr(relays, "server_loop", lambda: None)
    part = relays.RelayPart()
    part.start()
    try:
        assert part.loop is not None
        relay = _wait_for_relay(part.loop)
        seq = emit(("media",))
        deadline = time.monotonic() + 5
        while relay.last_seq != seq:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        part.stop()
        connection.close()
    assert relay.stopped
    assert relay not in hub.relays()
    assert not any(t.name == "plank-relay-loop" and t.is_alive() for t in threading.enumerate())


def test_the_relay_part_waits_for_the_server_loop(monkeypatch) -> None:
    """Under ``serve`` the part starts before daphne runs its loop; the relay starts with it."""
    server = asyncio.new_event_loop()
    monkeypatch.setattr(relays, "server_loop", lambda: server)
    part = relays.RelayPart()
    part.start()
    time.sleep(0.1)
    assert not [r for r in hub.relays() if r.loop is server], "not before the loop runs"
    thread = threading.Thread(target=server.run_forever)
    thread.start()
    try:
        relay = _wait_for_relay(server)
        seq = emit(("media",))
        deadline = time.monotonic() + 5
        while relay.last_seq != seq:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        part.stop()  # while the loop runs: a clean stop on it
        assert relay.stopped
    finally:
        server.call_soon_threadsafe(server.stop)
        thread.join(5)
        server.close()
        connection.close()
