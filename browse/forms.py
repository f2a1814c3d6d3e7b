"""The forms of the "Fix match" page: the TMDB search (GET) and the choice of a result (POST)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms

from browse.discover import tidy_query
from browse.tmdb import MAX_ID
from browse.tmdb_answers import MAX_YEAR, MIN_YEAR
from media.models import Kind, Title


@dataclass(frozen=True)
class SearchTerms:
    kind: str
    query: str
    year: int | None


class MatchSearchForm(forms.Form):
    """What to search TMDB for. A field left out falls back to what the title says; a year
    given empty or unreadable means any year; an unreadable kind is the title's."""

    q = forms.CharField(required=False)
    year = forms.IntegerField(required=False, min_value=MIN_YEAR, max_value=MAX_YEAR)
    kind = forms.ChoiceField(required=False, choices=Kind.choices)

    def __init__(self, data: Any, *, title: Title) -> None:
        super().__init__(data)
        self.title = title

    def terms(self) -> SearchTerms:
        self.is_valid()  # an invalid field is left out of cleaned_data, so it falls back
        cleaned = self.cleaned_data
        query = tidy_query(cleaned.get("q", ""))
        return SearchTerms(
            kind=cleaned.get("kind") or self.title.kind,
            query=query or self.title.title,
            year=cleaned.get("year") if "year" in self.data else self.title.year,
        )


class MatchChoiceForm(forms.Form):
    """The result a person chose: its kind and TMDB id."""

    INVALID = "Choose one of the results."

    kind = forms.ChoiceField(choices=Kind.choices)
    tmdb_id = forms.IntegerField(min_value=1, max_value=MAX_ID)
