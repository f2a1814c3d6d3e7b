"""Title corrections after parsett: what it leaves in a title that is not the title, and what it
takes out of a title that is.

``fix_title(title, cleaned, is_tv)`` gets parsett's title and the cleaned name:

* words parsett dropped from the middle of a title come back ("The.True.Story" lost "True" to the
  TrueHD rule);
* trailing tags come off: languages and dubbing tags (``German DL``, ``French``, ``Ita Eng``,
  ``MULTi``), release tags (``STV``, ``DOKU``, ``BDRipMux``), editions (``Directors Cut``, ``DC``,
  ``Criterion Edition``, ``International Cut``, ``3D``), a version (``v2``);
* a trailing parenthetical that parsett kept (``Battle Royale (Batoru Rowaiaru)``,
  ``Love Gourou (Mike Myers)``, ``Easy Rider (Drama)``) comes off, unless the title reads
  "X or (Y)" (``Birdman or (The Unexpected Virtue of Ignorance)``);
* in an anime ``[Group]`` name numbered with SxxEyy, the absolute number left before it comes
  off (``[Dae-P9] Anime Series - 05 - S01E05`` -> "Anime Series");
* a title in CJK characters only, in a name that writes a Latin title in its own brackets
  (``【字幕组】[天使降临到了我身边! / Anime Series Title!][04]``), becomes the Latin one.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from media.release_names_clean import has_word, plain

_TAGS = (
    "stv|doku|docu|readnfo|nfofix|internal|limited|bdripmux|brripmux|dvdripmux|webmux|"
    "complete|uncut|unrated|remastered|extended|imax|hc|hdr|dl|ac3d|ac3|dubbed|ld|dual"
)
_LANGUAGES = (
    "german|deutsch|french|francais|truefrench|vff|vf|vostfr|subfrench|ita|italian|eng|english|"
    "spanish|castellano|esp|latino|multi|multi-subs|swissgerman"
)
_EDITIONS = (
    r"directors?'?s?[ .-]cut|director'?s?[ .-]cut|dc|criterion(?:[ .-]edition|[ .-]collection)?|"
    r"edition[ .-]collector|collector'?s?[ .-]edition|special[ .-]edition|international[ .-]cut|"
    r"theatrical(?:[ .-]cut)?|extended[ .-](?:cut|edition)|ultimate[ .-](?:cut|edition)|"
    r"anniversary[ .-]edition|final[ .-]cut"
)
_TRAILING = re.compile(rf"(?:[ .-]+(?:{_TAGS}|{_LANGUAGES}|{_EDITIONS}|v\d))+$", re.I)
_TRAILING_BEFORE_YEAR = re.compile(rf"(?:[ .-]+(?:{_TAGS}|{_EDITIONS}|v\d))+$", re.I)
_UNCLOSED = re.compile(r"^(.*?\S)\s*[(\[][^()\[\]]*$")
_CHANNEL = re.compile(r"^(?:BBC|PBS|ITV|NatGeo|Nat Geo|National Geographic)\s+(?=\S+\s+\S)")
_PAREN_TAIL = re.compile(r"^(.*\S)\s*[(\[]([^()\[\]]+)[)\]]$")
_ANIME_GROUP = re.compile(r"^\s*[\[【(]")
_ABSOLUTE_TAIL = re.compile(r"^(.*\S)(?:\s+-)?\s+\d{1,4}(?:\.\d)?$")
_ABSOLUTE_BEFORE = re.compile(
    r"\d{1,4}(?:\.\d)?\s*(?:-\s*|\(\s*)(?:s\d{1,4}[ ._]?e\d|\d{1,2}x\d)", re.I
)
_SEASON_TAIL = re.compile(
    r"[ .-]+(?:season|saison|temporada|tem|stagione|staffel)[ .]?\d{1,2}$", re.I
)
_CJK = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\uac00-\ud7af]"
)
_BRACKETED = re.compile(r"[\[【]([^\[\]【】]+)[\]】]")
_TECH = re.compile(
    r"^(?:\d{3,4}[pi]|mp4|mkv|avi|avc|hevc|x26[45]|h\.?26[45]|gb|big5|chs|cht|jpn?|aac|flac|"
    r"web-?dl|webrip|bdrip|tv|end|fin|batch|\d+(?:-\d+)?)$",
    re.I,
)


def _words(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text).casefold()
    return re.findall(r"[^\W_]+", text)


def _realign(title: str, cleaned: str) -> str:
    """Put back one or two plain words parsett dropped from the middle of the title."""
    want = _words(title)
    have = re.findall(r"[^\W_]+", unicodedata.normalize("NFKC", cleaned))
    low = [w.casefold() for w in have]
    if len(want) < 2 or " ".join(want) in " ".join(low):
        return title
    for start in (i for i, w in enumerate(low) if w == want[0]):
        j, k, extra = start, 0, []
        while j < len(low) and k < len(want):
            if low[j] == want[k]:
                k += 1
            elif have[j].isalpha() and len(extra) < 2:
                extra.append(have[j])
            else:
                break
            j += 1
        if k == len(want) and extra:
            return " ".join(have[start:j])
    return title


def _latin_run(cleaned: str) -> str:
    """The Latin words right before the first season/year/quality mark of a CJK name
    ('当我飞奔向你[全24集].Series.Towards.You.S01.2023' -> 'Series Towards You')."""
    m = _STOP.search(cleaned, 1)
    head = cleaned[: m.start()] if m else cleaned
    run = re.search(r"([A-Za-z][A-Za-z0-9'&!,:. _-]*?)[ ._-]*$", head)
    return plain(re.sub(r"[._]+", " ", run.group(1))) if run else ""


def _latin_bracket_title(cleaned: str) -> str:
    """The Latin title a CJK release writes in brackets (after the group's), preferring an
    all-Latin bracket."""
    mixed = ""
    for segment in _BRACKETED.findall(cleaned)[1:]:
        for part in re.split(r"\s*[/|]\s*|_(?=[A-Za-z])", segment):
            part = plain(part.replace("_", " "))
            latin = re.sub(r"^[^A-Za-z]*", "", part) if _CJK.search(part) else part
            if not re.search(r"[A-Za-z]{2}", latin) or _TECH.match(latin):
                continue
            if not _CJK.search(part):
                return latin
            mixed = mixed or latin
    return mixed


_WORD = re.compile(r"[^\W_]+")
_YEAR_NEXT = re.compile(r"[\W_]+[(\[]?(?:19|20)\d\d(?!\d)")


@lru_cache(maxsize=64)
def _tokens(cleaned: str) -> tuple[tuple[str, ...], tuple[tuple[int, int], ...]]:
    """The name's words (casefolded) and where each is, once per name."""
    found = list(_WORD.finditer(cleaned))
    return tuple(m.group(0).casefold() for m in found), tuple(m.span() for m in found)


def _spans(words: list[str], cleaned: str) -> list[tuple[int, int]]:
    """Where the words are written one after the other in the name: [(start, end)]."""
    have, where = _tokens(cleaned)
    want = tuple(w.casefold() for w in words)
    n = len(want)
    if not n:
        return []
    return [
        (where[i][0], where[i + n - 1][1])
        for i in range(len(have) - n + 1)
        if have[i] == want[0] and have[i : i + n] == want
    ]


def _cut_at_open_bracket(title: str, cleaned: str) -> str:
    """'Easy Rider  (Drama 1969)' gives parsett 'Easy Rider (Drama': the title ends before a
    bracket that closes after it."""
    words = _WORD.findall(title)
    spans = _spans(words, cleaned) if len(words) >= 2 else []
    if not spans:
        return title
    start, end = spans[0]
    span = cleaned[start:end]
    for i, ch in enumerate(span):
        if ch in "([" and ")]"[("([").index(ch)] not in cleaned[start + i : end + 2]:
            head = plain(re.sub(r"[._]+", " ", span[:i]))
            return head if has_word(head) else title
    return title


def _followed_by_year(title: str, cleaned: str) -> bool:
    """The title is written right before a year ('The.Good.German.2006'): a language word at its
    end is then part of it."""
    words = _WORD.findall(title)[-2:]
    return any(_YEAR_NEXT.match(cleaned, end) for _, end in _spans(words, cleaned))


_COUNTRIES = ("US", "UK", "AU", "NZ", "CA")
_COUNTRY_NEXT = re.compile(r"[\s._-]+\(?(US|UK|AU|NZ|CA)\)?(?=[\s._\-\[(]|$)")


def country_suffix(title: str, cleaned: str) -> str:
    """'The.Office.US.S02E01...' -> ' US' (parsers drop the country from the title); 'Us' as a
    title is not a country."""
    words = _WORD.findall(title)
    if not words or len(words) > 20 or words[-1].upper() in _COUNTRIES:
        return ""
    spans = _spans(words, cleaned)
    m = _COUNTRY_NEXT.match(cleaned, spans[0][1]) if spans and spans[0][0] == 0 else None
    return f" {m.group(1)}" if m else ""


_STOP = re.compile(
    r"(?<![a-z0-9])(?:s\d{1,4}(?:[ ._]?e\d+)?|\d{1,2}x\d{2,3}|(?:19|20)\d\d|\d{3,4}[pi]|"
    r"hdtv|web-?dl|webrip|web|bluray|bdrip|brrip|dvdrip|x26[45]|h\.?26[45])(?![a-z0-9])",
    re.I,
)


def _prefix_title(cleaned: str) -> str:
    """The name up to its first season/episode/date/year/quality mark, as a title."""
    m = _STOP.search(cleaned, 1)
    text = cleaned[: m.start()] if m else cleaned
    return plain(re.sub(r"[._]+", " ", text))


def fix_title(title: str, cleaned: str, is_tv: bool) -> str:
    """parsett's title, corrected (see the module's docstring); never one without a word."""
    fixed = _fix(title, cleaned, is_tv)
    return fixed if has_word(fixed) else title


def _fix(title: str, cleaned: str, is_tv: bool) -> str:
    if not set(_words(title)) <= set(_words(cleaned)):  # parsett made it up ("HBOGo" -> "HBO")
        title = prefix if has_word(prefix := _prefix_title(cleaned)) else title
    if _CJK.search(cleaned) and (
        not re.search(r"[A-Za-z]{2}", title)
        or re.match(r"^\[[^\]]+\]\[[^\]]*" + _CJK.pattern, cleaned)
    ):
        title = _latin_bracket_title(cleaned) or _latin_run(cleaned) or title
    title = _realign(title, cleaned)
    title = _cut_at_open_bracket(title, cleaned)
    trailing = _TRAILING_BEFORE_YEAR if _followed_by_year(title, cleaned) else _TRAILING
    for _ in range(3):
        before = title
        m = _PAREN_TAIL.match(title) or _UNCLOSED.match(title)
        if m and has_word(m.group(1)) and not re.search(r"\bor$", m.group(1), re.I):
            title = m.group(1)
        stripped = trailing.sub("", title)
        if has_word(stripped):
            title = stripped
        if title == before:
            break
    title = _CHANNEL.sub("", title)
    if is_tv and _ANIME_GROUP.match(cleaned) and _ABSOLUTE_BEFORE.search(cleaned):
        m = _ABSOLUTE_TAIL.match(title)
        if m and has_word(m.group(1)):
            title = m.group(1)
    if is_tv and has_word(stripped := _SEASON_TAIL.sub("", title)):
        title = stripped
    return plain(title)
