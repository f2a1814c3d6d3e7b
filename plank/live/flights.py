"""Single-flight plumbing of the live cache: one fetch per key however many callers ask.

In this process the callers of one key wait on one :class:`Flight` (:class:`Flights` keeps them).
Across processes on a shared backend the fetching process holds a :class:`Lease`: a lock taken
with ``cache.add``, renewed while its holder works, that lapses when the holder dies.
"""

from __future__ import annotations

import contextlib
import pickle
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

from plank.live.store import Names, Store

T = TypeVar("T")


class Flight:
    """One fetch of one key in this process; the callers asking meanwhile wait on ``future``."""

    __slots__ = ("future", "gens", "_payload", "_lock")

    def __init__(self) -> None:
        self.future: Future[Any] = Future()
        self.gens: tuple[int | None, ...] | None = None  # set when the fetch starts
        self._payload: bytes | None = None
        self._lock = threading.Lock()

    def outdated(self, gens: tuple[int | None, ...]) -> bool:
        """True when the fetch started before counters that ``gens`` shows had moved."""
        return self.gens is not None and None not in gens and gens != self.gens

    def copy(self, value: Any) -> Any:
        """A waiter's own copy of the fetched ``value``, as a cache read would give.

        Pickled once per flight, unpickled per waiter; a value that cannot be pickled is shared.
        """
        try:
            with self._lock:
                if self._payload is None:
                    self._payload = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
            return pickle.loads(self._payload)
        except Exception:
            return value


class Flights:
    """The flights running in this process, by the key's value name."""

    def __init__(self) -> None:
        self._flights: dict[str, Flight] = {}
        self._lock = threading.Lock()

    def join(self, name: str, gens: tuple[int | None, ...]) -> tuple[Flight, bool]:
        """The running flight of ``name`` and False, or a new one and True (the caller leads it).

        A flight that started before the counters in ``gens`` moved is not joined: its result
        would predate the change the caller came for.
        """
        with self._lock:
            flight = self._flights.get(name)
            if flight is not None and not flight.outdated(gens):
                return flight, False
            flight = self._flights[name] = Flight()
            return flight, True

    def land(self, name: str, flight: Flight) -> None:
        """``flight`` is over: the next caller of ``name`` starts a new one."""
        with self._lock:
            if self._flights.get(name) is flight:
                del self._flights[name]


class Lease:
    """The cross-process lock of a key on a shared backend.

    The holder takes ``cache.add(lock, token, timeout=lease)`` and renews it (``touch``) while
    it works, for at most ``max_hold`` seconds; a holder that dies stops renewing and its lock
    lapses after ``lease`` seconds.
    """

    def __init__(self, store: Store, lease: float, max_hold: float) -> None:
        self.store = store
        self.lease = lease
        self.max_hold = max_hold

    def acquire(self, n: Names, settled: Callable[[], T | None]) -> str | T:
        """The lock's token, or what ``settled()`` returns while another process holds it.

        ``settled`` is polled (sleeps from 1 ms doubling up to 50 ms) until it returns something
        (the holder's value, say) or the lock is free. The token is ``""`` when the backend
        gives no lock at all: then the caller fetches without one rather than fail the page.
        """
        store = self.store
        token = uuid.uuid4().hex
        lease = store.ttl(self.lease)
        delay = 0.001
        while True:
            try:
                if store.tolerant(f"locking {n.lock}", store.backend.add, n.lock, token, lease):
                    return token
            except Exception:
                return ""
            outcome = settled()
            if outcome is not None:
                return outcome
            time.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, 0.05)

    @contextlib.contextmanager
    def renewed(self, n: Names, token: str) -> Iterator[None]:
        """Keep the lease (when ``token`` holds it) while the body runs, up to ``max_hold``."""
        if not token:
            yield
            return
        stop = threading.Event()
        store = self.store
        backend = store.backend  # this thread's connection: the alias resolves per thread
        lease = store.ttl(self.lease)
        interval = max(self.lease / 3, 0.01)
        deadline = time.monotonic() + self.max_hold

        def renew() -> None:
            while not stop.wait(interval) and time.monotonic() < deadline:
                try:
                    if backend.get(n.lock) != token:
                        return
                    backend.touch(n.lock, lease)
                except Exception as exc:
                    store.failed(f"renewing {n.lock}", exc)

        threading.Thread(target=renew, name="live-cache-lease", daemon=True).start()
        try:
            yield
        finally:
            stop.set()

    def release(self, n: Names, token: str) -> None:
        if not token:
            return
        try:
            if self.store.backend.get(n.lock) == token:
                self.store.backend.delete(n.lock)
        except Exception as exc:
            self.store.failed(f"releasing {n.lock}", exc)
