"""Free space on the disk that holds the downloads folder (``settings.DOWNLOADS_DIR``).

``/downloads/`` shows it at the top ("412 GB free of 2.0 TB") and warns when less than
``settings.PLANK_LOW_DISK_BYTES`` is free: when that disk is full, libtorrent cannot write the
pieces it receives, so the downloads stop with an error (Retry once there is room).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings


@dataclass(frozen=True)
class DiskSpace:
    free: int  # bytes a non-root process may still write
    total: int  # bytes of the whole file system
    threshold: int  # below this much free, the page warns

    @property
    def low(self) -> bool:
        return self.free < self.threshold


def downloads_space(folder: Path | str | None = None) -> DiskSpace | None:
    """The space on the downloads folder's disk (``folder``: another one, for tests), or None
    when it cannot be measured. A folder not created yet is measured at its nearest existing
    parent: the disk it will be made on."""
    path = Path(folder if folder is not None else settings.DOWNLOADS_DIR)
    while not path.exists() and path.parent != path:
        path = path.parent
    try:
        usage = shutil.disk_usage(path)
    except OSError:
        return None
    return DiskSpace(free=usage.free, total=usage.total, threshold=settings.PLANK_LOW_DISK_BYTES)
