"""Times and durations in the few words a page shows: "3.2 s", "4 min 10 s", "2 h ago"."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

UNITS = (("minutes", 60), ("hours", 3600), ("days", 86400))


def split_interval(every: timedelta) -> tuple[int, str]:
    """An interval in the largest unit that divides it (90 minutes stays minutes)."""
    seconds = int(every.total_seconds())
    for unit, size in reversed(UNITS):
        if seconds % size == 0:
            return seconds // size, unit
    return max(round(seconds / 60), 1), "minutes"


def duration_words(seconds: float | None, *, exact: bool = False) -> str:
    """``3.2 s``, ``4 min 10 s``, ``2 h 5 min``; ``exact`` for intervals: ``24 hours``."""
    if seconds is None:
        return "—"
    if exact:
        n, unit = split_interval(timedelta(seconds=seconds))
        return f"{n} {unit[:-1] if n == 1 else unit}"
    if seconds < 10:
        return f"{seconds:.1f} s"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, s = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {s} s" if s else f"{minutes} min"
    hours, m = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {m} min" if m else f"{hours} h"
    return f"{hours // 24} days"


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """``just now``, ``3 min ago``, ``2 days ago``."""
    if moment is None:
        return "never"
    seconds = max(((now or timezone.now()) - moment).total_seconds(), 0)
    if seconds < 60:
        return "just now"
    return _rounded(seconds) + " ago"


def _rounded(seconds: float) -> str:
    """Coarser than a duration: "3 min", "2 h", "5 days"."""
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h"
    return f"{hours // 24} days"


def until(moment: datetime, now: datetime | None = None) -> str:
    """``now``, ``in 42 s``, ``in 3 h 20 min``."""
    delta = (moment - (now or timezone.now())).total_seconds()
    return "now" if delta <= 0 else "in " + duration_words(delta)
