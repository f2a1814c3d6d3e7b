"""The library metadata sync as a scheduled task (plank.scheduler): what ``manage.py sync``
does, on a timetable, with its progress on the Tasks page and a Cancel that stops it between two
titles. Each title is written in its own transaction, so a cancel or a kill leaves every title
fully updated or untouched, and the next run goes on where this one stopped."""

from __future__ import annotations

import os
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from browse import discover, matching
from browse.models import SyncRun
from browse.tmdb import TMDBError
from media.models import Title
from plank.scheduler import Run

OLDER_THAN = timedelta(hours=24)  # titles whose metadata is older than this are refreshed


def sync_library(run: Run) -> str:
    """Refresh library metadata older than a day from TMDB and warm the first browse pages."""
    if not discover.is_configured():
        return "Skipped: no TMDB key is set (Settings → TMDB)."
    try:
        discover.configuration(background=True)
    except TMDBError as exc:
        raise RuntimeError(exc.message) from None
    cutoff = timezone.now() - OLDER_THAN
    ids = list(
        Title.objects.in_library()
        .filter(
            Q(metadata_sync__isnull=True)
            | Q(metadata_sync__synced_at__isnull=True)
            | Q(metadata_sync__synced_at__lt=cutoff)
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    record = SyncRun.objects.create(total=len(ids), pid=os.getpid())
    state = SyncRun.State.FINISHED
    try:
        for pk in ids:
            if run.cancelled:
                state = SyncRun.State.INTERRUPTED
                break
            name = Title.objects.filter(pk=pk).values_list("title", flat=True).first() or ""
            run.progress(record.done, record.total, name)
            outcome = matching.run_match(pk)
            if outcome.applied:
                record.matched += 1
            elif outcome.tmdb_id is None and outcome.confidence is None:
                record.failed += 1
            record.done += 1
            SyncRun.objects.filter(pk=record.pk).update(
                done=record.done, matched=record.matched, failed=record.failed, current=name[:300]
            )
        if state == SyncRun.State.FINISHED:
            run.progress(record.total, record.total, "Warming the browse lists")
            record.lists_failed = discover.warm(1)
    except BaseException:
        state = SyncRun.State.FAILED
        raise
    finally:
        SyncRun.objects.filter(pk=record.pk).update(
            state=state,
            finished_at=timezone.now(),
            done=record.done,
            matched=record.matched,
            failed=record.failed,
            lists_failed=record.lists_failed,
            current="",
        )
    said = f"Synced {record.done:,} of {record.total:,} titles: {record.matched:,} updated"
    if record.failed:
        said += f", {record.failed:,} could not be reached on TMDB"
    if state == SyncRun.State.INTERRUPTED:
        return said + "; stopped (the next run goes on from there)."
    if record.lists_failed:
        said += f"; {record.lists_failed} browse lists could not be warmed"
    return said + "."
