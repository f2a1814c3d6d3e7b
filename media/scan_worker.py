"""What a scan's worker threads run for one new or changed file: examine it
(``media.scan_files``) and say what it is (``media.scan_names``), so that probing and name
parsing — most of a first scan's work — stay off the thread that writes the rows. No database
and no Django app registry here."""

from __future__ import annotations

from pathlib import Path

from media.scan_files import Examined, Found, examine
from media.scan_names import Identity, identify


def look(root: str, found: Found, folder_kind: str) -> tuple[Examined, Identity | None]:
    seen = examine(Path(root), found)
    if seen.error or found.role != "video":
        return seen, None
    return seen, identify(found.rel, folder_kind)
