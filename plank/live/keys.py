"""Keys of the live layer: tuples of strings and ints, general to specific.

``("media",)``, ``("media", "list", "movie")``, ``("media", 42)``, ``("tmdb", "trending", "movie", 1)``.
A key *prefix* names everything under it: invalidating ``("tmdb",)`` reaches
``("tmdb", "trending", "movie", 1)``.

Three spellings of the same key:

- the tuple (Python code, the per-key cache);
- a JSON array (socket frames): :func:`to_json` / :func:`from_json`;
- a path (the ``data-live-key`` HTML attribute): :func:`to_path` / :func:`from_path`,
  ``"media/list/movie"``.

A key's identity is its path. A path cannot tell ``1`` from ``"1"``, so keys are *canonical*:
:func:`make_key` (and :func:`from_json`, :func:`from_path`) turn a string that is the canonical
spelling of an int (``"42"``, ``"-3"``, ``"0"``; not ``"042"``, ``"+1"``, ``"-0"``) into that
int. Then ``from_path(to_path(k)) == k`` and ``from_json(to_json(k)) == k`` for every key
:func:`make_key` returns, and two keys are equal exactly when their paths are. :func:`is_prefix`
compares segment by segment as the path does, so a hand-written tuple such as
``("tmdb", "search", "1984")`` still matches ``("tmdb", "search", 1984)``.

Rules for the parts: at least one; each a ``str`` or an ``int`` (``bool`` is refused, it is an
``int`` by accident); strings non-empty and without ``/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

Key = tuple[str | int, ...]

_CANONICAL_INT = re.compile(r"-?[1-9][0-9]*|0")


def _part(part: object, index: int) -> str | int:
    # bool is a subclass of int: refuse it explicitly (True would spell "True" in a path).
    if isinstance(part, bool) or not isinstance(part, (str, int)):
        raise ValueError(f"key part {index} must be a str or an int, not {type(part).__name__}")
    if isinstance(part, int):
        return int(part)  # an int subclass (IntEnum) becomes a plain int
    if not part:
        raise ValueError(f"key part {index} is an empty string")
    if "/" in part:
        raise ValueError(f"key part {index} contains '/': {part!r}")
    if _CANONICAL_INT.fullmatch(part):
        return int(part)
    return str(part)


def make_key(*parts: str | int) -> Key:
    """Validate ``parts`` and return the canonical key; :class:`ValueError` on anything else."""
    if not parts:
        raise ValueError("a key needs at least one part")
    return tuple(_part(part, i) for i, part in enumerate(parts))


def check_key(key: object) -> Key:
    """``key`` (a tuple or list of parts) validated and canonical; :class:`ValueError` if not."""
    if not isinstance(key, (tuple, list)):
        raise ValueError(f"a key is a tuple of parts, not {type(key).__name__}")
    return make_key(*key)


def is_prefix(prefix: Key, key: Key) -> bool:
    """True when ``prefix`` names ``key`` or something above it (segment-wise, as paths do)."""
    if len(prefix) > len(key):
        return False
    for a, b in zip(prefix, key, strict=False):
        if a != b and str(a) != str(b):
            return False
    return True


def prefixes(key: Key) -> Iterator[Key]:
    """Every prefix of ``key``, shortest first, ending with ``key`` itself."""
    for n in range(1, len(key) + 1):
        yield key[:n]


def to_json(key: Key) -> list[str | int]:
    """The key as a JSON array (a list)."""
    return list(key)


def from_json(value: Any) -> Key:
    """A key from a decoded JSON array; :class:`ValueError` on anything that is not one."""
    if not isinstance(value, list):
        raise ValueError(f"a key on the wire is a JSON array, not {type(value).__name__}")
    return make_key(*value)


def to_path(key: Key) -> str:
    """``("media", "list", "movie")`` -> ``"media/list/movie"``."""
    return "/".join(str(part) for part in key)


def from_path(path: str) -> Key:
    """``"media/42"`` -> ``("media", 42)``; :class:`ValueError` on an empty or malformed path."""
    if not isinstance(path, str) or not path:
        raise ValueError("a key path is a non-empty string")
    return make_key(*path.split("/"))
