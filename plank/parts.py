"""The long-running parts of a Plank process (relay, engine, job worker, ...).

A part is anything with ``start()`` and ``stop()``. Apps register a factory from their
``AppConfig.ready()``; ``manage.py serve`` (and ``manage.py engine``) start the parts that fit
the process's role, in registration order, and stop them in reverse order on shutdown.

Roles: ``"web"`` parts run in every serving process; ``"engine"`` parts run only where the
BitTorrent session and the jobs live (``serve`` without ``--web-only``, or ``manage.py engine``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)


class Part(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class Registration:
    name: str
    roles: frozenset[str]
    factory: Callable[[], Part]


_registry: list[Registration] = []


def register(name: str, factory: Callable[[], Part], *, roles: tuple[str, ...] = ("web",)) -> None:
    if any(r.name == name for r in _registry):
        return
    _registry.append(Registration(name=name, roles=frozenset(roles), factory=factory))


def registered() -> list[Registration]:
    return list(_registry)


class Parts:
    """The parts of one process, started together and stopped in reverse order."""

    def __init__(self, roles: set[str]) -> None:
        self.roles = roles
        self.running: list[Part] = []

    def start(self) -> None:
        for reg in _registry:
            if reg.roles & self.roles:
                part = reg.factory()
                log.info("starting %s", reg.name)
                part.start()
                self.running.append(part)

    def stop(self) -> None:
        while self.running:
            part = self.running.pop()
            try:
                log.info("stopping %s", getattr(part, "name", part))
                part.stop()
            except Exception:  # stopping must go on for the other parts
                log.exception("failed to stop %s", getattr(part, "name", part))
