"""browse.forms: the "Fix match" page's search and choice."""

from __future__ import annotations

import pytest
from django.http import QueryDict

from browse.forms import MatchChoiceForm, MatchSearchForm, SearchTerms
from browse.tmdb import MAX_ID
from browse.tmdb_answers import MAX_YEAR, MIN_YEAR
from media.models import Title

TITLE = Title(kind="movie", title="Matrix", year=1999)


def terms(query: str) -> SearchTerms:
    return MatchSearchForm(QueryDict(query), title=TITLE).terms()


def test_what_is_left_out_comes_from_the_title() -> None:
    assert terms("") == SearchTerms("movie", "Matrix", 1999)


def test_what_is_given_wins() -> None:
    assert terms("kind=tv&q=++Breaking+++Bad+&year=2008") == SearchTerms("tv", "Breaking Bad", 2008)
    assert terms("q=" + "x" * 300).query == "x" * 100


@pytest.mark.parametrize("year", ["", "abc", "-5", str(MIN_YEAR - 1), str(MAX_YEAR + 1)])
def test_an_empty_or_unreadable_year_is_any_year(year: str) -> None:
    assert terms(f"year={year}").year is None


def test_the_year_bounds_are_inclusive() -> None:
    assert terms(f"year={MIN_YEAR}").year == MIN_YEAR
    assert terms(f"year={MAX_YEAR}").year == MAX_YEAR


def test_an_unknown_kind_is_the_titles() -> None:
    assert terms("kind=film").kind == "movie"


@pytest.mark.parametrize(
    ("data", "valid"),
    [
        ({"kind": "movie", "tmdb_id": "603"}, True),
        ({"kind": "tv", "tmdb_id": str(MAX_ID)}, True),
        ({"kind": "film", "tmdb_id": "603"}, False),
        ({"kind": "movie", "tmdb_id": "x"}, False),
        ({"kind": "movie", "tmdb_id": "0"}, False),
        ({"kind": "movie", "tmdb_id": str(MAX_ID + 1)}, False),
        ({"kind": "movie"}, False),
    ],
)
def test_the_choice(data: dict[str, str], valid: bool) -> None:
    assert MatchChoiceForm(data).is_valid() is valid
