"""Rendered fragments from the per-key cache, until an invalidation names their key.

The server-side twin of a client query cache: a library grid page, the counts, a browse page
are rendered once per change and then served from the cache. The entry lives under the live
key the fragment shows, so the invalidation that makes the page refetch the element (the
``invalidate`` frame) also makes the cached HTML stale, and the refetch renders it anew, once,
however many pages ask at the same moment (the cache is single-flight)::

    html = fragments.render(("media", "list", "movie"), {"sort": "added", "after": cursor},
                            lambda: render_to_string("media/library.html#page", context))

``vary`` holds whatever else makes two renderings of the key differ (the tab, the sort, the
page's cursor, the user when it shows per-user data); it is hashed into the entry's key, under
the live key. A fragment must not hold anything per request: no CSRF token (forms in cached
fragments post with the page's ``X-CSRFToken`` header), no messages.

In templates: ``{% live_fragment key vary1 vary2 ... %}...{% endlive_fragment %}``
(plank/templatetags/live.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings

from plank.live import cache
from plank.live.errors import UpstreamError
from plank.live.keys import Key, check_key

VARY_PART = "fragment"  # the key part between the live key and the hash of what varies


def fragment_key(key: Key, vary: Mapping[str, Any] | tuple[Any, ...] | None = None) -> Key:
    """The cache key of one rendering: the live key, then the digest of what varies."""
    key = check_key(key)
    if isinstance(vary, Mapping):
        vary = tuple(sorted((str(k), v) for k, v in vary.items()))
    text = json.dumps(vary or (), default=str, separators=(",", ":"))
    return (*key, VARY_PART, hashlib.sha1(text.encode()).hexdigest()[:20])


def render(
    key: Key,
    vary: Mapping[str, Any] | tuple[Any, ...] | None,
    render_fn: Callable[[], str],
) -> str:
    """The HTML of ``render_fn()`` for ``key`` and ``vary``, rendered once per change.

    A fragment has no stale time: it is fresh until an invalidation names a prefix of ``key``
    (or it expires, ``PLANK_FRAGMENT_EXPIRE_SECONDS``). A rendering that fails raises its own
    exception (a bug in a template is not an upstream outage).
    """
    failures: list[BaseException] = []

    def fetch() -> str:
        try:
            return str(render_fn())
        except Exception as exc:
            failures.append(exc)
            raise

    expire = float(settings.PLANK_FRAGMENT_EXPIRE_SECONDS)
    try:
        result = cache.fetch(fragment_key(key, vary), fetch, stale=expire, expire=expire, retries=0)
    except UpstreamError:
        if failures:
            raise failures[0] from None
        raise
    return result.value
