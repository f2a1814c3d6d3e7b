"""Air dates of dated daily shows in a release name.

``air_date(name)`` finds ``2011.04.18``, ``2011 04 18``, ``18.04.2011`` / ``04.28.2014`` (day
and month told apart where one is over 12), ``2012.16.02``, ``20201013``, ``140722`` (after a
title word, followed by a separator), ``5th Mar 2025``, ``October 8, 2014``; years 1950-2039.
"""

from __future__ import annotations

import datetime as dt
import re

_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ]
    )
    for m in names
}
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_YEAR = r"(?:19[5-9]\d|20[0-3]\d)"
_Y_M_D = re.compile(rf"(?<![\d])({_YEAR})([-._ /])(\d{{1,2}})\2(\d{{1,2}})(?![\d])")
_D_M_Y = re.compile(rf"(?<![\d])(\d{{1,2}})([-._ /])(\d{{1,2}})\2({_YEAR})(?![\d])")
_YMD = re.compile(rf"(?<![\d])({_YEAR})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?![\d])")
_YYMMDD = re.compile(
    r"(?<=[a-z][ ._])(\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?=[ ._-]|$)", re.I
)
_DAY_MONTH = re.compile(
    rf"(?<![\d])(\d{{1,2}})(?:st|nd|rd|th)?[ .-]+({_MONTH})\.?[ .,-]+({_YEAR})(?![\d])", re.I
)
_MONTH_DAY = re.compile(
    rf"(?<![a-z])({_MONTH})\.?[ .-]+(\d{{1,2}})(?:st|nd|rd|th)?,?[ .-]+({_YEAR})(?![\d])", re.I
)


def _date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def air_date(name: str) -> tuple[dt.date, int, int] | None:
    for m in _Y_M_D.finditer(name):
        y, a, b = int(m.group(1)), int(m.group(3)), int(m.group(4))
        if d := _date(y, a, b) or _date(y, b, a):
            return d, m.start(), m.end()
    for m in _D_M_Y.finditer(name):
        a, b, y = int(m.group(1)), int(m.group(3)), int(m.group(4))
        if d := _date(y, b, a) or _date(y, a, b):
            return d, m.start(), m.end()
    for m in _DAY_MONTH.finditer(name):
        if d := _date(int(m.group(3)), _MONTHS[m.group(2).lower()], int(m.group(1))):
            return d, m.start(), m.end()
    for m in _MONTH_DAY.finditer(name):
        if d := _date(int(m.group(3)), _MONTHS[m.group(1).lower()], int(m.group(2))):
            return d, m.start(), m.end()
    for m in _YMD.finditer(name):
        if d := _date(int(m.group(1)), int(m.group(2)), int(m.group(3))):
            return d, m.start(), m.end()
    for m in _YYMMDD.finditer(name):
        if int(m.group(1)) <= 39 and (
            d := _date(2000 + int(m.group(1)), int(m.group(2)), int(m.group(3)))
        ):
            return d, m.start(), m.end()
    return None
