"""``{% load status_chip %}{% status_chip title %}``: a title's one state as a chip, with its
reason (media/status.py). Where the state has live values (a download's fraction, speed, peers
and time left; a remux's fraction), the chip is a ``data-live-set`` root whose fields the page's
``set`` frames rewrite in place, formatted as the server formats them (plank's ``formats``).

``{% status_chip title compact=True %}`` leaves the reason out of sight (cards), still read out
to screen readers and shown as the chip's tooltip; ``unless_ready=True`` shows nothing for a
title that is simply ready.
"""

from __future__ import annotations

from typing import Any

from django import template

from media.models import Title
from media.status import READY, status_of

register = template.Library()


@register.inclusion_tag("media/_status_chip.html")
def status_chip(title: Title, compact: bool = False, unless_ready: bool = False) -> dict[str, Any]:
    """``unless_ready=True``: nothing for a title that is simply ready (library cards)."""
    s = status_of(title)
    return {"s": s, "compact": compact, "hidden": unless_ready and s.state == READY}
