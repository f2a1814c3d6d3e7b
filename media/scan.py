"""Scanning a library folder: the files in it become (and stay) the library's, truthfully.

One scan (a :class:`~media.models.Scan` row) walks the folder (``media.scan_files.walk``: sizes
and times from the directory listing, nothing opened) and sorts every video and subtitle it
finds: unchanged (known by path, same size and modification time: not opened again, unless the
scan is *full*), changed, new. New and changed files are examined in parallel on the cores
(a partial hash; a PyAV probe for videos), a new file whose size and partial hash are those of a
file that vanished is that file *moved*, and each outcome is written with the file (in batches,
each its own transaction). Known files the walk did not see are marked missing (when, and where
they were), never deleted; they come back when the file does. Progress is pushed live (the
counts, the current file, a rate-based ETA once the work is known) and cancel stops it within a
second; a scan that was cancelled or killed leaves every finished file recorded, and the next one
goes on from there. The whole story: docs/scan.md.

Who scans, and when (requests, one running scan per folder, cancel, scans whose process died):
``media.scan_queue``.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from cachalot.api import cachalot_disabled
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from media import live
from media.models import LibraryFolder, MediaFile, Scan, ScanProblem
from media.scan_apply import (
    Shelf,
    add_subtitle,
    came_back,
    gone,
    move,
    new_video,
    problem,
    update_video,
    video_for_subtitle,
)
from media.scan_files import Examined, Found, Walked, walk
from media.scan_names import Identity, identify, is_sample
from media.scan_worker import look
from plank.live.events import emit, push
from plank.scheduler import Run
from plank.words import ago

State = Scan.State
PUSH_SECONDS = 0.5
WRITE_SECONDS = 1.0
CANCEL_CHECK_SECONDS = 0.25
EMIT_SECONDS = 2.0
BATCH = 50  # files per transaction
COUNTS = (
    "seen",
    "to_probe",
    "probed",
    "added",
    "updated",
    "unchanged",
    "moved",
    "missing",
    "returned",
    "failed",
    "ignored",
)


class Scanner:
    """The work of one claimed scan."""

    def __init__(self, scan: Scan, run: Run | None) -> None:
        self.scan = scan
        self.folder = scan.folder
        self.root = Path(scan.folder.path)
        self.run = run
        self.counts = dict.fromkeys(COUNTS, 0)
        self.current = ""
        self.started = time.monotonic()
        self.probing_since: float | None = None
        self._last = {"push": -math.inf, "write": -math.inf, "check": -math.inf, "emit": 0.0}
        self._cancelled = False
        self._shelf: Shelf | None = None
        self._videos: dict[str, MediaFile] | None = None
        # Pushes reach other processes' pages only through a shared channel layer (Redis).
        self._pushes_reach_pages = bool(settings.REDIS_URL)

    # -- progress and cancel --

    def cancelled(self) -> bool:
        if self._cancelled:
            return True
        if self.run is not None and self.run.cancelled:
            self._cancelled = True
            return True
        now = time.monotonic()
        if now - self._last["check"] >= CANCEL_CHECK_SECONDS:
            self._last["check"] = now
            with cachalot_disabled():
                flag = Scan.objects.filter(pk=self.scan.pk).values_list(
                    "cancel_requested", flat=True
                )
                self._cancelled = flag.first() in (True, None)
        return self._cancelled

    def eta(self) -> float | None:
        done, total = self.counts["probed"], self.counts["to_probe"]
        if self.probing_since is None or not done or done >= total:
            return None
        elapsed = time.monotonic() - self.probing_since
        return None if elapsed < 1.0 else (total - done) * elapsed / done

    def data(self, phase: str) -> dict[str, Any]:
        c = self.counts
        known = self.probing_since is not None
        fraction = c["probed"] / c["to_probe"] if known and c["to_probe"] else None
        eta = self.eta()
        return {
            **c,
            "phase": phase,
            "current": self.current,
            "fraction": round(fraction, 4) if fraction is not None else None,
            "eta": round(eta) if eta is not None else None,
            "summary": summary_line(c, known),
        }

    def progress(self, phase: str, *, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last["push"] >= PUSH_SECONDS:
            self._last["push"] = now
            push(live.scan_progress(self.folder.pk), self.data(phase))
            if self.run is not None:
                known = self.probing_since is not None
                self.run.progress(
                    self.counts["probed"] if known else self.counts["seen"],
                    self.counts["to_probe"] if known else None,
                    f"{self.folder.name}: {self.current or phase}",
                )
        if force or now - self._last["write"] >= WRITE_SECONDS:
            self._last["write"] = now
            # Written every second: a QuerySet.update (no announcement), shown by the pushes.
            Scan.objects.filter(pk=self.scan.pk).update(
                current=self.current[:1000], heartbeat_at=timezone.now(), **self.counts
            )
            if not self._pushes_reach_pages and now - self._last["emit"] >= EMIT_SECONDS:
                # Without a shared channel layer the pushes reach only this process's sockets
                # (none, for a command): name the progress element stale instead, so the pages
                # of every process refetch it, every two seconds at most.
                self._last["emit"] = now
                emit((*live.folder_page(self.folder.pk), "progress"))

    def _seen(self, n: int, current: str) -> None:
        self.counts["seen"], self.current = n, current
        self.progress("Listing files")

    # -- the scan --

    def work(self) -> None:
        self.progress("Listing files", force=True)
        walked = walk(self.root, seen=self._seen, cancelled=self.cancelled)
        if not walked.root_readable:
            self.finish(
                State.FAILED,
                f"The folder {self.root} can't be read (is the disk or network share mounted?)."
                " Nothing was marked missing.",
            )
            return
        if walked.cancelled:
            self.finish(State.CANCELLED, "Cancelled while listing the files; nothing changed.")
            return
        self.counts["seen"], self.counts["ignored"] = len(walked.files), walked.ignored
        plan = sort_out(self.folder, walked, self.scan.full, self.counts)
        self.counts["to_probe"] = len(plan.examine_videos) + len(plan.examine_subtitles)
        self.probing_since = time.monotonic()
        self.progress("Looking at new and changed files", force=True)
        done = self._examine(plan, plan.examine_videos) and self._examine(
            plan, plan.examine_subtitles
        )
        if not done:
            left = self.counts["to_probe"] - self.counts["probed"]
            self.finish(
                State.CANCELLED,
                f"Cancelled with {left:,} of {self.counts['to_probe']:,} files still to look at;"
                " everything looked at so far is recorded, and the next scan goes on from there.",
            )
            return
        self._after(plan, walked)
        self.finish(State.DONE, outcome_words(self.counts, time.monotonic() - self.started))

    def _examine(self, plan: Plan, files: list[Found]) -> bool:
        """Examine ``files`` on a pool of threads and record each; False when cancelled.

        Threads, not processes: FFmpeg releases the GIL while it reads, and measured here
        (bench/bench_scan.py) two threads examine a file in half the time of one, while worker
        processes (forkserver) were slower still than one thread."""
        if not files:
            return True
        workers = max(int(settings.PLANK_SCAN_PROBE_WORKERS), 1)
        pool = ThreadPoolExecutor(workers, thread_name_prefix="plank-scan")
        pending: set[Future[tuple[Examined, Identity | None]]] = set()
        todo = iter(files)
        batch: list[tuple[Examined, Identity | None]] = []
        root, kind = str(self.root), self.folder.kind
        try:
            while True:
                while len(pending) < workers * 4:
                    found = next(todo, None)
                    if found is None:
                        break
                    pending.add(pool.submit(look, root, found, kind))
                if not pending:
                    break
                finished, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                for future in finished:
                    batch.append(future.result())
                    self.counts["probed"] += 1
                    self.current = batch[-1][0].found.rel
                if len(batch) >= BATCH or (batch and not pending):
                    self._record(plan, batch)
                    batch = []
                self.progress("Looking at new and changed files")
                if self.cancelled():
                    self._record(plan, batch)
                    return False
            self._record(plan, batch)
            return True
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _record(self, plan: Plan, batch: list[tuple[Examined, Identity | None]]) -> None:
        if not batch:
            return
        with transaction.atomic():
            added: list[MediaFile] = []
            for seen, identity in batch:
                file = self._one(plan, seen, identity)
                if file is not None:
                    added.append(file)
            if added:
                # Rows another writer committed since the plan was read (the last batch of a
                # killed scan can commit after its process is gone) are theirs, not new.
                there = set(
                    MediaFile.objects.filter(
                        folder=self.folder, path__in=[f.path for f in added]
                    ).values_list("path", flat=True)
                )
                if there:
                    added = [f for f in added if f.path not in there]
                    self.counts["added"] -= len(there)
                    self.counts["unchanged"] += len(there)
            if added:
                MediaFile.objects.bulk_create(added)
                # bulk_create sends no signals; the library's prefix names every list and
                # every title page these new files show on.
                emit(live.LIBRARY)
                if self._videos is not None:
                    self._videos.update({f.path: f for f in added})

    def _one(self, plan: Plan, seen: Examined, identity: Identity | None) -> MediaFile | None:
        """Record one examined file; a new video is returned (unsaved) for the batch insert."""
        rel = seen.found.rel
        known = plan.changed.get(rel)
        if seen.error:
            self.counts["failed"] += 1
            problem(self.folder, rel, seen.error, seen.found)
            if known is not None:
                known.scan_note = seen.error[:300]
                known.mtime_ns = None  # looked at again next time
                known.save(update_fields=["scan_note", "mtime_ns"])
            return None
        if rel in plan.problem_paths:  # it was a problem before: not any more
            ScanProblem.objects.filter(folder=self.folder, path=rel).delete()
        moved = self._moved_from(plan, seen) if known is None else None
        if moved is not None:
            here = moved.folder_id == self.folder.pk
            if here:
                plan.vanished.pop(moved.path, None)
            move(
                moved,
                self.folder,
                seen.found,
                moved.path if here else f"{moved.folder.name}: {moved.path}",
            )
            self.counts["moved"] += 1
            return None
        if seen.found.role == "subtitle":
            self._subtitle(seen, known)
            return None
        identity = identity or identify(rel, self.folder.kind)
        if known is not None:
            update_video(known, identity, seen)
            self.counts["updated"] += 1
            return None
        if self._shelf is None:
            self._shelf = Shelf(self.folder.title_kind)
        self.counts["added"] += 1
        return new_video(self.folder, self._shelf, identity, seen)

    def _moved_from(self, plan: Plan, seen: Examined) -> MediaFile | None:
        for file in plan.by_size.get(seen.size, []):
            if file.partial_hash == seen.hash and (
                file.missing_since is not None or file.path in plan.vanished
            ):
                plan.by_size[seen.size].remove(file)
                return file
        return None

    def _subtitle(self, seen: Examined, known: MediaFile | None) -> None:
        if self._videos is None:
            self._videos = {
                f.path: f
                for f in MediaFile.objects.filter(folder=self.folder, role=MediaFile.Role.VIDEO)
            }
        video = video_for_subtitle(seen.found.rel, self._videos)
        if video is None:
            self.counts["failed"] += 1
            problem(
                self.folder,
                seen.found.rel,
                "subtitles with no video of the same name next to them",
                seen.found,
            )
            return
        add_subtitle(self.folder, video, seen, known)
        self.counts["updated" if known is not None else "added"] += 1

    def _after(self, plan: Plan, walked: Any) -> None:
        """The walk and every file are done: came back, went missing, problems tidied."""
        now = timezone.now()
        with transaction.atomic():
            for file in plan.returned:
                came_back(file)
                self.counts["returned"] += 1
            for file in plan.vanished.values():
                gone(file, now)
                self.counts["missing"] += 1
            for rel, reason, found in plan.problems:
                problem(self.folder, rel, reason, found)
            listed = {rel for rel, _, _ in plan.problems}
            self.counts["failed"] += len(listed)
            ScanProblem.objects.filter(folder=self.folder, path__in=plan.stale_problems).delete()
        if plan.stale_problems:
            emit(live.folder_page(self.folder.pk))  # a bulk delete: no signals to announce it

    def finish(self, state: str, outcome: str, *, error: str = "") -> None:
        scan = self.scan
        for name, value in self.counts.items():
            setattr(scan, name, value)
        scan.state, scan.outcome, scan.error = state, outcome, error
        scan.finished_at = timezone.now()
        scan.current = ""
        scan.save()  # announced by the declaration: the folder pages refetch
        self.current = ""
        push(live.scan_progress(self.folder.pk), {**self.data(state), "finished": True})


def sort_out(folder: LibraryFolder, walked: Walked, full: bool, counts: dict[str, int]) -> Plan:
    """What the walk found, against what the library knows: what to open, what is unchanged,
    what came back, what vanished, what may have moved. Known files are compared as plain
    tuples; rows are loaded only for the few that changed, came back or vanished."""
    plan = Plan()
    rows = MediaFile.objects.filter(folder=folder).values_list(
        "path", "pk", "size", "mtime_ns", "missing_since"
    )
    known = {path: (pk, size, mtime, missing) for path, pk, size, mtime, missing in rows}
    problems = {
        p.path: (p.size, p.mtime_ns, p.ctime_ns) for p in ScanProblem.objects.filter(folder=folder)
    }
    seen_paths = set()
    changed: dict[str, int] = {}
    returned: list[int] = []
    for found in walked.files:
        seen_paths.add(found.rel)
        file = known.get(found.rel)
        if found.role == "video" and is_sample(found.rel):
            plan.problems.append((found.rel, "a sample clip, not the film or episode", found))
            continue
        if file is not None:
            pk, size, mtime, missing = file
            if not full and (size, mtime) == (found.size, found.mtime_ns):
                counts["unchanged"] += 1
                if missing is not None:
                    returned.append(pk)
                continue
            changed[found.rel] = pk
        elif not full and problems.get(found.rel) == (
            found.size,
            found.mtime_ns,
            found.ctime_ns,
        ):
            counts["unchanged"] += 1  # still broken, still unchanged: not opened again
            plan.keep_problems.add(found.rel)
            continue
        (plan.examine_videos if found.role == "video" else plan.examine_subtitles).append(found)
    for rel, reason in walked.reasons.items():
        plan.problems.append((rel, reason, walked.problems.get(rel)))
    unreadable = tuple(u + "/" for u in walked.unreadable)
    vanished = [
        pk
        for path, (pk, _size, _mtime, missing) in known.items()
        if missing is None and path not in seen_paths and not path.startswith(unreadable)
    ]
    loaded = MediaFile.objects.in_bulk([*changed.values(), *returned, *vanished])
    plan.changed = {rel: loaded[pk] for rel, pk in changed.items()}
    plan.returned = [loaded[pk] for pk in returned]
    plan.vanished = {loaded[pk].path: loaded[pk] for pk in vanished}
    plan.problem_paths = set(problems)
    plan.stale_problems = [p for p in problems if p not in seen_paths and p not in walked.reasons]
    # Moves: files that vanished here, or went missing anywhere, by size.
    for file in list(plan.vanished.values()) + list(
        MediaFile.objects.filter(missing_since__isnull=False, folder__kind=folder.kind).exclude(
            partial_hash=""
        )
    ):
        if file.partial_hash:
            plan.by_size.setdefault(file.size, []).append(file)
    return plan


class Plan:
    """What the walk found, sorted: what to open, what moved, what vanished."""

    def __init__(self) -> None:
        self.examine_videos: list[Found] = []
        self.examine_subtitles: list[Found] = []
        self.changed: dict[str, MediaFile] = {}
        self.returned: list[MediaFile] = []
        self.vanished: dict[str, MediaFile] = {}
        self.by_size: dict[int, list[MediaFile]] = {}
        self.problems: list[tuple[str, str, Found | None]] = []
        self.keep_problems: set[str] = set()
        self.problem_paths: set[str] = set()  # paths with a problem recorded before this scan
        self.stale_problems: list[str] = []


def scan_progress_data(scan: Scan) -> dict[str, Any]:
    """A scan's progress as its row has it (the page's first render; pushes update it)."""
    counts = {name: getattr(scan, name) for name in COUNTS}
    known = scan.state == State.RUNNING and (scan.to_probe > 0 or scan.probed > 0)
    fraction = scan.probed / scan.to_probe if known and scan.to_probe else None
    return {
        **counts,
        "current": scan.current,
        "fraction": fraction,
        "eta": None,
        "summary": summary_line(counts, known) if scan.active else scan.outcome,
        "ago": ago(scan.finished_at or scan.started_at or scan.requested_at),
    }


def summary_line(c: dict[str, int], known: bool) -> str:
    """The progress line: "120 of 400 files looked at · 3,000 seen · 2,880 unchanged"."""
    if not known:
        return f"{c['seen']:,} files found so far"
    parts = [f"{c['probed']:,} of {c['to_probe']:,} new or changed files looked at"]
    parts.append(f"{c['seen']:,} seen")
    for name, label in (("added", "added"), ("updated", "updated"), ("unchanged", "unchanged"),
                        ("moved", "moved"), ("failed", "not added")):  # fmt: skip
        if c[name]:
            parts.append(f"{c[name]:,} {label}")
    return " · ".join(parts)


def outcome_words(c: dict[str, int], seconds: float) -> str:
    """How a finished scan went, in words."""
    parts = []
    for name, label in (("added", "added"), ("updated", "updated"), ("unchanged", "unchanged"),
                        ("moved", "moved"), ("returned", "came back"), ("missing", "missing"),
                        ("failed", "not added (see the list)")):  # fmt: skip
        if c[name]:
            parts.append(f"{c[name]:,} {label}")
    took = f"{seconds:.1f} s" if seconds < 60 else f"{seconds / 60:.1f} min"
    what = ", ".join(parts) if parts else "nothing to do"
    return f"Scanned {c['seen']:,} files in {took}: {what}."
