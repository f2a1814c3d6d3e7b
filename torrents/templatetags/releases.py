"""Template filters for release lists: ages, signed points, feed states."""

from __future__ import annotations

import time

from django import template

register = template.Library()


@register.filter
def age(published: float | None) -> str:
    """Epoch seconds -> "5 h", "3 d", "2 y" ("—" when unknown)."""
    if not published:
        return "—"
    seconds = max(time.time() - float(published), 0)
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.0f} h"
    if seconds < 365 * 86400:
        return f"{seconds / 86400:.0f} d"
    return f"{seconds / (365 * 86400):.1f} y"


@register.filter
def signed(points: float) -> str:
    value = round(float(points), 1)
    text = f"{value:g}"
    return text if value < 0 else f"+{text}"


@register.filter
def size(value: int | None) -> str:
    """Bytes in decimal units, as indexers show them: "1.4 GB", "700 MB"."""
    if not value:
        return "—"
    value = float(value)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit in ("B", "KB", "MB") else f"{value:.1f} {unit}"
        value /= 1000
    return ""
