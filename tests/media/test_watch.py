"""The watch: real inotify (watchfiles) on a real folder, the scan its changes ask for run by the
scheduler's real workers; and a watch that can't be set up, said loudly, with a fallback."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.test import Client

from media.models import LibraryFolder, MediaFile, Scan
from media.watch import (
    NETWORK_FILESYSTEMS,
    WatchPart,
    filesystem_of,
    problem_words,
    relevant,
    share_words,
)
from plank.models import TaskRun
from plank.scheduler import SchedulerPart, execute
from tests.factories import make_folder
from tests.media.library_dirs import masters, place

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_reads")]


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return masters(tmp_path_factory.mktemp("masters"))


@pytest.fixture
def workers(settings) -> Iterator[SchedulerPart]:
    """The scheduler's workers, which run the scans the watch asks for."""
    settings.PLANK_SCHEDULER_TICK_SECONDS = 0.2
    settings.PLANK_WATCH_DEBOUNCE_MS = 200
    part = SchedulerPart(holder="watch-test")
    part.start()
    yield part
    part.stop()


def wait_for(predicate: Callable[[], object], timeout: float = 15.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_add_rename_delete_are_followed_within_seconds(
    tmp_path: Path, media: dict[str, Path], data_dir: Path, workers: SchedulerPart
) -> None:
    root = tmp_path / "films"
    folder = make_folder(root, "movies")
    watch = WatchPart(resume=False)
    watch.start()
    try:
        wait_for(lambda: LibraryFolder.objects.get(pk=folder.pk).watch_state == "watching")

        started = time.monotonic()
        place(media["mp4"], root / "Heat (1995)" / "Heat.1995.mp4")
        file = wait_for(lambda: MediaFile.objects.filter(folder=folder).first())
        assert file.title.display_title == "Heat (1995)"
        assert time.monotonic() - started < 10, "added within seconds"

        (root / "Heat (1995)" / "Heat.1995.mp4").rename(root / "Heat (1995)" / "Heat (1995).mp4")
        wait_for(
            lambda: MediaFile.objects.filter(
                folder=folder, path="Heat (1995)/Heat (1995).mp4"
            ).exists()
        )
        moved = MediaFile.objects.get(folder=folder)
        assert moved.pk == file.pk and moved.scan_note.startswith("moved here from")

        (root / "Heat (1995)" / "Heat (1995).mp4").unlink()
        wait_for(lambda: MediaFile.objects.get(pk=file.pk).missing_since is not None)
        assert all(s.trigger in ("watch",) for s in Scan.objects.filter(folder=folder))
    finally:
        watch.stop()


def limit_reached(*paths: str, **options: object) -> Iterator[set]:
    """What watchfiles raises when inotify's watch limit is reached (its message, verbatim)."""
    raise OSError(
        f'OS file watch limit reached. about ["{paths[0]}"] (Error {{ kind: MaxFilesWatch, paths: ["{paths[0]}"] }})'
    )
    yield set()  # a generator, like watchfiles.watch


def test_a_watch_that_cant_be_set_up_is_said_loudly_and_scanned_instead(
    tmp_path: Path, media: dict[str, Path], data_dir: Path, client_admin: Client
) -> None:
    root = tmp_path / "films"
    folder = make_folder(root, "movies", name="Films")
    watch = WatchPart(watch_fn=limit_reached, resume=False)
    watch.start()
    try:
        wait_for(lambda: LibraryFolder.objects.get(pk=folder.pk).watch_state == "failed")
    finally:
        watch.stop()
    folder.refresh_from_db()
    assert "fs.inotify.max_user_watches" in folder.watch_detail
    assert "sudo sysctl fs.inotify.max_user_watches=524288" in folder.watch_detail

    page = client_admin.get(folder.get_absolute_url()).content.decode()
    assert "This folder is not watched for changes." in page and "max_user_watches" in page
    system = client_admin.get("/system/").content.decode()
    assert "can&#x27;t be watched" in system and "max_user_watches" in system
    listing = client_admin.get("/settings/library/").content.decode()
    assert "Not watched." in listing

    # The fallback: the periodic task scans the folders that can't be watched.
    place(media["mp4"], root / "Heat (1995)" / "Heat.mp4")
    run = TaskRun.objects.create(task="library-poll")
    outcome = execute(run.pk)
    assert outcome.startswith("Films: Scanned 1 files"), outcome
    assert MediaFile.objects.filter(folder=folder).count() == 1


def test_a_network_share_is_not_trusted_to_report_changes(tmp_path: Path, data_dir: Path) -> None:
    # /proc/self/mountinfo lines in the kernel's documented format
    # (Documentation/filesystems/proc.rst, "3.5 /proc/<pid>/mountinfo").
    mountinfo = "\n".join(
        [
            "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro",
            "36 22 0:40 / /mnt/media rw,relatime shared:20 - cifs //nas/media rw,vers=3.1.1",
            "37 36 0:41 / /mnt/media/local rw,relatime shared:21 - ext4 /dev/sdb1 rw",
            "38 22 0:42 / /srv/nfs rw,relatime - nfs4 nas:/export rw,vers=4.2",
        ]
    )
    assert filesystem_of("/mnt/media/Films", mountinfo) == "cifs"
    assert filesystem_of("/mnt/media/local/x", mountinfo) == "ext4", "the deepest mount wins"
    assert filesystem_of("/mnt/mediaX", mountinfo) == "ext4", "a prefix of a name is not a mount"
    assert filesystem_of("/srv/nfs", mountinfo) in NETWORK_FILESYSTEMS
    assert (
        filesystem_of(str(tmp_path), Path("/proc/self/mountinfo").read_text())
        not in NETWORK_FILESYSTEMS
    )
    folder = make_folder(tmp_path / "share", "movies")
    assert "network share (cifs)" in share_words(folder, "cifs")
    assert "timetable" in problem_words(folder, OSError("no space left on device"))


def test_only_changes_that_matter_ask_for_a_scan() -> None:
    assert relevant({(1, "/lib/Film (2000)/film.mkv")}, "/lib")
    assert relevant({(3, "/lib/Film (2000)")}, "/lib"), "a folder renamed or deleted"
    assert not relevant({(1, "/lib/Film (2000)/.film.mkv.part")}, "/lib")
    assert not relevant({(2, "/lib/Film (2000)/poster.jpg")}, "/lib")
