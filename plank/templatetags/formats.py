"""Sizes, speeds, times left and percentages, written one way everywhere (``{% load formats %}``).

``{{ size|bytes }}`` -> ``1.5 GB``, ``{{ rate|rate }}`` -> ``230 KB/s``, ``{{ seconds|eta }}`` ->
``4m 10s``, ``{{ fraction|percent }}`` -> ``42%``. Live pages rewrite these values from ``set``
frames with ``static/plank/live.js`` (``data-format="bytes|rate|eta|percent"``); each filter here
gives exactly the text live.js's ``format(value, how)`` gives for the same value, so a number
looks the same at load and after a live update (tests/plank/test_formats.py runs both).

What live.js does, and so what these do:

- units of 1024 named B, KB, MB, GB, TB, PB; bytes and values of 100 or more are whole numbers
  (JavaScript's ``Math.round``: halves go up), the rest have one decimal (``toFixed(1)``: the
  exact binary value rounded, halves away from zero);
- times left: ``∞`` when unknown (negative or not finite), else ``1d 2h``, ``3h 4m``, ``5m 6s``,
  ``7s``;
- a fraction as a percentage, whole, or with one decimal between 0 and 10 %;
- no value (``None``) or one that is not a number: ``—``.
"""

from __future__ import annotations

import math
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from django import template

register = template.Library()

NO_VALUE = "—"
UNITS = ("B", "KB", "MB", "GB", "TB", "PB")


def _number(value: object) -> float:
    """JavaScript's ``Number(value)`` for the values templates hold (NaN when not a number)."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    text = str(value).strip()
    if not text:
        return 0.0
    if text[:2].lower() in ("0x", "0o", "0b"):  # JavaScript reads these prefixes (unsigned)
        try:
            return float(int(text, 0))
        except ValueError:
            return math.nan
    if "_" in text or not text.isascii():  # Python's float() takes these, Number() does not
        return math.nan
    try:
        return float(text)
    except ValueError:
        return math.nan


def _js_round(n: float) -> str:
    """``String(Math.round(n))``: the nearest integer, halves towards +∞."""
    whole = int((Decimal(n) + Decimal("0.5")).to_integral_value(rounding=ROUND_FLOOR))
    if abs(whole) >= 10**21:  # JavaScript writes these with an exponent
        return repr(float(whole))
    return str(whole)


def _js_fixed(n: float, digits: int) -> str:
    """``n.toFixed(digits)``: the exact binary value rounded, halves away from zero."""
    if abs(n) >= 1e21:
        return repr(n)
    sign = "-" if n < 0 else ""
    step = Decimal(1).scaleb(-digits)
    return sign + str(abs(Decimal(n)).quantize(step, rounding=ROUND_HALF_UP))


def _bytes(n: float) -> str:
    i = 0
    while abs(n) >= 1024 and i < len(UNITS) - 1:
        n /= 1024
        i += 1
    shown = _js_round(n) if i == 0 or abs(n) >= 100 else _js_fixed(n, 1)
    return f"{shown} {UNITS[i]}"


def _eta(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "∞"
    total = int(_js_round(seconds))
    d, h = total // 86400, (total % 86400) // 3600
    m, s = (total % 3600) // 60, total % 60
    if d:
        return f"{d}d {h}h"
    if h:
        return f"{h}h {m}m"
    if m:
        return f"{m}m {s}s"
    return f"{s}s"


@register.filter(name="bytes")
def bytes_(value: object) -> str:
    """A size: ``1536`` -> ``1.5 KB``."""
    if value is None:
        return NO_VALUE
    n = _number(value)
    return _bytes(n) if math.isfinite(n) else NO_VALUE


@register.filter
def rate(value: object) -> str:
    """A speed in bytes per second: ``2048`` -> ``2.0 KB/s``."""
    if value is None:
        return NO_VALUE
    n = _number(value)
    return f"{_bytes(n)}/s" if math.isfinite(n) else NO_VALUE


@register.filter
def eta(value: object) -> str:
    """Seconds left: ``250`` -> ``4m 10s``; unknown -> ``∞``; no value -> ``—``."""
    if value is None:
        return NO_VALUE
    return _eta(_number(value))


@register.filter
def percent(value: object) -> str:
    """A fraction done: ``0.42`` -> ``42%``, ``0.034`` -> ``3.4%``."""
    if value is None:
        return NO_VALUE
    n = _number(value)
    if not math.isfinite(n):
        return NO_VALUE
    return _js_fixed(n * 100, 1 if 0 < n < 0.1 else 0) + "%"
