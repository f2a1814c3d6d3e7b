"""Absolute episode numbers of anime and CJK releases, which carry no season.

* ``anime_absolute``: in a ``[Group] ...`` name, the first number after the title followed by
  the end, a bracket or " - " and words: ``[K-F] Some Anime Show 214``,
  ``[Group]_Title_727_[VOSTFR]``, ``[Figmentos] Monster 34 - At the End of Darkness``; the usual
  ``[Group] Title - 05 (1080p)``; a range ``[Group] Title 01 - 119 [Batch]``, ``Title! 2 - 01~10``
  (a spaced dash needs a zero-padded first number: ``Title 2 - 05`` is episode 5 of "Title 2");
  ``[Group] Title #957``;
* ``leading_episode``: ``[Group] 06 Title (720p)``, a file ``003-004. Show Name - Ep Name.avi``;
* ``cjk_episodes``: ``第05话``, ``[第01-15集]``, ``【24】``, ``[01-24完]``, ``[215 END]``,
  ``[166-192TV]``.
"""

from __future__ import annotations

import re

MAX_EPISODES = 2000  # a range wider than this is not a range of episodes
RESOLUTIONS = {"480", "576", "720", "1080", "2160"}
YEARLIKE = re.compile(r"(?:19|20)\d\d")
STARTS_WITH_GROUP = re.compile(r"^\s*[\[【(]")
_YEAR_IN = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")
_HASH_EPISODE = re.compile(r"(?<=[a-z][ ._])#(\d{1,4})(?![\d])", re.I)

# "[Group] Title 214", "[Group]_Title_727_[VOSTFR]", "[Group] Monster 34 - At the End...",
# "[Group] Title 01 - 119 [Batch]": the first number after the title followed by the end, a
# bracket or " - " and words (a range "01 - 119" / "01~10" when the second is larger).
_GROUP_PREFIX = re.compile(r"^\s*\[[^\]]+\][ ._]*")
_NUMBER = re.compile(r"(?<![^\W_])(?<!\d\.)(\d{1,4})(?:v\d)?(?![^\W_]|\.\d)")
_DASHED = re.compile(r"[ ._]-[ ._](\d{1,4})(?:v\d)?(?=[ ._]*[\[(]|[ ._]*$|[ ._]*[-~][ ._]*\d)")
_RANGE_TAIL = re.compile(r"([ ._]*)[-~]([ ._]*)(\d{1,4})(?![^\W_])")
_EPISODE_TAIL = re.compile(
    r"[ ._]+-[ ._]+(?=[^\W\d_])(?!(?:episode|ep)\b)|[ ._]*[\[(]|[ ._]*$|_", re.I
)
_LEADING = re.compile(r"(0\d{1,2}|\d{1,3}(?=[ ._]+-[ ._]))(?:[ ._]+-)?[ ._]+(?=[^\W\d_])")
_EPISODE_WORD = re.compile(r"(?:episodes?|eps?)[ ._]*$", re.I)
_NOT_BEFORE = re.compile(r"(?:no|vol|part|season|episode|ep|#)\W*$", re.I)


def _range_from(name: str, number: re.Match[str]) -> tuple[tuple[int, ...], int] | None:
    """'01-12', '01~10', '01 - 119' after a number: (episodes, end). A spaced dash needs a
    zero-padded first number ('Title 2 - 05' is episode 5 of 'Title 2')."""
    r = _RANGE_TAIL.match(name, number.end())
    if not r:
        return None
    first, last = int(number.group(1)), int(r.group(3))
    if (r.group(1) or r.group(2)) and not number.group(1).startswith("0"):
        return None
    if first < last <= first + MAX_EPISODES:
        return tuple(range(first, last + 1)), r.end()
    return None


def anime_absolute(name: str) -> tuple[None, tuple[int, ...], int, int] | None:
    """(None, episodes, start, end) of an absolute episode number in a '[Group] ...' name."""
    if STARTS_WITH_GROUP.match(name) and (h := _HASH_EPISODE.search(name)):
        return None, (int(h.group(1)),), h.start(), h.end()
    prefix = _GROUP_PREFIX.match(name)
    if not prefix:
        return None
    body = prefix.end()
    numbers = []
    for m in _NUMBER.finditer(name, body):
        if m.start() == body or YEARLIKE.fullmatch(m.group(1)) or "[" in name[body : m.start()]:
            break
        numbers.append(m)
    for m in numbers:  # a range first: "Title 01 - 119 [Batch]", "Title! 2 - 01~10"
        if found := _range_from(name, m):
            word = _EPISODE_WORD.search(name, body, m.start())
            return None, found[0], word.start() if word else m.start(), found[1]
    if m := _DASHED.search(name, body):  # "[Group] Title - 05 (1080p)": the usual form
        if number := _NUMBER.match(name, m.start(1)):
            return None, (int(number.group(1)),), number.start(), number.end()
    for m in numbers:
        if not _NOT_BEFORE.search(name[body : m.start()]) and _EPISODE_TAIL.match(name, m.end()):
            return None, (int(m.group(1)),), m.start(), m.end()
    return None


_LEADING_FILE = re.compile(r"^(0\d{1,2})(?:-(0\d{1,2}))?(?:\s*-\s*|\.\s+|-)(?=[^\W\d_])")


def leading_episode(name: str) -> tuple[str, tuple[int, ...]] | None:
    """'[Group] 06 Title (720p)' -> ('[Group] Title E06 (720p)', (6,)); a file
    '003-004. Show Name - Ep Name.avi' -> ('Show Name E003 - Ep Name.avi', (3, 4))."""
    prefix = _GROUP_PREFIX.match(name)
    if prefix:
        m = _LEADING.match(name, prefix.end())
        episodes = (int(m.group(1)),) if m else ()
    else:
        m = None if _YEAR_IN.search(name) else _LEADING_FILE.match(name)
        last = int(m.group(2)) if m and m.group(2) else None
        episodes = (
            tuple(range(int(m.group(1)), last + 1)) if last else (int(m.group(1)),) if m else ()
        )
    if not m or not episodes:
        return None
    rest = name[: m.start()] + name[m.end() :]
    cut = re.search(r"[\[(]|\s-\s|\.[a-z0-9]{2,4}$", rest[m.start() :], re.I)
    at = m.start() + cut.start() if cut else len(rest)
    return f"{rest[:at].rstrip()} E{m.group(1)}{rest[at:]}".strip(), episodes


# "第05话", "[第01-15集]", "【24】", "[01-24完]", "[215 END]", "[166-192TV]" in CJK releases
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")
_CJK_EPISODES = re.compile(
    r"第(\d{1,4})(?:[-~](\d{1,4}))?[话話集]"
    r"|[\[【](\d{1,4})(?:[-~](\d{1,4}))?(?:[ _]?(?:END|完|TV|v\d))?[\]】]",
    re.I,
)


def cjk_episodes(name: str) -> tuple[None, tuple[int, ...], int, int] | None:
    if not _CJK.search(name):
        return None
    for m in _CJK_EPISODES.finditer(name):
        first, last = m.group(1) or m.group(3), m.group(2) or m.group(4)
        if YEARLIKE.fullmatch(first) or first in RESOLUTIONS:
            continue
        last = last or first
        if int(first) <= int(last) <= int(first) + MAX_EPISODES:
            return None, tuple(range(int(first), int(last) + 1)), m.start(), m.end()
    return None
