"""Season, episode and air-date markers in a release name, found before parsett sees the name.

parsett (``PTT``) reads ``S01E02``, ``1x02``, ``Season 1`` and ``2011.04.18`` well, but trips on
the other ways release names number episodes. ``find_numbering`` finds those, and gives back the
name with the marker rewritten in the canonical form parsett cuts the title at (``S04E16``,
``2011.04.18``), along with what it found; ``parse_release_name`` then takes the season, episodes
and date from here rather than from parsett.

What it reads (each checked against real names in ``tests/media/fixtures/release_names/``):

* chained ``SxxEyy``: ``S03E01E02``, ``S03E01-E03`` / ``S03E01-03`` (a range), ``S03E01.S03E02``,
  ``S07E22 - S07E23``, ``S6.E1-S6E2``, ``S01xE03``, ``S42 Ep10688 - Ep10692``;
* chained ``NxNN``: ``2x04x05``, ``2x04.2x05``, ``2x09-2x10``, ``8x01_02``, ``1x01-x03``,
  ``2010x15`` (a year as the season);
* scene numbers with no letters: ``castle.2009.416.hdtv`` (S04E16), ``the.100.109.hdtv``
  (S01E09), ``Show.103.104.720p`` (S01E03-E04): after the year, or followed by what follows an
  episode (``hdtv``, ``720p``, ``-GROUP``, the end); never in an anime ``[Group]`` name, never
  an episode above 39;
* Spanish ``[Cap.101]`` (S01E01), ``Cap.111_120``; Dutch ``Se.3 afl.3``; ``Title S21 999``;
* episodes with no season: ``E07-E08``, ``Ep01-12``, ``Test.13.HDTV``; anime absolute numbers
  and CJK episode marks (``release_names_anime``);
* season packs parsett misreads: ``Season 01-07`` (seasons, not episodes), ``S2014``,
  ``Stagione 3``;
* air dates (``release_names_dates``): ``2011.04.18``, ``18.04.2011``, ``5th Mar 2025``...
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from media.release_names_anime import (
    MAX_EPISODES,
    RESOLUTIONS,
    STARTS_WITH_GROUP,
    YEARLIKE,
    anime_absolute,
    cjk_episodes,
    leading_episode,
)
from media.release_names_dates import air_date


@dataclass(frozen=True)
class Numbering:
    """What the markers say. ``season`` None and ``episodes`` () when no episode marker was
    found; ``seasons`` a season range of a pack ("Season 1-7"); ``season_only`` a lone season
    marker parsett may miss ("S2014", "Stagione 3"); ``date`` None when no air date was."""

    season: int | None = None
    episodes: tuple[int, ...] = ()
    date: dt.date | None = None
    seasons: tuple[int, ...] = ()
    season_only: int | None = None


# --------------------------------------------------------------------------- episode chains

_SE_HEAD = re.compile(
    r"(?<![a-z0-9])s(\d{1,4})[ ._-]{0,2}(?:xe|x|ep|e)[ ._]?(\d{1,5})(?:v\d)?(?![\d])", re.I
)
_NX_HEAD = re.compile(
    r"(?<![\dx])(?<!\d\.)(\d{1,2}|(?:19|20)\d\d)x(\d{1,3})(?:v\d)?(?![\dp])", re.I
)
# Dutch "Se.3 afl.3"; anime "Title S21 999" / "Title S3 - 12" (a season, then the episode)
_AFL_HEAD = re.compile(r"(?<![a-z])se\.?[ ]?(\d{1,2})[ ._]+afl\.?[ ]?(\d{1,3})(?![\d])", re.I)
_S_SPACE = re.compile(
    r"(?<![a-z0-9])s(\d{1,2})[ ._]+(?:-[ ._]+)?\[?(\d{2,4})\]?(?![\dpi.])(?![ ._]?(?:bit|fps))",
    re.I,
)
_E_ONLY = re.compile(r"(?<![a-z0-9])(?:e|ep)[ ._]?(\d{1,4})(?:v\d)?(?=[ ._-]*(?:e|ep)?\d)", re.I)
_DASH = r"[ ._]?[-~][ ._]?"


# The steps a chain of episodes takes after its head: (pattern, joiner). A joiner "-" makes a
# range; a step that repeats the season (group 1) must repeat the head's.
_SE_STEPS = [
    (re.compile(rf"{_DASH}s0*(\d{{1,4}})[ ._]?(?:e|ep)[ ._]?(\d{{1,5}})(?![\d])", re.I), "-"),
    (
        re.compile(
            r"(?:[ ._]*(?:[&+,]|and)[ ._]*|[ ._]+)s0*(\d{1,4})[ ._]?(?:e|ep)[ ._]?(\d{1,5})(?![\d])",
            re.I,
        ),
        "+",
    ),
    (re.compile(r"(?:-|[ ._]?-[ ._]?(?:e|ep))[ ._]?()(\d{1,5})(?:v\d)?(?![\da-z])", re.I), "-"),
    (
        re.compile(
            r"(?:[ ._]?[+&][ ._]?|[ ._])?(?:e|ep)[ ._]?()(\d{1,5})(?:v\d)?(?![\da-z])", re.I
        ),
        "+",
    ),
    (re.compile(r"[ ._]?[+&][ ._]?()(\d{1,3})(?![\da-z])", re.I), "+"),
]
_NX_STEPS = [
    (re.compile(rf"{_DASH}0*(\d{{1,4}})x(\d{{2,3}})(?![\dp])", re.I), "-"),
    (re.compile(r"[ ._]+0*(\d{1,4})x(\d{2,3})(?![\dp])", re.I), "+"),
    (re.compile(r"-x?()(\d{2,3})(?![\dp])", re.I), "-"),
    (re.compile(r"[x_]()(\d{2,3})(?![\dp])", re.I), "+"),
]


def _chain(name: str, end: int, season: str, marker: str) -> tuple[list[tuple[str, int]], int]:
    """The episodes chained after a head marker: [(joiner, number)], and where the chain ends.
    ``marker`` is "se" (SxxEyy) or "nx" (NxNN)."""
    steps = _SE_STEPS if marker == "se" else _NX_STEPS
    found: list[tuple[str, int]] = []
    progress = True
    while progress:
        progress = False
        for pattern, joiner in steps:
            m = pattern.match(name, end)
            if m and (not m.group(1) or int(m.group(1)) == int(season)):
                found.append((joiner, int(m.group(2))))
                end = m.end()
                progress = True
                break
    return found, end


def _episodes(first: int, chained: list[tuple[str, int]]) -> tuple[int, ...]:
    episodes = {first}
    previous = first
    for joiner, number in chained:
        if joiner == "-" and previous < number <= previous + MAX_EPISODES:
            episodes.update(range(previous, number + 1))
        else:
            episodes.add(number)
        previous = number
    return tuple(sorted(episodes))


def _season_episode(name: str) -> tuple[int, tuple[int, ...], int, int] | None:
    """(season, episodes, start, end) of the first SxxEyy or NxNN chain."""
    for head, marker in ((_SE_HEAD, "se"), (_NX_HEAD, "nx"), (_AFL_HEAD, "se"), (_S_SPACE, "se")):
        for m in head.finditer(name):
            season, first = m.group(1), int(m.group(2))
            if marker == "nx" and not _plausible_nx(season, m.group(2)):
                continue
            if head is _S_SPACE and (m.group(2) in RESOLUTIONS or YEARLIKE.fullmatch(m.group(2))):
                continue
            chained, end = _chain(name, m.end(), season, marker)
            return int(season), _episodes(first, chained), m.start(), end
    return None


def _plausible_nx(season: str, episode: str) -> bool:
    """'2x04', '2010x15' yes; '1920x804', '1x264' (a codec after a channel count) no."""
    if len(season) == 4:
        return len(episode) == 2
    return episode not in ("264", "265")


# --------------------------------------------------------------------------- scene numbers

_TV_TAIL = (
    r"(?=[ ._-](?:hdtv|pdtv|sdtv|dsr|tvrip|web|webrip|web-dl|webdl|hd|720p|1080p|1080i|480p|"
    r"xvid|x264|h264|ws|repack|proper|internal|real|readnfo|dvdrip|bdrip|hr)\b"
    r"|-[a-z0-9]+(?:\.[a-z0-9]{2,4})?$|\.[a-z0-9]{2,4}$|$)"
)
_AFTER_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d[ ._](\d{1,2})(\d{2})(?=[ ._-]|$)")
_PAIR = re.compile(r"(?<=[a-z0-9][ ._])(\d)(\d{2})[ ._](\1)(\d{2})" + _TV_TAIL, re.I)
_BARE = re.compile(r"(?<=[a-z0-9][ ._-])(\d{1,2})(\d{2})" + _TV_TAIL, re.I)
_BRACKETED_NUMBER = re.compile(r"(?<=[a-z0-9][ ._])\[(\d{1,2})(\d{2})\](?=[ ._])", re.I)


def _scene_number(name: str) -> tuple[int, tuple[int, ...], int, int] | None:
    if STARTS_WITH_GROUP.match(name):
        return None
    for pattern in (_AFTER_YEAR, _PAIR, _BARE, _BRACKETED_NUMBER):
        for m in pattern.finditer(name):
            season, episode = m.group(1), m.group(2)
            number = season + episode
            if number in RESOLUTIONS or YEARLIKE.fullmatch(number):
                continue
            if not 1 <= int(episode) <= 39:
                continue
            episodes = (int(episode),)
            if pattern is _PAIR:
                episodes = tuple(sorted({int(episode), int(m.group(4))}))
            return int(season), episodes, m.start(1), m.end()
    return None


_CAP = re.compile(r"\bcap[. ]{0,2}(\d{1,2})(\d{2})(?:_(\d{1,2})(\d{2}))?\b", re.I)


def _cap(name: str) -> tuple[int, tuple[int, ...], int, int] | None:
    m = _CAP.search(name)
    if not m:
        return None
    season, first = int(m.group(1)), int(m.group(2))
    last = int(m.group(4)) if m.group(4) else first
    if last < first:
        return None
    return season, tuple(range(first, last + 1)), m.start(), m.end()


# "Test.13.HDTV": a bare two-digit episode right before a TV source
_BARE_EPISODE = re.compile(r"(?<=[a-z][ ._])(\d{2})(?=[ ._](?:hdtv|pdtv|sdtv|dsr)\b)", re.I)
_SEASON_WORD_BEFORE = re.compile(r"(?:season|saison|series|temporada|stagione|staffel)\W*$", re.I)


def _bare_episode(name: str) -> tuple[None, tuple[int, ...], int, int] | None:
    m = _BARE_EPISODE.search(name)
    if not m or STARTS_WITH_GROUP.match(name) or int(m.group(1)) == 0:
        return None
    if _SEASON_WORD_BEFORE.search(name[: m.start()]):  # "30.Series.Season.04.HDTV": a season
        return None
    return None, (int(m.group(1)),), m.start(), m.end()


def _episodes_only(name: str) -> tuple[None, tuple[int, ...], int, int] | None:
    """'E07-E08', 'Ep01-12' with no season."""
    m = _E_ONLY.search(name)
    if not m:
        return None
    chained, end = _chain(name, m.end(), "0", "se")
    chained = [c for c in chained if c[1] != int(m.group(1)) or c[0] == "-"]
    if not chained:
        return None
    return None, _episodes(int(m.group(1)), chained), m.start(), end


# --------------------------------------------------------------------------- seasons

_SEASON_RANGE = re.compile(
    r"(?<![a-z])(?:seasons?|saisons?|temporadas?|stagioni|staffeln?)[ ._]?(\d{1,2})[ ._]?"
    r"(?:-|~|to|thru|a)[ ._]?(\d{1,2})(?![\d])",
    re.I,
)
# what parsett misses: a year as the season ("S2014"), Italian, German, Dutch, short Spanish
_SEASON_ONLY = re.compile(
    r"(?<![a-z0-9-])(?:s((?:19|20)\d\d)(?![\da-z])"
    r"|(?:stagione|staffel|seizoen|tem)[ ._]?(\d{1,2})(?!\d))",
    re.I,
)


def _season_range(name: str) -> tuple[int, ...]:
    m = _SEASON_RANGE.search(name)
    if not m or not int(m.group(1)) < int(m.group(2)) <= 100:
        return ()
    return tuple(range(int(m.group(1)), int(m.group(2)) + 1))


def _season_only(name: str) -> tuple[int, int, int] | None:
    m = _SEASON_ONLY.search(name)
    if not m:
        return None
    return int(m.group(1) or m.group(2)), m.start(), m.end()


# --------------------------------------------------------------------------- public


_SEPARATORS = " ._-[]()"


def _replace(name: str, start: int, end: int, token: str) -> str:
    """The name with name[start:end] replaced by the token, separated the way the name is."""
    sep = " " if " " in name else "." if "." in name else " "
    left, right = name[:start], name[end:]
    if left and left[-1] not in _SEPARATORS:
        left += sep
    if right and right[0] not in _SEPARATORS:
        right = sep + right
    return f"{left}{token}{right}"


def find_numbering(name: str) -> tuple[str, Numbering]:
    """(the name with its markers in canonical form, what they say)."""
    season: int | None = None
    episodes: tuple[int, ...] = ()
    marker = (
        _season_episode(name)
        or _cap(name)
        or _scene_number(name)
        or _episodes_only(name)
        or cjk_episodes(name)
        or anime_absolute(name)
        or _bare_episode(name)
    )
    if marker:
        season, episodes, start, end = marker
        token = f"S{season:02d}E{episodes[0]:02d}" if season is not None else f"E{episodes[0]:02d}"
        name = _replace(name, start, end, token)
    elif leading := leading_episode(name):
        name, episodes = leading
    seasons = () if season is not None or episodes else _season_range(name)
    season_only = None
    if season is None and not seasons and (lone := _season_only(name)):
        season_only, start, end = lone
        name = _replace(name, start, end, f"S{season_only:02d}")
    date = None
    if found := air_date(name):
        date, start, end = found
        name = _replace(name, start, end, date.strftime("%Y.%m.%d"))
    return name, Numbering(
        season=season, episodes=episodes, date=date, seasons=seasons, season_only=season_only
    )
