"""Downloads: what the rest of Plank asks of a title's torrent (start, pause, resume, retry,
remove), wherever the engine runs.

Every action leaves an ``EngineCommand`` row in the change's transaction: the intent is durable,
there exactly when the change is. ``manage.py serve`` runs the engine in the web process
(``torrents.engine.current()``): the command is carried out as soon as the change commits, then
its row deleted. A ``serve --web-only`` process has no engine: the engine process applies the
rows within a second (``torrents.engine_part``). A crash between the commit and the engine
loses nothing: the row is applied when the engine starts again (commands are idempotent).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction

from media.files import remove_tree
from media.models import Status, Title
from plank.faults import crash_point
from torrents import engine as engine_module
from torrents import races, signals
from torrents.engine import Engine, EngineError
from torrents.models import Download, EngineCommand

log = logging.getLogger(__name__)

State = Download.State
Action = EngineCommand.Action


def _save_path(info_hash: str) -> Path:
    return Path(settings.DOWNLOADS_DIR) / info_hash


def start(title: Title) -> Download:
    """Start downloading a title added by magnet (idempotent). Inside the caller's transaction
    the download row commits with the title, and the engine is asked after the commit."""
    info_hash = (title.info_hash or engine_module.magnet_info_hash(title.magnet)).lower()
    with transaction.atomic():
        download, created = Download.objects.get_or_create(
            title=title,
            defaults={"info_hash": info_hash, "save_path": str(_save_path(info_hash))},
        )
        title.set_status(Status.DOWNLOADING)
        if created:
            _command(download, Action.ADD)
    return download


def on_title_added(sender: type[Title], title: Title, **kwargs: Any) -> None:
    """``media.signals.title_added``: a title with a magnet wants its bytes."""
    start(title)


def pause(title: Title) -> None:
    download = Download.objects.get(title=title)
    with transaction.atomic():
        if download.state == State.SEEDING:
            download.state = State.COMPLETE
        elif download.state not in (State.COMPLETE, State.ERROR):
            download.state = State.PAUSED
        download.save(update_fields=["state"])
        _command(download, Action.PAUSE)


def resume(title: Title) -> None:
    download = Download.objects.get(title=title)
    with transaction.atomic():
        if download.state == State.PAUSED:
            download.look_for_peers()
        _command(download, Action.RESUME)


class NothingToRetry(Exception):
    """The title has nothing to download again (no magnet link)."""


def retry(title: Title) -> None:
    """Look for peers again after "no peers" (or an engine error); a title that never got its
    download (a crash before its row, or rows from an older Plank) starts it now. Works in any
    state. Raises ``NothingToRetry`` for a title without a magnet link."""
    download = Download.objects.filter(title=title).first()
    if download is None:
        if not title.magnet:
            raise NothingToRetry("This title has no magnet link to download yet.")
        start(title)
        return
    with transaction.atomic():
        download.look_for_peers(again=True)
        title.set_status(Status.DOWNLOADING)
        _command(download, Action.RETRY)


def remove(title: Title, delete_files: bool = False) -> None:
    """Stop and forget a title's download; with ``delete_files``, its downloaded data too."""
    download = Download.objects.filter(title=title).first()
    if download is None:
        return
    with transaction.atomic():
        download.delete()
        _command(download, Action.REMOVE, delete_files=delete_files)


def on_title_deleting(sender: type[Title], title: Title, delete_files: bool, **kwargs: Any) -> None:
    """``media.signals.title_deleting``: the title's download goes with it."""
    remove(title, delete_files=delete_files)


def _command(download: Download, action: str, *, delete_files: bool = False) -> None:
    """Ask the engine for ``action``: an ``EngineCommand`` row in the caller's transaction (so it
    is there exactly when the change is, and outlives a crash), carried out by this process's
    engine once the transaction commits, else by the engine process."""
    command = EngineCommand.objects.create(
        info_hash=download.info_hash,
        action=action,
        delete_files=delete_files,
        save_path=download.save_path,
    )
    engine = engine_module.current()
    if engine is not None:
        transaction.on_commit(lambda: carry_out(engine, command))


def carry_out(engine: Engine, command: EngineCommand) -> None:
    """Apply one command on this process's engine, then forget it (applied twice, by this and
    by the engine part's poll, it does the same)."""
    if command.action == Action.ADD:
        crash_point("add.committed")
    try:
        apply(
            engine,
            command.info_hash,
            command.action,
            delete_files=command.delete_files,
            save_path=command.save_path,
        )
    except (EngineError, ValueError) as exc:
        log.warning("engine command %s failed: %s", command, exc)
        if command.action == Action.ADD:
            fail(command.info_hash, f"The magnet link could not be added: {exc}")
    EngineCommand.objects.filter(pk=command.pk).delete()


def apply(
    engine: Engine, info_hash: str, action: str, *, delete_files: bool, save_path: str
) -> None:
    """Carry out one command on this process's engine."""
    if action == Action.REMOVE:
        if info_hash in engine:
            engine.remove(info_hash, delete_files=delete_files)
        crash_point("delete.engine")
        if delete_files and save_path:
            try:
                remove_tree(Path(save_path))
            except ValueError as exc:  # outside the data directory: leave it alone
                log.warning("not deleting %s: %s", save_path, exc)
        return
    if action in (Action.ADD, Action.RETRY) and info_hash not in engine:
        download = Download.objects.select_related("title").filter(info_hash=info_hash).first()
        if download is not None:
            add_to(engine, download)
        return
    if info_hash not in engine:
        return
    if action == Action.PAUSE:
        engine.pause(info_hash)
    elif action == Action.RESUME:
        engine.resume(info_hash)
    elif action == Action.RETRY:
        engine.resume(info_hash)
        engine.reannounce(info_hash)


def add_to(engine: Engine, download: Download) -> None:
    """Put a download's torrent in the engine (from its title's magnet), paused if it is."""
    engine.add_magnet(
        download.title.magnet,
        download.save_path,
        hold_files=True,
        paused=download.state == State.PAUSED,
    )


def fail(
    info_hash: str, message: str, *, cause: str = signals.ERROR, remove_from: Engine | None = None
) -> None:
    """Put a download (and its title) in error with ``message``, and say so with
    ``download_failed`` (``cause``: see there); ``remove_from``: also drop the torrent and
    anything it wrote from that engine."""
    download = Download.objects.select_related("title").filter(info_hash=info_hash).first()
    if download is None:
        return
    title = download.title
    try:
        with transaction.atomic():
            download.fail(message)
            title.set_status(Status.ERROR, message)
            transaction.on_commit(lambda: tell_failed(title, message, cause))
    except DatabaseError as exc:
        if not races.deleted_meanwhile(exc):
            raise
        log.info("download %s was deleted before it could fail (%s): %s", info_hash, exc, message)
        return
    if remove_from is not None and info_hash in remove_from:
        remove_from.remove(info_hash, delete_files=True)


def tell_failed(title: Title, reason: str, cause: str) -> None:
    """Send ``download_failed``; a receiver's failure is logged, never raised here."""
    for receiver, error in signals.download_failed.send_robust(
        sender=Download, title=title, reason=reason, cause=cause
    ):
        if error is not None:
            log.error("download_failed receiver %r failed for %s", receiver, title, exc_info=error)
