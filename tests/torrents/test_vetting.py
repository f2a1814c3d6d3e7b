from __future__ import annotations

import pytest

from torrents.engine import TorrentFile
from torrents.vetting import Keep, episode_of, kind_of, vet

MB = 1024 * 1024


def files(*entries: tuple[str, int]) -> list[TorrentFile]:
    return [TorrentFile(i, path, size) for i, (path, size) in enumerate(entries)]


def test_movie_keeps_the_largest_video_and_subtitles() -> None:
    result = vet(
        files(
            ("Movie (2020)/Movie.2020.1080p.mkv", 4000 * MB),
            ("Movie (2020)/Movie.2020.720p.mkv", 1500 * MB),
            ("Movie (2020)/Movie.2020.1080p.en.srt", 80_000),
            ("Movie (2020)/Subs/French.ass", 90_000),
            ("Movie (2020)/Sample/movie-sample.mkv", 40 * MB),
            ("Movie (2020)/RARBG.txt", 30),
            ("Movie (2020)/poster.jpg", 200_000),
        ),
        "movie",
    )
    assert result.refused is None
    assert result.keep == [
        Keep(0, "video", None, None),
        Keep(2, "subtitle", None, None),
        Keep(3, "subtitle", None, None),
    ]
    assert result.skip == [1, 4, 5, 6]


def test_single_file_movie() -> None:
    result = vet(files(("The.Matrix.1999.1080p.BluRay.x264-GRP.mkv", 8000 * MB)), "movie")
    assert (
        result.keep == [Keep(0, "video", None, None)]
        and result.skip == []
        and result.refused is None
    )


def test_double_extension_program_is_refused_with_a_reason() -> None:
    result = vet(
        files(("Movie.2021.1080p/movie.mp4.exe", 700 * MB), ("Movie.2021.1080p/readme.txt", 300)),
        "movie",
    )
    assert result.keep == []
    assert result.skip == [0, 1]
    assert (
        result.refused
        == "This torrent holds only a program (movie.mp4.exe), not a video — Plank won't download it."
    )


@pytest.mark.parametrize(
    "name",
    ["setup.exe", "Movie.lnk", "play.scr", "run.bat", "x.cmd", "codec.msi", "a.com", "b.jar"],
)
def test_programs_and_shortcuts_are_never_kept(name: str) -> None:
    result = vet(files(("Film/Film.2019.mkv", 900 * MB), (f"Film/{name}", 2 * MB)), "movie")
    assert result.refused is None
    assert [k.index for k in result.keep] == [0]
    assert result.skip == [1]


def test_program_alone_is_refused() -> None:
    result = vet(files(("Codec Pack/install.msi", 50 * MB)), "movie")
    assert result.refused is not None and "a program (install.msi)" in result.refused


def test_exe_next_to_a_video_is_skipped_not_refused() -> None:
    result = vet(files(("Film/Film.mkv", 900 * MB), ("Film/Film.mkv.exe", 900 * MB)), "movie")
    assert result.refused is None
    assert result.keep == [Keep(0, "video", None, None)]
    assert result.skip == [1]


def test_sample_only_is_refused() -> None:
    result = vet(
        files(("Movie.2022/Sample/movie.sample.mkv", 45 * MB), ("Movie.2022/info.nfo", 1000)),
        "movie",
    )
    assert result.refused is not None
    assert result.refused.startswith("This torrent holds only a sample (movie.sample.mkv, 47.2 MB)")
    assert "not the full movie" in result.refused


def test_tiny_video_counts_as_a_sample() -> None:
    result = vet(files(("Clip/clip.mp4", 300_000)), "movie")
    assert result.refused is not None and "only a sample" in result.refused
    assert vet(files(("Clip/clip.mp4", 300_000)), "movie", min_video_size=100_000).refused is None


def test_iso_only_is_refused() -> None:
    result = vet(files(("Movie.2005.DVD/movie.iso", 4400 * MB)), "movie")
    assert result.refused == (
        "This torrent holds a disc image (movie.iso), not a playable video file — Plank can't stream disc images."
    )


def test_disc_folder_is_refused() -> None:
    result = vet(
        files(("Movie/BDMV/STREAM/00001.m2ts", 20_000 * MB), ("Movie/BDMV/index.bdmv", 300)),
        "movie",
    )
    assert result.refused is not None and "disc image" in result.refused


def test_rar_only_is_refused() -> None:
    result = vet(
        files(
            ("Movie.2010.720p/movie.rar", 100 * MB),
            ("Movie.2010.720p/movie.r00", 100 * MB),
            ("Movie.2010.720p/movie.r01", 100 * MB),
            ("Movie.2010.720p/movie.sfv", 1000),
        ),
        "movie",
    )
    assert result.refused is not None
    assert result.refused.startswith(
        "This torrent holds only archives (movie.rar, movie.r00 and 1 more)"
    )
    assert result.skip == [0, 1, 2, 3]


def test_no_video_at_all() -> None:
    assert (
        vet(files(("Album/01.flac", 30 * MB)), "movie").refused
        == "This torrent holds no video files Plank can play."
    )
    only_subs = vet(files(("Subs/movie.srt", 30_000)), "movie").refused
    assert only_subs == "This torrent holds only subtitles (movie.srt), no video."


def test_show_maps_every_episode() -> None:
    result = vet(
        files(
            ("Show.S01.1080p/Show.S01E02.1080p.mkv", 900 * MB),
            ("Show.S01.1080p/Show.S01E01.1080p.mkv", 950 * MB),
            ("Show.S01.1080p/Show.S01E01.1080p.en.srt", 40_000),
            ("Show.S01.1080p/Sample/Show.S01E01.sample.mkv", 30 * MB),
            ("Show.S01.1080p/Extras/Behind the scenes.mkv", 200 * MB),
        ),
        "tv",
    )
    assert result.refused is None
    assert result.videos == [Keep(1, "video", 1, 1), Keep(0, "video", 1, 2)]
    assert Keep(2, "subtitle", 1, 1) in result.keep
    assert result.skip == [3, 4]


def test_show_season_from_folder_and_duplicates() -> None:
    result = vet(
        files(
            ("Show/Season 2/01 - Pilot.mkv", 300 * MB),
            ("Show/Season 2/Show.S02E01.720p.mkv", 500 * MB),
            ("Show/Season 2/Show.S02E02.mkv", 400 * MB),
        ),
        "tv",
    )
    # two files claim S02E01: the larger one is kept
    assert result.videos == [Keep(1, "video", 2, 1), Keep(2, "video", 2, 2)]
    assert result.skip == [0]


def test_show_without_numbers_keeps_its_videos() -> None:
    result = vet(files(("Special/Special.Christmas.mkv", 900 * MB)), "tv")
    assert result.keep == [Keep(0, "video", None, None)] and result.refused is None


def test_show_sample_only_is_refused_in_show_words() -> None:
    result = vet(files(("Show.S01E01/sample.mkv", 20 * MB)), "tv")
    assert result.refused is not None and "not the full episode" in result.refused


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("a/movie.mkv", "video"),
        ("a/MOVIE.MP4", "video"),
        ("a/movie.mp4.exe", "program"),
        ("a/movie.part01.rar", "archive"),
        ("a/movie.r23", "archive"),
        ("a/movie.7z", "archive"),
        ("a/movie.001", "archive"),
        ("a/disc.img", "disc"),
        ("a/disc.nrg", "disc"),
        ("a/disc.bin", "disc"),
        ("a/VIDEO_TS/VTS_01_1.VOB", "disc"),
        ("a/subs.vtt", "subtitle"),
        ("a/subs.sub", "subtitle"),
        ("a/subs.ssa", "subtitle"),
        ("a/notes.txt", "other"),
        ("a/noextension", "other"),
    ],
)
def test_kind_of(path: str, kind: str) -> None:
    assert kind_of(path) == kind


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("Show.S03E07.mkv", (3, 7)),
        ("show.2x05.avi", (2, 5)),
        ("Show/Season 4/Show - 09.mkv", (4, 9)),
        ("Show - 12.mkv", (1, 12)),
        ("Movie.2001.mkv", (None, None)),
    ],
)
def test_episode_of(path: str, expected: tuple[int | None, int | None]) -> None:
    assert episode_of(path) == expected
