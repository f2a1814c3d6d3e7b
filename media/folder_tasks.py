"""The library folders' scheduled tasks and their /system/ check.

- ``library-rescan`` (daily): an incremental scan of every folder, which also catches what a
  watch can't see (changes while Plank was stopped);
- ``library-poll`` (every 15 minutes): the folders that can't be watched, scanned instead.
"""

from __future__ import annotations

from cachalot.api import cachalot_disabled
from django.db.models import Count, Q

from media.models import LibraryFolder, Scan
from media.scan_queue import scan_folders
from plank.scheduler import Run
from plank.system import Check
from plank.words import ago


def rescan_all(run: Run) -> str:
    return scan_folders(LibraryFolder.objects.all(), run)


def poll_unwatched(run: Run) -> str:
    folders = LibraryFolder.objects.filter(watch_state=LibraryFolder.Watch.FAILED)
    if not folders.exists():
        return "Every library folder is watched; nothing to scan."
    return scan_folders(folders, run)


def health() -> Check:
    """/system/: each folder's watch and last scan; loud when a watch failed."""
    with cachalot_disabled():
        folders = list(
            LibraryFolder.objects.annotate(
                videos=Count("files", filter=Q(files__role="video")),
                missing=Count("files", filter=Q(files__missing_since__isnull=False)),
                problem_count=Count("problems", distinct=True),
            )
        )
        last = {}
        for scan in Scan.objects.filter(folder__in=folders).order_by("folder_id", "-requested_at"):
            last.setdefault(scan.folder_id, scan)
    if not folders:
        return Check("Library folders", True, "none yet: add one under Settings → Library folders")
    failed = [f for f in folders if f.watch_state == LibraryFolder.Watch.FAILED]
    details = [(f"{f.name}: can't watch", f.watch_detail) for f in failed]
    for f in folders:
        scan = last.get(f.pk)
        said = (
            "never scanned"
            if scan is None
            else f"{scan.get_state_display()} {ago(scan.finished_at or scan.requested_at)}: {scan.outcome}"
        )
        files = f"{f.videos:,} videos" + (f", {f.missing:,} missing" if f.missing else "")
        details.append((f.name, f"{f.path} · {files} · {f.get_watch_state_display()} · {said}"))
    summary = f"{len(folders)} folder{'s' if len(folders) != 1 else ''}"
    if failed:
        verb = "is" if len(failed) == 1 else "are"
        summary += f"; {len(failed)} can't be watched and {verb} scanned on a timetable instead"
    return Check("Library folders", not failed, summary, details=details)
