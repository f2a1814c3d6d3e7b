from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from media.files import inside
from media.filing import (
    FALLBACK_NAME,
    MAX_NAME_BYTES,
    library_path,
    sanitize_name,
    sidecar_path,
    unique_path,
)
from media.models import Kind

FORBIDDEN = re.compile(r'[/\\:*?"<>|\x00-\x1f\x7f]')
WINDOWS_RESERVED = (
    {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(10)} | {f"lpt{i}" for i in range(10)}
)


def assert_safe_component(part: str) -> None:
    assert part
    assert part not in (".", "..")
    assert not FORBIDDEN.search(part), part
    assert part == part.strip(" ."), part
    assert len(part.encode()) <= 255
    assert part.split(".", 1)[0].strip().lower() not in WINDOWS_RESERVED, part


def test_movie_path() -> None:
    assert library_path("movie", "Heat", 1995) == PurePosixPath("Heat (1995)/Heat (1995).mp4")


def test_movie_without_year() -> None:
    assert library_path(Kind.MOVIE, "Heat", None) == PurePosixPath("Heat/Heat.mp4")


def test_episode_path() -> None:
    assert library_path("tv", "The Wire", 2002, season=1, episode=2) == PurePosixPath(
        "The Wire (2002)/Season 01/The Wire - S01E02.mp4"
    )


def test_episode_numbers_padding_and_extension() -> None:
    assert library_path(Kind.TV, "Show", None, 0, 112, ext="mkv") == PurePosixPath(
        "Show/Season 00/Show - S00E112.mkv"
    )
    assert library_path("tv", "Show", 2020, 12, 3, ext=".MP4") == PurePosixPath(
        "Show (2020)/Season 12/Show - S12E03.mp4"
    )


def test_episode_needs_numbers_and_kind_must_be_known() -> None:
    with pytest.raises(ValueError):
        library_path("tv", "Show", 2020, season=1)
    with pytest.raises(ValueError):
        library_path("podcast", "Show", 2020)
    with pytest.raises(ValueError):
        library_path("movie", "Heat", 1995, ext="./../x")


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("../../etc/passwd", "etcpasswd"),
        ("..", FALLBACK_NAME),
        (".", FALLBACK_NAME),
        ("", FALLBACK_NAME),
        ("   ", FALLBACK_NAME),
        ("\x00\x01\x1f", FALLBACK_NAME),
        ("a/b:c*?", "abc"),
        ('<>|"\\', FALLBACK_NAME),
        ("CON", "CON_"),
        ("nul.txt", "nul_.txt"),
        ("com1", "com1_"),
        ("Con Air", "Con Air"),
        ("Star Wars: A New Hope", "Star Wars - A New Hope"),
        ("Trailing dots...", "Trailing dots"),
        (".hidden", "hidden"),
        ("Tab\tand\nnewline", "Tab and newline"),
        ("\u202egnp.exe", "gnp.exe"),
        ("Amélie", "Amélie"),
        ("🎬 Film 👨\u200d👩\u200d👧", "🎬 Film 👨\u200d👩\u200d👧"),
    ],
)
def test_sanitize_name(title: str, expected: str) -> None:
    assert sanitize_name(title) == expected
    assert_safe_component(sanitize_name(title))


def test_hostile_title_stays_inside_the_library(tmp_path: Path) -> None:
    rel = library_path("movie", "../../etc/passwd", 2001)
    assert rel == PurePosixPath("etcpasswd (2001)/etcpasswd (2001).mp4")
    target = inside(tmp_path, rel)
    assert target is not None and target.is_relative_to(tmp_path.resolve())


def test_reserved_name_is_fine_with_a_year_after_it() -> None:
    assert library_path("movie", "CON", 2001) == PurePosixPath("CON (2001)/CON (2001).mp4")
    assert library_path("movie", "CON", None) == PurePosixPath("CON_/CON_.mp4")
    assert library_path("tv", "aux", None, 1, 1) == PurePosixPath("aux_/Season 01/aux - S01E01.mp4")


def test_long_titles_are_capped_by_bytes() -> None:
    name = sanitize_name("x" * 500)
    assert name == "x" * MAX_NAME_BYTES
    emoji = sanitize_name("🎬" * 500)  # 4 bytes each
    assert emoji == "🎬" * (MAX_NAME_BYTES // 4)
    accented = sanitize_name("é" * 500)  # 2 bytes each, never cut in half
    assert accented == "é" * (MAX_NAME_BYTES // 2)
    path = library_path("tv", "y" * 500, 2020, 1, 1)
    for part in path.parts:
        assert_safe_component(part)


def test_truncation_does_not_end_on_a_space_or_dot() -> None:
    title = "a" * (MAX_NAME_BYTES - 1) + " b"
    assert sanitize_name(title) == "a" * (MAX_NAME_BYTES - 1)


@settings(max_examples=200, deadline=None)
@given(title=st.text(max_size=300), year=st.none() | st.integers(1888, 2100))
def test_any_title_gives_safe_components(title: str, year: int | None) -> None:
    for path in (
        library_path("movie", title, year),
        library_path("tv", title, year, season=1, episode=1, ext=".mkv"),
    ):
        assert not path.is_absolute()
        for part in path.parts:
            assert_safe_component(part)


def test_paths_can_be_created(tmp_path: Path) -> None:
    for title in ("../../etc/passwd", "CON", "a/b:c*?", "🎬" * 200, "x" * 500, "..."):
        target = inside(tmp_path, library_path("movie", title, 1999))
        assert target is not None
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"")
        assert target.is_file()


def test_unique_path(tmp_path: Path) -> None:
    path = tmp_path / "Heat (1995).mp4"
    assert unique_path(path) == path
    path.write_bytes(b"1")
    second = unique_path(path)
    assert second == tmp_path / "Heat (1995) (2).mp4"
    second.write_bytes(b"2")
    assert unique_path(path) == tmp_path / "Heat (1995) (3).mp4"


def test_unique_path_for_directories_and_dangling_links(tmp_path: Path) -> None:
    folder = tmp_path / "Heat (1995)"
    folder.mkdir()
    assert unique_path(folder) == tmp_path / "Heat (1995) (2)"
    link = tmp_path / "x.mp4"
    link.symlink_to(tmp_path / "missing")
    assert unique_path(link) == tmp_path / "x (2).mp4"


def test_sidecar_path() -> None:
    video = PurePosixPath("Heat (1995)/Heat (1995).mp4")
    assert sidecar_path(video, "en") == PurePosixPath("Heat (1995)/Heat (1995).en.vtt")
    assert sidecar_path(video, "pt-BR") == PurePosixPath("Heat (1995)/Heat (1995).pt-BR.vtt")
    assert sidecar_path(video, "") == PurePosixPath("Heat (1995)/Heat (1995).vtt")
    assert sidecar_path(video, "../x") == PurePosixPath("Heat (1995)/Heat (1995).x.vtt")
    assert sidecar_path(Path("/lib/a.mp4"), "fr") == Path("/lib/a.fr.vtt")
