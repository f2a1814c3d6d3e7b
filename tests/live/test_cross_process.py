"""Across real processes: ``manage.py serve`` servers, management commands, real sockets.

(a) SQLite (the embedded default): a change made by a management command reaches a socket of
    a ``serve`` process (its relay polls the outbox).
(b) PostgreSQL + Redis (the scaled-out setup): two ``serve --web-only`` processes on a fresh
    database; a command's change reaches the sockets of both, a change made inside one reaches
    the other's (LISTEN/NOTIFY), and a push travels through the Redis channel layer.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from .live_server import Server, base_env, create_user, manage, running

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


async def open_socket(
    server: Server, session: str | None, *, since: int | None = None, origin: str | None = None
) -> ClientConnection:
    url = server.ws_url if since is None else f"{server.ws_url}?since={since}"
    headers = {"Cookie": f"sessionid={session}"} if session else {}
    return await connect(
        url, origin=origin or server.url, additional_headers=headers, open_timeout=10
    )  # type: ignore[arg-type]


async def receive(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def nothing(ws: ClientConnection, timeout: float = 0.5) -> bool:
    try:
        frame = await asyncio.wait_for(ws.recv(), timeout)
    except TimeoutError:
        return True
    raise AssertionError(f"unexpected frame {frame}")


def emit_command(env: dict[str, str], *args: str) -> int:
    return int(manage(env, "live_emit", *args).split()[-1])


def current_seq(env: dict[str, str]) -> int:
    """The outbox's newest seq (a starting server may announce, e.g. its first preferences)."""
    code = "from plank.live.outbox import current_seq; print(current_seq())"
    return int(manage(env, "shell", "-c", code).split()[-1])


# --- (a) SQLite -------------------------------------------------------------------------------


@pytest.fixture
def sqlite_env(tmp_path: Path) -> dict[str, str]:
    env = base_env(tmp_path)
    manage(env, "migrate", "--noinput", "-v0")
    return env


async def test_a_command_reaches_a_socket_of_a_serve_process_on_sqlite(
    sqlite_env: dict[str, str],
) -> None:
    env = sqlite_env
    await asyncio.to_thread(create_user, env, "alice")
    with running(env) as server:  # the whole process: daphne, relay, engine, jobs
        session = await asyncio.to_thread(server.login, "alice")
        start = await asyncio.to_thread(current_seq, env)
        ws = await open_socket(server, session)
        try:
            assert await receive(ws) == {"type": "hello", "seq": start}
            seq = await asyncio.to_thread(emit_command, env, "media/list/movie", "download/42")
            assert await receive(ws) == {
                "type": "invalidate",
                "seq": seq,
                "keys": [["media", "list", "movie"], ["download", 42]],
            }
            await ws.send(json.dumps({"type": "ping"}))
            assert await receive(ws) == {"type": "pong"}
        finally:
            await ws.close()

        # A tab that reconnects with the last seq it saw gets what it missed, then hello.
        missed = await asyncio.to_thread(emit_command, env, "media")
        ws = await open_socket(server, session, since=seq)
        try:
            assert await receive(ws) == {"type": "invalidate", "seq": missed, "keys": [["media"]]}
            assert await receive(ws) == {"type": "hello", "seq": missed}
        finally:
            await ws.close()

        # No session: accepted, then closed with 4401. A foreign origin: refused outright.
        ws = await open_socket(server, None)
        with pytest.raises(ConnectionClosed) as closed:
            await receive(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
        with pytest.raises(InvalidStatus) as refused:
            await open_socket(server, session, origin="http://evil.example")
        assert refused.value.response.status_code == 403


# --- (b) PostgreSQL + Redis --------------------------------------------------------------------


def _server_urls() -> tuple[str, str]:
    """The PostgreSQL server (the suite's, if it runs on one) and Redis (database 14)."""
    pg = os.environ.get("PLANK_DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    parts = urlsplit(pg)
    pg_server = parts._replace(path="/postgres").geturl()
    redis_url = os.environ.get("PLANK_REDIS_URL") or "redis://127.0.0.1:6379/14"
    redis_parts = urlsplit(redis_url)
    return pg_server, redis_parts._replace(path="/14").geturl()


@pytest.fixture
def scaled_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A fresh PostgreSQL database and a Redis namespace of their own; both gone afterwards."""
    pg_server, redis_url = _server_urls()
    name = f"plank_xproc_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(pg_server, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server: {exc}")
    r = redis.Redis.from_url(redis_url, socket_timeout=3)
    try:
        r.ping()
    except redis.RedisError as exc:
        admin.close()
        pytest.skip(f"no Redis server: {exc}")
    admin.execute(f'CREATE DATABASE "{name}"')
    database_url = urlsplit(pg_server)._replace(path=f"/{name}").geturl()
    env = base_env(tmp_path, DATABASE_URL=database_url, REDIS_URL=redis_url, CACHE_PREFIX=name)
    try:
        manage(env, "migrate", "--noinput", "-v0")
        yield env
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
        for key in r.scan_iter(f"{name}*"):
            r.delete(key)
        r.close()


@pytest.mark.postgres
@pytest.mark.redis
async def test_changes_reach_every_serve_process_on_postgres_and_redis(
    scaled_env: dict[str, str],
) -> None:
    env = scaled_env
    alice_id = await asyncio.to_thread(create_user, env, "alice")
    await asyncio.to_thread(create_user, env, "bob")
    with running(env, web_only=True, control=True) as a, running(env, web_only=True) as b:
        alice = await asyncio.to_thread(a.login, "alice")
        bob = await asyncio.to_thread(b.login, "bob")
        start = await asyncio.to_thread(current_seq, env)
        on_a = await open_socket(a, alice)
        on_b = await open_socket(b, alice)  # the session is in the shared database
        bob_b = await open_socket(b, bob)
        sockets = [on_a, on_b, bob_b]
        try:
            for ws in sockets:
                assert await receive(ws) == {"type": "hello", "seq": start}

            # A management command's change reaches the sockets of both servers.
            seq = await asyncio.to_thread(emit_command, env, "media/list/movie")
            for ws in sockets:
                assert await receive(ws) == {
                    "type": "invalidate",
                    "seq": seq,
                    "keys": [["media", "list", "movie"]],
                }

            # A change made inside server A reaches the sockets of server B (and A's own).
            seq = await asyncio.to_thread(a.emit, "download/5")
            for ws in sockets:
                assert await receive(ws) == {
                    "type": "invalidate",
                    "seq": seq,
                    "keys": [["download", 5]],
                }

            # One user's event: alice's tabs on both servers, not bob's.
            seq = await asyncio.to_thread(emit_command, env, "playback/9", "--user", str(alice_id))
            for ws in (on_a, on_b):
                assert await receive(ws) == {
                    "type": "invalidate",
                    "seq": seq,
                    "keys": [["playback", 9]],
                }
            assert await nothing(bob_b)

            # A push from server A goes through Redis to every socket, once each.
            await asyncio.to_thread(a.push, "download/5", {"progress": 0.5})
            for ws in sockets:
                assert await receive(ws) == {
                    "type": "set",
                    "key": ["download", 5],
                    "data": {"progress": 0.5},
                }
            # ...and so does one from a process that serves nothing.
            await asyncio.to_thread(
                manage,
                env,
                "shell",
                "-c",
                "from plank.live.events import push; push(('download', 6), {'rate': 10})",
            )
            for ws in sockets:
                assert await receive(ws) == {
                    "type": "set",
                    "key": ["download", 6],
                    "data": {"rate": 10},
                }
            for ws in sockets:
                assert await nothing(ws, 0.3)

            # Quiet for longer than the Redis layer's blocking read (5 s): the sockets live on.
            await asyncio.sleep(7)
            seq = await asyncio.to_thread(a.emit, "media")
            for ws in sockets:
                assert await receive(ws) == {"type": "invalidate", "seq": seq, "keys": [["media"]]}
            await asyncio.to_thread(a.push, "download/5", {"progress": 1})
            for ws in sockets:
                assert (await receive(ws))["type"] == "set"
        finally:
            for ws in sockets:
                await ws.close()
