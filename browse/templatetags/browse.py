"""Template helpers of browse: ``{% load browse %}``.

``{{ title.poster|poster_url:"w342" }}`` -> ``/browse/posters/w342/abc.jpg`` (or ``""``): a
poster served by Plank from its disk cache, whatever page shows it.
"""

from __future__ import annotations

from django import template

from browse import posters

register = template.Library()


@register.filter
def poster_url(path: str | None, size: str = posters.DEFAULT_SIZE) -> str:
    return posters.poster_url(path, size)


@register.filter
def rating(value: float | None) -> str:
    """TMDB's vote average as ``"8.2"``; ``""`` when there are no votes."""
    if not value:
        return ""
    return f"{value:.1f}"


@register.filter
def runtime(minutes: int | None) -> str:
    """``136`` -> ``"2 h 16 min"``."""
    if not minutes:
        return ""
    hours, rest = divmod(int(minutes), 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest} min" if rest else f"{hours} h"
