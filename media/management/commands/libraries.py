"""``manage.py libraries``: the library folders.

manage.py libraries add NAME PATH --kind movies|shows   (then scans it)
manage.py libraries list
manage.py libraries remove NAME                          (files on disk are never touched)
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count, Q

from media import folders
from media.models import LibraryFolder
from media.scan_queue import request_scan, scan_folder


class Command(BaseCommand):
    help = "Add, list or remove library folders (folders of your own movies or shows)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="Add a folder (it is scanned right away).")
        add.add_argument("name")
        add.add_argument("path")
        add.add_argument("--kind", required=True, choices=["movies", "shows"])
        add.add_argument(
            "--no-scan", action="store_true", help="Don't scan now (the engine scans it later)."
        )
        add.add_argument(
            "--background",
            action="store_true",
            help="Queue the first scan for the engine process instead of scanning here.",
        )
        sub.add_parser("list", help="The library folders.")
        remove = sub.add_parser("remove", help="Take a folder out of the library.")
        remove.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"_{options['action']}")(options)

    def _add(self, options: dict[str, Any]) -> None:
        try:
            folder = folders.add_folder(options["name"], options["path"], options["kind"])
        except folders.FolderError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Added {folder.name}: {folder.path} ({folder.get_kind_display()}).")
        if options["no_scan"]:
            return
        if options["background"]:
            request_scan(folder, trigger="added")
            self.stdout.write("Its first scan is queued for Plank's engine process.")
            return
        self.stdout.write("Scanning it… (manage.py scan does the same later)")
        scan = scan_folder(folder, trigger="added")
        self.stdout.write(scan.outcome)

    def _list(self, options: dict[str, Any]) -> None:
        rows = LibraryFolder.objects.annotate(
            videos=Count("files", filter=Q(files__role="video")),
            missing=Count("files", filter=Q(files__missing_since__isnull=False)),
        )
        if not rows:
            self.stdout.write(
                "No library folders. Add one: manage.py libraries add NAME PATH --kind movies"
            )
            return
        for folder in rows:
            extra = f", {folder.missing} missing" if folder.missing else ""
            self.stdout.write(
                f"{folder.name}\t{folder.get_kind_display()}\t{folder.path}\t"
                f"{folder.videos} videos{extra}\t{folder.get_watch_state_display()}"
            )

    def _remove(self, options: dict[str, Any]) -> None:
        folder = LibraryFolder.objects.filter(name__iexact=options["name"].strip()).first()
        if folder is None:
            names = ", ".join(LibraryFolder.objects.values_list("name", flat=True)) or "none"
            raise CommandError(f"There is no library folder called {options['name']!r} ({names}).")
        removed = folders.remove_folder(folder)
        self.stdout.write(
            f"Removed {folder.name}: {removed.files} files and {removed.titles} titles left the"
            " library; nothing on disk was touched."
        )
