"""``manage.py scan [NAME] [--full]``: scan library folders now, in this process.

Every folder when no name is given. Incremental unless ``--full``: a file whose size and
modification time are unchanged is not opened again. Progress here and live on every open page;
Ctrl-C stops it with every file looked at so far recorded (run it again to go on from there).
"""

from __future__ import annotations

import shutil
import threading
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from media.models import LibraryFolder, Scan
from media.scan import summary_line
from media.scan_queue import scan_folder


class Command(BaseCommand):
    help = "Scan library folders (all of them, or the one named), incrementally unless --full."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", nargs="?", help="The folder's name (default: every folder).")
        parser.add_argument(
            "--full", action="store_true", help="Open every file again, changed or not."
        )
        parser.add_argument("--quiet", action="store_true", help="No progress line.")

    def handle(self, *args: Any, **options: Any) -> None:
        folders = LibraryFolder.objects.all()
        if options["name"]:
            folders = folders.filter(name__iexact=options["name"].strip())
            if not folders.exists():
                names = ", ".join(LibraryFolder.objects.values_list("name", flat=True)) or "none"
                raise CommandError(
                    f"There is no library folder called {options['name']!r} ({names})."
                )
        if not folders.exists():
            raise CommandError(
                "There are no library folders. Add one: manage.py libraries add NAME PATH --kind movies"
            )
        failed = False
        for folder in folders:
            self.stdout.write(f"Scanning {folder.name} ({folder.path})…")
            stop = threading.Event()
            if not options["quiet"]:
                threading.Thread(target=self._show, args=(folder, stop), daemon=True).start()
            try:
                scan = scan_folder(folder, full=options["full"], trigger="command")
            except KeyboardInterrupt:
                stop.set()
                Scan.objects.filter(folder=folder, state=Scan.State.RUNNING).update(
                    state=Scan.State.CANCELLED,
                    outcome="Stopped with Ctrl-C; everything looked at so far is recorded.",
                )
                raise CommandError(
                    "Stopped. Everything looked at so far is recorded; run scan again to go on.",
                    returncode=130,
                ) from None
            finally:
                stop.set()
            self._clear()
            self.stdout.write(scan.outcome)
            failed = failed or scan.state == Scan.State.FAILED
        if failed:
            raise CommandError("A folder could not be scanned (see above).")

    def _show(self, folder: LibraryFolder, stop: threading.Event) -> None:
        """A progress line from the scan's row, twice a second (the scan writes it)."""
        while not stop.wait(0.5):
            scan = Scan.objects.filter(folder=folder, state=Scan.State.RUNNING).first()
            if scan is None:
                continue
            counts = {
                name: getattr(scan, name)
                for name in (
                    "seen",
                    "to_probe",
                    "probed",
                    "added",
                    "updated",
                    "unchanged",
                    "moved",
                    "failed",
                )
            }
            line = summary_line(counts, scan.to_probe > 0 or scan.probed > 0) + (
                f" · {scan.current}" if scan.current else ""
            )
            width = shutil.get_terminal_size((100, 20)).columns - 1
            self.stdout.write("\r" + line[:width].ljust(width), ending="")
            self.stdout.flush()
        time.sleep(0)

    def _clear(self) -> None:
        if self.stdout.isatty():
            width = shutil.get_terminal_size((100, 20)).columns - 1
            self.stdout.write("\r" + " " * width + "\r", ending="")
