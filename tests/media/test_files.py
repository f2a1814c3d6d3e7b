"""media.files: the one path-containment rule, and the file-serving views that go through it."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from media.files import delete_title_files, download_path, inside, replacing
from media.models import MediaFile, Status, Title
from tests.conftest import body
from tests.factories import make_file, make_title

INFO_HASH = "c9e15763f722f23e98a29decdfae341b98d53056"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """``tmp_path/library`` with a file in it, and ``tmp_path/outside`` next to it."""
    library = tmp_path / "library"
    (library / "a").mkdir(parents=True)
    (library / "a" / "b.mp4").write_bytes(b"inside")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.mp4").write_bytes(b"SECRET")
    return library


# --------------------------------------------------------------------------- inside()


def test_a_path_inside_is_resolved(folder: Path) -> None:
    assert inside(folder, "a/b.mp4") == folder.resolve() / "a" / "b.mp4"
    assert inside(folder, Path("a", "b.mp4")) == folder.resolve() / "a" / "b.mp4"
    assert inside(str(folder), "a/not-yet-there.mp4") == folder.resolve() / "a/not-yet-there.mp4"
    assert inside(folder, "a/../a/b.mp4") == folder.resolve() / "a" / "b.mp4"  # stays inside


@pytest.mark.parametrize(
    "bad", ["../outside/secret.mp4", "a/../../outside/secret.mp4", "..", "a/../..", "../library2"]
)
def test_traversal_is_refused(folder: Path, bad: str) -> None:
    assert inside(folder, bad) is None


def test_absolute_paths(folder: Path) -> None:
    assert inside(folder, "/etc/passwd") is None
    assert inside(folder, folder.parent / "outside" / "secret.mp4") is None
    assert inside(folder, folder / "a" / "b.mp4") == folder.resolve() / "a" / "b.mp4"


def test_a_symlink_that_leaves_is_refused(folder: Path) -> None:
    (folder / "file-out.mp4").symlink_to(folder.parent / "outside" / "secret.mp4")
    (folder / "dir-out").symlink_to(folder.parent / "outside")
    (folder / "dangling-out.mp4").symlink_to(folder.parent / "outside" / "nothing.mp4")
    assert inside(folder, "file-out.mp4") is None
    assert inside(folder, "dir-out/secret.mp4") is None
    assert inside(folder, "dangling-out.mp4") is None


def test_a_symlink_that_stays_inside_is_followed(folder: Path) -> None:
    (folder / "link.mp4").symlink_to(folder / "a" / "b.mp4")
    (folder / "dir-link").symlink_to("a")  # relative target
    assert inside(folder, "link.mp4") == folder.resolve() / "a" / "b.mp4"
    assert inside(folder, "dir-link/b.mp4") == folder.resolve() / "a" / "b.mp4"


def test_a_symlinked_folder_is_its_target(tmp_path: Path, folder: Path) -> None:
    alias = tmp_path / "alias"
    alias.symlink_to(folder)
    assert inside(alias, "a/b.mp4") == folder.resolve() / "a" / "b.mp4"
    assert inside(alias, folder / "a" / "b.mp4") == folder.resolve() / "a" / "b.mp4"


def test_nul_bytes_are_refused(folder: Path) -> None:
    assert inside(folder, "a/b.mp4\x00.txt") is None
    assert inside(folder, "\x00") is None
    assert inside(f"{folder}\x00", "a/b.mp4") is None


@pytest.mark.parametrize("same", ["", ".", "a/..", "./"])
def test_the_folder_itself_is_refused(folder: Path, same: str) -> None:
    assert inside(folder, same) is None
    assert inside(folder, folder) is None


def test_a_symlink_loop_is_refused(folder: Path) -> None:
    (folder / "loop").symlink_to(folder / "loop")
    assert inside(folder, "loop/x.mp4") is None


# --------------------------------------------------------------------------- download_path()


def test_download_path_stays_in_the_torrents_folder(settings, tmp_path: Path) -> None:
    settings.DOWNLOADS_DIR = tmp_path / "downloads"
    title = Title(title="T", info_hash=INFO_HASH.upper())
    file = MediaFile(torrent_path="Movie/movie.mp4")
    assert download_path(title, file) == (
        tmp_path.resolve() / "downloads" / INFO_HASH / "Movie" / "movie.mp4"
    )
    for bad in ("../other/movie.mp4", "/etc/passwd", "", "."):
        assert download_path(title, MediaFile(torrent_path=bad)) is None
    assert download_path(Title(title="T", info_hash="../../x"), file) is None
    assert download_path(Title(title="T"), file) is None


# --------------------------------------------------------------------------- replacing()


def test_replacing_writes_whole_files_or_nothing(tmp_path: Path) -> None:
    target = tmp_path / "new" / "a.vtt"
    with replacing(target) as tmp:
        assert tmp.parent == target.parent and tmp != target
        tmp.write_text("one")
    assert target.read_text() == "one"
    with pytest.raises(RuntimeError), replacing(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("stopped")
    assert target.read_text() == "one"
    assert [p.name for p in target.parent.iterdir()] == ["a.vtt"]


# --------------------------------------------------------------------------- the views


@pytest.fixture
def linked(db, data_dir: Path) -> dict[str, Title]:
    """Titles whose video and subtitle are symlinks: one pair pointing out of the data
    directory, one pointing at files inside it."""
    (data_dir.parent / "secret.mp4").write_bytes(b"SECRET VIDEO")
    (data_dir.parent / "secret.vtt").write_text("WEBVTT\n\n00:00.000 --> 00:01.000\nSECRET\n")
    real = data_dir / "library" / "Real"
    real.mkdir(parents=True)
    (real / "real.mp4").write_bytes(b"REAL VIDEO")
    (real / "real.vtt").write_text("WEBVTT\n\n00:00.000 --> 00:01.000\nREAL\n")
    titles = {}
    for name, target in (("out", data_dir.parent / "secret"), ("in", real / "real")):
        folder = data_dir / "library" / name
        folder.mkdir()
        (folder / "movie.mp4").symlink_to(target.with_suffix(".mp4"))
        (folder / "movie.vtt").symlink_to(target.with_suffix(".vtt"))
        title = make_title(title=name, status=Status.COMPLETE)
        for role, ext in ((MediaFile.Role.VIDEO, ".mp4"), (MediaFile.Role.SUBTITLE, ".vtt")):
            make_file(title, role=role, path=f"library/{name}/movie{ext}", size=10)
        titles[name] = title
    return titles


def _subtitle_url(title: Title) -> str:
    sub = title.files.get(role=MediaFile.Role.SUBTITLE)
    return f"/media/{title.pk}/subtitles/{sub.pk}.vtt"


def test_streams_and_subtitles_refuse_symlinks_that_leave(
    client_member: Client, linked: dict[str, Title]
) -> None:
    title = linked["out"]
    for response in (
        client_member.get(f"/media/{title.pk}/stream"),
        client_member.get(_subtitle_url(title)),
    ):
        assert response.status_code == 404
        assert b"SECRET" not in body(response)


def test_streams_and_subtitles_follow_symlinks_that_stay_inside(
    client_member: Client, linked: dict[str, Title]
) -> None:
    title = linked["in"]
    stream = client_member.get(f"/media/{title.pk}/stream")
    assert stream.status_code == 200
    assert body(stream) == b"REAL VIDEO"
    subtitle = client_member.get(_subtitle_url(title))
    assert subtitle.status_code == 200
    assert b"REAL" in subtitle.content


@pytest.mark.django_db
def test_deleting_a_title_removes_its_link_not_another_titles_file(data_dir: Path) -> None:
    library = data_dir / "library"
    (library / "A").mkdir()
    (library / "B").mkdir()
    real = library / "A" / "a.mp4"
    real.write_bytes(b"a video")
    (library / "B" / "b.mp4").symlink_to(real)
    first, second = make_title(), make_title()
    make_file(first, path="library/A/a.mp4")
    make_file(second, path="library/B/b.mp4")

    assert delete_title_files(second) == 1
    assert not (library / "B").exists(), "the link and its empty folder went"
    assert real.read_bytes() == b"a video", "the other title's file stayed"
