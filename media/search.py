"""Searching the library: movies, shows and episode names, titles and original titles.

``search(query)`` answers from the index that triggers keep in step with every write
(media/search_index.py): SQLite FTS5 on the embedded default, PostgreSQL full-text and
``pg_trgm`` on PostgreSQL. Ranked: the exact name first, then names that start with the query,
then names with every word, then the rest (substrings, corrected typos); shorter names first
within a rank. Case and accents never matter ("leon" finds Léon).

Forgiving: when the words find little, each word the library does not know is corrected to the
nearest word it does know (Damerau-Levenshtein distance, at most 1 for short words and 2 for
longer ones, candidates found by shared trigrams), so "matirx" finds The Matrix. The
dictionary of words is read from the index once per process and again only after names change
(``media_search_state.generation``).

``matching_titles(query)`` is the same match as a subquery of title ids (the library's filter).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from django.db import connection
from django.db.models.expressions import RawSQL

from media.models import Episode, Status, Title

CANDIDATES = 200  # rows read per way of matching, before ranking
RANK_AT_MOST = 3000  # more matches than this are not ranked by the database (see _by_words)
MAX_QUERY = 200
_ARTICLES = ("the ", "a ", "an ", "le ", "la ", "les ", "l ", "der ", "die ", "das ", "el ")
_NOT_WORD = re.compile(r"[^\w]+", re.UNICODE)


def fold(text: str) -> str:
    """Lower case, no accents, words separated by single spaces: ``"Léon: The Pro"`` ->
    ``"leon the pro"``."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(_NOT_WORD.sub(" ", bare).replace("_", " ").split())


def _without_article(folded: str) -> str:
    for article in _ARTICLES:
        if folded.startswith(article):
            return folded[len(article) :]
    return folded


@dataclass(frozen=True)
class Hit:
    title: Title
    episode: Episode | None
    rank: int  # 0 exact, 1 starts with the query, 2 every word, 3 the rest

    @property
    def name(self) -> str:
        return self.episode.name if self.episode is not None else self.title.title


@dataclass
class Results:
    query: str
    hits: list[Hit] = field(default_factory=list)
    corrected: str = ""  # the query as corrected, when the words were not known


# --- the index, per database ---------------------------------------------------------------


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _fts_words(words: list[str]) -> str:
    return " ".join(f'"{w}"*' for w in words)


def _tsquery(words: list[str]) -> str:
    return " & ".join(f"{w}:*" for w in words)


Row = tuple[int, int | None, str, str]  # title id, episode id, name, original


def _by_words(words: list[str]) -> list[Row]:
    with connection.cursor() as cursor:
        if _postgres():
            cursor.execute(
                "SELECT s.title_id, s.episode_id, s.name, s.original FROM media_search s "
                "JOIN media_title t ON t.id = s.title_id "
                "WHERE s.document @@ to_tsquery('simple', %s) AND t.status <> %s "
                "ORDER BY length(s.folded), s.id LIMIT %s",
                [_tsquery(words), Status.REMOVED, CANDIDATES],
            )
        else:
            match = _fts_words(words)
            # Ranking reads every match: fine for a few thousand, not for a word in half the
            # library ("the"). Then the names that start with the words come first, unranked.
            cursor.execute(
                "SELECT count(*) FROM (SELECT rowid FROM media_search WHERE media_search "
                "MATCH %s LIMIT %s)",
                [match, RANK_AT_MOST + 1],
            )
            if cursor.fetchone()[0] <= RANK_AT_MOST:
                cursor.execute(
                    "SELECT title_id, episode_id, name, original FROM media_search "
                    "WHERE media_search MATCH %s ORDER BY rank LIMIT %s",
                    [match, CANDIDATES],
                )
            else:
                cursor.execute(
                    "SELECT title_id, episode_id, name, original FROM media_search "
                    "WHERE media_search MATCH %s LIMIT %s",
                    ["name : ^" + match, CANDIDATES],
                )
        return list(cursor.fetchall())


def _by_substring(text: str) -> list[Row]:
    """Names that contain ``text`` (3 characters at least) anywhere, inside words too."""
    with connection.cursor() as cursor:
        if _postgres():
            like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            cursor.execute(
                "SELECT s.title_id, s.episode_id, s.name, s.original FROM media_search s "
                "JOIN media_title t ON t.id = s.title_id "
                "WHERE s.folded LIKE %s AND t.status <> %s "
                "ORDER BY length(s.folded), s.id LIMIT %s",
                [like, Status.REMOVED, CANDIDATES],
            )
        else:
            phrase = '"' + text.replace('"', " ") + '"'
            cursor.execute(
                "SELECT s.title_id, s.episode_id, s.name, s.original "
                "FROM media_search_trigram g JOIN media_search s ON s.rowid = g.rowid "
                "JOIN media_title t ON t.id = s.title_id "
                "WHERE media_search_trigram MATCH %s AND t.status <> %s "
                "ORDER BY g.rank LIMIT %s",
                [phrase, Status.REMOVED, CANDIDATES],
            )
        return list(cursor.fetchall())


def matching_titles(query: str) -> RawSQL:
    """The ids of titles with a name, original name or episode matching ``query`` (every
    word as a word prefix): a subquery for ``Title.objects.filter(pk__in=...)``."""
    words = fold(query[:MAX_QUERY]).split()
    if not words:
        return RawSQL("SELECT id FROM media_title", [])
    if _postgres():
        return RawSQL(
            "SELECT title_id FROM media_search WHERE document @@ to_tsquery('simple', %s)",
            [_tsquery(words)],
        )
    return RawSQL(
        "SELECT title_id FROM media_search WHERE media_search MATCH %s", [_fts_words(words)]
    )


# --- the spelling dictionary ---------------------------------------------------------------


def _trigrams(word: str) -> set[str]:
    padded = f"  {word} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def distance(a: str, b: str, limit: int = 3) -> int:
    """Damerau-Levenshtein distance (optimal string alignment), capped at ``limit``."""
    if abs(len(a) - len(b)) >= limit:
        return limit
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                value = min(value, previous2[j - 2] + 1)
            current[j] = value
        if min(current) >= limit:
            return limit
        previous2, previous = previous, current
    return min(previous[-1], limit)


class Dictionary:
    """The words of the index, and the nearest known word to an unknown one."""

    def __init__(self, words: list[tuple[str, int]]) -> None:
        self.words = [w for w, _ in words]
        self.frequency = {w: n for w, n in words}
        self.postings: dict[str, list[int]] = {}
        for n, word in enumerate(self.words):
            for gram in _trigrams(word):
                self.postings.setdefault(gram, []).append(n)

    def __contains__(self, word: str) -> bool:
        return word in self.frequency

    def correct(self, word: str) -> str | None:
        """The nearest known word (None when none is near enough, or for very short words)."""
        if len(word) < 4 or not word.isalpha():
            return None
        grams = _trigrams(word)
        shared: Counter[int] = Counter()
        for gram in grams:
            shared.update(self.postings.get(gram, ()))
        enough = max(1, len(grams) // 3)
        candidates = [n for n, c in shared.most_common(60) if c >= enough]
        allowed = 1 if len(word) <= 5 else 2
        best: tuple[int, int, str] | None = None
        for n in candidates:
            other = self.words[n]
            d = distance(word, other, allowed + 1)
            if d <= allowed:
                score = (d, -self.frequency[other], other)
                if best is None or score < best:
                    best = score
        return best[2] if best else None


_dictionary: tuple[int, Dictionary] | None = None
_dictionary_lock = threading.Lock()


def _generation() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT generation FROM media_search_state WHERE id = 1")
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def _read_words() -> list[tuple[str, int]]:
    with connection.cursor() as cursor:
        if _postgres():
            cursor.execute("SELECT word, ndoc FROM ts_stat('SELECT document FROM media_search')")
        else:
            cursor.execute("SELECT term, doc FROM media_search_terms")
        return [(str(w), int(n)) for w, n in cursor.fetchall()]


def dictionary() -> Dictionary:
    """This process's dictionary of the index's words, read again after names changed."""
    global _dictionary
    generation = _generation()
    with _dictionary_lock:
        if _dictionary is None or _dictionary[0] != generation:
            _dictionary = (generation, Dictionary(_read_words()))
        return _dictionary[1]


# --- searching -------------------------------------------------------------------------------


def _rank(row: Row, folded_query: str, words: list[str]) -> int:
    ranks = []
    for name in (row[2], row[3]):
        folded = fold(name)
        if not folded:
            continue
        bare = _without_article(folded)
        if folded_query in (folded, bare):
            ranks.append(0)
        elif folded.startswith(folded_query) or bare.startswith(folded_query):
            ranks.append(1)
        else:
            name_words = folded.split()
            every = all(any(nw.startswith(w) for nw in name_words) for w in words)
            ranks.append(2 if every else 3)
    return min(ranks, default=3)


def _gather(words: list[str], limit: int) -> list[Row]:
    rows = _by_words(words)
    text = " ".join(words)
    if len(rows) < limit and len(text) >= 3:
        rows += _by_substring(text)
    return rows


def search(query: str, *, limit: int = 20) -> Results:
    """The library's titles and episodes for ``query``, best first (at most ``limit``)."""
    query = (query or "").strip()[:MAX_QUERY]
    results = Results(query=query)
    words = fold(query).split()
    if not words:
        return results
    rows = _gather(words, limit)
    corrected_words = words
    if len(rows) < limit:
        known = dictionary()
        fixed = [w if w in known else (known.correct(w) or w) for w in words]
        if fixed != words:
            corrected_words = fixed
            results.corrected = " ".join(fixed)
            rows += _gather(fixed, limit)
    folded_query = " ".join(words)
    corrected_query = " ".join(corrected_words)
    best: dict[tuple[int, int | None], tuple[int, int, str]] = {}
    for row in rows:
        rank = _rank(row, folded_query, words)
        if rank == 3 and corrected_words != words:
            rank = min(3, _rank(row, corrected_query, corrected_words) + 1)
        ident = (row[0], row[1])
        score = (rank, len(row[2]), row[2].casefold())
        if ident not in best or score < best[ident]:
            best[ident] = score
    chosen = sorted(best.items(), key=lambda item: item[1])[:limit]
    titles = (
        Title.objects.in_library()
        .select_related("download")
        .in_bulk({title for (title, _episode), _ in chosen})
    )
    episode_ids = {episode for (_title, episode), _ in chosen if episode is not None}
    episodes = Episode.objects.select_related("season").in_bulk(episode_ids) if episode_ids else {}
    for (title_id, episode_id), (rank, _length, _name) in chosen:
        title = titles.get(title_id)
        if title is None:
            continue
        episode = episodes.get(episode_id) if episode_id is not None else None
        if episode_id is not None and episode is None:
            continue
        results.hits.append(Hit(title, episode, rank))
    return results
