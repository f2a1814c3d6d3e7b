from __future__ import annotations

import json
from enum import IntEnum

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plank.live.keys import (
    check_key,
    from_json,
    from_path,
    is_prefix,
    make_key,
    prefixes,
    to_json,
    to_path,
)


def test_make_key_returns_a_tuple_of_its_parts() -> None:
    assert make_key("media") == ("media",)
    assert make_key("media", "list", "movie") == ("media", "list", "movie")
    assert make_key("tmdb", "trending", "movie", 1) == ("tmdb", "trending", "movie", 1)


@pytest.mark.parametrize(
    "parts",
    [
        (),
        ("",),
        ("media", ""),
        ("media/list",),
        ("media", 1.5),
        ("media", None),
        ("media", True),
        ("media", b"bytes"),
        (("nested",),),
    ],
)
def test_make_key_refuses_bad_parts(parts: tuple) -> None:
    with pytest.raises(ValueError):
        make_key(*parts)


def test_canonical_int_strings_become_ints() -> None:
    assert make_key("media", "42") == ("media", 42)
    assert make_key("n", "-3", "0") == ("n", -3, 0)
    # not the canonical spelling of an int: stays a string
    assert make_key("n", "042", "+1", "-0", "1e3", " 1") == ("n", "042", "+1", "-0", "1e3", " 1")


def test_int_subclasses_become_plain_ints() -> None:
    class Kind(IntEnum):
        MOVIE = 1

    key = make_key("media", Kind.MOVIE)
    assert key == ("media", 1)
    assert type(key[1]) is int
    assert to_path(key) == "media/1"


def test_check_key_accepts_tuples_and_lists_only() -> None:
    assert check_key(("media", 42)) == ("media", 42)
    assert check_key(["media", "42"]) == ("media", 42)
    with pytest.raises(ValueError):
        check_key("media")
    with pytest.raises(ValueError):
        check_key(())


def test_is_prefix() -> None:
    key = ("tmdb", "trending", "movie", 1)
    assert is_prefix(("tmdb",), key)
    assert is_prefix(("tmdb", "trending"), key)
    assert is_prefix(key, key)
    assert not is_prefix(("media",), key)
    assert not is_prefix(("tmdb", "popular"), key)
    assert not is_prefix((*key, 2), key)
    assert not is_prefix(("tm",), key)  # whole segments, not string prefixes
    # segment-wise, as a path compares: a hand-written "1" matches 1
    assert is_prefix(("media", "1"), ("media", 1, "files"))
    assert not is_prefix(("media", "01"), ("media", 1))


def test_prefixes_shortest_first_ending_with_the_key() -> None:
    assert list(prefixes(("tmdb", "trending", "movie", 1))) == [
        ("tmdb",),
        ("tmdb", "trending"),
        ("tmdb", "trending", "movie"),
        ("tmdb", "trending", "movie", 1),
    ]
    assert list(prefixes(("media",))) == [("media",)]


def test_json_round_trip_through_real_json() -> None:
    key = ("tmdb", "trending", "movie", 1)
    assert to_json(key) == ["tmdb", "trending", "movie", 1]
    assert from_json(json.loads(json.dumps(to_json(key)))) == key


@pytest.mark.parametrize(
    "value",
    [
        None,
        "media",
        {"key": ["media"]},
        [],
        [""],
        ["a/b"],
        ["media", 1.0],
        ["media", True],
        ["media", None],
        ["media", ["nested"]],
        ("media",),  # a tuple is not what JSON decodes to
    ],
)
def test_from_json_refuses_junk(value: object) -> None:
    with pytest.raises(ValueError):
        from_json(value)


def test_path_round_trip() -> None:
    assert to_path(("media", "list", "movie")) == "media/list/movie"
    assert to_path(("media", 42)) == "media/42"
    assert from_path("media/list/movie") == ("media", "list", "movie")
    assert from_path("media/42") == ("media", 42)
    assert from_path("tmdb/trending/movie/1") == ("tmdb", "trending", "movie", 1)
    assert from_path("n/-3/007") == ("n", -3, "007")


@pytest.mark.parametrize("path", ["", "/", "media/", "/media", "media//42"])
def test_from_path_refuses_malformed_paths(path: str) -> None:
    with pytest.raises(ValueError):
        from_path(path)


parts = st.one_of(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.text(min_size=1, max_size=12).filter(lambda s: "/" not in s),
)


@given(st.lists(parts, min_size=1, max_size=6))
def test_every_made_key_round_trips_through_json_and_path(raw: list) -> None:
    key = make_key(*raw)
    assert from_json(json.loads(json.dumps(to_json(key)))) == key
    assert from_path(to_path(key)) == key
    assert list(prefixes(key))[-1] == key
    assert all(is_prefix(p, key) for p in prefixes(key))
