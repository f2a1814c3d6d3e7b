"""``manage.py indexers``: add, list, test and remove the indexers Plank searches.

    manage.py indexers add NAME URL --api-key KEY [--kind torznab|jackett|prowlarr]
                           [--timeout S] [--priority N] [--categories 2000,5000] [--min-seeders N]
    manage.py indexers list
    manage.py indexers test [NAME]
    manage.py indexers remove NAME

API keys are stored encrypted and never printed. ``add`` tests the indexer right away.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from torrents import indexers
from torrents.forms import IndexerForm
from torrents.models import Indexer, IndexerHealth


class Command(BaseCommand):
    help = "Add, list, test and remove the indexers Plank searches (Torznab, Jackett, Prowlarr)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="Add an indexer and test it.")
        add.add_argument("name")
        add.add_argument("url", help="a Torznab feed URL, or the base URL of Jackett / Prowlarr")
        add.add_argument("--api-key", default="", dest="api_key")
        add.add_argument("--kind", default="torznab", choices=Indexer.Kind.values)
        add.add_argument("--timeout", type=float, default=10.0)
        add.add_argument("--priority", type=int, default=25)
        add.add_argument("--categories", default="")
        add.add_argument("--min-seeders", type=int, default=1, dest="min_seeders")
        add.add_argument("--disabled", action="store_true")
        sub.add_parser("list", help="List the indexers and their health.")
        test = sub.add_parser("test", help="Ask an indexer (or every one) what works.")
        test.add_argument("name", nargs="?")
        remove = sub.add_parser("remove", help="Remove an indexer.")
        remove.add_argument("name")

    def handle(self, *args: object, action: str, **options: object) -> None:
        getattr(self, f"_{action}")(**options)

    def _get(self, name: object) -> Indexer:
        indexer = Indexer.objects.filter(name=name).first()
        if indexer is None:
            known = ", ".join(Indexer.objects.values_list("name", flat=True)) or "none yet"
            raise CommandError(f"No indexer is called “{name}” (indexers: {known}).")
        return indexer

    def _add(self, **o: object) -> None:
        form = IndexerForm(
            {
                "name": o["name"],
                "kind": o["kind"],
                "url": o["url"],
                "api_key": o["api_key"],
                "enabled": not o["disabled"],
                "priority": o["priority"],
                "categories": o["categories"],
                "timeout": o["timeout"],
                "min_seeders": o["min_seeders"],
            }
        )
        if not form.is_valid():
            problems = "; ".join(
                f"{field}: {' '.join(errors)}" for field, errors in form.errors.items()
            )
            raise CommandError(f"Not added: {problems}")
        indexer = form.save()
        self.stdout.write(f"Added {indexer.name} ({indexer.get_kind_display()}).")
        self._report(indexer)

    def _list(self, **o: object) -> None:
        rows = list(Indexer.objects.all())
        if not rows:
            self.stdout.write("No indexers yet: manage.py indexers add NAME URL --api-key KEY")
            return
        health = {}
        for h in IndexerHealth.objects.all():
            health.setdefault(h.indexer_id, []).append(h)
        for indexer in rows:
            state = "enabled" if indexer.enabled else "disabled"
            key = "key saved" if indexer.api_key else "no key"
            self.stdout.write(
                f"{indexer.name}  {indexer.get_kind_display()}  {indexer.url}  {state}, priority "
                f"{indexer.priority}, timeout {indexer.timeout:g} s, {key}"
            )
            for h in health.get(indexer.pk, []):
                words = indexers.skip_reason(h) or (h.last_error if h.failures else "ok")
                self.stdout.write(f"    {h.name}: {words}")

    def _test(self, name: object = None, **o: object) -> None:
        targets = [self._get(name)] if name else list(Indexer.objects.all())
        if not targets:
            raise CommandError("No indexers to test.")
        failed = [indexer.name for indexer in targets if not self._report(indexer)]
        if failed:
            raise CommandError(f"Not working: {', '.join(failed)}.")

    def _report(self, indexer: Indexer) -> bool:
        report = indexers.test(indexer)
        for line in report.lines:
            self.stdout.write(f"  {line}")
        self.stdout.write(f"{indexer.name}: {'working' if report.ok else 'NOT working'}")
        return report.ok

    def _remove(self, name: object, **o: object) -> None:
        indexer = self._get(name)
        indexer.delete()
        self.stdout.write(f"Removed {name}.")
