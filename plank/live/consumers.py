"""The live socket, ``/ws/live/``.

Server to client (JSON text frames): ``hello`` ``{"type": "hello", "seq": N}`` once connected;
``invalidate`` ``{"type": "invalidate", "seq": N, "keys": [[...], ...]}``; ``set``
``{"type": "set", "key": [...], "data": {...}}``; ``resync`` ``{"type": "resync"}``; ``pong``.
Client to server: ``{"type": "ping"}``.

Connecting with ``?since=N`` replays every invalidation after N (those for everyone and this
user's own), in order, then says ``hello`` with the current sequence. When rows after N were
pruned, or there are more than ``PLANK_LIVE_REPLAY_MAX`` of them, or N is ahead of the outbox
(a restored database), the socket says ``resync`` (refresh everything) before ``hello``. A
``since`` that is not a non-negative integer is ignored, as if absent.

Close codes, after the handshake was accepted (so the page can tell them apart):

- 4401: not logged in; the page should not retry until the user logs in again.
- 1003: a binary frame (the protocol is JSON text).
- 1009: a frame over 4 KB.
- 1011: the server could not read the outbox; try again later.

A foreign ``Origin`` is refused during the handshake by ``AllowedHostsOriginValidator`` (HTTP 403,
never accepted). Text that is not JSON, JSON that is not an object, and unknown ``type`` values
are ignored: a confused client keeps its socket, and nothing it sends reaches another socket.

The replay race: the socket joins the relay (and the channel-layer groups) *before* it reads the
outbox, and holds the frames the relay hands it meanwhile. It replays rows up to the newest
``seq`` it read (H), says ``hello`` H, then flushes the held frames after H. Every row is then
sent once and in order: rows up to H come from the replay (or predate the hello), rows after H
from the relay. Any invalidation at or below the last ``seq`` sent is dropped.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from functools import cached_property
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.sessions import InstanceSessionWrapper
from django.conf import settings
from django.db.models import Max, Min, Q

from plank.live import relay as relays
from plank.live.events import BROADCAST_GROUP, user_group

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 4096
CLOSE_UNAUTHENTICATED = 4401
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_TOO_BIG = 1009
CLOSE_SERVER_ERROR = 1011
READY_TIMEOUT = 10.0

_PONG = json.dumps({"type": "pong"})


def parse_since(query_string: bytes | str) -> int | None:
    """``since`` from the query string: a non-negative integer, or None (absent or junk)."""
    if isinstance(query_string, bytes):
        query_string = query_string.decode("latin-1")
    values = parse_qs(query_string).get("since")
    if not values:
        return None
    value = values[-1].strip()
    if not value.isascii() or not value.isdigit() or len(value) > 19:
        return None
    return int(value)


def replay_plan(since: int | None, user_id: int) -> tuple[int, list[tuple[int, Any]] | None]:
    """What to tell a socket that connects with ``since``: ``(H, rows)``; rows None = resync.

    ``rows`` are ``(seq, keys)`` for everyone or ``user_id``, with since < seq <= H.
    """
    from plank.live.models import Outbox

    span = Outbox.objects.aggregate(low=Min("seq"), high=Max("seq"))
    high = span["high"] or 0
    if since is None or since == high:
        return high, []
    low = span["low"]
    if since > high or (low is not None and since < low - 1):
        return high, None
    limit = int(getattr(settings, "PLANK_LIVE_REPLAY_MAX", 1000))
    mine = Q(user_id__isnull=True) | Q(user_id=user_id)
    rows = list(
        Outbox.objects.filter(mine, seq__gt=since, seq__lte=high)
        .order_by("seq")
        .values_list("seq", "keys")[: limit + 1]
    )
    if len(rows) > limit:
        return high, None
    # A prune between the two reads could have taken rows we meant to send: look again.
    low_now = Outbox.objects.aggregate(low=Min("seq"))["low"]
    if low_now is not None and since < low_now - 1:
        return high, None
    return high, rows


class LiveConsumer(AsyncJsonWebsocketConsumer):
    user_id: int | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.relay: relays.Relay | None = None
        self.sent_seq = -1
        self.held: list[tuple[int, str]] | None = None  # frames held while replaying
        self.closed = False
        self.groups_joined: list[str] = []

    # channels runs close_old_connections in a thread before every handler; only connect
    # touches the database (through database_sync_to_async, which does it), so skip it.
    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, message["type"].replace(".", "_"), None)
        if handler is None or message["type"].startswith("_"):
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # Accept, then close: a refused handshake reaches the page as a bare 1006, and the
            # page must know that retrying is pointless until the user logs in.
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            self.closed = True
            return
        self.user_id = int(user.pk)
        since = parse_since(self.scope.get("query_string", b""))
        await self.accept()

        relay = relays.relay_for_loop()
        try:
            await asyncio.wait_for(relay.ready.wait(), READY_TIMEOUT)
        except TimeoutError:
            await self._fail("the relay did not start")
            return
        self.held = []
        self.relay = relay
        relay.add(self)
        if self.channel_layer is not None:
            for group in (BROADCAST_GROUP, user_group(self.user_id)):
                await self.channel_layer.group_add(group, self.channel_name)
                self.groups_joined.append(group)

        try:
            high, rows = await database_sync_to_async(replay_plan)(since, self.user_id)
        except Exception:
            log.exception("could not read the outbox for a connecting socket")
            await self._fail("could not read the outbox")
            return
        if rows is None:
            await self.send(text_data=json.dumps({"type": "resync"}))
        else:
            for seq, keys in rows:
                await self.send(text_data=_invalidate_text(seq, keys))
        await self.send(text_data=json.dumps({"type": "hello", "seq": high}))
        self.sent_seq = high
        # Frames the relay handed over meanwhile; more may arrive while these are sent.
        while self.held:
            seq, text = self.held.pop(0)
            if seq > self.sent_seq and not self.closed:
                self.sent_seq = seq
                await self.send(text_data=text)
        self.held = None

    async def live_invalidate(self, seq: int, text: str) -> None:
        """From the relay: one outbox row for this socket, as the frame's text."""
        if self.closed:
            return
        if self.held is not None:
            self.held.append((seq, text))
            return
        if seq <= self.sent_seq:
            return
        self.sent_seq = seq
        await self._fast_send({"type": "websocket.send", "text": text})

    @cached_property
    def _fast_send(self) -> Callable[[dict[str, Any]], Awaitable[None]]:
        """The server's own send, for the relay's fan-out (once per socket for every row).

        channels' session middleware wraps ``send`` to save sessions on HTTP responses; for a
        ``websocket.send`` it only inspects the session, so the fan-out skips the wrapper.
        """
        send = self.base_send
        wrapper = getattr(send, "__self__", None)
        if isinstance(wrapper, InstanceSessionWrapper):
            return wrapper.real_send
        return send

    async def live_logout(self, event: dict[str, Any]) -> None:
        """From the channel layer: this user logged out (in some tab): the socket ends."""
        if not self.closed:
            await self._close(CLOSE_UNAUTHENTICATED)

    async def live_set(self, event: dict[str, Any]) -> None:
        """From the channel layer: a pushed value (``plank.live.events.push``)."""
        if self.closed:
            return
        await self.send(text_data=json.dumps(event["frame"], separators=(",", ":")))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closed:
            return
        if text_data is None:
            await self._close(CLOSE_UNSUPPORTED_DATA)
            return
        if (
            len(text_data) > MAX_FRAME_BYTES
            or len(text_data.encode("utf-8", "replace")) > MAX_FRAME_BYTES
        ):
            await self._close(CLOSE_TOO_BIG)
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            return  # not JSON: ignored
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send(text_data=_PONG)
        # anything else: ignored

    async def _fail(self, why: str) -> None:
        log.warning("closing a live socket: %s", why)
        await self._close(CLOSE_SERVER_ERROR)

    async def _close(self, code: int) -> None:
        self._leave_relay()
        self.closed = True
        await self.close(code=code)

    def _leave_relay(self) -> None:
        if self.relay is not None:
            self.relay.discard(self)
            self.relay = None

    async def disconnect(self, code: int) -> None:
        self.closed = True
        self._leave_relay()
        if self.channel_layer is not None:
            for group in self.groups_joined:
                await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined = []


def _invalidate_text(seq: int, keys: Any) -> str:
    return json.dumps({"type": "invalidate", "seq": seq, "keys": keys}, separators=(",", ":"))
