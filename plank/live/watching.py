"""Which sockets want a frame for a key: the index behind ``watch`` routing.

A page tells the server the keys it shows (``{"type": "watch", "keys": [...]}``). A frame for
key K goes to a socket that watches a key W *related* to K: K names W or something above it (an
invalidation of ``media`` reaches an element showing ``media/list/movie``), or W names K or
something above it (a page that watches ``download`` takes every ``download/N``). A socket that
has sent no ``watch`` takes everything (pages from before the watch frame keep working).

The index is a trie of key paths, so finding the sockets for a key costs the length of the key
plus the sockets found, however many sockets watch other things.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator
from typing import Generic, TypeVar

from plank.live.keys import Key, check_key, is_prefix

S = TypeVar("S", bound=Hashable)

MAX_WATCHED = 500  # keys per socket; more are folded into their first parts by the page


def _parts(key: Key) -> tuple[str, ...]:
    return tuple(str(part) for part in key)


class _Node(Generic[S]):
    __slots__ = ("children", "sockets")

    def __init__(self) -> None:
        self.children: dict[str, _Node[S]] = {}
        self.sockets: set[S] = set()


class WatchIndex(Generic[S]):
    """Sockets by the keys they watch; sockets that watch nothing particular take everything."""

    def __init__(self) -> None:
        self._root: _Node[S] = _Node()
        self._watched: dict[S, tuple[Key, ...]] = {}
        self.everything: set[S] = set()  # sockets that have sent no watch frame

    def __len__(self) -> int:
        return len(self._watched) + len(self.everything)

    def add(self, socket: S) -> None:
        """A new socket: it takes everything until it says what it watches."""
        if socket not in self._watched:
            self.everything.add(socket)

    def discard(self, socket: S) -> None:
        self.everything.discard(socket)
        for key in self._watched.pop(socket, ()):
            self._unlink(socket, key)

    def watch(self, socket: S, keys: Iterable[Key]) -> tuple[Key, ...]:
        """Replace what ``socket`` watches; returns the canonical keys (ValueError on junk)."""
        canonical: list[Key] = []
        for key in keys:
            key = check_key(key)
            if key not in canonical:
                canonical.append(key)
            if len(canonical) > MAX_WATCHED:
                raise ValueError(f"a socket watches at most {MAX_WATCHED} keys")
        self.discard(socket)
        self._watched[socket] = tuple(canonical)
        for key in canonical:
            node = self._root
            for part in _parts(key):
                node = node.children.setdefault(part, _Node())
            node.sockets.add(socket)
        return tuple(canonical)

    def watched(self, socket: S) -> tuple[Key, ...] | None:
        """The keys ``socket`` watches, or None when it takes everything."""
        return self._watched.get(socket)

    def wants(self, socket: S, keys: Iterable[Key]) -> bool:
        """Whether any of ``keys`` is related to what ``socket`` watches."""
        watched = self._watched.get(socket)
        if watched is None:
            return socket in self.everything
        return any(related(key, mine) for key in keys for mine in watched)

    def sockets_for(self, keys: Iterable[Key]) -> set[S]:
        """Every socket that wants a frame naming ``keys``."""
        found: set[S] = set(self.everything)
        for key in keys:
            node: _Node[S] | None = self._root
            for part in _parts(key):
                node = node.children.get(part) if node is not None else None
                if node is None:
                    break
                found |= node.sockets  # they watch something above K (or K itself)
            if node is not None:
                found |= set(_below(node))  # they watch something under K
        return found

    def _unlink(self, socket: S, key: Key) -> None:
        path: list[tuple[_Node[S], str]] = []
        node = self._root
        for part in _parts(key):
            child = node.children.get(part)
            if child is None:
                return
            path.append((node, part))
            node = child
        node.sockets.discard(socket)
        for parent, part in reversed(path):  # prune empty branches
            child = parent.children[part]
            if child.sockets or child.children:
                break
            del parent.children[part]


def _below(node: _Node[S]) -> Iterator[S]:
    stack = list(node.children.values())
    while stack:
        current = stack.pop()
        yield from current.sockets
        stack.extend(current.children.values())


def related(a: Key, b: Key) -> bool:
    """True when one key names the other or something above it."""
    return is_prefix(a, b) or is_prefix(b, a)
