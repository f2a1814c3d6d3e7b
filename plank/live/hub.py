"""This process's relays, one per event loop, and what the rest of the live layer asks of them.

``emit`` wakes them after a commit (:func:`wake_all`, which also wakes the relays of the other
processes on this machine); ``push`` and ``close_user_sockets`` hand a value or a logout to
every relay (:func:`push`, :func:`logout`): this process's directly, the other processes'
through the shared channel layer (Redis) or, without one, through the local wake-up sockets
(:mod:`plank.live.wakeup`). :mod:`plank.live.relay` registers its relays here. This module
imports neither the relay nor the events, so both can import it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

from plank.live import wakeup

log = logging.getLogger(__name__)

ORIGIN = uuid.uuid4().hex  # this process, in messages that every process's relays receive
RELAYS_GROUP = "live.relays"


class Relay(Protocol):
    """What the hub needs of a relay (``plank.live.relay.Relay``)."""

    loop: asyncio.AbstractEventLoop
    stopped: bool
    last_seq: int  # the newest outbox row it has handed to its sockets
    ready: asyncio.Event

    def wake(self) -> None: ...

    def close_now(self) -> None: ...

    def take_value(self, frame: dict[str, Any], user_id: int | None) -> None: ...

    def logout(self, user_id: int) -> None: ...


R = TypeVar("R", bound=Relay)

_relays: dict[asyncio.AbstractEventLoop, Relay] = {}
_lock = threading.Lock()


def ensure(loop: asyncio.AbstractEventLoop, start: Callable[[asyncio.AbstractEventLoop], R]) -> R:
    """The relay of ``loop``, made by ``start(loop)`` when it has none (or it stopped).

    Relays of loops that have closed meanwhile are forgotten and closed.
    """
    stale: list[Relay] = []
    with _lock:
        for other_loop, other in list(_relays.items()):
            if other_loop.is_closed():
                stale.append(other)
                del _relays[other_loop]
        relay = _relays.get(loop)
        if relay is None or relay.stopped:
            relay = start(loop)
            _relays[loop] = relay
    for old in stale:
        old.close_now()
    return relay  # type: ignore[return-value]  (only ``start`` puts relays of type R here)


def get(loop: asyncio.AbstractEventLoop) -> Relay | None:
    with _lock:
        return _relays.get(loop)


def forget(relay: Relay) -> None:
    with _lock:
        if _relays.get(relay.loop) is relay:
            del _relays[relay.loop]


def relays() -> list[Relay]:
    """The relays of this process that have not stopped."""
    with _lock:
        return [r for r in _relays.values() if not r.stopped]


def wake_all() -> None:
    """Wake every relay of this process and, over the local wake-up sockets, of the others
    (thread-safe; ``emit`` calls it after each commit)."""
    for relay in relays():
        relay.wake()
    wakeup.wake_others()


def _on_each_loop(method: str, *args: Any) -> None:
    for relay in relays():
        try:
            relay.loop.call_soon_threadsafe(getattr(relay, method), *args)
        except RuntimeError:  # its loop closed meanwhile
            continue


def push(frame: dict[str, Any], user_id: int | None) -> None:
    """Hand a ``set`` frame to every relay of this Plank, which send it with their next tick."""
    _on_each_loop("take_value", frame, user_id)
    if layer_is_shared(get_channel_layer()):
        message = {"type": "live.value", "origin": ORIGIN, "frame": frame, "user": user_id}
        group_send(RELAYS_GROUP, message)
    else:
        wakeup.push_others(frame, user_id)


def logout(user_id: int) -> None:
    """End the open sockets of ``user_id`` in every process (they logged out somewhere)."""
    _on_each_loop("logout", int(user_id))
    if layer_is_shared(get_channel_layer()):
        group_send(RELAYS_GROUP, {"type": "live.logout", "origin": ORIGIN, "user": int(user_id)})
    else:
        wakeup.logout_others(int(user_id))


def layer_is_shared(layer: Any) -> bool:
    """True for a channel layer that reaches other processes (Redis), False for in-memory."""
    return layer is not None and not isinstance(layer, InMemoryChannelLayer)


def _report(future: Future[Any] | asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("live push failed", exc_info=future.exception())


_pending: set[asyncio.Task[Any]] = set()


async def sends_done() -> None:
    """Until the channel-layer sends started on this loop have gone out (at most 5 s): for
    whoever is about to close a loop that made some (the live tests' clean-up does)."""
    loop = asyncio.get_running_loop()
    mine = [t for t in list(_pending) if t.get_loop() is loop]
    if mine:
        await asyncio.wait(mine, timeout=5)


def group_send(group: str, message: dict[str, Any]) -> None:
    """Send a channel-layer message from any thread or coroutine, without waiting for it.

    The in-memory layer belongs to the relay's loop, so from other threads the send is handed to
    that loop; with no relay in this process there is no socket it could reach. A shared layer
    is used from the relay's loop when there is one, else directly (management commands).
    """
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    current = [r for r in relays() if r.loop.is_running()]
    if running is not None and (layer_is_shared(layer) or any(r.loop is running for r in current)):
        task = running.create_task(layer.group_send(group, message))
        _pending.add(task)
        task.add_done_callback(_pending.discard)
        task.add_done_callback(_report)
        return
    if current:
        future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), current[0].loop)
        future.add_done_callback(_report)
        return
    if layer_is_shared(layer) and running is None:
        async_to_sync(layer.group_send)(group, message)
