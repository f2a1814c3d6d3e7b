"""The library's search index in the database: tables and the triggers that keep them in step.

One row per title (its name and original name) and one per episode (its name, under its show),
written by triggers on ``media_title`` and ``media_episode``: every write (a view, the admin, a
command, ``sync``, a ``QuerySet.update``, raw SQL) updates the index in the same transaction,
and a rollback takes both back. Row ids: ``2 * title.id`` for a title, ``2 * episode.id + 1``
for an episode. ``media_search_state.generation`` counts changes of names, so a process knows
when its in-memory spelling dictionary is out of date (media/search.py): a new random value on
every change of a name.

- SQLite: FTS5. ``media_search`` with the ``unicode61`` tokenizer (case and accents folded,
  prefix indexes of 2 and 3 characters) for words and prefixes; ``media_search_trigram`` with
  the ``trigram`` tokenizer for substrings; ``media_search_terms`` (``fts5vocab``) lists the
  folded words, the spelling dictionary's source.
- PostgreSQL: a table with a ``tsvector`` (``simple`` configuration over ``unaccent``d lower
  case text, GIN) for words and prefixes, and a ``pg_trgm`` GIN index on the folded text for
  substrings. The migration creates the ``pg_trgm`` and ``unaccent`` extensions (both trusted:
  a database owner may create them).

Created by the migration ``media/migrations/0005_library_search.py``. On SQLite a later
migration that rebuilds ``media_title`` or ``media_episode`` (Django copies the table into a new
one) drops their triggers with the old table, so after every ``migrate`` :func:`ensure` puts
back any trigger that is missing and fills the index again (``post_migrate``, media/apps.py).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.db import connections, transaction

log = logging.getLogger(__name__)

SQLITE_CREATE = [
    """CREATE VIRTUAL TABLE media_search USING fts5(
        name, original, kind UNINDEXED, title_id UNINDEXED, episode_id UNINDEXED,
        tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')""",
    """CREATE VIRTUAL TABLE media_search_trigram USING fts5(name, original, tokenize = 'trigram')""",
    "CREATE VIRTUAL TABLE media_search_terms USING fts5vocab(media_search, 'row')",
    "CREATE TABLE media_search_state (id INTEGER PRIMARY KEY, generation INTEGER NOT NULL)",
    "INSERT INTO media_search_state (id, generation) VALUES (1, 0)",
]

_SQLITE_TITLE_ROW = (
    "INSERT INTO media_search (rowid, name, original, kind, title_id, episode_id) "
    "VALUES (new.id * 2, new.title, new.original_title, new.kind, new.id, NULL); "
    "INSERT INTO media_search_trigram (rowid, name, original) "
    "VALUES (new.id * 2, new.title, new.original_title);"
)
_SQLITE_EPISODE_ROW = (
    "INSERT INTO media_search (rowid, name, original, kind, title_id, episode_id) "
    "SELECT new.id * 2 + 1, new.name, '', 'episode', s.show_id, new.id "
    "FROM media_season s WHERE s.id = new.season_id AND new.name != ''; "
    "INSERT INTO media_search_trigram (rowid, name, original) "
    "SELECT new.id * 2 + 1, new.name, '' WHERE new.name != '';"
)
_SQLITE_DROP_TITLE = (
    "DELETE FROM media_search WHERE rowid = old.id * 2; "
    "DELETE FROM media_search_trigram WHERE rowid = old.id * 2;"
)
_SQLITE_DROP_EPISODE = (
    "DELETE FROM media_search WHERE rowid = old.id * 2 + 1; "
    "DELETE FROM media_search_trigram WHERE rowid = old.id * 2 + 1;"
)
# A new random value, not a count: a rolled-back change restores the old value, and a count
# would then be reused for another set of words.
_BUMP = "UPDATE media_search_state SET generation = random();"

SQLITE_TRIGGERS = [
    f"CREATE TRIGGER media_search_title_ai AFTER INSERT ON media_title BEGIN "
    f"{_SQLITE_TITLE_ROW} {_BUMP} END",
    f"CREATE TRIGGER media_search_title_au AFTER UPDATE OF title, original_title, kind "
    f"ON media_title BEGIN {_SQLITE_DROP_TITLE} {_SQLITE_TITLE_ROW} {_BUMP} END",
    f"CREATE TRIGGER media_search_title_ad AFTER DELETE ON media_title BEGIN "
    f"{_SQLITE_DROP_TITLE} {_BUMP} END",
    f"CREATE TRIGGER media_search_episode_ai AFTER INSERT ON media_episode BEGIN "
    f"{_SQLITE_EPISODE_ROW} {_BUMP} END",
    f"CREATE TRIGGER media_search_episode_au AFTER UPDATE OF name, season_id "
    f"ON media_episode BEGIN {_SQLITE_DROP_EPISODE} {_SQLITE_EPISODE_ROW} {_BUMP} END",
    f"CREATE TRIGGER media_search_episode_ad AFTER DELETE ON media_episode BEGIN "
    f"{_SQLITE_DROP_EPISODE} {_BUMP} END",
]

SQLITE_FILL = [
    "INSERT INTO media_search (rowid, name, original, kind, title_id, episode_id) "
    "SELECT id * 2, title, original_title, kind, id, NULL FROM media_title",
    "INSERT INTO media_search_trigram (rowid, name, original) "
    "SELECT id * 2, title, original_title FROM media_title",
    "INSERT INTO media_search (rowid, name, original, kind, title_id, episode_id) "
    "SELECT e.id * 2 + 1, e.name, '', 'episode', s.show_id, e.id FROM media_episode e "
    "JOIN media_season s ON s.id = e.season_id WHERE e.name != ''",
    "INSERT INTO media_search_trigram (rowid, name, original) "
    "SELECT id * 2 + 1, name, '' FROM media_episode WHERE name != ''",
]

SQLITE_DROP = [
    *(f"DROP TRIGGER IF EXISTS media_search_{t}" for t in ("title_ai", "title_au", "title_ad")),
    *(
        f"DROP TRIGGER IF EXISTS media_search_{t}"
        for t in ("episode_ai", "episode_au", "episode_ad")
    ),
    "DROP TABLE IF EXISTS media_search_terms",
    "DROP TABLE IF EXISTS media_search_trigram",
    "DROP TABLE IF EXISTS media_search",
    "DROP TABLE IF EXISTS media_search_state",
]

POSTGRES_CREATE = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    # unaccent() is only STABLE (its dictionary could change); naming the dictionary makes this
    # wrapper safe to declare IMMUTABLE, so it may appear in an index expression.
    """CREATE OR REPLACE FUNCTION media_search_fold(value text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
        $$ SELECT lower(unaccent('unaccent'::regdictionary, coalesce(value, ''))) $$""",
    """CREATE TABLE media_search (
        id bigint PRIMARY KEY,
        title_id bigint NOT NULL,
        episode_id bigint,
        kind varchar(8) NOT NULL,
        name text NOT NULL,
        original text NOT NULL,
        folded text NOT NULL,
        document tsvector NOT NULL)""",
    "CREATE INDEX media_search_document ON media_search USING gin (document)",
    "CREATE INDEX media_search_folded ON media_search USING gin (folded gin_trgm_ops)",
    "CREATE INDEX media_search_title ON media_search (title_id)",
    "CREATE TABLE media_search_state (id integer PRIMARY KEY, generation bigint NOT NULL)",
    "INSERT INTO media_search_state (id, generation) VALUES (1, 0)",
    """CREATE OR REPLACE FUNCTION media_search_put(
            row_id bigint, show bigint, episode bigint, row_kind text, row_name text,
            row_original text) RETURNS void LANGUAGE plpgsql AS $$
        DECLARE folded_text text := media_search_fold(row_name || ' ' || row_original);
        BEGIN
            INSERT INTO media_search (id, title_id, episode_id, kind, name, original, folded,
                                      document)
            VALUES (row_id, show, episode, row_kind, row_name, row_original, folded_text,
                    to_tsvector('simple', folded_text))
            ON CONFLICT (id) DO UPDATE SET title_id = EXCLUDED.title_id,
                episode_id = EXCLUDED.episode_id, kind = EXCLUDED.kind, name = EXCLUDED.name,
                original = EXCLUDED.original, folded = EXCLUDED.folded,
                document = EXCLUDED.document;
        END $$""",
    """CREATE OR REPLACE FUNCTION media_search_title_sync() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                DELETE FROM media_search WHERE id = OLD.id * 2;
            ELSE
                PERFORM media_search_put(NEW.id * 2, NEW.id, NULL, NEW.kind, NEW.title,
                                         NEW.original_title);
            END IF;
            UPDATE media_search_state SET generation = (random() * 9e18)::bigint WHERE id = 1;
            RETURN NULL;
        END $$""",
    """CREATE OR REPLACE FUNCTION media_search_episode_sync() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP <> 'INSERT' THEN
                DELETE FROM media_search WHERE id = OLD.id * 2 + 1;
            END IF;
            IF TG_OP <> 'DELETE' AND NEW.name <> '' THEN
                PERFORM media_search_put(NEW.id * 2 + 1, s.show_id, NEW.id, 'episode',
                                         NEW.name, '')
                FROM media_season s WHERE s.id = NEW.season_id;
            END IF;
            UPDATE media_search_state SET generation = (random() * 9e18)::bigint WHERE id = 1;
            RETURN NULL;
        END $$""",
    """CREATE TRIGGER media_search_title AFTER INSERT OR DELETE
        OR UPDATE OF title, original_title, kind ON media_title
        FOR EACH ROW EXECUTE FUNCTION media_search_title_sync()""",
    """CREATE TRIGGER media_search_episode AFTER INSERT OR DELETE
        OR UPDATE OF name, season_id ON media_episode
        FOR EACH ROW EXECUTE FUNCTION media_search_episode_sync()""",
]

POSTGRES_FILL = [
    "SELECT media_search_put(id * 2, id, NULL, kind, title, original_title) FROM media_title",
    "SELECT media_search_put(e.id * 2 + 1, s.show_id, e.id, 'episode', e.name, '') "
    "FROM media_episode e JOIN media_season s ON s.id = e.season_id WHERE e.name <> ''",
]

POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS media_search_title ON media_title",
    "DROP TRIGGER IF EXISTS media_search_episode ON media_episode",
    "DROP FUNCTION IF EXISTS media_search_title_sync()",
    "DROP FUNCTION IF EXISTS media_search_episode_sync()",
    "DROP FUNCTION IF EXISTS media_search_put(bigint, bigint, bigint, text, text, text)",
    "DROP TABLE IF EXISTS media_search",
    "DROP TABLE IF EXISTS media_search_state",
    "DROP FUNCTION IF EXISTS media_search_fold(text)",
]


def create(schema_editor: Any) -> None:
    """Create the index for the database behind ``schema_editor`` and fill it."""
    if schema_editor.connection.vendor == "postgresql":
        statements = POSTGRES_CREATE + POSTGRES_FILL
    else:
        statements = SQLITE_CREATE + SQLITE_TRIGGERS + SQLITE_FILL
    for statement in statements:
        schema_editor.execute(statement)


def drop(schema_editor: Any) -> None:
    statements = POSTGRES_DROP if schema_editor.connection.vendor == "postgresql" else SQLITE_DROP
    for statement in statements:
        schema_editor.execute(statement)


def _trigger_name(statement: str) -> str:
    match = re.match(r"CREATE TRIGGER (\w+)", statement)
    assert match is not None
    return match.group(1)


def ensure(using: str = "default") -> list[str]:
    """Put back the SQLite triggers a table rebuild dropped, and refill the index; the names.

    Nothing to do on PostgreSQL (``ALTER TABLE`` keeps triggers) or before the index exists.
    """
    connection = connections[using]
    if connection.vendor != "sqlite":
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT type, name FROM sqlite_master WHERE name LIKE 'media_search%'")
        found = {(kind, name) for kind, name in cursor.fetchall()}
    if ("table", "media_search") not in found:
        return []
    missing = [t for t in SQLITE_TRIGGERS if ("trigger", _trigger_name(t)) not in found]
    if not missing:
        return []
    with transaction.atomic(using=using), connection.cursor() as cursor:
        for statement in missing:
            cursor.execute(statement)
        cursor.execute("DELETE FROM media_search")
        cursor.execute("DELETE FROM media_search_trigram")
        for statement in SQLITE_FILL:
            cursor.execute(statement)
        cursor.execute(_BUMP)
    names = [_trigger_name(t) for t in missing]
    log.info("library search: put back %s and filled the index again", ", ".join(names))
    return names


def after_migrate(sender: Any = None, using: str = "default", **kwargs: Any) -> None:
    """``post_migrate``: the index's triggers are all there after every migration."""
    ensure(using)
