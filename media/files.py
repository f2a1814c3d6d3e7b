"""A title's files on disk: where they are, and removing them safely."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from django.conf import settings

from media.models import MediaFile, Title

log = logging.getLogger(__name__)


def resolve(file: MediaFile) -> Path | None:
    """The absolute path of a library file, or None if it would leave the data directory."""
    if not file.path:
        return None
    root = Path(settings.DATA_DIR).resolve()
    path = (root / file.path).resolve()
    if not path.is_relative_to(root):
        log.warning("refusing a path outside the data directory: %r", file.path)
        return None
    return path


def delete_title_files(title: Title) -> int:
    """Delete the title's files under the library (never anything outside the data directory).

    Returns how many files were removed. Empty folders left behind are removed too.
    """
    removed = 0
    library = Path(settings.LIBRARY_DIR).resolve()
    for file in title.files.all():
        path = resolve(file)
        # only filed library copies: downloads (maybe shared, maybe seeding) are the engine's
        if path is None or not path.is_file() or not path.is_relative_to(library):
            continue
        path.unlink(missing_ok=True)
        removed += 1
        parent = path.parent
        while parent != library and parent.is_relative_to(library):
            try:
                parent.rmdir()  # only when empty
            except OSError:
                break
            parent = parent.parent
    return removed


def remove_tree(path: Path) -> None:
    """Remove a download folder, but only one inside the data directory."""
    root = Path(settings.DATA_DIR).resolve()
    path = path.resolve()
    if path == root or not path.is_relative_to(root):
        raise ValueError(f"refusing to remove {path}: not inside {root}")
    shutil.rmtree(path, ignore_errors=True)
