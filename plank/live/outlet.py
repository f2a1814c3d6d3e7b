"""One socket's way out: a small bounded queue in front of the server, and back-pressure.

The relay hands a frame to every socket that wants it without ever waiting for one slow socket:
:meth:`Outlet.offer` queues it, and the socket's own drain task sends it. A socket whose client
does not read falls behind: once its queue holds ``limit`` frames, the outlet calls
``on_behind`` (the socket then says ``resync`` and closes with 4429) instead of buffering
without bound.

Under daphne a send never waits: it writes into Twisted's buffer for the connection, which grows
as long as the client does not read. So when the socket runs under ``manage.py serve`` the
outlet registers itself as the connection's streaming producer (Twisted's documented
``registerProducer``): Twisted pauses it when the connection's buffer is full and resumes it
when the buffer drained, and while paused frames wait in the bounded queue. Elsewhere (channels'
test communicator, other ASGI servers) ``send`` itself is the back-pressure.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

_server: Any = None  # the daphne Server of this process (``manage.py serve`` sets it)


def serving(server: Any) -> None:
    """Tell the outlets which daphne server runs this process (``manage.py serve``)."""
    global _server
    _server = server


def current_transport() -> Any:
    """The Twisted transport of the connection whose application runs in this task, if any.

    daphne runs each connection's application in a future it keeps in ``server.connections``
    (``{protocol: {"application_instance": future, ...}}``); the socket's ``connect`` runs in
    that future, so it finds its own protocol there once.
    """
    server = _server
    if server is None:
        return None
    task = asyncio.current_task()
    for protocol, details in list(getattr(server, "connections", {}).items()):
        if details.get("application_instance") is task:
            return getattr(protocol, "transport", None)
    return None


def _register(producer: Outlet, transport: Any) -> Any:
    """Register ``producer`` with the connection; the consumer it is registered with, or None.

    daphne's connection is a TCP transport whose producer is twisted.web's ``HTTPChannel``
    (the request that upgraded to a WebSocket); the channel forwards the transport's
    pause/resume to the producer of its request, so that is where the outlet registers.
    """
    for consumer in (transport, getattr(transport, "producer", None)):
        if consumer is None or not hasattr(consumer, "registerProducer"):
            continue
        try:
            consumer.registerProducer(producer, True)
        except Exception:  # a producer there already: try the next one
            continue
        return consumer
    log.debug("no back-pressure for this connection (%r)", transport)
    return None


class Outlet:
    """Frames on their way to one socket: at most ``limit`` waiting."""

    def __init__(
        self,
        send: Callable[[str], Awaitable[None]],
        on_behind: Callable[[], None],
        *,
        limit: int,
        transport: Any = None,
    ) -> None:
        self._send = send
        self._on_behind = on_behind
        self.limit = max(int(limit), 1)
        self._queue: deque[str] = deque()
        self._drain: asyncio.Task[None] | None = None
        self._resumed = asyncio.Event()
        self._resumed.set()
        self.closed = False
        self.sent = 0
        self._consumer: Any = None
        if transport is not None:
            self._consumer = _register(self, transport)

    @property
    def waiting(self) -> int:
        return len(self._queue)

    @property
    def paused(self) -> bool:
        return not self._resumed.is_set()

    def offer(self, text: str) -> bool:
        """Queue ``text`` for the client; False (and ``on_behind``) when the queue is full."""
        if self.closed:
            return False
        if len(self._queue) >= self.limit:
            self.closed = True
            self._queue.clear()
            self._on_behind()
            return False
        self._queue.append(text)
        if self._drain is None:
            self._drain = asyncio.get_running_loop().create_task(self._run())
        return True

    async def _run(self) -> None:
        try:
            while self._queue and not self.closed:
                if not self._resumed.is_set():
                    await self._resumed.wait()
                    continue
                text = self._queue.popleft()
                await self._send(text)
                self.sent += 1
        finally:
            self._drain = None

    def close(self) -> None:
        """No more frames (the socket ended); queued ones are dropped."""
        self.closed = True
        self._queue.clear()
        self._resumed.set()  # a drain task waiting for the client ends
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            try:
                consumer.unregisterProducer()
            except Exception:
                log.debug("could not unregister the producer", exc_info=True)

    # Twisted's IPushProducer: the connection's buffer is full / drained / the connection went.

    def pauseProducing(self) -> None:  # noqa: N802 (Twisted's name)
        self._resumed.clear()

    def resumeProducing(self) -> None:  # noqa: N802 (Twisted's name)
        self._resumed.set()

    def stopProducing(self) -> None:  # noqa: N802 (Twisted's name)
        self.closed = True
        self._queue.clear()
        self._resumed.set()
