"""The settings area's sections: the general page here, and a page of its own for each app that
has settings (indexers, library folders, people), registered from the app's ``AppConfig.ready``.
Every settings page shows them as tabs (``{% settings_tabs %}``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    label: str
    url_name: str  # reversed with no arguments
    order: int = 100


_sections: dict[str, Section] = {}


def register(label: str, url_name: str, *, order: int = 100) -> None:
    _sections[url_name] = Section(label, url_name, order)


def sections() -> list[Section]:
    return sorted(_sections.values(), key=lambda s: (s.order, s.label))


register("General", "preferences", order=0)
register("Setup", "setup-checklist", order=90)  # plank/setup.py: the first-run steps, again
