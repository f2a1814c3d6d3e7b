"""The library grid, a page at a time: keyset pagination over the sorted titles of one tab.

A page is the ``size`` titles that follow a *cursor* (the sort values and id of the last title
of the page before), so a page costs one indexed range read at any depth, and adding titles
while someone scrolls neither repeats nor skips the titles they have not seen yet. A cursor is
an opaque URL-safe string.

A page once shown can be rendered again for a live refresh *between* its two cursors (``after``
and ``until``): titles added or removed inside its range make it grow or shrink, but the pages
below it keep their own ranges, so no title falls between two pages.

Sorts (each ends with the id, so the order is total): ``added`` newest first, ``title`` A to Z,
``year`` newest first with titles of no year last.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import F, Prefetch, Q, QuerySet

from media import search
from media.models import MediaFile, Title

DEFAULT_SORT = "added"
SORTS = ("added", "title", "year")


class BadCursor(ValueError):
    """A cursor that is not one of ours (hand-edited, or from another sort)."""


@dataclass(frozen=True)
class Cursor:
    sort: str
    values: tuple[Any, ...]  # the sort values of one title, ending with its id

    def encode(self) -> str:
        raw = json.dumps([self.sort, *self.values], separators=(",", ":"), default=str)
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, sort: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            data = json.loads(raw)
        except (ValueError, TypeError) as exc:
            raise BadCursor("not a cursor") from exc
        if not isinstance(data, list) or not data or data[0] != sort:
            raise BadCursor("a cursor of another sort")
        values = tuple(data[1:])
        expected = {"added": 2, "title": 2, "year": 3}[sort]
        if len(values) != expected or not isinstance(values[-1], int):
            raise BadCursor("a cursor of another shape")
        if sort == "added":
            try:
                values = (datetime.fromisoformat(str(values[0])), values[1])
            except ValueError as exc:
                raise BadCursor("a cursor with a bad date") from exc
        elif not isinstance(values[0], str) and not (sort == "year" and _year_or_none(values[0])):
            raise BadCursor("a cursor with bad values")
        return cls(sort, values)

    @classmethod
    def of(cls, title: Title, sort: str) -> Cursor:
        if sort == "added":
            return cls(sort, (title.added_at.isoformat(), title.pk))
        if sort == "title":
            return cls(sort, (title.title, title.pk))
        return cls(sort, (title.year, title.title, title.pk))


def _year_or_none(value: Any) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool))


@dataclass(frozen=True)
class Page:
    titles: list[Title]
    after: str  # the cursor this page starts after ("" for the first page)
    until: str  # where its range ends when it is rendered again ("" for the last page: open)
    next: str  # the cursor to load the page below from ("" when there is none to load)

    @property
    def first(self) -> bool:
        return not self.after

    @property
    def refresh_query(self) -> str:
        """The query string that renders this page again (its live refresh)."""
        return f"after={self.after}&until={self.until}"

    @property
    def next_query(self) -> str:
        return f"after={self.next}"


def valid_cursor(text: str, sort: str) -> str:
    """``text`` when it is a cursor of ``sort``, else "" (a junk cursor means the first page)."""
    if not text or len(text) > 1000:
        return ""
    try:
        Cursor.decode(text, sort)
    except BadCursor:
        return ""
    return text


def _after(cursor: Cursor) -> Q:
    """Titles strictly after ``cursor`` in its sort; each Q starts with a seekable bound."""
    if cursor.sort == "added":
        added, pk = cursor.values
        return Q(added_at__lte=added) & (Q(added_at__lt=added) | Q(id__lt=pk))
    if cursor.sort == "title":
        name, pk = cursor.values
        return Q(title__gte=name) & (Q(title__gt=name) | Q(id__gt=pk))
    year, name, pk = cursor.values
    later_in_year = Q(title__gt=name) | Q(title=name, id__gt=pk)
    if year is None:  # among the titles of no year, which come last
        return Q(year__isnull=True, title__gte=name) & later_in_year
    return (Q(year__lte=year) & (Q(year__lt=year) | later_in_year)) | Q(year__isnull=True)


def _ordered(qs: QuerySet[Title], sort: str) -> QuerySet[Title]:
    if sort == "added":
        return qs.order_by("-added_at", "-id")
    if sort == "title":
        return qs.order_by("title", "id")
    return qs.order_by(F("year").desc(nulls_last=True), "title", "id")


def listing(kind: str, *, query: str = "") -> QuerySet[Title]:
    """The titles of one tab (matching the filter ``query``), before sorting and paging."""
    qs = Title.objects.in_library().filter(kind=kind).select_related("download")
    # Each card's status chip looks at the title's videos (a missing file says so): one query
    # for the page's videos, not one per card.
    qs = qs.prefetch_related(Prefetch("files", queryset=MediaFile.objects.videos()))
    if query:
        qs = qs.filter(pk__in=search.matching_titles(query))
    return qs


def page(
    kind: str,
    sort: str = DEFAULT_SORT,
    *,
    after: str = "",
    until: str = "",
    size: int,
    query: str = "",
) -> Page:
    """The titles after ``after`` (the first page when empty): ``size`` of them, or, given
    ``until``, every title up to and including that cursor (at most ``2 * size``).

    Raises :class:`BadCursor` for a cursor that is not one of ours.
    """
    sort = sort if sort in SORTS else DEFAULT_SORT
    qs = listing(kind, query=query)
    start = Cursor.decode(after, sort) if after else None
    end = Cursor.decode(until, sort) if until else None
    if start is not None:
        qs = qs.filter(_after(start))
    limit = size + 1
    if end is not None:
        qs = qs.exclude(_after(end))
        limit = 2 * size
    rows = list(_ordered(qs, sort)[:limit])
    if end is not None:  # a page shown before, rendered again: the page below it is there
        return Page(rows, after, until, "")
    more = len(rows) > size
    rows = rows[:size]
    last = Cursor.of(rows[-1], sort).encode() if more else ""
    return Page(rows, after, last, last)
