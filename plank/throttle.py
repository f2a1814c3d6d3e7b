"""Login throttling: failed attempts counted per user name and per address.

``PLANK_LOGIN_FAILURES_PER_USER`` failures for one user name, or
``PLANK_LOGIN_FAILURES_PER_ADDRESS`` from one address, within ``PLANK_LOGIN_WINDOW_SECONDS`` lock
that name (or address) out until the window that began with the first failure has passed. While
locked out nothing is checked, the right password included (so guessing gains nothing), and the
page says how long to wait. A successful login clears its user name's count. The counts live in
Django's cache under the ``logins`` alias, which every worker process shares (Redis when there is
one, else files in the data folder: see plank/settings.py). Keys hold a hash of the name, never
the name itself.
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest

PREFIX = "plank:login-failures"


def _cache() -> Any:
    return caches["logins"]


def _key(kind: str, value: str) -> str:
    return f"{PREFIX}:{kind}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"


def _keys(username: str, address: str) -> list[tuple[str, int]]:
    keys = [(_key("address", address), settings.PLANK_LOGIN_FAILURES_PER_ADDRESS)]
    if username:
        keys.insert(
            0, (_key("user", username.strip().lower()), settings.PLANK_LOGIN_FAILURES_PER_USER)
        )
    return keys


def client_address(request: HttpRequest) -> str:
    """Who is trying: the connection's address, or, when that is a proxy named in
    ``PLANK_TRUSTED_PROXIES``, the nearest address in ``X-Forwarded-For`` that is not one of
    them (behind a proxy every attempt would otherwise come from the proxy, and twenty wrong
    passwords from anyone would lock everyone out). The header is believed from those proxies
    only: anyone else could write any address into it."""
    address = request.META.get("REMOTE_ADDR", "") or "unknown"
    trusted = settings.PLANK_TRUSTED_PROXIES
    if address not in trusted:
        return address
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    for hop in reversed([a for a in forwarded if a]):
        if hop not in trusted:
            return hop[:64]
    return address


def locked_for(username: str, address: str, now: float | None = None) -> int:
    """Seconds until that user name and address may try again (0: they may now)."""
    now = time.time() if now is None else now
    wait = 0.0
    for key, limit in _keys(username, address):
        entry = _cache().get(key)
        if entry and entry["count"] >= limit and entry["until"] > now:
            wait = max(wait, entry["until"] - now)
    return math.ceil(wait)


def failed(username: str, address: str, now: float | None = None) -> int:
    """Count a failed attempt; the seconds to wait if it locked them out (else 0)."""
    now = time.time() if now is None else now
    cache = _cache()
    window = settings.PLANK_LOGIN_WINDOW_SECONDS
    for key, _limit in _keys(username, address):
        entry = cache.get(key)
        if not entry or entry["until"] <= now:
            entry = {"count": 0, "until": now + window}
        entry["count"] += 1
        cache.set(key, entry, timeout=max(1, math.ceil(entry["until"] - now)))
    return locked_for(username, address, now)


def succeeded(username: str) -> None:
    _cache().delete(_key("user", username.strip().lower()))


def wait_in_words(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
