"""HTTP Range requests (RFC 9110 §14): parsing ``Range`` and evaluating ``If-Range``.

Pure functions (only `django.utils.http` for dates, which needs no settings); `media.streaming`
turns the results into responses. The choices RFC 9110 leaves open: docs/streaming.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.http import parse_http_date_safe

__all__ = [
    "ByteRange",
    "MalformedRange",
    "RangeError",
    "RangeNotSatisfiable",
    "if_range_matches",
    "parse_range",
]

# Numbers longer than this are clamped to a value no file reaches (and int() never sees
# thousands of digits). 2**63 - 1 has 19 digits.
_MAX_DIGITS = 19
_HUGE = 2**63
_OWS = " \t"
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_SPEC = re.compile(r"^([0-9]*)[ \t]*-[ \t]*([0-9]*)$")


class RangeError(ValueError):
    """A Range header Plank refuses; `status` is the HTTP status to answer with."""

    status = 400


class MalformedRange(RangeError):
    """The Range header doesn't follow the grammar: 400 Bad Request."""

    status = 400


class RangeNotSatisfiable(RangeError):
    """No requested range overlaps the representation: 416 with ``bytes */size``."""

    status = 416

    def __init__(self, size: int, message: str = "") -> None:
        self.size = size
        super().__init__(message or f"The requested range is outside this file ({size} bytes).")

    @property
    def content_range(self) -> str:
        return f"bytes */{self.size}"


@dataclass(frozen=True)
class ByteRange:
    """One satisfiable byte range; `start` and `end` are inclusive, `size` is the file's."""

    start: int
    end: int
    size: int
    open_ended: bool = False
    """True for ``bytes=first-`` (the client asked for "from here on", however much that is)."""

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def limited(self, max_length: int) -> ByteRange:
        """This range, cut to at most `max_length` bytes if it is open-ended."""
        if not self.open_ended or self.length <= max_length:
            return self
        return ByteRange(self.start, self.start + max_length - 1, self.size, open_ended=True)

    @property
    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end}/{self.size}"


def _number(digits: str) -> int:
    digits = digits.lstrip("0") or "0"
    if len(digits) > _MAX_DIGITS:
        return _HUGE
    return int(digits)


def _spec(text: str) -> tuple[int | None, int | None]:
    """One range-spec -> (first, last) for ``a-b``/``a-``, or (None, n) for ``-n``."""
    match = _SPEC.match(text)
    if match is None:
        raise MalformedRange(f"Not a byte range: {text[:40]!r}.")
    first, last = match.groups()
    if not first and not last:
        raise MalformedRange("A byte range needs at least one number.")
    if not first:
        return None, _number(last)
    start = _number(first)
    if not last:
        return start, None
    end = _number(last)
    if end < start:
        raise MalformedRange(f"The byte range {start}-{end} ends before it starts.")
    return start, end


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The byte range a ``Range`` header asks of a `size`-byte file (see the module doc)."""
    if size < 0:
        raise ValueError("size must be >= 0")
    if header is None or not header.strip(_OWS):
        return None
    unit, equals, range_set = header.strip(_OWS).partition("=")
    unit = unit.strip(_OWS)
    if not equals or not _TOKEN.match(unit):
        raise MalformedRange("The Range header must look like bytes=first-last.")
    if unit.lower() != "bytes":
        return None  # an unknown range unit: ignore the header
    specs = [part.strip(_OWS) for part in range_set.split(",")]
    specs = [s for s in specs if s]  # RFC 9110 §5.6.1: empty list elements don't count
    if not specs:
        raise MalformedRange("The Range header names no byte range.")
    parsed = [_spec(s) for s in specs]
    if len(parsed) > 1:
        return None  # several ranges: send the whole file (documented above)
    first, last = parsed[0]
    if first is None:
        assert last is not None
        if last == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return ByteRange(max(0, size - last), size - 1, size)
    if first >= size:
        raise RangeNotSatisfiable(size)
    end = size - 1 if last is None else min(last, size - 1)
    return ByteRange(first, end, size, open_ended=last is None)


def if_range_matches(if_range: str | None, *, etag: str | None, last_modified: int | None) -> bool:
    """Whether a Range request may be honoured given its ``If-Range`` header (RFC 9110 §13.1.5).

    True without an If-Range header. `etag` is the current strong entity-tag, quotes included
    (``"abc"``); `last_modified` the current modification time in whole seconds since the epoch.
    Either may be None when the representation has no such validator (a file still
    downloading): then no If-Range can match.
    """
    if if_range is None:
        return True
    value = if_range.strip(_OWS)
    if not value:
        return False
    if value.startswith(('"', "W/")):
        # strong comparison: a weak tag on either side never matches
        return etag is not None and not etag.startswith("W/") and value == etag
    if last_modified is None:
        return False
    when = parse_http_date_safe(value)  # IMF-fixdate, RFC 850 and asctime forms
    return when is not None and when == int(last_modified)
