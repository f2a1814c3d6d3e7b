"""Sockets against a real ``serve`` process (daphne, the relay) on SQLite, with real clients.

- 1,000 sockets open, frames in flight, then dropped without a close handshake: the server's
  count goes back to 0 and it logs no error.
- A socket whose client stops reading falls behind: it is told to resync and closed with 4429,
  while a socket beside it gets every frame.
- A socket that goes away in the middle of a burst of frames is cleaned up like any other.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from pathlib import Path

import pytest
import requests
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from .live_server import Server, base_env, create_user, manage, running

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = base_env(tmp_path, LOG_LEVEL="INFO")
    manage(env, "migrate", "--noinput", "-v0")
    create_user(env, "alice")
    return env


def open_count(server: Server, session: str) -> int:
    page = requests.get(f"{server.url}/system/", cookies={"sessionid": session}, timeout=60)
    page.raise_for_status()
    return int(re.search(r"(\d+) sockets, seq", page.text).group(1))


def wait_for_count(server: Server, session: str, expected: int, timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        count = open_count(server, session)
        if count == expected or time.monotonic() > deadline:
            return count
        time.sleep(0.2)


async def open_socket(server: Server, session: str, **kwargs) -> ClientConnection:
    return await connect(
        server.ws_url,
        origin=server.url,
        additional_headers={"Cookie": f"sessionid={session}"},
        open_timeout=30,
        **kwargs,
    )  # type: ignore[arg-type]


async def until_hello(ws: ClientConnection) -> None:
    while json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] != "hello":
        pass


def errors_in(log: str) -> list[str]:
    return [line for line in log.splitlines() if " ERROR " in line or "Traceback" in line]


async def test_a_thousand_sockets_dropped_mid_frames_leave_no_trace(env: dict[str, str]) -> None:
    with running(env, control=True) as server:
        session = await asyncio.to_thread(server.login, "alice")
        sockets: list[ClientConnection] = []
        for _batch in range(10):
            opened = await asyncio.gather(*(open_socket(server, session) for _ in range(100)))
            for ws in opened:
                await ws.send(json.dumps({"type": "watch", "keys": [["media"], ["download", 1]]}))
            sockets.extend(opened)
        await asyncio.gather(*(until_hello(ws) for ws in sockets))
        assert await asyncio.to_thread(open_count, server, session) == 1000
        # Frames in flight: invalidations and pushed values, while every client vanishes.
        flood = asyncio.create_task(asyncio.to_thread(server.command, "flood 200 600 media"))
        await asyncio.to_thread(server.push, "download/1", {"progress": 0.5})
        await asyncio.sleep(0.05)
        for ws in sockets:
            ws.transport.abort()  # no close handshake: a tab killed, a phone out of range
        await flood
        count = await asyncio.to_thread(wait_for_count, server, session, 0)
        assert count == 0, server.log()[-3000:]
        log = server.log()
    assert errors_in(log) == [], log[-3000:]


async def test_a_socket_that_stops_reading_is_resynced_and_closed_4429(
    env: dict[str, str],
) -> None:
    with running(env, control=True) as server:
        session = await asyncio.to_thread(server.login, "alice")
        steady = await open_socket(server, session)
        # A client that reads nothing more once 4 messages wait (websockets stops reading the
        # connection then), over a socket with a small receive buffer.
        raw = socket.create_connection(("127.0.0.1", server.port))
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck = await connect(
            server.ws_url,
            sock=raw,
            origin=server.url,
            additional_headers={"Cookie": f"sessionid={session}"},
            max_queue=4,
            open_timeout=30,
        )  # type: ignore[arg-type]
        await until_hello(steady)
        await asyncio.sleep(0.5)  # the stuck one's hello too (it has no watch: after the grace)

        frames: list[dict] = []
        target: list[int] = []

        async def read_steady() -> None:
            # Until the flood's last row has come (other rows, a scheduled task's, may follow it
            # before the target is known: "the last frame is the target" can miss it).
            while not (target and any(f.get("seq", 0) >= target[0] for f in frames[-50:])):
                frames.append(json.loads(await asyncio.wait_for(steady.recv(), 60)))

        reading = asyncio.create_task(read_steady())
        answer = await asyncio.to_thread(server.command, "flood 3000 3000 media/flood", 120)
        target.append(int(answer.split()[1]))
        await asyncio.wait_for(reading, 60)
        flooded = [
            f
            for f in frames
            if f["type"] == "invalidate" and f["keys"][0][:2] == ["media", "flood"]
        ]
        assert len(flooded) == 3000  # unaffected
        assert {"type": "resync"} not in frames
        # The server let the stuck one go: it no longer counts...
        assert await asyncio.to_thread(wait_for_count, server, session, 1) == 1
        log = server.log()
        assert "fell behind" in log
        # ...and what reached it ends with resync and 4429 (or, once the close handshake
        # timed out, the connection was cut).
        seen: list[dict] = []
        try:
            while True:
                seen.append(json.loads(await asyncio.wait_for(stuck.recv(), 10)))
        except ConnectionClosed:
            pass
        if stuck.close_code is not None and stuck.close_code != 1006:
            assert stuck.close_code == 4429
            assert seen[-1] == {"type": "resync"}
        assert len([f for f in seen if f["type"] == "invalidate"]) < 3000
        await steady.close()
    assert errors_in(log) == [], log[-3000:]
