"""How the live cache lays out its keys in a Django cache backend, and tolerant access to it.

Per key: its entry (``<ns>:v:<path>``), its last failure (``err``), its cross-process lock
(``lock``) and its own version counter (``ver``); per prefix a generation counter (``gen``).
A backend that fails is worked around (logged, at most one warning per 10 s), never raised to
the page. The design: docs/live-cache.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import pickle
import random
import time
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import quote

import redis.exceptions
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache

from plank.live.counters import buckets
from plank.live.keys import Key, check_key, prefixes, to_path

logger = logging.getLogger(__name__)

# Generation counters live long; one that expires costs at most one refetch of the keys under it.
GENERATION_TTL = 30 * 24 * 3600
# How long an invalidation's event id is remembered, so N processes bump a counter once.
EVENT_TTL = 24 * 3600

# A backend call that fails like this (Redis restarting, its connection pool exhausted under a
# burst) is tried again after these pauses before the cache works around the backend.
_BACKEND_RETRY_DELAYS = (0.002, 0.01, 0.05)
_BACKEND_TRANSIENT = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)

# The states of a stored value (see Snapshot.state).
FRESH, AGED, INVALID, MISSING = range(4)


class Entry(NamedTuple):
    """What is stored under a key's value name (pickled by Django's cache)."""

    value: Any
    fetched_at: float
    stale_at: float
    expire_at: float | None
    gens: tuple[int | None, ...]
    eid: int  # tells one stored entry from another, whatever the clock says


class Names(NamedTuple):
    """The cache names used for one key, and its counter buckets."""

    value: str
    err: str
    lock: str
    counters: tuple[str, ...]  # generation names of every prefix, then the key's own version
    buckets: tuple[str, ...]


class Snapshot(NamedTuple):
    """One read of a key: its entry, the current values of its counters, its recorded failure."""

    entry: Entry | None
    gens: tuple[int | None, ...]
    err: dict[str, Any] | None

    def state(self, now: float) -> int:
        entry = self.entry
        if entry is None or (entry.expire_at is not None and now >= entry.expire_at):
            return MISSING
        if None in self.gens or entry.gens != self.gens:
            return INVALID
        if now >= entry.stale_at:
            return AGED
        return FRESH


def new_generation() -> int:
    """A counter's random start: one evicted and created again never matches an old entry."""
    return random.getrandbits(48) + 1


def _safe_name(path: str) -> str:
    """``path`` usable in any cache key: no spaces or control characters, bounded length."""
    quoted = quote(path, safe="/:@!$&'()*+,;=-._~")
    if len(quoted) <= 160:
        return quoted
    return f"{quoted[:80]}~{hashlib.sha256(path.encode()).hexdigest()[:40]}"


class Store:
    """One Django cache backend, as the live cache uses it.

    ``backend`` is a cache alias (resolved per thread, as Django does) or a cache object.
    """

    def __init__(self, backend: str | BaseCache, namespace: str) -> None:
        self.alias = backend if isinstance(backend, str) else None
        self.backend_object = None if isinstance(backend, str) else backend
        self.local = isinstance(self.backend, (LocMemCache, DummyCache))
        self.namespace = namespace
        self._names_memo: dict[Key, tuple[Key, Names]] = {}
        self._last_warning = -math.inf

    @property
    def backend(self) -> BaseCache:
        if self.backend_object is not None:
            return self.backend_object
        return caches[self.alias or "default"]

    # --- names --------------------------------------------------------------------------------

    def name(self, kind: str, key: Key) -> str:
        return f"{self.namespace}:{kind}:{_safe_name(to_path(key))}"

    def resolve(self, key: Key) -> tuple[Key, Names]:
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

    def _names(self, key: Key) -> Names:
        return Names(
            value=self.name("v", key),
            err=self.name("err", key),
            lock=self.name("lock", key),
            counters=(*(self.name("gen", p) for p in prefixes(key)), self.name("ver", key)),
            buckets=buckets(key),
        )

    def ttl(self, seconds: float | None) -> float | None:
        """A timeout the backend keeps faithfully (Redis and memcached truncate to whole seconds)."""
        if seconds is None:
            return None
        return max(seconds, 0.001) if self.local else max(1, math.ceil(seconds))

    # --- tolerance ----------------------------------------------------------------------------

    def tolerant(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(...)``, tried again over connection trouble; the last failure is raised."""
        for delay in _BACKEND_RETRY_DELAYS:
            try:
                return fn(*args, **kwargs)
            except _BACKEND_TRANSIENT:
                time.sleep(delay)
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            self.failed(what, exc)
            raise

    def failed(self, what: str, exc: BaseException) -> None:
        """Log a backend failure: a warning at most every 10 s, so an outage is not a flood."""
        now = time.monotonic()
        if now - self._last_warning >= 10:
            self._last_warning = now
            logger.warning("live cache: %s failed (%s: %s)", what, type(exc).__name__, exc)
        else:
            logger.debug("live cache: %s failed (%s: %s)", what, type(exc).__name__, exc)

    # --- entries and error records ------------------------------------------------------------

    def read(self, n: Names, *, with_err: bool = False) -> Snapshot:
        """The entry and the counters of a key (and its failure) in one ``get_many``."""
        wanted = [n.value, *n.counters]
        if with_err:
            wanted.append(n.err)
        try:
            got = self.tolerant(f"reading {n.value}", self.backend.get_many, wanted)
        except Exception:
            got = {}  # work around the backend: as if nothing were stored
        entry = got.get(n.value)
        if not isinstance(entry, Entry):
            entry = None
        err = got.get(n.err) if with_err else None
        return Snapshot(
            entry, tuple(got.get(c) for c in n.counters), err if isinstance(err, dict) else None
        )

    def read_err(self, n: Names) -> dict[str, Any] | None:
        try:
            err = self.tolerant(f"reading {n.err}", self.backend.get, n.err)
        except Exception:
            return None
        return err if isinstance(err, dict) else None

    def write(
        self,
        n: Names,
        value: Any,
        gens: tuple[int | None, ...],
        *,
        now: float,
        stale: float,
        expire: float | None,
    ) -> Entry:
        """Store ``value`` fetched ``now`` with ``gens``, and clear the key's recorded failure."""
        expire_at = None if expire is None else now + expire
        entry = Entry(value, now, now + stale, expire_at, gens, random.getrandbits(62))
        try:
            self.tolerant(f"storing {n.value}", self.backend.set, n.value, entry, self.ttl(expire))
            self.backend.delete(n.err)
        except (pickle.PicklingError, TypeError, AttributeError):
            raise  # the value cannot be pickled: a programming error, not a cache outage
        except Exception as exc:
            self.failed(f"storing {n.value}", exc)
        return entry

    def record_error(self, n: Names, record: dict[str, Any], timeout: float) -> None:
        try:
            self.backend.set(n.err, record, self.ttl(timeout))
        except Exception as exc:
            self.failed(f"recording an error for {n.value}", exc)

    def clear_error(self, n: Names) -> None:
        with contextlib.suppress(Exception):
            self.backend.delete(n.err)

    def delete(self, n: Names) -> None:
        self.backend.delete_many([n.value, n.err])

    # --- counters -----------------------------------------------------------------------------

    def bump(self, name: str) -> None:
        """Move a generation or version counter on (creating it, at a random start)."""
        backend = self.backend
        with contextlib.suppress(ValueError):
            backend.incr(name)
            return
        if backend.add(name, new_generation(), timeout=GENERATION_TTL):
            return
        try:
            backend.incr(name)
        except ValueError:  # vanished in between (evicted): a new random start will do
            backend.set(name, new_generation(), timeout=GENERATION_TTL)

    def ensure_counters(self, n: Names, gens: tuple[int | None, ...]) -> tuple[int | None, ...]:
        """The counters, creating the missing ones (at a random start)."""
        missing = [name for name, gen in zip(n.counters, gens, strict=True) if gen is None]
        if not missing:
            return gens
        try:
            for name in missing:
                self.backend.add(name, new_generation(), timeout=GENERATION_TTL)
            got = self.backend.get_many(missing)
        except Exception as exc:
            self.failed("creating counters", exc)
            return gens
        return tuple(
            got.get(name) if gen is None else gen
            for name, gen in zip(n.counters, gens, strict=True)
        )

    # --- listing (the /system/ table, ``manage.py cache``) ----------------------------------

    def value_names(self, prefix: Key | None = None) -> list[tuple[str, int]] | None:
        """The values stored under ``prefix`` (every one when None), as (cache name, bytes);
        None when the backend can't list its keys (local memory and Redis can)."""
        base = f"{self.namespace}:v:"
        want = "" if prefix is None else _safe_name(to_path(check_key(prefix)))
        backend = self.backend
        try:
            if isinstance(backend, LocMemCache):
                found = _local_values(backend, base)
            elif isinstance(backend, RedisCache):
                found = _redis_values(backend, base, want)
            else:
                return None
        except Exception as exc:
            self.failed("listing the cache", exc)
            return None
        return [
            (name, size)
            for name, size in found
            if not want or name[len(base) :] == want or name[len(base) :].startswith(want + "/")
        ]

    def delete_names(self, names: list[str]) -> None:
        for start in range(0, len(names), 500):
            self.tolerant("deleting values", self.backend.delete_many, names[start : start + 500])

    def first_sight(self, event_id: str | int, prefix: Key) -> bool:
        """True the first time this backend hears of ``event_id`` for ``prefix``."""
        name = self.name(f"event:{event_id}", prefix)
        return bool(self.backend.add(name, 1, timeout=self.ttl(EVENT_TTL)))


def _local_values(backend: LocMemCache, base: str) -> list[tuple[str, int]]:
    """This process's local-memory entries under ``base`` (Django keeps them pickled)."""
    made = backend.make_key(base)
    strip = len(made) - len(base)
    now = time.time()
    with backend._lock:  # LocMemCache's own lock and dicts: it has no listing API
        return [
            (key[strip:], len(value))
            for key, value in backend._cache.items()
            if key.startswith(made) and backend._expire_info.get(key, math.inf) > now
        ]


_GLOB = str.maketrans({c: f"\\{c}" for c in "*?[]\\"})


def _redis_values(backend: RedisCache, base: str, want: str) -> list[tuple[str, int]]:
    """Redis keys under ``base`` + ``want`` (SCAN, never KEYS) and their memory use."""
    made = backend.make_key(base)
    strip = len(made) - len(base)
    client = backend._cache.get_client(write=False)  # Django's client has no listing API
    keys = list(client.scan_iter(match=(made + want).translate(_GLOB) + "*", count=1000))[:200_000]
    sizes: list[int | None] = []
    for start in range(0, len(keys), 1000):
        pipe = client.pipeline(transaction=False)
        for key in keys[start : start + 1000]:
            pipe.memory_usage(key)
        sizes.extend(pipe.execute())
    return [
        (key.decode()[strip:] if isinstance(key, bytes) else key[strip:], int(size or 0))
        for key, size in zip(keys, sizes, strict=True)
    ]
