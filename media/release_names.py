"""Parse a release name (a torrent's ``dn``, an indexer result's title, a file name) into its parts.

``parse_release_name("The.Matrix.1999.1080p.BluRay.x264-SPARKS")`` gives
``Release(title="The Matrix", year=1999, kind="movie", quality="1080p", source="BluRay",
codec="x264", group="SPARKS", ...)``; ``parse_release_name("Weeds.S03E01.S03E02.720p.HDTV")``
gives ``kind="tv", season=3, episodes=(1, 2)``; a dated daily show keeps its ``date``.

parsett (``import PTT``) does most of the work, behind a layer of our own measured on public
parser test suites (``docs/release-parser.md``, ``bench/bench_release_names.py``):

* before parsing: ``release_names_clean.clean_name`` (markup, control characters, a site
  prefix) and ``release_names_numbering.find_numbering``, which reads the season/episode/air-date
  markers parsett misses (``S03E01.S03E02``, ``castle.2009.416``, ``2x09-2x10``, ``5th Mar 2025``)
  and rewrites them in the form parsett cuts the title at;
* after parsing: a season or episode parsett read out of a word (``B4ND1T69``, ``Zee5``,
  ``Atmos7.1``) is dropped; ``release_names_titles.fix_title`` trims what parsett leaves in a
  title; the small corrections of ``refine`` (capitals, a country tag, a ``-[GROUP]`` tail, an
  anime episode left in the title).

Vocabulary of the fields (the same whichever parser is behind it):

* ``quality`` (also ``resolution``): ``"2160p"``, ``"1440p"``, ``"1080p"``, ``"720p"``,
  ``"576p"``, ``"480p"``, ... or ``""``
* ``source``: ``"Remux"`` (a BluRay remux), ``"BluRay"`` (also BDRip/BRRip), ``"WEB-DL"`` (also a
  bare ``WEB``), ``"WEBRip"``, ``"HDTV"``, ``"DVDRip"``, ``"DVD"``, ``"HDRip"``, ``"CAM"``,
  ``"TS"``, ``"TC"``, ``"SCR"`` or ``""``
* ``codec``: ``"x264"`` (H.264/AVC), ``"x265"`` (H.265/HEVC), ``"AV1"``, ``"XviD"``, ``"MPEG"`` or ``""``
* ``audio``: any of ``"AAC"``, ``"AC3"``, ``"EAC3"``, ``"DTS"``, ``"DTS-HD"``, ``"TrueHD"``,
  ``"Atmos"``, ``"FLAC"``, ``"Opus"``, ``"MP3"``, ``"PCM"``; ``channels``: ``"5.1"``, ``"2.0"``...
* ``languages``: ISO 639-1 codes as parsett gives them (``"en"``, ``"hi"``, ``"multi"``...)
* ``hdr``: ``"HDR"``, ``"HDR10+"``, ``"DV"``, ``"SDR"``; ``bit_depth``: ``"10bit"``, ...
* ``flags``: any of ``FLAGS`` (red flags and edition marks for scoring)

``title_key(title)`` is the form titles are compared in (case, accents, apostrophes and
punctuation ignored), the one the benchmark scores titles with.

``parse_release_name`` never raises: whatever the text, it returns a ``Release``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import PTT

from media.release_names_clean import (
    MAX_NAME_LENGTH,
    capitalise,
    clean_name,
    has_word,
    plain,
    title_key,
)
from media.release_names_numbering import Numbering, find_numbering
from media.release_names_titles import country_suffix, fix_title

__all__ = [
    "FLAGS",
    "MAX_NAME_LENGTH",
    "MAX_TITLE_LENGTH",
    "UNTITLED",
    "Release",
    "clean_name",
    "normalize_quality",
    "parse_release_name",
    "parse_with",
    "release_from_parsett",
    "title_key",
]

MAX_TITLE_LENGTH = 200
UNTITLED = "Untitled"

FLAGS = frozenset(
    {
        "proper",
        "repack",
        "remastered",
        "extended",
        "unrated",
        "uncensored",
        "hardcoded",  # burnt-in subtitles (HC)
        "dubbed",
        "subbed",
        "complete",  # a complete season/series pack
        "upscaled",
        "retail",
        "sample",
        "trailer",
        "extras",  # featurettes, deleted scenes, NC openings...
        "cam",  # source CAM, TS or TC: filmed or copied in a cinema
        "screener",
        "archive",  # .rar/.zip/.7z/.r00 or "RAR" in the name
        "password",  # "password"/"passworded" in the name
        "executable",  # .exe/.scr/.bat/.msi/... in the name
        "adult",
    }
)


@dataclass(frozen=True)
class Release:
    title: str
    year: int | None
    kind: str  # "movie" or "tv"
    season: int | None  # the first season (a multi-season pack: see ``seasons``)
    episodes: tuple[int, ...]
    quality: str
    source: str
    codec: str
    group: str
    date: dt.date | None = None  # the air date of a dated daily show
    seasons: tuple[int, ...] = ()  # every season of a pack ("S01-S05": 1..5)
    audio: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    hdr: tuple[str, ...] = ()
    bit_depth: str = ""
    edition: str = ""
    container: str = ""
    site: str = ""
    flags: frozenset[str] = frozenset()

    @property
    def episode(self) -> int | None:
        return self.episodes[0] if self.episodes else None

    @property
    def resolution(self) -> str:
        return self.quality


# --------------------------------------------------------------------------- vocabulary

_PTT_SOURCES = {
    "bluray remux": "Remux",
    "remux": "Remux",
    "bluray": "BluRay",
    "brrip": "BluRay",
    "bdrip": "BluRay",
    "uhdrip": "BluRay",
    "web-dl": "WEB-DL",
    "web": "WEB-DL",
    "webmux": "WEB-DL",
    "webrip": "WEBRip",
    "web-dlrip": "WEBRip",
    "hdtv": "HDTV",
    "hdtvrip": "HDTV",
    "pdtv": "HDTV",
    "tvrip": "HDTV",
    "satrip": "HDTV",
    "ppvrip": "HDTV",
    "dvdrip": "DVDRip",
    "dvd": "DVD",
    "hdrip": "HDRip",
    "cam": "CAM",
    "telesync": "TS",
    "telecine": "TC",
    "scr": "SCR",
    "r5": "SCR",
}

_PTT_CODECS = {
    "avc": "x264",
    "hevc": "x265",
    "av1": "AV1",
    "xvid": "XviD",
    "mpeg": "MPEG",
}

_PTT_AUDIO = {
    "AAC": "AAC",
    "Dolby Digital": "AC3",
    "Dolby Digital Plus": "EAC3",
    "DTS Lossy": "DTS",
    "DTS Lossless": "DTS-HD",
    "TrueHD": "TrueHD",
    "Atmos": "Atmos",
    "FLAC": "FLAC",
    "OPUS": "Opus",
    "MP3": "MP3",
    "PCM": "PCM",
}

_PTT_FLAGS = {
    "proper": "proper",
    "repack": "repack",
    "unrated": "unrated",
    "uncensored": "uncensored",
    "hardcoded": "hardcoded",
    "dubbed": "dubbed",
    "subbed": "subbed",
    "complete": "complete",
    "upscaled": "upscaled",
    "retail": "retail",
    "adult": "adult",
}
_EXTRAS_FLAGS = {"Sample": "sample", "Trailer": "trailer"}
_SOURCE_FLAGS = {"CAM": "cam", "TS": "cam", "TC": "cam", "SCR": "screener"}
_NAME_FLAGS = (
    (re.compile(r"\.(?:rar|zip|7z|r\d\d)$|\b(?:rar|rars)\b", re.I), "archive"),
    (re.compile(r"\bpassword(?:ed)?\b", re.I), "password"),
    (re.compile(r"\.(?:exe|scr|bat|cmd|com|msi|vbs|jar|apk|lnk|ps1|pif)\b", re.I), "executable"),
)


def normalize_quality(value: str) -> str:
    """'4K'/'2160P'/'UHD' -> '2160p', '1080P' -> '1080p'; anything unknown -> ''."""
    v = value.strip().lower()
    if v in ("4k", "uhd", "2160p", "2160i"):
        return "2160p"
    m = re.fullmatch(r"(\d{3,4})[pi]", v)
    return f"{m.group(1)}p" if m else ""


def _strings(values: Any, table: dict[str, str] | None = None) -> tuple[str, ...]:
    if not isinstance(values, list | tuple):
        values = [values] if values else []
    out = []
    for v in values:
        v = table.get(str(v), "") if table is not None else plain(str(v))[:40]
        if v and v not in out:
            out.append(v)
    return tuple(out)


def _flags(data: dict[str, Any], source: str, cleaned: str) -> frozenset[str]:
    flags = {flag for key, flag in _PTT_FLAGS.items() if data.get(key) is True}
    extras = _strings(data.get("extras"))
    flags |= {_EXTRAS_FLAGS.get(e, "extras") for e in extras}
    edition = str(data.get("edition") or "").lower()
    flags |= {f for f in ("remastered", "extended") if f in edition}
    if source in _SOURCE_FLAGS:
        flags.add(_SOURCE_FLAGS[source])
    flags |= {flag for pattern, flag in _NAME_FLAGS if pattern.search(cleaned)}
    return frozenset(flags)


# --------------------------------------------------------------------------- numbers


def _int_or_none(value: Any, low: int, high: int) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, int) and low <= value <= high:
        return value
    return None


def _ints(values: Any, low: int, high: int) -> tuple[int, ...]:
    if not isinstance(values, list | tuple):
        values = [values]
    found = {n for v in values if (n := _int_or_none(v, low, high)) is not None}
    return tuple(sorted(found))


# A number glued to letters is part of a word ("B4ND1T69", "Zee5", "LAME3"), unless the letters
# are a numbering prefix or suffix ("S03", "E12", "Ep5", "x05", "05v2", "3rd", "S07D1"); "7.1" and
# "5.1" are audio channels, "1.1TB" a size.
_NUMBER_PREFIX = re.compile(
    r"(?:s|e|ep|x|t|cap|part|pt|vol|episode|season|saison|temporada|stagione|staffel|series|"
    r"sezon|folge|afl|s\d+e|s\d+x|s\d+ep|\d+x|\d+e)?",
    re.I,
)
_NUMBER_SUFFIX = re.compile(
    r"(?:e\d*|x\d*|v\d|st|nd|rd|th|d\d*|[abc]|end|of|bis|extras?|[ªº°])?(?:e\d+|x\d+|v\d)*",
    re.I,
)
_NOT_EPISODE = re.compile(
    r"(?<!\d)[257]\.[01](?!\d)|\d+(?:\.\d+)?\s?(?:tb|gb|mb|ch)\b|extras?[ ._]+\d+"
    r"|(?<![\w.])(?:480|576|720|1080|2160)(?![\w.])|(?:(?<=s\d)|(?<=s\d\d))d\d+(?:[-&]\d+)*",
    re.I,
)


def _written_as_number(number: int, cleaned: str, marked: bool = False) -> bool:
    """The number appears in the name other than inside a word, a channel count or a size;
    ``marked``: only with a prefix (E12, Ep 5, x05)."""
    skip = [m.span() for m in _NOT_EPISODE.finditer(cleaned)]
    for m in re.finditer(r"[^\W_]*?(\d+)[^\W_]*", cleaned):
        for run in re.finditer(r"\d+", m.group(0)):
            if int(run.group(0)) != number:
                continue
            at = m.start() + run.start()
            if any(a <= at < b for a, b in skip):
                continue
            before, after = m.group(0)[: run.start()], m.group(0)[run.end() :]
            if marked and not before and not re.search(r"(?:ep|episode)\W*$", cleaned[:at], re.I):
                continue
            if _NUMBER_PREFIX.fullmatch(before) and _NUMBER_SUFFIX.fullmatch(after):
                return True
    return False


def _backed(numbers: tuple[int, ...], cleaned: str, marked: bool = False) -> tuple[int, ...]:
    """The numbers the name backs up; a range (1..25) is backed by its two ends."""
    if len(numbers) > 2 and numbers == tuple(range(numbers[0], numbers[-1] + 1)):
        ends = (numbers[0], numbers[-1])
        if all(_written_as_number(n, cleaned, marked) for n in ends):
            return numbers
    return tuple(n for n in numbers if _written_as_number(n, cleaned, marked))


def _numbering(data: dict[str, Any], cleaned: str, found: Numbering) -> tuple[Any, ...]:
    """(season, seasons, episodes, date): ours where our markers found them, else parsett's
    when the name backs them up."""
    seasons = _ints(data.get("seasons") or [], 0, 9999)
    episodes = _ints(data.get("episodes") or [], 0, 99999)
    if found.season is not None or found.episodes:
        if found.season is not None and found.season not in seasons:
            seasons = (found.season,)
        return found.season, seasons, found.episodes, found.date
    if found.seasons:  # "Season 1-7": a pack of seasons, whatever parsett made of it
        return found.seasons[0], found.seasons, (), found.date
    # a dated show's episode needs its "E"/"Ep" ("2013-10-30 - Episode Title (1)")
    seasons, episodes = (
        _backed(seasons, cleaned),
        _backed(episodes, cleaned, found.date is not None),
    )
    if not seasons and found.season_only is not None:
        seasons = (found.season_only,)
    return (seasons[0] if seasons else None), seasons, episodes, found.date


# --------------------------------------------------------------------------- parsett adapter


def _fallback_title(cleaned: str) -> str:
    text = plain(re.sub(r"[._]+", " ", cleaned))[:MAX_TITLE_LENGTH].strip()
    return text if has_word(text) else UNTITLED


def release_from_parsett(
    data: dict[str, Any], cleaned_name: str = "", found: Numbering | None = None
) -> Release:
    """Map parsett's dict onto a Release; ``found``: what our markers read (see
    ``release_names_numbering``), which wins over parsett's numbers."""
    title = plain(str(data.get("title") or ""))[:MAX_TITLE_LENGTH].strip()
    season, seasons, episodes, date = _numbering(data, cleaned_name, found or Numbering())
    source = _PTT_SOURCES.get(str(data.get("quality") or "").lower(), "")
    year = _int_or_none(data.get("year"), 1870, 2100)
    if year is not None and not _written_as_number(year, cleaned_name):
        year = None  # "RKOFAN1990": a group's name, not a year
    if (
        date is not None
        and year == date.year
        and not re.search(rf"(?<!\d){year}(?!\d)", cleaned_name.replace(date.strftime("%Y"), "", 1))
    ):
        year = None  # the air date's year, not the show's
    return Release(
        title=title if has_word(title) else _fallback_title(cleaned_name),
        year=year,
        kind="tv" if season is not None or episodes or date is not None else "movie",
        season=season,
        episodes=episodes,
        quality=normalize_quality(str(data.get("resolution") or "")),
        source=source,
        codec=_PTT_CODECS.get(str(data.get("codec") or "").lower(), ""),
        group=plain(str(data.get("group") or ""))[:100],
        date=date,
        seasons=seasons,
        audio=_strings(data.get("audio"), _PTT_AUDIO),
        channels=_strings(data.get("channels")),
        languages=_strings(data.get("languages")),
        hdr=_strings(data.get("hdr")),
        bit_depth=plain(str(data.get("bit_depth") or ""))[:10],
        edition=plain(str(data.get("edition") or ""))[:40],
        container=plain(str(data.get("container") or data.get("extension") or ""))[:10].lower(),
        site=plain(str(data.get("site") or ""))[:100],
        flags=_flags(data, source, cleaned_name),
    )


# --------------------------------------------------------------------------- corrections

# "[Group] Title 01 (1920x1080 ...)" / "[Group]_Title_01_(...)": a zero-padded number left at the
# end of the title is the episode when the name starts with a bracketed group and no episode was
# found. Only zero-padded: "[Group] Mob Psycho 100 [BD 1080p]" and "Kaiju No. 8" are titles.
_ANIME_GROUP = re.compile(r"^\s*\[[^\]]+\]")
_TRAILING_EPISODE = re.compile(r"^(.*\S)\s+(?:-\s+)?(0\d{1,3})$")
# "...x264.AAC5.1-[YTS.MX]" (optionally + extension): the bracketed tail is the group.
_BRACKET_GROUP = re.compile(r"-\[([\w.-]{2,40})\](?:\.[a-z0-9]{2,4})?$", re.I)


def refine(release: Release, cleaned: str) -> Release:
    """Our corrections on top of a parser's Release, where the parsers trip in obvious ways."""
    title, episodes, kind, group = release.title, release.episodes, release.kind, release.group
    if not episodes and release.season is None and _ANIME_GROUP.match(cleaned):
        m = _TRAILING_EPISODE.match(title)
        if m and has_word(plain(m.group(1))):
            title, episodes, kind = plain(m.group(1)), (int(m.group(2)),), "tv"
    if not group and (m := _BRACKET_GROUP.search(cleaned)):
        group = m.group(1)
    title = fix_title(title, cleaned, release.kind == "tv" or kind == "tv")
    year = release.year
    if year is not None and title.startswith(str(year)) and cleaned.count(str(year)) == 1:
        year = None  # "2020.A.Late.Talk.Show.2012.16.02": the title's number
    title = capitalise(title + country_suffix(title, cleaned))[:MAX_TITLE_LENGTH].strip()
    return replace(
        release, title=title or release.title, year=year, kind=kind, episodes=episodes, group=group
    )


# --------------------------------------------------------------------------- public API


def _parsett(cleaned: str) -> Release:
    canonical, found = find_numbering(cleaned)
    data = PTT.parse_title(canonical)
    return release_from_parsett(data if isinstance(data, dict) else {}, cleaned, found)


def parse_with(parse: Callable[[str], Release], name: str) -> Release:
    """Clean ``name``, hand it to ``parse`` (a cleaned name -> Release function), refine the
    result. Never raises. ``parse_release_name`` is this with parsett; the benchmark also runs
    it with guessit to compare the parsers behind the same layer."""
    try:
        cleaned = clean_name(name if isinstance(name, str) else str(name))
    except Exception:  # a str() that raises: nothing to parse
        cleaned = ""
    if not cleaned:
        return _empty(UNTITLED)
    try:
        return refine(parse(cleaned), cleaned)
    except Exception:  # third-party regex soup: never fail the caller
        return _empty(capitalise(_fallback_title(cleaned)))


def parse_release_name(name: str) -> Release:
    """Parse a release name; never raises. A name that yields nothing gives a Release whose
    title is the cleaned name (or "Untitled") and whose other fields are empty."""
    return parse_with(_parsett, name)


def _empty(title: str) -> Release:
    return Release(
        title=title,
        year=None,
        kind="movie",
        season=None,
        episodes=(),
        quality="",
        source="",
        codec="",
        group="",
    )
