"""Library folders: the rules a path must pass, the folder browser, the settings pages and
``manage.py libraries``; removing a folder takes its files out of the library, never off disk."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from media import folders
from media.folders import FolderError, add_folder, browse, check_path, remove_folder
from media.models import LibraryFolder, MediaFile, Scan, Title
from media.scan_queue import scan_folder
from tests.factories import make_folder, make_title
from tests.media import library_dirs
from tests.media.library_dirs import masters, place

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return masters(tmp_path_factory.mktemp("masters"))


@pytest.fixture
def roots(settings, tmp_path: Path) -> Path:
    settings.PLANK_LIBRARY_ROOTS = [str(tmp_path)]
    return tmp_path


def refused(path: str | Path, match: str) -> None:
    with pytest.raises(FolderError, match=match):
        check_path(str(path))


def test_the_rules_of_a_library_folder(tmp_path: Path, data_dir: Path, roots: Path) -> None:
    films = tmp_path / "films"
    films.mkdir()
    (tmp_path / "a-file.mkv").write_bytes(b"x")
    assert check_path(str(films)) == films.resolve()
    assert check_path(f"{tmp_path}/./films/../films") == films.resolve(), "resolved"
    refused("", "Give the folder's path")
    refused("films", "starting with /")
    refused(tmp_path / "nowhere", "There is no folder at")
    refused(tmp_path / "a-file.mkv", "is a file, not a folder")
    refused(data_dir / "downloads", "Plank's downloads folder")
    (data_dir / "downloads" / "abc").mkdir()
    refused(data_dir / "downloads" / "abc", "Plank's downloads folder")
    refused(data_dir, "holds Plank's data directory")
    refused(tmp_path, "holds Plank's data directory")
    (data_dir / "posters").mkdir()
    refused(data_dir / "posters", "inside Plank's data directory")
    assert check_path(str(data_dir / "library")) == (data_dir / "library").resolve(), (
        "Plank's own library directory may be a library folder"
    )
    refused("/etc", "outside the folders Plank may use")
    os.symlink(films, tmp_path / "link-to-films")
    assert check_path(str(tmp_path / "link-to-films")) == films.resolve()
    os.symlink(tmp_path / "loop", tmp_path / "loop")
    refused(tmp_path / "loop", "can't follow")


def test_system_folders_are_refused(settings) -> None:
    settings.PLANK_LIBRARY_ROOTS = ["/"]
    refused("/etc", "is a system folder")
    refused("/proc", "is a system folder")
    refused("/usr/share", "is a system folder")


def test_one_file_is_never_in_two_folders(tmp_path: Path, data_dir: Path, roots: Path) -> None:
    (tmp_path / "media" / "films" / "old").mkdir(parents=True)
    add_folder("Films", str(tmp_path / "media" / "films"), "movies")
    refused(tmp_path / "media" / "films", "is already the library folder “Films”")
    refused(tmp_path / "media" / "films" / "old", "inside the library folder “Films”")
    refused(tmp_path / "media", "holds the library folder “Films”")
    with pytest.raises(FolderError, match="called “Films” already"):
        folders.check_name("films")
    with pytest.raises(FolderError, match="movies or shows"):
        folders.check_kind("music")
    assert folders.check_kind("tv") == "shows"


def test_an_unreadable_folder_is_refused_with_the_fix(
    tmp_path: Path, data_dir: Path, settings
) -> None:
    """As an ordinary user (root reads everything; see library_dirs.unprivileged)."""
    secret = tmp_path / "secret"
    secret.mkdir()
    secret.chmod(0o000)
    try:
        env = library_dirs.process_env(tmp_path / "cmd-data", "sqlite:////nonexistent/never-opened")
        code = (
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'plank.settings'; django.setup()\n"
            "from media.folders import _check_readable, FolderError\n"
            "from pathlib import Path\n"
            f"try:\n    _check_readable(Path({str(secret)!r}))\nexcept FolderError as e:\n    print(e)\n"
        )
        out = subprocess.run(
            library_dirs.unprivileged([sys.executable, "-c", code]),
            cwd=library_dirs.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert "permission denied" in out.stdout and "chmod o+rx" in out.stdout, out.stderr[-2000:]
    finally:
        secret.chmod(0o755)


def test_the_folder_browser_shows_only_folders_an_admin_may_see(
    tmp_path: Path, data_dir: Path, roots: Path
) -> None:
    (tmp_path / "films" / "Heat (1995)").mkdir(parents=True)
    (tmp_path / "shows").mkdir()
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "a-file.txt").write_text("x")
    listing = browse(str(tmp_path))
    names = [p.name for p in listing.folders]
    assert names == ["films", "shows"], "folders only; no hidden ones, no data directory"
    assert listing.parent is None, "not above the roots"
    assert [p.name for p in browse(str(tmp_path / "films")).folders] == ["Heat (1995)"]
    assert browse(str(tmp_path / "films")).parent == tmp_path
    assert browse("/etc").problem.endswith("can't be browsed.")
    assert browse(str(data_dir)).problem.endswith("can't be browsed.")
    assert browse(str(tmp_path / "nowhere")).problem.startswith("There is no folder")
    assert browse("").path == tmp_path.resolve(), "one root: start there"


def test_the_browser_is_for_admins(
    client_member: Client, client_admin: Client, roots: Path
) -> None:
    (roots / "films").mkdir()
    assert client_member.get(f"/settings/library/browse?path={roots}").status_code == 403
    response = client_admin.get(f"/settings/library/browse?path={roots}", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert "films/" in html and "Use this folder" in html


def test_adding_a_folder_on_the_page(
    client_admin: Client, client_member: Client, tmp_path: Path, data_dir: Path, roots: Path
) -> None:
    (tmp_path / "films").mkdir()
    denied = client_member.post(
        "/settings/library/add",
        {"name": "Films", "path": str(tmp_path / "films"), "kind": "movies"},
    )
    assert denied.status_code == 403 and not LibraryFolder.objects.exists()

    bad = client_admin.post(
        "/settings/library/add",
        {"name": "Films", "path": str(data_dir / "downloads"), "kind": "movies"},
    )
    assert bad.status_code == 400
    assert "Plank&#x27;s downloads folder" in bad.content.decode()
    assert 'value="Films"' in bad.content.decode(), "what was typed stays"
    assert not LibraryFolder.objects.exists()

    ok = client_admin.post(
        "/settings/library/add",
        {"name": "Films", "path": str(tmp_path / "films"), "kind": "movies"},
    )
    folder = LibraryFolder.objects.get()
    assert ok.status_code == 302 and ok["Location"] == folder.get_absolute_url()
    assert Scan.objects.get(folder=folder).trigger == "added", "its first scan is asked for"
    page = client_member.get("/settings/library/").content.decode()
    assert "Films" in page and str(tmp_path / "films") in page
    assert "Add a folder" not in page, "members read, admins change"
    assert "Library folders" in client_member.get("/settings/").content.decode(), "a settings tab"


def test_the_folder_page_says_what_became_of_each_file(
    client_member: Client, tmp_path: Path, media: dict[str, Path], data_dir: Path
) -> None:
    root = tmp_path / "films"
    place(media["hevc"], root / "Dune (2021)" / "Dune.2021.mkv")
    (root / "junk.mkv").write_bytes(b"junk" * 100)
    folder = make_folder(root, "movies")
    scan_folder(folder)
    page = client_member.get(folder.get_absolute_url()).content.decode()
    assert "junk.mkv" in page and "not a video" in page
    files = client_member.get(folder.get_absolute_url() + "?show=files").content.decode()
    assert "HEVC (H.265): not playable in a browser" in files and "Dune (2021)" in files
    filtered = client_member.get(
        folder.get_absolute_url() + "?show=files&q=nothing"
    ).content.decode()
    assert "Dune.2021.mkv" not in filtered
    progress = client_member.get(
        folder.get_absolute_url() + "?partial=progress", HTTP_HX_REQUEST="true"
    )
    assert b'data-live-set="scan/' in progress.content and b"Scanned 2 files" in progress.content


def test_scan_cancel_remove_buttons(
    client_admin: Client,
    client_member: Client,
    tmp_path: Path,
    media: dict[str, Path],
    data_dir: Path,
) -> None:
    root = tmp_path / "films"
    place(media["mp4"], root / "Heat (1995)" / "Heat.mp4")
    folder = make_folder(root, "movies")
    assert client_member.post(f"/settings/library/{folder.pk}/scan").status_code == 403
    client_admin.post(f"/settings/library/{folder.pk}/scan", {"full": "1"})
    assert Scan.objects.get(folder=folder).full
    response = client_admin.post(f"/settings/library/{folder.pk}/cancel", follow=True)
    assert "No scan of this folder is running." in response.content.decode()
    assert Scan.objects.get(folder=folder).state == Scan.State.CANCELLED

    scan_folder(folder)
    keep = make_title(title="Kept")  # a title of its own (not from this folder) stays
    assert client_member.post(f"/settings/library/{folder.pk}/remove").status_code == 403
    response = client_admin.post(f"/settings/library/{folder.pk}/remove", follow=True)
    assert "1 files and 1 titles left the library" in response.content.decode()
    assert not LibraryFolder.objects.exists() and not MediaFile.objects.exists()
    assert list(Title.objects.all()) == [keep]
    assert (root / "Heat (1995)" / "Heat.mp4").is_file(), "nothing on disk is touched"


def test_remove_keeps_titles_with_other_files(
    tmp_path: Path, media: dict[str, Path], data_dir: Path
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    place(media["mp4"], a / "Heat (1995)" / "Heat.mp4")
    place(media["mkv"], b / "Heat (1995)" / "Heat.mkv")
    fa, fb = make_folder(a, "movies"), make_folder(b, "movies")
    scan_folder(fa)
    scan_folder(fb)
    assert Title.objects.count() == 1
    assert remove_folder(fa).titles == 0
    assert Title.objects.get().files.count() == 1


def test_manage_py_libraries(
    tmp_path: Path, media: dict[str, Path], data_dir: Path, roots: Path, capsys
) -> None:
    place(media["mp4"], tmp_path / "films" / "Heat (1995)" / "Heat.mp4")
    call_command("libraries", "add", "Films", str(tmp_path / "films"), "--kind", "movies")
    out = capsys.readouterr().out
    assert "Added Films" in out and "Scanned 1 files" in out
    call_command("libraries", "list")
    assert "Films\tMovies\t" in capsys.readouterr().out
    with pytest.raises(CommandError, match="already the library folder"):
        call_command("libraries", "add", "Again", str(tmp_path / "films"), "--kind", "movies")
    with pytest.raises(CommandError, match="no library folder called 'Nope'"):
        call_command("libraries", "remove", "Nope")
    call_command("libraries", "remove", "films")
    assert "nothing on disk was touched" in capsys.readouterr().out
    assert not LibraryFolder.objects.exists()
    with pytest.raises(CommandError, match="There are no library folders"):
        call_command("scan")


# --- Plank's own downloads file into the folder of their kind -------------------------------


@pytest.mark.django_db(transaction=True)
def test_downloads_file_into_the_library_folder_of_their_kind(
    tmp_path: Path, data_dir: Path, fresh_reads
) -> None:
    from media import library, streaming  # the import's own helpers, shared with its tests
    from media.library_import import run_import
    from tests.media.test_library_import import add_file, new_title, reload, video

    films = make_folder(tmp_path / "films", "movies")
    tv = make_folder(tmp_path / "tv", "shows")
    heat = new_title("Heat", 1995)
    file = add_file(heat, "Heat.1995.1080p/Heat.1995.1080p.mp4", video())
    report = run_import(heat.pk)
    assert report.error == "", report
    file = reload(file)
    assert (file.folder_id, file.path) == (films.pk, "Heat (1995)/Heat (1995).mp4")
    assert (tmp_path / "films" / file.path).is_file()
    assert file.mtime_ns and file.partial_hash
    assert streaming.locate(heat.pk, None).path == (tmp_path / "films" / file.path).resolve()
    again = scan_folder(films)
    assert (again.unchanged, again.added) == (1, 0), "filed once, never twice"
    assert tv.files.count() == 0

    library.delete_title(heat, delete_files=True)
    assert not (tmp_path / "films" / "Heat (1995)").exists(), "Plank's own copy goes with it"


def test_a_scanned_film_plays_with_its_own_subtitles(
    client_member: Client, tmp_path: Path, media: dict[str, Path], data_dir: Path
) -> None:
    root = tmp_path / "films"
    place(media["mp4"], root / "Heat (1995)" / "Heat.1995.mp4")
    library_dirs.subtitle(root / "Heat (1995)" / "Heat.1995.en.srt")
    scan_folder(make_folder(root, "movies"))
    title = Title.objects.get()
    sub = title.files.get(role=MediaFile.Role.SUBTITLE)
    watch = client_member.get(f"/media/{title.pk}/watch").content.decode()
    assert f"/media/{title.pk}/subtitles/{sub.pk}.vtt" in watch and 'srclang="en"' in watch
    vtt = client_member.get(f"/media/{title.pk}/subtitles/{sub.pk}.vtt")
    assert vtt.status_code == 200 and vtt.content.decode().startswith("WEBVTT")
    assert "Hello there." in vtt.content.decode()
    stream = client_member.get(f"/media/{title.pk}/stream", HTTP_RANGE="bytes=0-99")
    assert stream.status_code == 206, "the household's own file streams from its folder"
    assert (root / "Heat (1995)" / "Heat.1995.en.srt").read_text().startswith("1\n"), "untouched"


def test_a_missing_file_says_so_on_its_title_page(
    client_member: Client, tmp_path: Path, media: dict[str, Path], data_dir: Path
) -> None:
    root = tmp_path / "films"
    film = place(media["mp4"], root / "Heat (1995)" / "Heat.1995.mp4")
    folder = make_folder(root, "movies")
    scan_folder(folder)
    film.unlink()
    scan_folder(folder)
    title = Title.objects.get()
    page = client_member.get(title.get_absolute_url()).content.decode()
    assert ">missing</span>" in page and "(was at Heat (1995)/Heat.1995.mp4)" in page
