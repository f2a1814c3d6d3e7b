"""Files only this account may read: the data folder Plank creates, its database files and its
secret key. Used by ``plank.settings`` (so no Django here).

A data folder Plank creates is ``0700``; one that exists already keeps its mode (it may be shared
on purpose, say with a media server reading the library). The SQLite database is created ``0600``
before SQLite opens it, and SQLite gives its ``-wal`` and ``-shm`` files the database file's mode;
a database file found readable by others is made ``0600`` (it holds password hashes and sessions).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` (and its parents) if missing; a folder created here is ``0700``."""
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:  # made meanwhile by another process
            pass
        else:
            path.chmod(PRIVATE_DIR)  # whatever the umask
    return path


def private_file(path: Path) -> Path:
    """Make sure ``path`` exists and only its owner can read or write it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE)
    os.close(fd)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        path.chmod(mode & ~0o077 & 0o777 or PRIVATE_FILE)
    return path


def private_sqlite(path: Path) -> Path:
    """The SQLite database file and its companions (``-wal``, ``-shm``) owner-only."""
    private_file(path)
    for suffix in ("-wal", "-shm", "-journal"):
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            private_file(companion)
    return path
