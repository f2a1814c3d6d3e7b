from __future__ import annotations

import zlib

from django import template

from media import live
from plank.live.keys import to_path

register = template.Library()


@register.filter
def hue(text: str) -> int:
    """A stable colour for a title's placeholder poster."""
    return zlib.crc32(str(text).encode()) % 360


@register.filter
def initials(text: str) -> str:
    words = [w for w in str(text).split() if w[:1].isalnum()]
    return "".join(w[0] for w in words[:3]).upper() or "?"


@register.filter
def download_key(pk: int) -> str:
    """The live key path of a title's download progress (pushed as ``set`` frames)."""
    return to_path(live.download(pk))
