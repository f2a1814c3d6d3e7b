"""Wake-ups between the Plank processes of one machine, over local datagram sockets.

Each relay binds a Unix datagram socket (Linux's abstract namespace: no file to clean up) and
leaves a presence file in ``$PLANK_DATA_DIR/run/live/<database>/``. After a commit that wrote
an outbox row, ``emit`` sends every other relay a one-byte wake-up, so a relay on SQLite reads
the new row within a millisecond instead of at its next poll. Without a shared channel layer
(no Redis) the same sockets carry pushed values (``set`` frames) and logouts to the other
processes, so ``serve --workers N`` on SQLite reaches the sockets of every worker.

Datagrams are hints: one lost (a full receive queue, a process that just died) costs nothing
the relay's slow poll does not make good; pushed values are not stored anyway. A presence file
whose socket no longer answers is removed by the first sender that finds it dead.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import json
import logging
import os
import socket
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

log = logging.getLogger(__name__)

WAKE = b"w"
PUSH = b"s"
LOGOUT = b"o"
MAX_DATAGRAM = 60_000

SUPPORTED = sys.platform.startswith("linux")


def _namespace() -> str:
    """The same for every process of one Plank (data directory and database), else different."""
    database = connections[DEFAULT_DB_ALIAS].settings_dict
    ident = f"{settings.DATA_DIR}|{database.get('ENGINE')}|{database.get('NAME')}"
    ident += f"|{database.get('HOST')}|{database.get('PORT')}"
    return hashlib.sha1(ident.encode()).hexdigest()[:16]


def directory() -> Path:
    return Path(settings.DATA_DIR) / "run" / "live" / _namespace()


def _address(namespace: str, name: str) -> bytes:
    return b"\0plank-live-" + f"{namespace}-{name}".encode()


_sender: socket.socket | None = None
_sender_pid = 0


def _send_socket() -> socket.socket:
    global _sender, _sender_pid
    if _sender is None or _sender_pid != os.getpid():
        _sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        _sender.setblocking(False)
        _sender_pid = os.getpid()
    return _sender


def send_all(payload: bytes, *, skip_own_process: bool = True) -> int:
    """Send ``payload`` to every relay of this Plank on this machine; how many got it."""
    if not SUPPORTED or len(payload) > MAX_DATAGRAM:
        return 0
    folder = directory()
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return 0
    own = f"{os.getpid()}-"
    namespace = _namespace()
    sent = 0
    sender = _send_socket()
    for name in names:
        if skip_own_process and name.startswith(own):
            continue
        try:
            sender.sendto(payload, _address(namespace, name))
            sent += 1
        except BlockingIOError:
            pass  # its queue is full: it is awake anyway
        except OSError as exc:
            if exc.errno in (errno.ECONNREFUSED, errno.ENOENT):
                with contextlib.suppress(OSError):
                    (folder / name).unlink()  # a relay that is gone
            else:
                log.debug("could not wake relay %s", name, exc_info=True)
    return sent


def wake_others() -> None:
    """After a commit with an outbox row: the relays of the other processes look now."""
    send_all(WAKE)


def push_others(frame: dict[str, Any], user_id: int | None) -> None:
    payload = json.dumps({"frame": frame, "user": user_id}, separators=(",", ":"))
    send_all(PUSH + payload.encode())


def logout_others(user_id: int) -> None:
    send_all(LOGOUT + str(int(user_id)).encode())


class Listener:
    """One relay's socket: calls ``on_wake()``, ``on_push(frame, user_id)``, ``on_logout(uid)``."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        on_wake: Callable[[], None],
        on_push: Callable[[dict[str, Any], int | None], None],
        on_logout: Callable[[int], None],
    ) -> None:
        self.loop = loop
        self.on_wake = on_wake
        self.on_push = on_push
        self.on_logout = on_logout
        self.name = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._socket: socket.socket | None = None
        self._presence: Path | None = None

    @property
    def up(self) -> bool:
        return self._socket is not None

    def start(self) -> bool:
        """Bind and announce (call on the loop's thread); False where it cannot work."""
        if not SUPPORTED:
            return False
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.setblocking(False)
            sock.bind(_address(_namespace(), self.name))
            folder = directory()
            folder.mkdir(parents=True, exist_ok=True)
            presence = folder / self.name
            presence.touch()
        except OSError:
            log.warning("live wake-ups are off (polling only)", exc_info=True)
            return False
        self._socket, self._presence = sock, presence
        self.loop.add_reader(sock.fileno(), self._readable)
        return True

    def stop(self) -> None:
        sock, self._socket = self._socket, None
        if sock is not None:
            with contextlib.suppress(Exception):
                self.loop.remove_reader(sock.fileno())
            sock.close()
        presence, self._presence = self._presence, None
        if presence is not None:
            with contextlib.suppress(OSError):
                presence.unlink()

    def _readable(self) -> None:
        sock = self._socket
        if sock is None:
            return
        woken = False
        while True:
            try:
                payload = sock.recv(MAX_DATAGRAM + 1)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                log.debug("wake-up socket read failed", exc_info=True)
                break
            kind, body = payload[:1], payload[1:]
            try:
                if kind == WAKE:
                    woken = True
                elif kind == PUSH:
                    message = json.loads(body)
                    user = message.get("user")
                    self.on_push(message["frame"], int(user) if user is not None else None)
                elif kind == LOGOUT:
                    self.on_logout(int(body))
            except (ValueError, KeyError, TypeError):
                log.debug("ignoring a malformed wake-up datagram", exc_info=True)
        if woken:
            self.on_wake()
