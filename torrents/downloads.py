"""Downloads: what the rest of Plank asks of a title's torrent (start, pause, resume, retry,
remove), wherever the engine runs.

``manage.py serve`` runs the engine in the web process (``torrents.engine.current()``): the
actions apply at once, after the change commits. A ``serve --web-only`` process has no engine:
an action leaves an ``EngineCommand`` row, in the change's transaction, that the engine process
applies within a second (``torrents.engine_part``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from media.files import remove_tree
from media.models import Status, Title
from torrents import engine as engine_module
from torrents import signals
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


def retry(title: Title) -> None:
    """Look for peers again after "no peers" (or an engine error)."""
    download = Download.objects.get(title=title)
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
        if title.status in (Status.PENDING, Status.DOWNLOADING, Status.ERROR):
            title.set_status(Status.REMOVED, title.status_detail)
        _command(download, Action.REMOVE, delete_files=delete_files)


def on_title_deleting(sender: type[Title], title: Title, delete_files: bool, **kwargs: Any) -> None:
    """``media.signals.title_deleting``: the title's download goes with it."""
    remove(title, delete_files=delete_files)


def _command(download: Download, action: str, *, delete_files: bool = False) -> None:
    """Ask the engine for ``action`` once the caller's transaction commits: this process's
    engine directly, else the engine process through an ``EngineCommand`` row (written in the
    same transaction, so it is there exactly when the change is)."""
    engine = engine_module.current()
    if engine is None:
        EngineCommand.objects.create(
            info_hash=download.info_hash,
            action=action,
            delete_files=delete_files,
            save_path=download.save_path,
        )
        return
    info_hash, save_path = download.info_hash, download.save_path

    def carry_out() -> None:
        try:
            apply(engine, info_hash, action, delete_files=delete_files, save_path=save_path)
        except (EngineError, ValueError) as exc:
            log.warning("engine command %s %s failed: %s", action, info_hash, exc)
            if action == Action.ADD:
                fail(info_hash, f"The magnet link could not be added: {exc}")

    transaction.on_commit(carry_out)


def apply(
    engine: Engine, info_hash: str, action: str, *, delete_files: bool, save_path: str
) -> None:
    """Carry out one command on this process's engine."""
    if action == Action.REMOVE:
        if info_hash in engine:
            engine.remove(info_hash, delete_files=delete_files)
        if delete_files and save_path:
            try:
                remove_tree(Path(save_path))
            except ValueError as exc:  # outside the data directory: leave it alone
                log.warning("not deleting %s: %s", save_path, exc)
        return
    if action in (Action.ADD, Action.RETRY) and info_hash not in engine:
        download = Download.objects.select_related("title").filter(info_hash=info_hash).first()
        if download is not None:
            engine.add_magnet(download.title.magnet, download.save_path, hold_files=True)
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
    with transaction.atomic():
        download.fail(message)
        title.set_status(Status.ERROR, message)
        transaction.on_commit(lambda: tell_failed(title, message, cause))
    if remove_from is not None and info_hash in remove_from:
        remove_from.remove(info_hash, delete_files=True)


def tell_failed(title: Title, reason: str, cause: str) -> None:
    """Send ``download_failed``; a receiver's failure is logged, never raised here."""
    for receiver, error in signals.download_failed.send_robust(
        sender=Download, title=title, reason=reason, cause=cause
    ):
        if error is not None:
            log.error("download_failed receiver %r failed for %s", receiver, title, exc_info=error)
