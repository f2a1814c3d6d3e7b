"""Get: a chosen search result becomes a download.

The result's link is followed through Plank (never by the browser: it may carry an indexer's
key): a magnet as it is; an http(s) link to the magnet it redirects to (Jackett, Prowlarr) or to
the ``.torrent`` file it serves (at most 10 MB; its metadata then needs no peers, and the engine
of this process is given the file's bytes). The release goes to a new title
(``media.library.add_magnet``), or to a wanted title (``media.library.attach_release``); a title
whose release failed first drops that release's download.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import libtorrent as lt
from django.db import transaction

from media import library
from media.magnets import Magnet, MagnetError, parse_magnet
from media.models import Title
from torrents import downloads, torznab
from torrents import engine as engine_module
from torrents.engine import EngineError
from torrents.models import Download
from torrents.results import Result
from torrents.torznab import TorznabError

log = logging.getLogger(__name__)

LINK_TIMEOUT = 20.0


class GrabError(Exception):
    """The release could not be had; ``message`` says why, for the page."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Resolved:
    magnet: Magnet
    torrent: bytes = b""  # the .torrent file, when the link served one


def magnet_of_torrent(data: bytes) -> str:
    """A magnet for a ``.torrent`` file (its info-hash, name and trackers)."""
    try:
        info = lt.torrent_info(lt.bdecode(data))
    except (RuntimeError, TypeError, ValueError) as exc:
        raise GrabError(f"The indexer's .torrent file is not valid ({exc}).") from None
    return lt.make_magnet_uri(info)


def resolve(result: Result) -> Resolved:
    """The magnet (and maybe the .torrent) behind a result. Raises GrabError."""
    try:
        fetched = torznab.fetch_release(result.magnet or result.link, timeout=LINK_TIMEOUT)
    except TorznabError as exc:
        raise GrabError(
            f"The release could not be fetched from {result.indexer}: {exc.message}."
        ) from None
    text = fetched.magnet or magnet_of_torrent(fetched.torrent)
    try:
        magnet = parse_magnet(text)
    except MagnetError as exc:
        raise GrabError(f"The indexer gave a magnet link Plank cannot use: {exc.message}") from None
    if not magnet.name:
        magnet = Magnet(
            magnet.info_hash,
            magnet.info_hash_v1,
            magnet.info_hash_v2,
            result.name[:500],
            magnet.trackers,
            magnet.peers,
        )
    return Resolved(magnet, fetched.torrent)


def _give_engine(resolved: Resolved) -> None:
    """Before the download's own start (registered first, so it runs first after the commit):
    hand this process's engine the .torrent, so no peer is needed for the metadata."""
    if not resolved.torrent:
        return
    info_hash = (resolved.magnet.info_hash_v1 or resolved.magnet.info_hash).lower()
    data = resolved.torrent

    def add() -> None:
        engine = engine_module.current()
        download = Download.objects.filter(info_hash=info_hash).first()
        if engine is None or download is None or info_hash in engine:
            return
        try:
            engine.add_torrent_file(data, download.save_path, hold_files=True)
        except EngineError as exc:  # the magnet is added instead, by the download's own start
            log.warning("could not add the .torrent of %s: %s", info_hash, exc)

    transaction.on_commit(add)


def add_new(result: Result, kind: str, user) -> library.AddResult:
    """Get a result into the library as a new title (or find the title that has it)."""
    resolved = resolve(result)
    with transaction.atomic():
        _give_engine(resolved)
        return library.add_magnet(resolved.magnet, kind, user)


def attach(title: Title, result: Result) -> Title:
    """Give ``title`` the release of ``result``; a release it had that failed is dropped
    first (its download, and what it wrote). Raises GrabError."""
    return _attach(title, resolve(result))


def attach_magnet(title: Title, magnet: Magnet) -> Title:
    """Give ``title`` a release known by its magnet (a request's pick). Raises GrabError."""
    return _attach(title, Resolved(magnet))


def _attach(title: Title, resolved: Resolved) -> Title:
    with transaction.atomic():
        title = Title.objects.select_for_update().get(pk=title.pk)
        if Download.objects.filter(title=title).exists():
            downloads.remove(title, delete_files=True)
        _give_engine(resolved)
        try:
            return library.attach_release(title, resolved.magnet)
        except library.ReleaseTaken as exc:
            raise GrabError(str(exc)) from None
