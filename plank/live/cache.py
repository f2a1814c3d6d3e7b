"""The per-key cache of the live layer, on Django's cache framework.

``fetch(key, fetcher, stale=..., expire=...)`` returns a :class:`Result`: a fresh value at once,
an aged one at once with a refresh in the background, a missing or invalidated one fetched once
however many threads and processes ask (single-flight). Failures are retried with backoff, and a
stale value is served flagged while the upstream is down. ``invalidate(prefix)`` makes every key
under it stale in constant time. The design, and why: docs/live-cache.md.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from django.conf import settings
from django.core.cache.backends.base import BaseCache

from plank import slow
from plank.live import counters
from plank.live.errors import UpstreamError, clone_error, error_from_record, error_record
from plank.live.flights import Flight, Flights, Lease
from plank.live.keys import Key, check_key, to_path
from plank.live.pool import DaemonPool
from plank.live.retry import Backoff
from plank.live.store import AGED, FRESH, MISSING, Entry, Names, Snapshot, Store
from plank.system import Check

logger = logging.getLogger(__name__)

DEFAULT_STALE = 60.0
DEFAULT_EXPIRE = 24 * 3600.0
DEFAULT_RETRIES = 3

# Hooks called with the prefix after every invalidate() in this process (any LiveCache). The
# event relay and in-process caches (templates, ORM) register here. A failing hook is logged.
on_invalidate: list[Callable[[Key], object]] = []


@dataclass(frozen=True, slots=True)
class Result:
    """What :func:`fetch` returns."""

    value: Any
    # True when served although the upstream is failing: the page says "may be out of date".
    stale: bool
    # When the value was fetched (epoch seconds, the cache's clock).
    fetched_at: float
    # The message of the last upstream failure, when ``stale``.
    error: str | None = None


class _Job(NamedTuple):
    """One fetch as asked for: what travels from the caller to the flight that runs it."""

    key: Key
    n: Names
    fetcher: Callable[[], Any]
    stale: float
    expire: float | None
    retries: int


_instances: weakref.WeakSet[LiveCache] = weakref.WeakSet()


class LiveCache:
    """The per-key cache on one Django cache backend: what to answer, and what to store.

    ``backend`` is a cache alias (resolved per thread, as Django does) or a cache object.
    ``shared`` says whether other processes see the same backend (default: anything but local
    memory and the dummy cache). ``now`` and ``sleep`` are the clock and the backoff sleep (tests
    pass their own). Times are seconds.
    """

    def __init__(
        self,
        backend: str | BaseCache = "default",
        *,
        shared: bool | None = None,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        lease: float = 30.0,
        max_hold: float = 300.0,
        negative_ttl: float = 5.0,
        backoff_base: float = 0.2,
        backoff_cap: float = 5.0,
        max_retry_wait: float = 30.0,
        refresh_workers: int = 8,
        namespace: str = "plank",
    ) -> None:
        self.store = Store(backend, namespace)
        if shared is None:
            shared = not self.store.local or (
                self.store.alias == "default" and settings.CACHE_IS_SHARED
            )
        self.shared = shared
        self.now = now
        self.negative_ttl = negative_ttl
        self.backoff = Backoff(backoff_base, backoff_cap, max_retry_wait, sleep)
        self.stats = counters.Counters()
        self._lease = Lease(self.store, lease, max_hold)
        self._refresh_workers = refresh_workers
        self._after_fork()
        _instances.add(self)

    def _after_fork(self) -> None:
        """The parent's flights and threads are not this process's: start afresh."""
        self._flights = Flights()
        self._refresh_pool = DaemonPool("live-cache-refresh", self._refresh_workers)

    def __repr__(self) -> str:
        where = self.store.alias or type(self.store.backend_object).__name__
        return f"<LiveCache {where} shared={self.shared}>"

    @property
    def backend(self) -> BaseCache:
        return self.store.backend

    @property
    def local(self) -> bool:
        return self.store.local

    # --- the API ------------------------------------------------------------------------------

    def fetch(
        self,
        key: Key,
        fetcher: Callable[[], Any],
        *,
        stale: float = DEFAULT_STALE,
        expire: float | None = DEFAULT_EXPIRE,
        retries: int = DEFAULT_RETRIES,
    ) -> Result:
        """The value for ``key``, through the cache; ``fetcher`` takes no argument.

        Raises the :class:`UpstreamError` of the last failure when there is no value to serve.
        """
        key, n = self.store.resolve(key)
        _check_args(stale, expire, retries)
        job = _Job(key, n, fetcher, stale, expire, retries)
        out = self._front(job)
        if isinstance(out, Result):
            return out
        flight, leader, fallback = out
        if leader:
            self._fly(flight, job, fallback.eid if fallback else None, False)
        else:
            self.stats.add(n.buckets, "joined_waits")
        return self._outcome(flight, leader, fallback, n)

    def get(self, key: Key) -> Result | None:
        """The stored value without fetching; ``stale`` is True when it is not fresh."""
        key, n = self.store.resolve(key)
        snap = self.store.read(n, with_err=True)
        state = snap.state(self.now())
        if state == MISSING or snap.entry is None:
            return None
        entry = snap.entry
        err = snap.err if _err_applies(snap.err, entry) else None
        return Result(
            entry.value, state != FRESH, entry.fetched_at, err["message"] if err else None
        )

    def set(
        self,
        key: Key,
        value: Any,
        *,
        stale: float = DEFAULT_STALE,
        expire: float | None = DEFAULT_EXPIRE,
    ) -> Result:
        """Store ``value`` for ``key``, fresh (after a mutation that knows the new value).

        A fetch of ``key`` running meanwhile will not overwrite it.
        """
        key, n = self.store.resolve(key)
        _check_args(stale, expire, 0)
        self.store.bump(n.counters[-1])
        snap = self.store.read(n)
        gens = self.store.ensure_counters(n, snap.gens)
        return _result(self.store.write(n, value, gens, now=self.now(), stale=stale, expire=expire))

    def delete(self, key: Key) -> None:
        """Forget the value of ``key`` (a fetch running meanwhile stores its value as outdated)."""
        key, n = self.store.resolve(key)
        self.store.bump(n.counters[-1])
        self.store.delete(n)

    def invalidate(self, prefix: Key, *, event_id: str | int | None = None) -> bool:
        """Make every key under ``prefix`` stale; constant time (one counter).

        ``event_id`` (an outbox sequence number, say) makes the bump happen once per backend
        however many processes relay the same event; the hooks in :data:`on_invalidate` run in
        every process either way. Returns whether the counter was bumped here.
        """
        prefix = check_key(prefix)
        bumped = event_id is None or self.store.first_sight(event_id, prefix)
        if bumped:
            self.store.bump(self.store.name("gen", prefix))
        for hook in list(on_invalidate):
            try:
                hook(prefix)
            except Exception:
                logger.exception("live cache: on_invalidate hook %r failed", hook)
        return bumped

    def wait_background(self, timeout: float | None = None) -> bool:
        """Wait until no background refresh is queued or running (tests, benchmarks)."""
        return self._refresh_pool.join(timeout)

    # --- answering ----------------------------------------------------------------------------

    def _front(self, job: _Job) -> Result | tuple[Flight, bool, Entry | None]:
        """Answer from the cache, or return the flight to wait on (and whether we lead it)."""
        n = job.n
        snap = self.store.read(n)
        state = snap.state(self.now())
        entry = snap.entry
        if state == FRESH:
            self.stats.add(n.buckets, "hits")
            return _result(entry)  # type: ignore[arg-type]
        if state == MISSING:
            entry = None
        err = self.store.read_err(n)
        if not _err_applies(err, entry):
            err = None
        if state == AGED:
            self.stats.add(n.buckets, "stale_serves")
            if self._err_current(err):
                self.stats.add(n.buckets, "negative_hits")
            else:
                self._refresh(job, snap)
            return _result(entry, err)  # type: ignore[arg-type]
        # missing or invalidated: wait for a fetch (or answer from the recorded failure)
        self.stats.add(n.buckets, "misses")
        if self._err_current(err):
            self.stats.add(n.buckets, "negative_hits")
            if entry is not None:
                self.stats.add(n.buckets, "stale_serves")
                return _result(entry, err)
            raise error_from_record(err)  # type: ignore[arg-type]
        flight, leader = self._flights.join(n.value, snap.gens)
        return flight, leader, entry

    def _outcome(self, flight: Flight, leader: bool, fallback: Entry | None, n: Names) -> Result:
        """The flight's outcome for one caller: its own copy, or the stale fallback on failure."""
        exc = flight.future.exception()  # waits for the flight to land
        if exc is None:
            result = flight.future.result()
            return result if leader else replace(result, value=flight.copy(result.value))
        if isinstance(exc, UpstreamError):
            if fallback is not None and (
                fallback.expire_at is None or self.now() < fallback.expire_at
            ):
                self.stats.add(n.buckets, "stale_serves")
                return Result(fallback.value, True, fallback.fetched_at, exc.message)
            if not leader:
                raise clone_error(exc)
        raise exc

    def _err_window(self, err: dict[str, Any]) -> float:
        window = self.negative_ttl
        retry_after = err.get("retry_after")
        if retry_after:
            window = max(window, min(float(retry_after), self.backoff.max_retry_wait))
        return window

    def _err_current(self, err: dict[str, Any] | None) -> bool:
        """Within the negative-cache window: answer with it, don't call the upstream."""
        return err is not None and self.now() - err["at"] < self._err_window(err)

    # --- fetching -----------------------------------------------------------------------------

    def _refresh(self, job: _Job, snap: Snapshot) -> None:
        flight, leader = self._flights.join(job.n.value, snap.gens)
        if not leader:
            return  # a fetch of this key is already running here
        self.stats.add(job.n.buckets, "refreshes")
        base = snap.entry.eid if snap.entry else None
        self._refresh_pool.submit(self._fly, flight, job, base, True)

    def _fly(self, flight: Flight, job: _Job, base_eid: int | None, background: bool) -> None:
        """Run ``flight`` to its end; its outcome goes to its future, never raised here."""
        try:
            result = self._lead(flight, job, base_eid, background)
        except BaseException as exc:
            flight.future.set_exception(exc)
            if background:
                logger.info("live cache: refreshing %s failed: %s", to_path(job.key), exc)
        else:
            flight.future.set_result(result)
        finally:
            self._flights.land(job.n.value, flight)

    def _lead(self, flight: Flight, job: _Job, base_eid: int | None, background: bool) -> Result:
        n = job.n
        token = ""
        if self.shared:
            got = self._lease.acquire(
                n, lambda: self._settled(n, self.store.read(n, with_err=True), base_eid, background)
            )
            if isinstance(got, Result):
                return got
            token = got
        try:
            # Someone (a flight that just ended here, another process) may have stored a value
            # between our first read and now, or failed just now: then there is nothing to fetch.
            snap = self.store.read(n, with_err=True)
            settled = self._settled(n, snap, base_eid, background)
            if settled is not None:
                return settled
            gens = self.store.ensure_counters(n, snap.gens)
            flight.gens = gens
            try:
                with self._lease.renewed(n, token), slow.upstream(job.key):
                    value = self.backoff.call(
                        job.fetcher, job.retries, lambda name: self.stats.add(n.buckets, name)
                    )
            except UpstreamError as exc:
                record = error_record(exc, self.now())
                self.store.record_error(n, record, max(self._err_window(record), job.expire or 0))
                raise
            return self._keep(n, value, gens, job.stale, job.expire)
        finally:
            self._lease.release(n, token)

    def _settled(
        self, n: Names, snap: Snapshot, base_eid: int | None, background: bool
    ) -> Result | None:
        """Someone else's outcome for this fetch, if there is one by now.

        Their stored value (a joined wait), or their failure raised again while the negative
        cache holds it (don't call the upstream again); None when the fetch is still to be done.
        """
        entry = snap.entry
        if entry is not None and entry.eid != base_eid and snap.state(self.now()) in (FRESH, AGED):
            if not background:
                self.stats.add(n.buckets, "joined_waits")
            return _result(entry)
        if _err_applies(snap.err, entry) and self._err_current(snap.err):
            raise error_from_record(snap.err)  # type: ignore[arg-type]
        return None

    def _keep(
        self, n: Names, value: Any, gens: tuple[int | None, ...], stale: float, expire: float | None
    ) -> Result:
        """Store a fetched value under the in-flight rule (see docs/live-cache.md)."""
        snap = self.store.read(n)
        if snap.gens != gens:
            current = snap.entry
            if current is not None and snap.state(self.now()) in (FRESH, AGED):
                self.store.clear_error(n)
                return _result(current)  # newer truth is stored: keep it
            # Nothing newer: store ours with the counters it started with -> refetched next read.
        return _result(self.store.write(n, value, gens, now=self.now(), stale=stale, expire=expire))


def _check_args(stale: float, expire: float | None, retries: int) -> None:
    if stale < 0:
        raise ValueError("stale must be >= 0 seconds")
    if expire is not None and (expire <= 0 or expire < stale):
        raise ValueError("expire must be > 0 seconds and >= stale")
    if retries < 0:
        raise ValueError("retries must be >= 0")


def _err_applies(err: dict[str, Any] | None, entry: Entry | None) -> bool:
    """The recorded failure is about this value (it came after the value was fetched)."""
    return err is not None and (entry is None or err["at"] >= entry.fetched_at)


def _result(entry: Entry, err: dict[str, Any] | None = None) -> Result:
    return Result(entry.value, err is not None, entry.fetched_at, err["message"] if err else None)


def _reinit_after_fork() -> None:
    for instance in list(_instances):
        instance._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinit_after_fork)


# --- module-level API: the default cache, or another alias / backend --------------------------

_registry: dict[Any, LiveCache] = {}
_registry_lock = threading.Lock()


def cache_for(backend: str | BaseCache | LiveCache | None = None) -> LiveCache:
    """The :class:`LiveCache` for a cache alias (default ``"default"``) or a cache object."""
    if isinstance(backend, LiveCache):
        return backend
    target: str | BaseCache = backend or "default"
    ident: Any = target if isinstance(target, str) else id(target)
    with _registry_lock:
        instance = _registry.get(ident)
        stale_id = (
            instance is not None
            and not isinstance(target, str)
            and instance.store.backend_object is not target
        )
        if instance is None or stale_id:
            instance = _registry[ident] = LiveCache(target, **settings.PLANK_LIVE_CACHE)
        return instance


def fetch(
    key: Key,
    fetcher: Callable[[], Any],
    *,
    stale: float = DEFAULT_STALE,
    expire: float | None = DEFAULT_EXPIRE,
    retries: int = DEFAULT_RETRIES,
    backend: str | BaseCache | LiveCache | None = None,
) -> Result:
    return cache_for(backend).fetch(key, fetcher, stale=stale, expire=expire, retries=retries)


def get(key: Key, *, backend: str | BaseCache | LiveCache | None = None) -> Result | None:
    return cache_for(backend).get(key)


def set(
    key: Key,
    value: Any,
    *,
    stale: float = DEFAULT_STALE,
    expire: float | None = DEFAULT_EXPIRE,
    backend: str | BaseCache | LiveCache | None = None,
) -> Result:
    return cache_for(backend).set(key, value, stale=stale, expire=expire)


def delete(key: Key, *, backend: str | BaseCache | LiveCache | None = None) -> None:
    cache_for(backend).delete(key)


def invalidate(
    prefix: Key,
    *,
    event_id: str | int | None = None,
    backend: str | BaseCache | LiveCache | None = None,
) -> bool:
    return cache_for(backend).invalidate(prefix, event_id=event_id)


def listing(
    prefix: Key | None = None, *, backend: str | BaseCache | LiveCache | None = None
) -> list[tuple[str, int]] | None:
    """The stored values under ``prefix`` as (cache name, bytes); None: can't be listed."""
    return cache_for(backend).store.value_names(prefix)


def clear(prefix: Key, *, backend: str | BaseCache | LiveCache | None = None) -> int | None:
    """Make everything under ``prefix`` stale and delete its stored values; how many were
    deleted (None when the backend can't list them: then they are only stale). Callers
    announce the prefix (``plank.cache_admin``), so pages refetch."""
    live = cache_for(backend)
    live.invalidate(prefix)
    names = live.store.value_names(prefix)
    if names:
        live.store.delete_names([name for name, _size in names])
    return None if names is None else len(names)


def stats(backend: str | BaseCache | LiveCache | None = None) -> dict[str, dict[str, int]]:
    """Counters per top-level and two-part prefix (``"tmdb"``, ``"tmdb/trending"``)."""
    return cache_for(backend).stats.snapshot()


def reset_stats(backend: str | BaseCache | LiveCache | None = None) -> None:
    cache_for(backend).stats.reset()


def health() -> Check:
    """A /system/ check: the default cache's backend and its counters per top-level prefix."""
    live = cache_for()
    top = live.stats.top_level()
    total = counters.total(top)
    kind = type(live.backend).__name__ + (" (shared)" if live.shared else "")
    summary = (
        f"{kind}: {total['hits']} hits, {total['misses']} misses, "
        f"{total['stale_serves']} stale, {total['errors']} upstream errors"
    )
    details = [
        (bucket, ", ".join(f"{name} {c[name]}" for name in counters.COUNTERS))
        for bucket, c in top.items()
    ]
    return Check(name="Live cache", ok=True, summary=summary, details=details)
