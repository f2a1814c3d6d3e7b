"""A title's files on disk: the one rule for "is this path inside that folder", where a
library file or a download is, writing a file whole, and removing files safely.

Needs no app registry (models only for type hints), so `media.remux` and `media.subtitles`
stay usable outside Django (the benches)."""

from __future__ import annotations

import glob
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

from plank.faults import crash_point

if TYPE_CHECKING:
    from media.models import MediaFile, Title

log = logging.getLogger(__name__)

_INFO_HASH = re.compile(r"^[0-9a-fA-F]{40}$|^[0-9a-fA-F]{64}$")


def inside(folder: str | os.PathLike[str], path: str | os.PathLike[str]) -> Path | None:
    """`path` (relative to `folder`, or absolute) resolved, when it lies strictly inside the
    resolved `folder`; else None.

    Symlinks are followed: one whose target stays inside is fine, one that leaves is refused.
    ``..`` that climbs out, an absolute path elsewhere, a NUL byte and `folder` itself are
    refused. Every check of a path against a folder goes through here.
    """
    try:
        if "\x00" in os.fspath(folder) or "\x00" in os.fspath(path):
            return None
        base = Path(folder).resolve()
        target = (base / path).resolve()
    except (OSError, ValueError, RuntimeError):  # unreadable, a symlink loop
        return None
    if target == base or not target.is_relative_to(base):
        return None
    return target


def base_of(file: MediaFile) -> Path:
    """The folder a file's ``path`` is relative to: its library folder, else the data directory."""
    if file.folder_id is not None:
        return Path(file.folder.path)
    return Path(settings.DATA_DIR)


def resolve(file: MediaFile) -> Path | None:
    """The absolute path of a library file, or None if it would leave its library folder (or
    the data directory, for a file in no library folder)."""
    if not file.path:
        return None
    path = inside(base_of(file), file.path)
    if path is None:
        log.warning("refusing a path outside %s: %r", base_of(file), file.path)
    return path


def _deletable_root(file: MediaFile) -> Path | None:
    """Where Plank may delete this file: its own library directory, or a library folder for a
    file Plank filed there from a download. The household's own files (found by a scan) never."""
    if file.folder_id is None:
        return Path(settings.LIBRARY_DIR)
    if file.torrent_path:
        return Path(file.folder.path)
    return None


def download_path(title: Title, file: MediaFile) -> Path | None:
    """``DOWNLOADS_DIR/<info_hash>/<torrent_path>``, or None if that would leave the folder."""
    if not title.info_hash or not _INFO_HASH.match(title.info_hash) or not file.torrent_path:
        return None
    path = inside(Path(settings.DOWNLOADS_DIR) / title.info_hash.lower(), file.torrent_path)
    if path is None:
        log.warning("refusing a torrent path outside its download folder: %r", file.torrent_path)
    return path


@contextmanager
def replacing(dst: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary file next to `dst` to write: flushed to disk and renamed over `dst` (mode
    644) when the block ends, removed when it raises, so nobody ever sees `dst` half-written."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{dst.name[:60]}."
    for stale in dst.parent.glob(f"{glob.escape(prefix)}*.part"):  # a crash's, writing `dst`
        stale.unlink(missing_ok=True)
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=".part", dir=dst.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        crash_point("import.writing")
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)  # on disk before the rename, or a crash can leave `dst` empty
        finally:
            os.close(fd)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def delete_title_files(title: Title) -> int:
    """Delete the title's files under the library (never anything outside the data directory).

    Returns how many files were removed. Empty folders left behind are removed too.
    """
    removed = 0
    for file in title.files.select_related("folder"):
        path = resolve(file)
        library = _deletable_root(file)
        # only filed library copies: downloads (maybe shared, maybe seeding) are the engine's
        if path is None or library is None or not path.is_file() or inside(library, path) is None:
            continue
        # The entry itself goes, not what it resolves to: a link in the library to another
        # title's file removes the link, never that file.
        folder = (base_of(file) / file.path).parent.resolve()
        if folder != Path(library).resolve() and inside(library, folder) is None:
            continue
        entry = folder / Path(file.path).name
        entry.unlink(missing_ok=True)
        removed += 1
        parent = entry.parent
        while inside(library, parent) is not None:
            try:
                parent.rmdir()  # only when empty
            except OSError:
                break
            parent = parent.parent
    return removed


def remove_tree(path: Path) -> None:
    """Remove a download folder, but only one inside the data directory."""
    folder = inside(settings.DATA_DIR, path)
    if folder is None:
        raise ValueError(f"refusing to remove {path}: not inside {settings.DATA_DIR}")
    shutil.rmtree(folder, ignore_errors=True)
