"""Library search (media/search.py) on the configured database: SQLite FTS5 by default,
PostgreSQL full-text + pg_trgm when ``PLANK_DATABASE_URL`` is set. The index is kept by
triggers, so every way of writing a row is tried: save, QuerySet.update, raw SQL, delete, and
a rollback."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from media import search
from media.models import Episode, Kind, Status, Title
from tests.factories import make_show, make_title

pytestmark = pytest.mark.django_db


def names(query: str, **kwargs) -> list[str]:
    return [hit.name for hit in search.search(query, **kwargs).hits]


def test_fold() -> None:
    assert search.fold("Léon: The Professional") == "leon the professional"
    assert search.fold("  AMÉLIE  ") == "amelie"
    assert search.fold("Wall·E") == "wall e"
    assert search.fold("") == ""


def test_ranked_exact_then_prefix_then_words_then_the_rest() -> None:
    make_title(title="The Matrix Reloaded", year=2003)
    make_title(title="Enter the Matrix Trilogy")
    make_title(title="Matrix", year=1993)
    make_title(title="Matrix of Leadership")
    make_title(title="Heat")
    assert names("matrix") == [
        "Matrix",  # the exact name
        "The Matrix Reloaded",  # names that start with it (a leading article aside), shorter first
        "Matrix of Leadership",
        "Enter the Matrix Trilogy",  # the word elsewhere
    ]


def test_prefix_of_a_word_finds_the_title() -> None:
    make_title(title="Alien", year=1979)
    make_title(title="Aliens", year=1986)
    make_title(title="Heat")
    assert names("ali") == ["Alien", "Aliens"]
    assert names("alien") == ["Alien", "Aliens"]


def test_a_typo_is_forgiven() -> None:
    make_title(title="The Matrix", year=1999)
    make_title(title="Heat")
    results = search.search("matirx")
    assert [h.title.title for h in results.hits] == ["The Matrix"]
    assert results.corrected == "matrix"
    assert names("the matrx") == ["The Matrix"]
    assert names("heta") == ["Heat"]


def test_accents_fold_both_ways() -> None:
    make_title(title="Léon: The Professional")
    make_title(title="Amelie")
    assert names("leon") == ["Léon: The Professional"]
    assert names("amélie") == ["Amelie"]
    assert names("LEON the") == ["Léon: The Professional"]


def test_original_titles_and_episode_names_are_searched() -> None:
    make_title(title="Spirited Away", original_title="千と千尋の神隠し")
    make_title(title="The Intouchables", original_title="Intouchables")
    show = make_show(title="Breaking Bad", seasons={1: ["Pilot", "Cat's in the Bag..."]})
    hits = search.search("pilot").hits
    assert [(h.title.pk, h.episode.name if h.episode else None) for h in hits] == [
        (show.pk, "Pilot")
    ]
    assert hits[0].episode.season.number == 1
    assert names("千と千尋") == ["Spirited Away"]
    assert names("intouchables") == ["The Intouchables"]


def test_substrings_inside_words() -> None:
    make_title(title="Interstellar")
    assert names("stella") == ["Interstellar"]


def test_removed_titles_are_not_found() -> None:
    make_title(title="Gone Girl", status=Status.REMOVED)
    assert names("gone") == []


def test_junk_and_empty_queries() -> None:
    make_title(title="Heat")
    for junk in ["", "   ", '"', "*", "AND", "NEAR(", "'; DROP TABLE media_title; --", "%", "_"]:
        search.search(junk)  # never an error
    assert names('"heat"') == ["Heat"]
    assert names("x" * 5000) == []


# --- kept in step with every write ----------------------------------------------------------


def test_a_rename_by_save_and_by_update_and_by_sql() -> None:
    title = make_title(title="Working Title")
    title.title = "Final Name"
    title.save()
    assert names("final") == ["Final Name"] and names("working") == []
    Title.objects.filter(pk=title.pk).update(title="Updated Name")
    assert names("updated") == ["Updated Name"] and names("final") == []
    with connection.cursor() as cursor:
        cursor.execute("UPDATE media_title SET original_title = %s WHERE id = %s", ["Rå", title.pk])
    assert names("ra") == ["Updated Name"]


def test_deletes_leave_no_row() -> None:
    show = make_show(title="Lost", seasons={1: ["Pilot"]})
    make_title(title="Lost in Translation")
    Episode.objects.filter(name="Pilot").delete()
    assert names("pilot") == []
    show.delete()
    assert names("lost") == ["Lost in Translation"]


def test_a_rolled_back_write_leaves_the_index_as_it_was() -> None:
    make_title(title="Heat")
    with pytest.raises(RuntimeError), transaction.atomic():
        make_title(title="Heatwave")
        Title.objects.filter(title="Heat").update(title="Cold")
        raise RuntimeError("the change failed")
    assert names("heat") == ["Heat"]


def test_the_dictionary_follows_renames() -> None:
    title = make_title(title="Zebra")
    assert names("zebar") == ["Zebra"]
    title.title = "Okapi"
    title.save()
    assert names("okapu") == ["Okapi"]
    assert names("zebar") == []


def test_the_library_filter_uses_the_index(client_owner, htmx_headers) -> None:
    make_title(title="The Matrix", year=1999)
    make_title(title="Heat", year=1995)
    make_title(title="Matrix TV", kind=Kind.TV)
    page = client_owner.get("/", {"q": "matr", "partial": "grid"}, **htmx_headers).content
    assert b"The Matrix" in page and b"Heat" not in page and b"Matrix TV" not in page
