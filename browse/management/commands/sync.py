"""``manage.py sync``: refresh library metadata from TMDB and warm the browse lists.

    manage.py sync                    titles not synced in the last 24 hours (or never)
    manage.py sync --older-than 6     ... in the last 6 hours
    manage.py sync --all              every title
    manage.py sync --pages 3          warm the first 3 pages of every list (default 1)
    manage.py sync --no-warm          titles only

Each title is written in its own transaction, so Ctrl-C leaves it fully updated or untouched
and the next run goes on where this one stopped. Progress: a bar here, the newest run on /system/.
"""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from browse import discover, matching
from browse.models import SyncRun
from browse.tmdb import TMDBError
from media.models import Title
from plank.live.cache import cache_for

BAR_WIDTH = 28


class Command(BaseCommand):
    help = "Refresh library metadata from TMDB (titles older than an age) and warm browse lists."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--all", action="store_true", help="Every title, whatever its age.")
        parser.add_argument(
            "--older-than",
            type=float,
            default=24.0,
            metavar="HOURS",
            help="Titles whose metadata is older than this many hours (default 24).",
        )
        parser.add_argument(
            "--pages", type=int, default=1, help="Warm this many pages of each list (default 1)."
        )
        parser.add_argument("--no-warm", action="store_true", help="Do not warm the lists.")

    # -- the progress bar --

    def _bar(self, done: int, total: int, label: str) -> None:
        fraction = done / total if total else 1.0
        filled = int(BAR_WIDTH * fraction)
        columns = shutil.get_terminal_size((100, 20)).columns
        line = f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {done}/{total} {fraction:4.0%} "
        room = max(columns - len(line) - 1, 0)
        line += label[:room]
        self.stdout.write("\r" + line.ljust(columns - 1), ending="")
        self.stdout.flush()

    def _end_bar(self) -> None:
        self.stdout.write("")

    # -- the run --

    def handle(self, *args: Any, **options: Any) -> None:
        if options["older_than"] < 0:
            raise CommandError("--older-than is a number of hours, 0 or more.")
        if not 0 <= options["pages"] <= 20:
            raise CommandError("--pages is from 0 to 20.")
        try:
            discover.configuration(background=True)
        except discover.NotConfigured as exc:
            where = reverse("preferences")
            raise CommandError(f"{exc.message} (Settings → TMDB, at {where})") from None
        except TMDBError as exc:
            raise CommandError(exc.message) from None

        titles = Title.objects.in_library()
        if not options["all"]:
            cutoff = timezone.now() - timedelta(hours=options["older_than"])
            titles = titles.filter(
                Q(metadata_sync__isnull=True)
                | Q(metadata_sync__synced_at__isnull=True)
                | Q(metadata_sync__synced_at__lt=cutoff)
            )
        ids = list(titles.order_by("pk").values_list("pk", flat=True))
        run = SyncRun.objects.create(total=len(ids), pid=os.getpid())
        try:
            self._titles(run, ids)
            if not options["no_warm"] and options["pages"]:
                self._warm(run, options["pages"])
        except KeyboardInterrupt:
            self._end_bar()
            self._finish(run, SyncRun.State.INTERRUPTED)
            raise CommandError(
                f"Interrupted after {run.done} of {run.total} titles. Every title is either"
                " fully updated or untouched; run sync again to continue.",
                returncode=130,
            ) from None
        except BaseException:
            self._finish(run, SyncRun.State.FAILED)
            raise
        self._finish(run, SyncRun.State.FINISHED)
        self.stdout.write(
            self.style.SUCCESS(
                f"Synced {run.done} titles: {run.matched} updated, {run.failed} not"
                f" ({run.done - run.matched - run.failed} left as they were)."
            )
        )

    def _titles(self, run: SyncRun, ids: list[int]) -> None:
        if not ids:
            self.stdout.write("Library metadata is up to date.")
            return
        self.stdout.write(f"Refreshing metadata of {len(ids)} titles from TMDB…")
        for pk in ids:
            name = Title.objects.filter(pk=pk).values_list("title", flat=True).first() or ""
            self._bar(run.done, run.total, name)
            run.current = name[:300]
            try:
                outcome = matching.run_match(pk)
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # a bug for one title must not stop the rest
                self.stderr.write(f"\n{name}: {exc}")
                run.failed += 1
            else:
                if outcome.applied:
                    run.matched += 1
                elif outcome.tmdb_id is None and outcome.confidence is None:
                    run.failed += 1  # TMDB trouble or a vanished title
            run.done += 1
            SyncRun.objects.filter(pk=run.pk).update(
                done=run.done, matched=run.matched, failed=run.failed, current=run.current
            )
        self._bar(run.done, run.total, "done")
        self._end_bar()

    def _warm(self, run: SyncRun, pages: int) -> None:
        self.stdout.write(f"Warming the first {pages} page(s) of every browse list…")
        labels: list[str] = []

        def progress(label: str) -> None:
            labels.append(label)
            self._bar(len(labels) - 1, 3 + 5 * pages, label)

        failed = discover.warm(pages, progress=progress)
        self._bar(len(labels), 3 + 5 * pages, "done")
        self._end_bar()
        run.lists_warmed = len(labels) - failed
        run.lists_failed = failed
        SyncRun.objects.filter(pk=run.pk).update(
            lists_warmed=run.lists_warmed, lists_failed=run.lists_failed
        )
        if not cache_for().shared:
            self.stdout.write(
                "Note: the cache is local to each process (no PLANK_REDIS_URL), so the warmed"
                " lists help this process only; pages fill their own cache on first use."
            )

    def _finish(self, run: SyncRun, state: str) -> None:
        run.state = state
        run.finished_at = timezone.now()
        SyncRun.objects.filter(pk=run.pk).update(
            state=state,
            finished_at=run.finished_at,
            done=run.done,
            matched=run.matched,
            failed=run.failed,
            current="",
        )
