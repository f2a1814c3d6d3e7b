"""Health of Plank's parts, shown on /system/. Each part registers a check here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection


@dataclass
class Check:
    name: str
    ok: bool
    summary: str
    details: list[tuple[str, str]] = field(default_factory=list)
    table: list[list[object]] = field(default_factory=list)  # first row is the header


_checks: list[Callable[[], Check]] = []


def register(fn: Callable[[], Check]) -> Callable[[], Check]:
    """Add a health check; parts call this at import time (from their AppConfig.ready)."""
    if fn not in _checks:
        _checks.append(fn)
    return fn


def checks() -> list[Check]:
    results = []
    for fn in _checks:
        try:
            results.append(fn())
        except Exception as exc:  # a broken check must not break the page
            results.append(
                Check(
                    name=getattr(fn, "__name__", "check"), ok=False, summary=f"check failed: {exc}"
                )
            )
    return results


@register
def database() -> Check:
    vendor = connection.vendor
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    details = [("engine", vendor)]
    if vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            details.append(("journal", cursor.fetchone()[0]))
    return Check(name="Database", ok=True, summary=vendor, details=details)
