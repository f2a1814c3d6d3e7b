"""Text hygiene around release-name parsing: what goes into the parser and what comes out.

``clean_name`` is the name as the parser sees it: markup (``<script>...</script>``, any
``<tag>``), control and zero-width characters and surplus whitespace removed, an uploader's site
prefix dropped (``www.Torrenting.com - ``, ``[ www.Speed.Cd ] -``, ``test.net - ``), at most
``MAX_NAME_LENGTH`` characters. ``plain`` makes a display string of a parsed value,
``capitalise`` gives an all-lowercase title capitals, and ``title_key`` is the form two titles
are compared in.
"""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_LENGTH = 500

_SCRIPT_BLOCK = re.compile(r"<\s*(script|style)\b[^>]*>.*?<\s*/\s*\1\s*>", re.I | re.S)
_TAG = re.compile(r"<\s*/?\s*[a-z!][^<>]*>", re.I)
_SPACES = re.compile(r"\s+")
# "www.Torrenting.com - ", "[ www.Speed.Cd ] -", "[TorrentCouch.com].", "test-hyphen123.org.au - ":
# an uploader's site, not the title.
_SITE_PREFIX = re.compile(
    r"^(?:[\[(]\s*(?:www\.)?[\w-]+(?:\.[\w-]+)*\.[a-z]{2,6}\s*[\])]"
    r"|【[^】]*(?:www\.|\.com|\.net|\.org)[^】]*】"
    r"|(?:www\.)?[\w-]+(?:\.[\w-]+)*\.(?:com|net|org|info|biz|tv|cc|to|me|io|co|in|ru|lat|ws)"
    r"(?:\.[a-z]{2})?\s+-"
    r"|www\.[\w-]+(?:\.[\w-]+)+\s+-)"
    r"[\s._-]*",
    re.I,
)
_WRAPPED = re.compile(r"^\[\s+([^\[\]]+?)\s+\]$")
_EDGE_JUNK = " .-_|,;:~"
_PAIRS = {"(": ")", "[": "]", "{": "}"}


def strip_controls(text: str) -> str:
    # Cc (control), Cf (format: zero-width, bidi overrides), Cs (lone surrogates), Co, Cn.
    return "".join(
        " " if ch in "\t\n\r" else ch
        for ch in text
        if ch in "\t\n\r" or unicodedata.category(ch)[0] != "C"
    )


def clean_name(name: str) -> str:
    """The name as it goes into the parser: markup, control characters, surplus whitespace and a
    leading site prefix removed, at most MAX_NAME_LENGTH characters."""
    text = strip_controls(name[: MAX_NAME_LENGTH * 4])
    text = _SCRIPT_BLOCK.sub(" ", text)
    text = _TAG.sub(" ", text)
    text = text.replace("<", " ").replace(">", " ")
    text = _SPACES.sub(" ", text).strip()
    text = _SITE_PREFIX.sub("", text, count=1) or text
    if m := _WRAPPED.match(text):  # "[ Show S02E10 1080p WEB-DL x264-GRP ]"
        text = m.group(1)
    return text[:MAX_NAME_LENGTH].strip()


def plain(text: str) -> str:
    """A display string: no markup characters, single spaces, no separator junk or unpaired
    brackets at the ends ("(500) Days of Summer" keeps its parenthesis)."""
    text = strip_controls(text).replace("<", " ").replace(">", " ")
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


def capitalise(title: str) -> str:
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


def has_word(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def title_key(title: str) -> str:
    """A title as titles are compared: case, accents, apostrophes and punctuation ignored
    ("Marvel's Agents of S.H.I.E.L.D." -> "marvels agents of s h i e l d", "Amélie" -> "amelie")."""
    text = unicodedata.normalize("NFKD", title)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = re.sub(r"['’`´]", "", text)
    return " ".join(re.sub(r"[\W_]+", " ", text).split())
