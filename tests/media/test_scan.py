"""Scanning real library folders: real videos (PyAV), real subtitles, labelled release names,
nested show folders, broken and unreadable files, a symlink loop, a file that changes while it
is read, moves, deletions, cancel, and a kill in the middle."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings

from media.models import (
    Kind,
    LibraryFolder,
    MediaFile,
    PlaybackPosition,
    Scan,
    ScanProblem,
    Status,
    Title,
)
from media.scan_apply import _norm
from media.scan_queue import cancel_scan, request_scan, scan_folder
from tests.conftest import database_url
from tests.factories import make_folder, make_title, make_user
from tests.media import library_dirs
from tests.media.library_dirs import BASE_DIR, masters, movie_folder, place, show_folder, subtitle

State = Scan.State


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return masters(tmp_path_factory.mktemp("masters"))


def files_of(folder: LibraryFolder) -> dict[str, MediaFile]:
    return {
        f.path: f
        for f in MediaFile.objects.filter(folder=folder).select_related("title", "episode__season")
    }


def problems_of(folder: LibraryFolder) -> dict[str, str]:
    return dict(ScanProblem.objects.filter(folder=folder).values_list("path", "reason"))


@pytest.mark.django_db
def test_labelled_movies_and_episodes_land_where_they_belong(
    tmp_path: Path, media: dict[str, Path], data_dir: Path
) -> None:
    movies = movie_folder(tmp_path / "films", media, 25)
    episodes = show_folder(tmp_path / "tv", media, 25)
    subtitle(tmp_path / "films" / Path(movies[0].rel).with_suffix(".en.srt"))
    films = make_folder(tmp_path / "films", "movies")
    tv = make_folder(tmp_path / "tv", "shows")

    first = scan_folder(films)
    assert first.state == State.DONE, first.outcome
    assert (first.seen, first.added, first.failed) == (26, 26, 0), first.outcome
    found = files_of(films)
    for want in movies:
        file = found[want.rel]
        assert (_norm(file.title.title), file.title.year) == (_norm(want.title), want.year), want
        assert file.title.kind == Kind.MOVIE and file.title.status == Status.COMPLETE
        assert file.scan_note.startswith(f"matched to {file.title.display_title}")
    sub = found[str(Path(movies[0].rel).with_suffix(".en.srt"))]
    assert sub.role == MediaFile.Role.SUBTITLE and sub.language == "en"
    assert sub.title_id == found[movies[0].rel].title_id

    assert scan_folder(tv).state == State.DONE
    for want in episodes:
        file = files_of(tv)[want.rel]
        assert _norm(file.title.title) == _norm(want.title), want
        assert (file.episode.season.number, file.episode.number) == (want.season, want.episode), (
            want
        )
        assert file.title.kind == Kind.TV
    shows = {(_norm(e.title), e.year) for e in episodes}
    assert Title.objects.filter(kind=Kind.TV).count() == len({s for s, _ in shows})

    again = scan_folder(films)
    assert (again.to_probe, again.unchanged, again.added) == (0, 26, 0), "nothing opened again"
    assert again.outcome.startswith("Scanned 26 files in")


@pytest.mark.django_db
def test_every_outcome_in_words(tmp_path: Path, media: dict[str, Path], data_dir: Path) -> None:
    root = tmp_path / "films"
    place(media["mp4"], root / "Heat (1995)" / "Heat.1995.1080p.mp4")
    place(media["hevc"], root / "Dune (2021)" / "Dune.2021.2160p.x265.mkv")
    place(media["mkv"], root / "Alien (1979)" / "Alien.1979.mkv")
    (root / "Broken (2000)").mkdir()
    (root / "Broken (2000)" / "Broken.2000.mkv").write_bytes(b"this is not a video " * 400)
    (root / "Empty (2001).mp4").write_bytes(b"")
    (root / "notes.txt").write_text("ignored")
    (root / "poster.jpg").write_bytes(b"\xff\xd8")
    place(media["mp4"], root / "Heat (1995)" / "Heat.1995.sample.mp4")
    subtitle(root / "lonely.srt")
    os.symlink("..", root / "Alien (1979)" / "back up")  # a folder loop
    os.symlink("self.mkv", root / "self.mkv")  # a link to itself
    os.symlink("nowhere.mkv", root / "dangling.mkv")
    folder = make_folder(root, "movies")

    scan = scan_folder(folder)
    assert scan.state == State.DONE, scan.outcome
    notes = {path: f.scan_note for path, f in files_of(folder).items()}
    assert notes["Heat (1995)/Heat.1995.1080p.mp4"] == "matched to Heat (1995) · plays in browsers"
    assert notes["Dune (2021)/Dune.2021.2160p.x265.mkv"] == (
        "matched to Dune (2021) · HEVC (H.265): not playable in a browser"
    )
    assert "Matroska (MKV)" in notes["Alien (1979)/Alien.1979.mkv"]
    problems = problems_of(folder)
    assert problems["Broken (2000)/Broken.2000.mkv"].startswith("not a video")
    assert problems["Empty (2001).mp4"] == "the file is empty"
    assert problems["Heat (1995)/Heat.1995.sample.mp4"] == "a sample clip, not the film or episode"
    assert problems["lonely.srt"] == "subtitles with no video of the same name next to them"
    assert "loop" in problems["Alien (1979)/back up/"]
    assert problems["self.mkv"] == "a symbolic link that loops back on itself"
    assert problems["dangling.mkv"].startswith("a broken link")
    assert scan.ignored == 2  # notes.txt, poster.jpg
    assert "not added (see the list)" in scan.outcome

    # A broken file that did not change is not opened again; one that is fixed is added.
    again = scan_folder(folder)
    assert again.to_probe == 0
    place(media["mp4"], root / "Broken (2000)" / "Broken.2000.mkv")
    fixed = scan_folder(folder)
    assert fixed.added == 1
    assert "Broken (2000)/Broken.2000.mkv" not in problems_of(folder)


@pytest.mark.django_db
def test_moved_deleted_returned_changed(
    tmp_path: Path, media: dict[str, Path], data_dir: Path
) -> None:
    root = tmp_path / "films"
    heat = place(media["mp4"], root / "Heat (1995)" / "Heat.mp4")
    alien = place(media["mp4"], root / "Alien (1979)" / "Alien.mp4")
    dune = place(media["mp4"], root / "Dune (2021)" / "Dune.mp4")
    folder = make_folder(root, "movies")
    scan_folder(folder)
    before = files_of(folder)
    watcher = make_user()
    position = PlaybackPosition.objects.create(
        user=watcher,
        title=before["Heat (1995)/Heat.mp4"].title,
        file=before["Heat (1995)/Heat.mp4"],
        position=30,
    )

    (root / "Moved").mkdir()
    heat.rename(root / "Moved" / "Heat (1995).mp4")
    kept = root.parent / "aside.mp4"
    alien.rename(kept)
    place(media["hevc"], dune)  # the same name, other content
    scan = scan_folder(folder)
    assert (scan.moved, scan.missing, scan.updated, scan.added) == (1, 1, 1, 0), scan.outcome
    after = files_of(folder)
    moved = after["Moved/Heat (1995).mp4"]
    assert moved.pk == before["Heat (1995)/Heat.mp4"].pk, "the same file, not a new one"
    assert moved.scan_note == "moved here from Heat (1995)/Heat.mp4"
    position.refresh_from_db()
    assert position.file_id == moved.pk
    gone = after["Alien (1979)/Alien.mp4"]
    assert gone.missing_since is not None
    assert (
        gone.scan_note.startswith("missing since ")
        and "(was at Alien (1979)/Alien.mp4)" in gone.scan_note
    )
    assert Title.objects.filter(pk=gone.title_id).exists(), "missing, not deleted"
    assert "HEVC" in after["Dune (2021)/Dune.mp4"].scan_note

    kept.rename(root / "Alien (1979)" / "Alien.mp4")
    back = scan_folder(folder)
    assert back.returned == 1 and back.missing == 0
    file = files_of(folder)["Alien (1979)/Alien.mp4"]
    assert file.missing_since is None and file.scan_note == "back in its folder"
    assert file.pk == gone.pk


@pytest.mark.django_db
def test_a_full_scan_opens_every_file(
    tmp_path: Path, media: dict[str, Path], data_dir: Path
) -> None:
    movie_folder(tmp_path / "films", media, 5)
    folder = make_folder(tmp_path / "films", "movies")
    scan_folder(folder)
    full = scan_folder(folder, full=True)
    assert (full.to_probe, full.probed, full.updated) == (5, 5, 5)


@pytest.mark.django_db
def test_a_wanted_title_gets_its_file(
    tmp_path: Path, media: dict[str, Path], data_dir: Path
) -> None:
    wanted = make_title(title="Heat", year=1995, status=Status.PENDING)
    place(media["mp4"], tmp_path / "films" / "Heat (1995)" / "Heat.1995.mp4")
    scan_folder(make_folder(tmp_path / "films", "movies"))
    wanted.refresh_from_db()
    assert wanted.status == Status.COMPLETE
    assert Title.objects.count() == 1
    assert wanted.files.count() == 1


@pytest.mark.django_db
def test_a_file_that_changes_while_it_is_read(
    tmp_path: Path, media: dict[str, Path], data_dir: Path
) -> None:
    root = tmp_path / "films"
    growing = place(media["mkv"], root / "Copying (2020)" / "Copying.2020.mkv")
    folder = make_folder(root, "movies")
    # Another program copying it in: appends as fast as it can until it is stopped.
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"f = open({str(growing)!r}, 'ab', buffering=0)\nwhile True: f.write(b'x' * 256)",
        ]
    )
    try:
        time.sleep(0.2)
        scan = scan_folder(folder)
    finally:
        writer.kill()
        writer.wait()
    assert scan.failed == 1 and not files_of(folder)
    assert problems_of(folder)["Copying (2020)/Copying.2020.mkv"].startswith("it kept changing")
    settled = scan_folder(folder)
    assert settled.added == 1, "looked at again once it held still"


@pytest.mark.django_db
def test_an_unreachable_folder_marks_nothing_missing(
    tmp_path: Path, media: dict[str, Path], data_dir: Path
) -> None:
    root = tmp_path / "share"
    place(media["mp4"], root / "Heat (1995)" / "Heat.mp4")
    folder = make_folder(root, "movies")
    scan_folder(folder)
    root.rename(tmp_path / "unmounted")
    scan = scan_folder(folder)
    assert scan.state == State.FAILED
    assert "can't be read (is the disk or network share mounted?)" in scan.outcome
    assert not MediaFile.objects.filter(missing_since__isnull=False).exists()


@pytest.mark.django_db
def test_a_second_request_waits_for_the_first(tmp_path: Path, data_dir: Path) -> None:
    folder = make_folder(tmp_path / "films", "movies")
    one = request_scan(folder)
    two = request_scan(folder, full=True)
    assert one.pk == two.pk and Scan.objects.get(pk=one.pk).full, "one waiting scan per folder"
    assert cancel_scan(folder) == "No scan of this folder is running."
    assert Scan.objects.get(pk=one.pk).state == State.CANCELLED


# --- in other processes: as an ordinary user, cancelled, killed -----------------------------


def _env(**extra: str) -> dict[str, str]:
    return library_dirs.process_env(Path(settings.DATA_DIR), database_url(), **extra)


@pytest.mark.django_db(transaction=True)
def test_unreadable_files_and_folders(
    tmp_path: Path, media: dict[str, Path], data_dir: Path, fresh_reads
) -> None:
    root = tmp_path / "films"
    place(media["mp4"], root / "Heat (1995)" / "Heat.mp4")
    locked = place(media["mp4"], root / "Alien (1979)" / "Alien.mp4")
    place(media["mp4"], root / "Private" / "Dune (2021).mp4")
    folder = make_folder(root, "movies", name="Films")
    library_dirs.manage(_env(), "scan", "Films", "--quiet", as_user=True)
    assert len(files_of(folder)) == 3
    # Locked after the first scan: an unchanged file is not opened again, so nothing fails...
    locked.chmod(0o000)
    (root / "Private").chmod(0o000)
    try:
        out = library_dirs.manage(_env(), "scan", "Films", "--quiet", as_user=True)
        scan = folder.scans.order_by("-id").first()
        assert scan.failed == 1, out  # ...but a folder that can't be listed is said
        assert problems_of(folder)["Private/"] == "unreadable: permission denied"
        assert files_of(folder)["Private/Dune (2021).mp4"].missing_since is None, (
            "what an unreadable folder holds is not taken for missing"
        )
        # A new file that can't be read is said as such.
        fresh = place(media["mp4"], root / "Fresh (2022)" / "Fresh.mp4")
        fresh.chmod(0o000)
        library_dirs.manage(_env(), "scan", "Films", "--quiet", as_user=True)
        assert problems_of(folder)["Fresh (2022)/Fresh.mp4"] == "unreadable: permission denied"
        library_dirs.manage(_env(), "scan", "Films", "--full", "--quiet", as_user=True)
        assert (
            files_of(folder)["Alien (1979)/Alien.mp4"].scan_note == "unreadable: permission denied"
        )
    finally:
        (root / "Private").chmod(0o755)
        locked.chmod(0o644)


def _state(folder: LibraryFolder) -> tuple[dict, dict]:
    files = {
        path: (f.role, f.title_id, f.episode_id, f.size, f.scan_note, f.missing_since is None)
        for path, f in files_of(folder).items()
    }
    return files, problems_of(folder)


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(300)
def test_killed_in_the_middle_then_the_same_end_state(
    tmp_path: Path, media: dict[str, Path], data_dir: Path, fresh_reads
) -> None:
    """Two identical folders: one scanned in one go, one killed (SIGKILL) in the middle of its
    scan and scanned again. Both end the same."""
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    library_dirs.numbered_movies(whole, media, 150)
    expected = 151
    (whole / "Broken (2000).mkv").write_bytes(b"nope" * 1000)
    for path in sorted(whole.rglob("*")):
        target = killed / path.relative_to(whole)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(path, target)  # the same bytes: hard links
    a = make_folder(whole, "movies", name="Whole")
    b = make_folder(killed, "movies", name="Killed")
    library_dirs.manage(_env(), "scan", "Whole", "--quiet")

    env = _env(SCAN_PROBE_WORKERS="1")
    proc = subprocess.Popen(
        [sys.executable, str(BASE_DIR / "manage.py"), "scan", "Killed", "--quiet"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            scan = b.scans.filter(state=State.RUNNING).first()
            if scan is not None and MediaFile.objects.filter(folder=b).count() >= 10:
                break
            if proc.poll() is not None:
                pytest.fail("the scan ended before it could be killed")
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    cut = b.scans.get()
    assert cut.state == State.RUNNING, "killed: nobody wrote its end"
    half = MediaFile.objects.filter(folder=b).count()
    assert 10 <= half < expected - 1

    library_dirs.manage(_env(), "scan", "Killed", "--quiet")
    cut.refresh_from_db()
    assert cut.state == State.INTERRUPTED, "its process is gone: the next scan says so"
    resumed = b.scans.order_by("-id").first()
    assert resumed.state == State.DONE
    assert resumed.unchanged >= half - 1, "what was recorded before the kill is not opened again"
    assert _state(a) == _state(b)


@pytest.mark.django_db(transaction=True)
def test_cancel_stops_within_a_second_and_the_next_scan_goes_on(
    tmp_path: Path, media: dict[str, Path], data_dir: Path, fresh_reads, settings
) -> None:
    settings.PLANK_SCAN_PROBE_WORKERS = 1
    library_dirs.numbered_movies(tmp_path / "films", media, 400)
    folder = make_folder(tmp_path / "films", "movies")
    done: list[Scan] = []

    def scan() -> None:
        try:
            done.append(scan_folder(folder))
        finally:
            from django.db import connection  # this thread's own connection

            connection.close()

    thread = threading.Thread(target=scan)
    thread.start()
    deadline = time.monotonic() + 60
    while (
        time.monotonic() < deadline
        and Scan.objects.filter(folder=folder, probed__gte=3).count() == 0
    ):
        time.sleep(0.01)
    asked = time.monotonic()
    assert cancel_scan(folder) == "Stopping the scan…"
    thread.join(10)
    assert time.monotonic() - asked < 1.0, "cancel within a second"
    cancelled = done[0]
    assert cancelled.state == State.CANCELLED
    assert "still to look at" in cancelled.outcome
    recorded = MediaFile.objects.filter(folder=folder).count()
    assert recorded == cancelled.added < 400
    assert not MediaFile.objects.filter(missing_since__isnull=False).exists()

    rest = scan_folder(folder)
    assert rest.state == State.DONE
    assert (rest.unchanged, rest.added) == (recorded, 400 - recorded)
    assert MediaFile.objects.filter(folder=folder).count() == 400
