"""Fixtures for the events half of the live layer: users with sessions, sockets, relays."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connections
from django.test import Client

from plank.asgi import application
from plank.live import hub
from tests.factories import make_user

ORIGIN = b"http://127.0.0.1"


@dataclass
class Person:
    user_id: int
    username: str
    cookie: bytes  # the Cookie header of a logged-in browser


def _person(username: str) -> Person:
    user = make_user("member", username=username)
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    return Person(user.pk, username, f"{settings.SESSION_COOKIE_NAME}={session}".encode())


@pytest.fixture
def alice(transactional_db: None) -> Person:
    return _person("alice")


@pytest.fixture
def bob(transactional_db: None) -> Person:
    return _person("bob")


class Socket:
    """A test browser tab's socket: a channels communicator speaking the live protocol."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.communicator = communicator

    async def receive(self, timeout: float = 3.0) -> dict[str, Any]:
        return json.loads(await self.communicator.receive_from(timeout))

    async def receive_until(self, kind: str, timeout: float = 3.0) -> list[dict[str, Any]]:
        """Frames up to and including the first of type ``kind``."""
        frames = []
        while True:
            frame = await self.receive(timeout)
            frames.append(frame)
            if frame["type"] == kind:
                return frames

    async def send(self, frame: dict[str, Any]) -> None:
        await self.communicator.send_to(text_data=json.dumps(frame))

    async def nothing(self, timeout: float = 0.3) -> bool:
        return await self.communicator.receive_nothing(timeout)

    async def ping(self) -> bool:
        await self.send({"type": "ping"})
        return (await self.receive()) == {"type": "pong"}

    async def close(self) -> None:
        await self.communicator.disconnect()


Connect = Callable[..., Awaitable[Socket]]


@pytest.fixture
async def live_cleanup() -> AsyncIterator[None]:
    """After the test: this loop's relay stopped, the sync thread's connection closed."""
    yield
    await stop_relays()


@pytest.fixture
async def connect(live_cleanup: None) -> AsyncIterator[Connect]:
    """``await connect(person, since=None, origin=ORIGIN)`` -> a socket past its handshake.

    ``expect=False``: the handshake must be refused. ``origin=None``: no Origin header.

    Every socket is closed and this loop's relay stopped after the test.
    """
    opened: list[WebsocketCommunicator] = []

    async def open_socket(
        person: Person | None,
        *,
        since: int | str | None = None,
        origin: bytes | None = ORIGIN,
        expect: bool = True,
    ) -> Socket:
        path = "/ws/live/" if since is None else f"/ws/live/?since={since}"
        headers = [] if origin is None else [(b"origin", origin)]
        if person is not None:
            headers.append((b"cookie", person.cookie))
        communicator = WebsocketCommunicator(application, path, headers=headers)
        opened.append(communicator)
        connected, _ = await communicator.connect(timeout=5)
        assert connected is expect
        return Socket(communicator)

    yield open_socket
    for communicator in opened:
        try:
            await communicator.disconnect(timeout=1)
        except Exception:
            pass


@pytest.fixture
async def two_sockets(connect: Connect, alice: Person, bob: Person) -> tuple[Socket, Socket]:
    """Alice's socket and Bob's, each past its hello frame."""
    a = await connect(alice)
    b = await connect(bob)
    await a.receive()
    await b.receive()
    return a, b


async def stop_relays() -> None:
    """Stop this loop's relay and close the sync thread's connection (PostgreSQL then lets the
    test database go at the end of the session)."""
    loop = asyncio.get_running_loop()
    await hub.sends_done()  # a logout's or a push's send to Redis, not cut off mid-way
    for relay in hub.relays():
        if relay.loop is loop:
            await relay.stop()
    await sync_to_async(close_old_and_current)()


def close_old_and_current() -> None:
    for conn in connections.all(initialized_only=True):
        conn.close()
