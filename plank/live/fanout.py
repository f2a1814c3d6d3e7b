"""The sockets of one relay, and how a frame reaches the ones that want it.

Invalidations: each outbox row is serialised once and offered to the sockets whose ``watch``
relates to one of its keys (plank/live/watching.py), or that watch nothing particular.
Pushed values: the newest value per key is kept, and once per tick every socket gets one frame
with all the values it watches (``{"type": "set", "key", "data"}`` for one,
``{"type": "set", "values": [{"key", "data"}, ...]}`` for several). Each value is serialised
once per tick, and each distinct set of values once, however many sockets share it.

Offering never waits: each socket has its own bounded queue (plank/live/outlet.py).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import Any, Protocol

from plank.live.keys import Key, from_json
from plank.live.outbox import JsonKey
from plank.live.watching import WatchIndex


class Socket(Protocol):
    """What the fan-out needs of a socket (``plank.live.consumers.LiveConsumer``)."""

    user_id: int | None

    def take_row(self, seq: int, keys: list[JsonKey], text: str) -> None: ...

    def take_text(self, text: str) -> None: ...

    def end(self, code: int) -> None: ...


def _keys(keys: Iterable[JsonKey]) -> list[Key]:
    found = []
    for key in keys:
        try:
            found.append(from_json(key))
        except ValueError:
            continue
    return found


class Fanout:
    """Sockets by watched key and by user; invalidations at once, values once per tick."""

    def __init__(self, loop: asyncio.AbstractEventLoop, tick: float) -> None:
        self.loop = loop
        self.tick = max(float(tick), 0.0)
        self.index: WatchIndex[Socket] = WatchIndex()
        self.by_user: dict[int, set[Socket]] = {}
        self._values: dict[tuple[int | None, str], tuple[Key, dict[str, Any]]] = {}
        self._flush: asyncio.TimerHandle | None = None
        self.frames = 0  # frames offered (rows and value ticks), for /system/ and benchmarks

    def __len__(self) -> int:
        return len(self.index)

    # sockets

    def add(self, socket: Socket) -> None:
        self.index.add(socket)
        if socket.user_id is not None:
            self.by_user.setdefault(socket.user_id, set()).add(socket)

    def discard(self, socket: Socket) -> None:
        self.index.discard(socket)
        if socket.user_id is not None:
            group = self.by_user.get(socket.user_id)
            if group is not None:
                group.discard(socket)
                if not group:
                    del self.by_user[socket.user_id]

    def watch(self, socket: Socket, keys: Iterable[Key]) -> tuple[Key, ...]:
        return self.index.watch(socket, keys)

    def wants(self, socket: Socket, keys: list[JsonKey]) -> bool:
        return self.index.wants(socket, _keys(keys))

    # invalidations

    def row(self, seq: int, keys: list[JsonKey], user_id: int | None, text: str) -> int:
        """Offer one outbox row to the sockets that want it; how many."""
        targets = self.index.sockets_for(_keys(keys))
        if user_id is not None:
            targets &= self.by_user.get(user_id, set())
        for socket in targets:
            socket.take_row(seq, keys, text)
        self.frames += len(targets)
        return len(targets)

    # pushed values

    def value(self, key: Key, data: dict[str, Any], user_id: int | None) -> None:
        """Keep the newest value of ``key`` (for ``user_id``'s sockets, or all) for the tick."""
        path = "/".join(str(part) for part in key)
        self._values[(user_id, path)] = (key, data)
        if self._flush is None:
            self._flush = self.loop.call_later(self.tick, self.flush)

    def flush(self) -> int:
        """Send every socket one frame with the values it watches; how many frames."""
        self._flush = None
        values, self._values = self._values, {}
        if not values:
            return 0
        parts: dict[Socket, list[int]] = {}
        encoded: list[tuple[str, str]] = []  # (part, single frame) per value
        for n, ((user_id, _path), (key, data)) in enumerate(values.items()):
            part = json.dumps({"key": list(key), "data": data}, separators=(",", ":"))
            encoded.append((part, '{"type":"set",' + part[1:]))
            targets = self.index.sockets_for([key])
            if user_id is not None:
                targets &= self.by_user.get(user_id, set())
            for socket in targets:
                parts.setdefault(socket, []).append(n)
        texts: dict[tuple[int, ...], str] = {}
        for socket, numbers in parts.items():
            which = tuple(numbers)
            text = texts.get(which)
            if text is None:
                if len(which) == 1:
                    text = encoded[which[0]][1]
                else:
                    joined = ",".join(encoded[n][0] for n in which)
                    text = '{"type":"set","values":[' + joined + "]}"
                texts[which] = text
            socket.take_text(text)
        self.frames += len(parts)
        return len(parts)

    # logouts

    def logout(self, user_id: int, code: int) -> None:
        for socket in list(self.by_user.get(user_id, ())):
            socket.end(code)

    def close(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        self._values.clear()
