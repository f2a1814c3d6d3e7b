"""The per-key cache of the live layer, on Django's cache framework.

One call fetches a value for a key (see :mod:`plank.live.keys`) through the cache::

    result = fetch(("tmdb", "trending", "movie", 1), lambda: client.trending("movie", 1),
                   stale=300, expire=86400)
    result.value, result.stale, result.error

States of a stored value
------------------------
- **fresh** (younger than ``stale``): returned (a *hit*).
- **aged** (older than ``stale``, younger than ``expire``): returned at once and refreshed in the
  background (stale-while-revalidate); one refresh per key at a time, across processes too.
- **invalidated** (a prefix of its key was invalidated after its fetch started, see below):
  refetched *in the foreground* — the caller waits for the new value, single-flight. A page
  re-renders a partial precisely because the socket said its key changed; handing it the old
  value and refreshing behind its back would leave the page wrong until the next change. If the
  refetch fails, the old value is served flagged ``stale=True``.
- **missing / expired** (``expire`` passed; the cache entry's timeout removes it too): fetched
  once however many callers ask at the same moment (single-flight): threads of this process wait
  on one in-process flight, other processes wait on a lease lock in the shared backend.

``Result.stale`` is True only when the value is served although the upstream is known to be
failing (the page says "may be out of date"); ``Result.error`` then holds the failure's message.

Invalidation: generation counters, no key scans
-----------------------------------------------
Every prefix has a counter (``plank:gen:<path>``), and every key an own version counter
(``plank:ver:<path>``, bumped by :meth:`LiveCache.set` and :meth:`LiveCache.delete`). An entry
stores the values of the counters of all prefixes of its key, plus its own version, read when
its fetch *started*. A read fetches the entry and those ``len(key) + 1`` counters in one
``get_many``; any difference means the entry is invalidated. :meth:`LiveCache.invalidate` is one
``incr`` — constant time however many keys sit under the prefix.

A missing counter (evicted, expired) also counts as a difference, and a counter is created with a
random 48-bit starting value, so a counter that is evicted and created again can never match an
old entry: eviction can cost a refetch, never a lost invalidation.

The in-flight rule. A fetch that started before an invalidation (or before a ``set()``) and ends
after it compares the counters it started with against the current ones:

- unchanged: it stores its value, fresh;
- changed, and the entry now stored is valid for the current counters (a ``set()`` or a newer
  fetch wrote it): it stores nothing and its callers get that newer value;
- changed, nothing newer stored: it stores its value *with the counters it started with*, so the
  value is there (to be served stale if the upstream fails) but the next read refetches it. Its
  own waiters get the value.

Because the stored counters decide validity, even a lost race between that check and the write
(other processes) cannot make an old value look fresh: at worst it costs one refetch.

Cross-process single-flight (shared backends)
---------------------------------------------
When the backend is shared between processes (anything but local memory and the dummy cache),
the process that leads a fetch first takes ``cache.add(plank:lock:<path>, token, timeout=lease)``.
The holder renews the lease (``touch``) while its fetch runs, for at most ``max_hold`` seconds,
so a slow upstream does not let a second process in, while a holder that dies (killed, crashed)
stops renewing and its lock lapses after ``lease`` seconds. Other processes poll the value key
(exponential sleeps from 1 ms, capped at 50 ms) until a valid value appears, the holder's error
is recorded (then they fail the same way, negative cache), or the lock is free, and then they
take it over.

Failures
--------
Transient errors (:class:`~plank.live.errors.UpstreamError` with ``transient=True``, timeouts,
connection errors, HTTP 5xx/429 from ``requests``) are retried up to ``retries`` more times with
full-jitter exponential backoff (``backoff_base`` doubling up to ``backoff_cap``); a
``retry_after`` is waited at least, unless it exceeds ``max_retry_wait``, in which case retrying
stops. Other errors (4xx) are not retried. Any other exception is wrapped in an
``UpstreamError`` (message without the upstream's URL). The last failure is recorded per key:
within ``negative_ttl`` seconds (or the ``retry_after``, if longer) callers get it at once (or the
stale value) without calling the upstream; a successful fetch or ``set()`` clears it.

Counters
--------
Per top-level prefix (``"tmdb"``) and per two-part prefix (``"tmdb/trending"``), process-local:
``hits`` (fresh value served), ``misses`` (no usable value: waited for a fetch, or failed),
``stale_serves`` (a value past its stale time, invalidated, or flagged stale, was served),
``joined_waits`` (a miss served by someone else's fetch, in this process or another),
``upstream_calls`` (fetcher calls, each retry counted), ``errors`` (fetcher calls that failed),
``refreshes`` (background refreshes started), ``negative_hits`` (answered from the recorded
failure without calling the upstream).

Values are pickled by Django's cache; callers each get their own copy (also the callers that
joined another's fetch), as with a plain ``cache.get``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import importlib
import inspect
import logging
import math
import os
import pickle
import queue
import random
import socket
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from concurrent.futures import CancelledError as FutureCancelledError
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote

import redis.exceptions
import requests
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache

from plank.live.errors import UpstreamError
from plank.live.keys import Key, check_key, prefixes, to_path

if TYPE_CHECKING:
    from plank.system import Check

logger = logging.getLogger(__name__)

DEFAULT_STALE = 60.0
DEFAULT_EXPIRE = 24 * 3600.0
DEFAULT_RETRIES = 3
# Generation counters live long; one that expires costs at most one refetch of the keys under it.
GENERATION_TTL = 30 * 24 * 3600
# How long invalidate(event_id=...) remembers an event, so N processes bump a counter once.
EVENT_TTL = 24 * 3600

COUNTERS = (
    "hits",
    "misses",
    "stale_serves",
    "joined_waits",
    "upstream_calls",
    "errors",
    "refreshes",
    "negative_hits",
)

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


class _Entry(NamedTuple):
    """What is stored under a key's value name (pickled by Django's cache)."""

    value: Any
    fetched_at: float
    stale_at: float
    expire_at: float | None
    gens: tuple[int | None, ...]
    eid: int  # tells one stored entry from another, whatever the clock says


class _Names(NamedTuple):
    """The cache names used for one key, and its counter buckets."""

    value: str
    err: str
    lock: str
    counters: tuple[str, ...]  # generation names of every prefix, then the key's own version
    buckets: tuple[str, ...]


class _Snapshot(NamedTuple):
    entry: _Entry | None
    gens: tuple[int | None, ...]
    err: dict[str, Any] | None


class _Job(NamedTuple):
    """One fetch as asked for: what travels from the caller to the flight that runs it."""

    key: Key
    n: _Names
    call: Callable[[], Any]  # the fetcher, as a plain callable (see _invoker)
    stale: float
    expire: float | None
    retries: int


_FRESH, _AGED, _INVALID, _MISSING = range(4)

# A backend call that fails like this (Redis restarting, its connection pool exhausted under a
# burst) is tried again after these pauses before the cache works around the backend.
_BACKEND_RETRY_DELAYS = (0.002, 0.01, 0.05)
_BACKEND_TRANSIENT = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


# --- errors -----------------------------------------------------------------------------------

_CONNECTION_ERRNOS = frozenset(
    getattr(errno, name)
    for name in (
        "ECONNREFUSED",
        "ECONNRESET",
        "ECONNABORTED",
        "ETIMEDOUT",
        "EHOSTUNREACH",
        "ENETUNREACH",
        "ENETDOWN",
        "EHOSTDOWN",
        "EPIPE",
        "ENOTCONN",
    )
    if hasattr(errno, name)
)


def is_transient(exc: BaseException) -> bool:
    """Whether trying again may help: timeouts, connection errors, HTTP 5xx and 429."""
    if isinstance(exc, UpstreamError):
        return exc.transient
    if isinstance(exc, requests.exceptions.SSLError):
        return False
    if isinstance(exc, requests.HTTPError):
        status = exc.response.status_code if exc.response is not None else None
        return status is not None and (status >= 500 or status == 429)
    if isinstance(
        exc,
        (
            requests.Timeout,
            requests.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
            TimeoutError,
            ConnectionError,
            socket.gaierror,
        ),
    ):
        return True
    return isinstance(exc, OSError) and exc.errno in _CONNECTION_ERRNOS


def _retry_after_header(response: requests.Response | None) -> float | None:
    if response is None:
        return None
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None


def to_upstream_error(exc: BaseException) -> UpstreamError:
    """``exc`` as an :class:`UpstreamError`; the message never repeats the upstream's URL."""
    if isinstance(exc, UpstreamError):
        return exc
    transient = is_transient(exc)
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        status = exc.response.status_code
        return UpstreamError(
            f"the upstream service answered HTTP {status}",
            transient=transient,
            status=status,
            retry_after=_retry_after_header(exc.response),
        )
    if isinstance(exc, (requests.Timeout, TimeoutError)):
        message = "the upstream service did not answer in time"
    elif transient:
        message = "could not connect to the upstream service"
    else:
        message = f"the upstream service failed ({type(exc).__name__})"
    return UpstreamError(message, transient=transient)


def _clone_error(exc: UpstreamError) -> UpstreamError:
    """A copy of ``exc`` (same class, same attributes) for another waiter to raise."""
    cls = type(exc)
    clone = cls.__new__(cls)
    Exception.__init__(clone, *exc.args)
    clone.__dict__.update(exc.__dict__)
    clone.__cause__ = exc.__cause__
    return clone


def _error_record(exc: UpstreamError, at: float) -> dict[str, Any]:
    attrs = {
        name: value
        for name, value in exc.__dict__.items()
        if value is None or isinstance(value, (str, int, float, bool))
    }
    return {
        "cls": f"{type(exc).__module__}:{type(exc).__qualname__}",
        "args": tuple(a for a in exc.args if isinstance(a, (str, int, float))),
        "attrs": attrs,
        "message": exc.message,
        "transient": exc.transient,
        "retry_after": exc.retry_after,
        "at": at,
    }


def _error_from_record(record: dict[str, Any]) -> UpstreamError:
    """The recorded failure raised again, as its own class when that can still be imported."""
    cls: Any = UpstreamError
    with contextlib.suppress(Exception):
        module, _, qualname = str(record.get("cls", "")).partition(":")
        found: Any = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
        if isinstance(found, type) and issubclass(found, UpstreamError):
            cls = found
    exc = cls.__new__(cls)
    Exception.__init__(exc, *(record.get("args") or (record["message"],)))
    exc.__dict__.update(record.get("attrs") or {})
    exc.message = record["message"]
    exc.transient = bool(record["transient"])
    exc.retry_after = record.get("retry_after")
    exc.status = exc.__dict__.get("status")
    return exc


# --- fetcher calls ----------------------------------------------------------------------------


def _invoker(
    fetcher: Callable[[], Any], loop: asyncio.AbstractEventLoop | None
) -> Callable[[], Any]:
    """A plain callable running ``fetcher``; an async fetcher runs on ``loop`` when given."""

    def call() -> Any:
        out = fetcher()
        if not inspect.isawaitable(out):
            return out

        async def wait() -> Any:
            return await out

        if loop is not None and loop.is_running():
            return asyncio.run_coroutine_threadsafe(wait(), loop).result()
        return async_to_sync(wait)()

    return call


# --- in-process pieces ------------------------------------------------------------------------


class _Flight:
    """One fetch of one key in this process; the callers asking meanwhile wait on ``future``."""

    __slots__ = ("future", "gens", "_payload", "_lock")

    def __init__(self) -> None:
        self.future: Future[Result] = Future()
        self.gens: tuple[int | None, ...] | None = None  # set when the fetch starts
        self._payload: bytes | None = None
        self._lock = threading.Lock()

    def outdated(self, gens: tuple[int | None, ...]) -> bool:
        """True when the fetch started before counters that ``gens`` shows had moved."""
        return self.gens is not None and None not in gens and gens != self.gens

    def copy_for_waiter(self, result: Result) -> Result:
        """``result`` with its own copy of the value, as a cache read would give."""
        try:
            with self._lock:
                if self._payload is None:
                    self._payload = pickle.dumps(result.value, pickle.HIGHEST_PROTOCOL)
            value = pickle.loads(self._payload)
        except Exception:
            return result
        return Result(value, result.stale, result.fetched_at, result.error)


class _Pool:
    """A small pool of daemon threads (a stuck upstream must not keep the process alive)."""

    def __init__(self, name: str, max_workers: int) -> None:
        self.name = name
        self.max_workers = max(1, max_workers)
        self._reset()

    def _reset(self) -> None:
        self._queue: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]]] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._threads = 0
        self._pending = 0

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        with self._lock:
            self._pending += 1
            start = self._pending > self._threads and self._threads < self.max_workers
            if start:
                self._threads += 1
        self._queue.put((fn, args))
        if start:
            threading.Thread(
                target=self._work, name=f"{self.name}-{self._threads}", daemon=True
            ).start()

    def _work(self) -> None:
        while True:
            fn, args = self._queue.get()
            try:
                fn(*args)
            except Exception:
                logger.exception("live cache: %s task failed", self.name)
            finally:
                with self._lock:
                    self._pending -= 1
                    if not self._pending:
                        self._idle.notify_all()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until no task is queued or running; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)


class _Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, dict[str, int]] = {}

    def add(self, buckets: tuple[str, ...], name: str, n: int = 1) -> None:
        with self._lock:
            for bucket in buckets:
                counts = self._counts.get(bucket)
                if counts is None:
                    counts = self._counts[bucket] = dict.fromkeys(COUNTERS, 0)
                counts[name] += n

    def snapshot(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {bucket: dict(counts) for bucket, counts in sorted(self._counts.items())}

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


def _new_generation() -> int:
    return random.getrandbits(48) + 1


def _is_local(backend: BaseCache) -> bool:
    return isinstance(backend, (LocMemCache, DummyCache))


def _safe_name(path: str) -> str:
    """``path`` usable in any cache key: no spaces or control characters, bounded length."""
    quoted = quote(path, safe="/:@!$&'()*+,;=-._~")
    if len(quoted) <= 160:
        return quoted
    return f"{quoted[:80]}~{hashlib.sha256(path.encode()).hexdigest()[:40]}"


_instances: weakref.WeakSet[LiveCache] = weakref.WeakSet()


class LiveCache:
    """The per-key cache on one Django cache backend.

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
        lead_workers: int = 32,
        namespace: str = "plank",
    ) -> None:
        self.alias = backend if isinstance(backend, str) else None
        self._backend_object = None if isinstance(backend, str) else backend
        sample = self.backend
        self.local = _is_local(sample)
        if shared is None:
            shared = not self.local or (
                self.alias == "default" and getattr(settings, "CACHE_IS_SHARED", False)
            )
        self.shared = shared
        self.now = now
        self.sleep = sleep
        self.lease = lease
        self.max_hold = max_hold
        self.negative_ttl = negative_ttl
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_retry_wait = max_retry_wait
        self.namespace = namespace
        self.stats = _Stats()
        self._refresh_workers = refresh_workers
        self._lead_workers = lead_workers
        self._names_memo: dict[Key, tuple[Key, _Names]] = {}
        self._last_warning = -math.inf
        self._after_fork()
        _instances.add(self)

    def _after_fork(self) -> None:
        self._flights: dict[str, _Flight] = {}
        self._flights_lock = threading.Lock()
        self._refresh_pool = _Pool("live-cache-refresh", self._refresh_workers)
        self._lead_pool = _Pool("live-cache-fetch", self._lead_workers)

    def __repr__(self) -> str:
        where = self.alias or type(self._backend_object).__name__
        return f"<LiveCache {where} shared={self.shared}>"

    @property
    def backend(self) -> BaseCache:
        if self._backend_object is not None:
            return self._backend_object
        return caches[self.alias or "default"]

    # --- names --------------------------------------------------------------------------------

    def _name(self, kind: str, key: Key) -> str:
        return f"{self.namespace}:{kind}:{_safe_name(to_path(key))}"

    def _resolve(self, key: Key) -> tuple[Key, _Names]:
        """The canonical key and its names; validated once per distinct key (memo)."""
        # Only tuples of exact str/int are looked up as they are: 1.0 == 1 and True == 1 would
        # otherwise find the entry of a valid key.
        if type(key) is tuple and all(type(p) is str or type(p) is int for p in key):
            found = self._names_memo.get(key)
            if found is not None:
                return found
            canonical = check_key(key)
            found = (canonical, self._names(canonical))
            if len(self._names_memo) > 50_000:
                self._names_memo.clear()
            self._names_memo[key] = found
            return found
        canonical = check_key(key)
        return canonical, self._names(canonical)

    def _names(self, key: Key) -> _Names:
        """The cache names of a canonical key, and its counter buckets."""
        return _Names(
            value=self._name("v", key),
            err=self._name("err", key),
            lock=self._name("lock", key),
            counters=(*(self._name("gen", p) for p in prefixes(key)), self._name("ver", key)),
            buckets=(to_path(key[:1]),) + ((to_path(key[:2]),) if len(key) > 1 else ()),
        )

    def _ttl(self, seconds: float | None) -> float | None:
        """A timeout the backend keeps faithfully (Redis and memcached truncate to whole seconds)."""
        if seconds is None:
            return None
        return max(seconds, 0.001) if self.local else max(1, math.ceil(seconds))

    # --- reading ------------------------------------------------------------------------------

    def _tolerant(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(...)``, tried again over connection trouble; the last failure is raised."""
        for delay in _BACKEND_RETRY_DELAYS:
            try:
                return fn(*args, **kwargs)
            except _BACKEND_TRANSIENT:
                time.sleep(delay)
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            self._backend_failed(what, exc)
            raise

    def _backend_failed(self, what: str, exc: BaseException) -> None:
        """Log a backend failure: a warning at most every 10 s, so an outage is not a flood."""
        now = time.monotonic()
        if now - self._last_warning >= 10:
            self._last_warning = now
            logger.warning("live cache: %s failed (%s: %s)", what, type(exc).__name__, exc)
        else:
            logger.debug("live cache: %s failed (%s: %s)", what, type(exc).__name__, exc)

    def _read(self, n: _Names, *, with_err: bool = False) -> _Snapshot:
        wanted = [n.value, *n.counters]
        if with_err:
            wanted.append(n.err)
        try:
            got = self._tolerant(f"reading {n.value}", self.backend.get_many, wanted)
        except Exception:
            got = {}  # work around the backend: as if nothing were stored
        entry = got.get(n.value)
        if not isinstance(entry, _Entry):
            entry = None
        err = got.get(n.err) if with_err else None
        return _Snapshot(
            entry, tuple(got.get(c) for c in n.counters), err if isinstance(err, dict) else None
        )

    def _read_err(self, n: _Names) -> dict[str, Any] | None:
        try:
            err = self._tolerant(f"reading {n.err}", self.backend.get, n.err)
        except Exception:
            return None
        return err if isinstance(err, dict) else None

    def _state(self, snap: _Snapshot, now: float) -> int:
        entry = snap.entry
        if entry is None or (entry.expire_at is not None and now >= entry.expire_at):
            return _MISSING
        if None in snap.gens or entry.gens != snap.gens:
            return _INVALID
        if now >= entry.stale_at:
            return _AGED
        return _FRESH

    def _usable(self, snap: _Snapshot, base_eid: int | None) -> bool:
        """A valid entry other than the one a fetch set out to replace (someone else's result)."""
        return (
            snap.entry is not None
            and snap.entry.eid != base_eid
            and self._state(snap, self.now()) in (_FRESH, _AGED)
        )

    def _err_window(self, err: dict[str, Any]) -> float:
        window = self.negative_ttl
        retry_after = err.get("retry_after")
        if retry_after:
            window = max(window, min(float(retry_after), self.max_retry_wait))
        return window

    def _err_applies(self, err: dict[str, Any] | None, entry: _Entry | None) -> bool:
        """The recorded failure is about this value (it came after the value was fetched)."""
        return err is not None and (entry is None or err["at"] >= entry.fetched_at)

    def _err_current(self, err: dict[str, Any] | None) -> bool:
        """Within the negative-cache window: answer with it, don't call the upstream."""
        return err is not None and self.now() - err["at"] < self._err_window(err)

    @staticmethod
    def _result(entry: _Entry, err: dict[str, Any] | None = None) -> Result:
        return Result(
            entry.value, err is not None, entry.fetched_at, err["message"] if err else None
        )

    # --- fetching -----------------------------------------------------------------------------

    def _check_args(self, stale: float, expire: float | None, retries: int) -> None:
        if stale < 0:
            raise ValueError("stale must be >= 0 seconds")
        if expire is not None and (expire <= 0 or expire < stale):
            raise ValueError("expire must be > 0 seconds and >= stale")
        if retries < 0:
            raise ValueError("retries must be >= 0")

    def _front(self, job: _Job) -> Result | tuple[_Flight, bool, _Entry | None]:
        """Answer from the cache, or return the flight to wait on (and whether we lead it)."""
        n = job.n
        snap = self._read(n)
        now = self.now()
        state = self._state(snap, now)
        entry = snap.entry
        if state == _FRESH:
            self.stats.add(n.buckets, "hits")
            return self._result(entry)  # type: ignore[arg-type]
        if state == _MISSING:
            entry = None
        err = self._read_err(n)
        if not self._err_applies(err, entry):
            err = None
        if state == _AGED:
            self.stats.add(n.buckets, "stale_serves")
            if self._err_current(err):
                self.stats.add(n.buckets, "negative_hits")
            else:
                self._refresh(job, snap)
            return self._result(entry, err)  # type: ignore[arg-type]
        # missing or invalidated: wait for a fetch (or answer from the recorded failure)
        self.stats.add(n.buckets, "misses")
        if self._err_current(err):
            self.stats.add(n.buckets, "negative_hits")
            if entry is not None:
                self.stats.add(n.buckets, "stale_serves")
                return self._result(entry, err)
            raise _error_from_record(err)  # type: ignore[arg-type]
        flight, leader = self._flight_for(n, snap.gens)
        return flight, leader, entry

    def _flight_for(self, n: _Names, gens: tuple[int | None, ...]) -> tuple[_Flight, bool]:
        with self._flights_lock:
            flight = self._flights.get(n.value)
            if flight is not None and not flight.outdated(gens):
                return flight, False
            flight = self._flights[n.value] = _Flight()
            return flight, True

    def _refresh(self, job: _Job, snap: _Snapshot) -> None:
        flight, leader = self._flight_for(job.n, snap.gens)
        if not leader:
            return  # a fetch of this key is already running here
        self.stats.add(job.n.buckets, "refreshes")
        base = snap.entry.eid if snap.entry else None
        self._refresh_pool.submit(self._fly, flight, job, base, True)

    def _fly(self, flight: _Flight, job: _Job, base_eid: int | None, background: bool) -> None:
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
            with self._flights_lock:
                if self._flights.get(job.n.value) is flight:
                    del self._flights[job.n.value]

    def _lead(self, flight: _Flight, job: _Job, base_eid: int | None, background: bool) -> Result:
        n = job.n
        token: str | None = None
        if self.shared:
            got = self._acquire(n, base_eid, background)
            if isinstance(got, Result):
                return got
            token = got
        try:
            # Someone (a flight that just ended here, another process) may have stored a value
            # between our first read and now, or failed just now: then there is nothing to fetch.
            snap = self._read(n, with_err=True)
            settled = self._settled(n, snap, base_eid, background)
            if settled is not None:
                return settled
            gens = self._ensure_counters(n, snap.gens)
            flight.gens = gens
            renewing = self._renew(n, token) if token else None
            try:
                value = self._call(n, job.call, job.retries)
            except UpstreamError as exc:
                self._record_error(n, exc, job.expire)
                raise
            finally:
                if renewing is not None:
                    renewing.set()
            return self._store(n, value, gens, job.stale, job.expire)
        finally:
            if token:
                self._release(n, token)

    def _acquire(self, n: _Names, base_eid: int | None, background: bool) -> str | Result:
        """Take the cross-process lock (a token), or return the value another process stored."""
        token = uuid.uuid4().hex
        lease = self._ttl(self.lease)
        delay = 0.001
        while True:
            try:
                if self._tolerant(f"locking {n.lock}", self.backend.add, n.lock, token, lease):
                    return token
            except Exception:
                return ""  # no lock to be had: fetch without it rather than fail the page
            settled = self._settled(n, self._read(n, with_err=True), base_eid, background)
            if settled is not None:
                return settled
            time.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, 0.05)

    def _settled(
        self, n: _Names, snap: _Snapshot, base_eid: int | None, background: bool
    ) -> Result | None:
        """Someone else's outcome for this fetch, if there is one by now.

        Their stored value (a joined wait), or their failure raised again while the negative
        cache holds it (don't call the upstream again); None when the fetch is still to be done.
        """
        if self._usable(snap, base_eid):
            if not background:
                self.stats.add(n.buckets, "joined_waits")
            return self._result(snap.entry)  # type: ignore[arg-type]
        if self._err_applies(snap.err, snap.entry) and self._err_current(snap.err):
            raise _error_from_record(snap.err)  # type: ignore[arg-type]
        return None

    def _renew(self, n: _Names, token: str) -> threading.Event:
        """Keep the lease while this process works; stop at ``max_hold`` or when told."""
        stop = threading.Event()
        backend = self.backend
        lease = self._ttl(self.lease)
        interval = max(self.lease / 3, 0.01)
        deadline = time.monotonic() + self.max_hold

        def renew() -> None:
            while not stop.wait(interval) and time.monotonic() < deadline:
                try:
                    if backend.get(n.lock) != token:
                        return
                    backend.touch(n.lock, lease)
                except Exception as exc:
                    self._backend_failed(f"renewing {n.lock}", exc)

        threading.Thread(target=renew, name="live-cache-lease", daemon=True).start()
        return stop

    def _release(self, n: _Names, token: str) -> None:
        try:
            if self.backend.get(n.lock) == token:
                self.backend.delete(n.lock)
        except Exception as exc:
            self._backend_failed(f"releasing {n.lock}", exc)

    def _ensure_counters(self, n: _Names, gens: tuple[int | None, ...]) -> tuple[int | None, ...]:
        """The counters, creating the missing ones (random start: see the module docstring)."""
        missing = [name for name, gen in zip(n.counters, gens, strict=True) if gen is None]
        if not missing:
            return gens
        try:
            for name in missing:
                self.backend.add(name, _new_generation(), timeout=GENERATION_TTL)
            got = self.backend.get_many(missing)
        except Exception as exc:
            self._backend_failed("creating counters", exc)
            return gens
        return tuple(
            got.get(name) if gen is None else gen
            for name, gen in zip(n.counters, gens, strict=True)
        )

    def _call(self, n: _Names, call: Callable[[], Any], retries: int) -> Any:
        attempt = 0
        while True:
            self.stats.add(n.buckets, "upstream_calls")
            try:
                return call()
            except FutureCancelledError:
                raise
            except Exception as exc:
                self.stats.add(n.buckets, "errors")
                err = to_upstream_error(exc)
                give_up = not err.transient or attempt >= retries
                delay = random.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt))
                if err.retry_after is not None:
                    if err.retry_after > self.max_retry_wait:
                        give_up = True
                    delay = max(delay, err.retry_after)
                if give_up:
                    if err is exc:
                        raise
                    raise err from exc
            self.sleep(delay)
            attempt += 1

    def _record_error(self, n: _Names, exc: UpstreamError, expire: float | None) -> None:
        record = _error_record(exc, self.now())
        timeout = max(self._err_window(record), expire or 0)
        try:
            self.backend.set(n.err, record, self._ttl(timeout))
        except Exception as exc:
            self._backend_failed(f"recording an error for {n.value}", exc)

    def _write(
        self,
        n: _Names,
        value: Any,
        gens: tuple[int | None, ...],
        stale: float,
        expire: float | None,
    ) -> Result:
        now = self.now()
        entry = _Entry(
            value=value,
            fetched_at=now,
            stale_at=now + stale,
            expire_at=None if expire is None else now + expire,
            gens=gens,
            eid=random.getrandbits(62),
        )
        try:
            self._tolerant(
                f"storing {n.value}", self.backend.set, n.value, entry, self._ttl(expire)
            )
            self.backend.delete(n.err)
        except (pickle.PicklingError, TypeError, AttributeError):
            raise  # the value cannot be pickled: a programming error, not a cache outage
        except Exception as exc:
            self._backend_failed(f"storing {n.value}", exc)
        return Result(value, False, now, None)

    def _store(
        self,
        n: _Names,
        value: Any,
        gens: tuple[int | None, ...],
        stale: float,
        expire: float | None,
    ) -> Result:
        """Store a fetched value under the in-flight rule (see the module docstring)."""
        snap = self._read(n)
        if snap.gens != gens:
            current = snap.entry
            if current is not None and self._state(snap, self.now()) in (_FRESH, _AGED):
                with contextlib.suppress(Exception):
                    self.backend.delete(n.err)
                return self._result(current)  # newer truth is stored: keep it
            # Nothing newer: store ours with the counters it started with -> refetched next read.
        return self._write(n, value, gens, stale, expire)

    def _wait(
        self,
        flight: _Flight,
        leader: bool,
        fallback: _Entry | None,
        n: _Names,
    ) -> Result:
        """The flight's outcome for one caller: its own copy, or the stale fallback on failure."""
        exc = flight.future.exception()
        if exc is None:
            result = flight.future.result()
            return result if leader else flight.copy_for_waiter(result)
        if isinstance(exc, UpstreamError):
            if fallback is not None and (
                fallback.expire_at is None or self.now() < fallback.expire_at
            ):
                self.stats.add(n.buckets, "stale_serves")
                return Result(fallback.value, True, fallback.fetched_at, exc.message)
            if not leader:
                raise _clone_error(exc)
        raise exc

    def fetch(
        self,
        key: Key,
        fetcher: Callable[[], Any],
        *,
        stale: float = DEFAULT_STALE,
        expire: float | None = DEFAULT_EXPIRE,
        retries: int = DEFAULT_RETRIES,
    ) -> Result:
        """The value for ``key``, through the cache (see the module docstring).

        ``fetcher`` takes no argument; it may be a coroutine function. Raises the
        :class:`UpstreamError` of the last failure when there is no value to serve.
        """
        key, n = self._resolve(key)
        self._check_args(stale, expire, retries)
        job = _Job(key, n, _invoker(fetcher, None), stale, expire, retries)
        out = self._front(job)
        if isinstance(out, Result):
            return out
        flight, leader, fallback = out
        if leader:
            self._fly(flight, job, fallback.eid if fallback else None, False)
        else:
            self.stats.add(n.buckets, "joined_waits")
            _wait_future(flight.future)
        return self._wait(flight, leader, fallback, n)

    async def afetch(
        self,
        key: Key,
        fetcher: Callable[[], Any],
        *,
        stale: float = DEFAULT_STALE,
        expire: float | None = DEFAULT_EXPIRE,
        retries: int = DEFAULT_RETRIES,
    ) -> Result:
        """:meth:`fetch` for async code: never blocks the event loop.

        The fetch itself runs on a daemon thread; an async ``fetcher`` runs on the caller's loop.
        Callers that join a running fetch just await it (no thread each).
        """
        key, n = self._resolve(key)
        self._check_args(stale, expire, retries)
        loop = asyncio.get_running_loop()
        # A background refresh runs the fetcher on its own thread; the flight we lead, on our loop.
        job = _Job(key, n, _invoker(fetcher, None), stale, expire, retries)
        if self.local:  # in-memory reads: cheaper than a hop to a thread
            out = self._front(job)
        else:
            out = await sync_to_async(self._front, thread_sensitive=False)(job)
        if isinstance(out, Result):
            return out
        flight, leader, fallback = out
        if leader:
            base = fallback.eid if fallback else None
            lead = job._replace(call=_invoker(fetcher, loop))
            self._lead_pool.submit(self._fly, flight, lead, base, False)
        else:
            self.stats.add(n.buckets, "joined_waits")
        await _await_future(flight.future, loop)
        return self._wait(flight, leader, fallback, n)

    # --- direct access ------------------------------------------------------------------------

    def get(self, key: Key) -> Result | None:
        """The stored value without fetching; ``stale`` is True when it is not fresh."""
        key, n = self._resolve(key)
        snap = self._read(n, with_err=True)
        state = self._state(snap, self.now())
        if state == _MISSING or snap.entry is None:
            return None
        entry = snap.entry
        err = snap.err if self._err_applies(snap.err, entry) else None
        return Result(
            entry.value, state != _FRESH, entry.fetched_at, err["message"] if err else None
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
        key, n = self._resolve(key)
        self._check_args(stale, expire, 0)
        self._bump(n.counters[-1])
        snap = self._read(n)
        gens = self._ensure_counters(n, snap.gens)
        return self._write(n, value, gens, stale, expire)

    def delete(self, key: Key) -> None:
        """Forget the value of ``key`` (a fetch running meanwhile stores its value as outdated)."""
        key, n = self._resolve(key)
        self._bump(n.counters[-1])
        self.backend.delete_many([n.value, n.err])

    def invalidate(self, prefix: Key, *, event_id: str | int | None = None) -> bool:
        """Make every key under ``prefix`` stale; constant time (one counter).

        ``event_id`` (an outbox sequence number, say) makes the bump happen once per backend
        however many processes relay the same event; the hooks in :data:`on_invalidate` run in
        every process either way. Returns whether the counter was bumped here.
        """
        prefix = check_key(prefix)
        bumped = True
        if event_id is not None:
            bumped = self.backend.add(
                self._name(f"event:{event_id}", prefix), 1, timeout=self._ttl(EVENT_TTL)
            )
        if bumped:
            self._bump(self._name("gen", prefix))
        for hook in list(on_invalidate):
            try:
                hook(prefix)
            except Exception:
                logger.exception("live cache: on_invalidate hook %r failed", hook)
        return bumped

    def _bump(self, name: str) -> None:
        backend = self.backend
        with contextlib.suppress(ValueError):
            backend.incr(name)
            return
        if backend.add(name, _new_generation(), timeout=GENERATION_TTL):
            return
        try:
            backend.incr(name)
        except ValueError:  # vanished in between (evicted): a new random start will do
            backend.set(name, _new_generation(), timeout=GENERATION_TTL)

    async def aget(self, key: Key) -> Result | None:
        return await self._async(self.get, key)

    async def aset(self, key: Key, value: Any, **kwargs: Any) -> Result:
        return await self._async(self.set, key, value, **kwargs)

    async def adelete(self, key: Key) -> None:
        await self._async(self.delete, key)

    async def ainvalidate(self, prefix: Key, **kwargs: Any) -> bool:
        return await self._async(self.invalidate, prefix, **kwargs)

    async def _async(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self.local:
            return fn(*args, **kwargs)
        return await sync_to_async(fn, thread_sensitive=False)(*args, **kwargs)

    def wait_background(self, timeout: float | None = None) -> bool:
        """Wait until no background refresh is queued or running (tests, benchmarks)."""
        return self._refresh_pool.join(timeout) and self._lead_pool.join(timeout)

    def stats_snapshot(self) -> dict[str, dict[str, int]]:
        return self.stats.snapshot()


def _wait_future(future: Future[Any]) -> None:
    """Block until ``future`` is done (its outcome is read by the caller)."""
    try:
        future.exception()
    except FutureCancelledError:
        pass


async def _await_future(future: Future[Any], loop: asyncio.AbstractEventLoop) -> None:
    """Await a thread's future without letting our cancellation cancel it for other waiters."""
    if future.done():
        return
    waiter = loop.create_future()

    def wake(_: Future[Any]) -> None:
        def set_done() -> None:
            if not waiter.done():
                waiter.set_result(None)

        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(set_done)

    future.add_done_callback(wake)
    await waiter


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
            and instance._backend_object is not target
        )
        if instance is None or stale_id:
            options = dict(getattr(settings, "PLANK_LIVE_CACHE", {}))
            instance = _registry[ident] = LiveCache(target, **options)
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


async def afetch(
    key: Key,
    fetcher: Callable[[], Any],
    *,
    stale: float = DEFAULT_STALE,
    expire: float | None = DEFAULT_EXPIRE,
    retries: int = DEFAULT_RETRIES,
    backend: str | BaseCache | LiveCache | None = None,
) -> Result:
    return await cache_for(backend).afetch(
        key, fetcher, stale=stale, expire=expire, retries=retries
    )


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


async def aget(key: Key, *, backend: str | BaseCache | LiveCache | None = None) -> Result | None:
    return await cache_for(backend).aget(key)


async def aset(
    key: Key,
    value: Any,
    *,
    stale: float = DEFAULT_STALE,
    expire: float | None = DEFAULT_EXPIRE,
    backend: str | BaseCache | LiveCache | None = None,
) -> Result:
    return await cache_for(backend).aset(key, value, stale=stale, expire=expire)


async def ainvalidate(
    prefix: Key,
    *,
    event_id: str | int | None = None,
    backend: str | BaseCache | LiveCache | None = None,
) -> bool:
    return await cache_for(backend).ainvalidate(prefix, event_id=event_id)


def stats(backend: str | BaseCache | LiveCache | None = None) -> dict[str, dict[str, int]]:
    """Counters per top-level and two-part prefix (``"tmdb"``, ``"tmdb/trending"``)."""
    return cache_for(backend).stats.snapshot()


def reset_stats(backend: str | BaseCache | LiveCache | None = None) -> None:
    cache_for(backend).stats.reset()


def health() -> Check:
    """A /system/ check: the default cache's backend and its counters per top-level prefix."""
    from plank.system import Check

    live = cache_for()
    counts = {bucket: c for bucket, c in live.stats.snapshot().items() if "/" not in bucket}
    total = dict.fromkeys(COUNTERS, 0)
    for c in counts.values():
        for name in COUNTERS:
            total[name] += c[name]
    kind = type(live.backend).__name__ + (" (shared)" if live.shared else "")
    summary = (
        f"{kind}: {total['hits']} hits, {total['misses']} misses, "
        f"{total['stale_serves']} stale, {total['errors']} upstream errors"
    )
    details = [
        (bucket, ", ".join(f"{name} {c[name]}" for name in COUNTERS))
        for bucket, c in counts.items()
    ]
    return Check(name="Live cache", ok=True, summary=summary, details=details)
