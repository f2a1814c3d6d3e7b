"""Parse a release name (a torrent's ``dn`` or a file name) into its parts.

``parse_release_name("The.Matrix.1999.1080p.BluRay.x264-SPARKS")`` gives
``Release(title="The Matrix", year=1999, kind="movie", quality="1080p", source="BluRay",
codec="x264", group="SPARKS", ...)``.

The heavy lifting is done by parsett (``import PTT``), chosen over guessit after measuring both on
``tests/media/fixtures/release_names.json`` (see ``bench/compare_release_parsers.py`` and
``docs/release-parser.md``). Around it sits a small layer of our own:

* before parsing (``clean_name``): markup (``<script>...</script>``, any ``<tag>``), control
  characters, surplus whitespace and an uploader's site prefix (``www.Torrenting.com - ``,
  ``[ www.Speed.Cd ] -``) are removed, and the name is capped at ``MAX_NAME_LENGTH`` characters;
* after parsing (``refine``): an all-lowercase title is capitalised; a country tag that both
  parsers drop is put back (``The.Office.US.S02E01`` -> "The Office US"); a trailing ``-[GROUP]``
  fills an empty group; a bare ``NN`` left at the end of the title of an anime ``[Group]`` name
  becomes the episode (``[Coalgirls]_Cowboy_Bebop_01_(...)``).

``release_from_parsett`` maps parsett's vocabulary onto ours; ``parse_with`` runs the cleaning and
refining around any parser (the benchmark uses it to put guessit behind the same layer).

Vocabulary of the fields (the same whichever parser is behind it):

* ``quality``: ``"2160p"``, ``"1440p"``, ``"1080p"``, ``"720p"``, ``"576p"``, ``"480p"``, ... or ``""``
* ``source``: ``"Remux"`` (a BluRay remux), ``"BluRay"`` (also BDRip/BRRip), ``"WEB-DL"`` (also a
  bare ``WEB``), ``"WEBRip"``, ``"HDTV"``, ``"DVDRip"``, ``"DVD"``, ``"HDRip"``, ``"CAM"``,
  ``"TS"``, ``"TC"``, ``"SCR"`` or ``""``
* ``codec``: ``"x264"`` (H.264/AVC), ``"x265"`` (H.265/HEVC), ``"AV1"``, ``"XviD"``, ``"MPEG"`` or ``""``

``parse_release_name`` never raises: whatever the text, it returns a ``Release``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import PTT

MAX_NAME_LENGTH = 500
MAX_TITLE_LENGTH = 200
UNTITLED = "Untitled"


@dataclass(frozen=True)
class Release:
    title: str
    year: int | None
    kind: str  # "movie" or "tv"
    season: int | None
    episodes: tuple[int, ...]
    quality: str
    source: str
    codec: str
    group: str

    @property
    def episode(self) -> int | None:
        return self.episodes[0] if self.episodes else None


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


def normalize_quality(value: str) -> str:
    """'4K'/'2160P'/'UHD' -> '2160p', '1080P' -> '1080p'; anything unknown -> ''."""
    v = value.strip().lower()
    if v in ("4k", "uhd", "2160p", "2160i"):
        return "2160p"
    m = re.fullmatch(r"(\d{3,4})[pi]", v)
    return f"{m.group(1)}p" if m else ""


# --------------------------------------------------------------------------- cleaning

_SCRIPT_BLOCK = re.compile(r"<\s*(script|style)\b[^>]*>.*?<\s*/\s*\1\s*>", re.I | re.S)
_TAG = re.compile(r"<\s*/?\s*[a-z!][^<>]*>", re.I)
_SPACES = re.compile(r"\s+")
# "www.Torrenting.com - ", "[ www.Speed.Cd ] -", "[TorrentCouch.com].": an uploader's site, not the title.
_SITE_PREFIX = re.compile(
    r"^(?:[\[(]\s*(?:www\.)?[\w-]+(?:\.[\w-]+)*\.[a-z]{2,6}\s*[\])]|www\.[\w-]+(?:\.[\w-]+)+\s+-)"
    r"[\s._-]*",
    re.I,
)
_EDGE_JUNK = " .-_|,;:~"
_PAIRS = {"(": ")", "[": "]", "{": "}"}


def _strip_controls(text: str) -> str:
    # Cc (control), Cf (format: zero-width, bidi overrides), Cs (lone surrogates), Co, Cn.
    return "".join(
        " " if ch in "\t\n\r" else ch
        for ch in text
        if ch in "\t\n\r" or unicodedata.category(ch)[0] != "C"
    )


def clean_name(name: str) -> str:
    """The name as it goes into the parser: markup, control characters, surplus whitespace and a
    leading site prefix removed, at most MAX_NAME_LENGTH characters."""
    text = _strip_controls(name[: MAX_NAME_LENGTH * 4])
    text = _SCRIPT_BLOCK.sub(" ", text)
    text = _TAG.sub(" ", text)
    text = text.replace("<", " ").replace(">", " ")
    text = _SPACES.sub(" ", text).strip()
    text = _SITE_PREFIX.sub("", text, count=1) or text
    return text[:MAX_NAME_LENGTH].strip()


def _plain(text: str) -> str:
    """A display string: no markup characters, single spaces, no separator junk or unpaired
    brackets at the ends ("(500) Days of Summer" keeps its parenthesis)."""
    text = _strip_controls(text).replace("<", " ").replace(">", " ")
    text = _SPACES.sub(" ", text).strip(_EDGE_JUNK)
    while text:
        if text[0] in _PAIRS and _PAIRS[text[0]] not in text[1:]:
            text = text[1:].strip(_EDGE_JUNK)
        elif text[-1] in _PAIRS.values() and not any(
            o in text[:-1] for o, c in _PAIRS.items() if c == text[-1]
        ):
            text = text[:-1].strip(_EDGE_JUNK)
        else:
            break
    return text


_SMALL_WORDS = frozenset(
    "a an and as at but by for from in into of on or the to vs with x "
    "de del la le les el du des da di no wa ga".split()
)


def _capitalise(title: str) -> str:
    """Capitalise an all-lowercase title ('the simpsons' -> 'The Simpsons'); leave others alone."""
    if title != title.lower() or not any(ch.isalpha() for ch in title):
        return title
    out = []
    for i, word in enumerate(title.split(" ")):
        # only plain words: "x264" or "9-1-1" stay as they are
        if word.replace("'", "").isalpha() and (i == 0 or word not in _SMALL_WORDS):
            word = word[0].upper() + word[1:]
        out.append(word)
    return " ".join(out)


def _has_word(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _fallback_title(cleaned: str) -> str:
    text = _plain(re.sub(r"[._]+", " ", cleaned))[:MAX_TITLE_LENGTH].strip()
    return text if _has_word(text) else UNTITLED


# --------------------------------------------------------------------------- parsett adapter


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


def release_from_parsett(data: dict[str, Any], cleaned_name: str = "") -> Release:
    """Map parsett's dict onto a Release (vocabulary only, no corrections)."""
    title = _plain(str(data.get("title") or ""))[:MAX_TITLE_LENGTH].strip()
    seasons = _ints(data.get("seasons") or [], 0, 9999)
    episodes = _ints(data.get("episodes") or [], 0, 99999)
    season = seasons[0] if seasons else None
    return Release(
        title=title if _has_word(title) else _fallback_title(cleaned_name),
        year=_int_or_none(data.get("year"), 1870, 2100),
        kind="tv" if season is not None or episodes else "movie",
        season=season,
        episodes=episodes,
        quality=normalize_quality(str(data.get("resolution") or "")),
        source=_PTT_SOURCES.get(str(data.get("quality") or "").lower(), ""),
        codec=_PTT_CODECS.get(str(data.get("codec") or "").lower(), ""),
        group=_plain(str(data.get("group") or ""))[:100],
    )


# --------------------------------------------------------------------------- corrections

# "[Group] Title 01 (1920x1080 ...)" / "[Group]_Title_01_(...)": a zero-padded number left at the
# end of the title is the episode when the name starts with a bracketed group and no episode was
# found. Only zero-padded: "[Group] Mob Psycho 100 [BD 1080p]" and "Kaiju No. 8" are titles.
_ANIME_GROUP = re.compile(r"^\s*\[[^\]]+\]")
_TRAILING_EPISODE = re.compile(r"^(.*\S)\s+(?:-\s+)?(0\d{1,3})$")
# "...x264.AAC5.1-[YTS.MX]" (optionally + extension): the bracketed tail is the group.
_BRACKET_GROUP = re.compile(r"-\[([\w.-]{2,40})\](?:\.[a-z0-9]{2,4})?$", re.I)
_SEP = r"[\s._-]+"
_COUNTRIES = "US|UK|AU|NZ|CA"


def _country_suffix(title: str, cleaned: str) -> str:
    """'The.Office.US.S02E01...' -> ' US' (both parsers drop the country from the title)."""
    words = re.findall(r"\w+", title)
    if not words or len(words) > 20:
        return ""
    pattern = _SEP.join(map(re.escape, words)) + rf"{_SEP}\(?({_COUNTRIES})\)?(?=[\s._\-\[(]|$)"
    m = re.match(pattern, cleaned, re.I)
    return f" {m.group(1)}" if m and m.group(1).isupper() else ""


def refine(release: Release, cleaned: str) -> Release:
    """Our corrections on top of a parser's Release, where the parsers trip in obvious ways."""
    title, episodes, kind, group = release.title, release.episodes, release.kind, release.group
    if not episodes and release.season is None and _ANIME_GROUP.match(cleaned):
        m = _TRAILING_EPISODE.match(title)
        if m and _has_word(_plain(m.group(1))):
            title, episodes, kind = _plain(m.group(1)), (int(m.group(2)),), "tv"
    if not group and (m := _BRACKET_GROUP.search(cleaned)):
        group = m.group(1)
    title = _capitalise(title + _country_suffix(title, cleaned))[:MAX_TITLE_LENGTH].strip()
    return Release(
        title=title,
        year=release.year,
        kind=kind,
        season=release.season,
        episodes=episodes,
        quality=release.quality,
        source=release.source,
        codec=release.codec,
        group=group,
    )


# --------------------------------------------------------------------------- public API


def _parsett(cleaned: str) -> Release:
    data = PTT.parse_title(cleaned)
    return release_from_parsett(data if isinstance(data, dict) else {}, cleaned)


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
        return _empty(_capitalise(_fallback_title(cleaned)))


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
