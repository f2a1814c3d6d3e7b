"""Into the library (media.library_import) on real video files in a temporary data directory."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django_tasks_db.models import DBTaskResult

from media import library_import, streaming
from media.library_import import ImportReport, _Progress, import_title, run_import
from media.models import Episode, MediaFile, Status, Title
from media.probe import probe
from media.remux import remux_to_mp4
from plank.asgi import application
from plank.jobs import JobWorker
from plank.live.models import Outbox
from tests.factories import make_download, make_file, make_show, make_title, new_info_hash
from tests.live.conftest import ORIGIN, Socket, _person, stop_relays
from tests.media.videos import make_ass, make_srt, make_video
from torrents.models import Download
from torrents.signals import download_completed

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_reads")]

INFO_HASH = "c9e15763f722f23e98a29decdfae341b98d53056"


Make = Callable[..., Path]


def new_title(name: str = "Movie", year: int | None = 2020) -> Title:
    """A downloaded movie (complete, with an info hash) for the import to file."""
    return make_title(title=name, year=year, status=Status.COMPLETE, info_hash=new_info_hash())


def downloaded(title: Title, torrent_path: str) -> Path:
    """Where the engine writes ``torrent_path`` of the title's torrent."""
    path = Path(settings.DOWNLOADS_DIR) / title.info_hash / torrent_path
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def add_file(
    title: Title,
    torrent_path: str,
    make: Callable[[Path], Path],
    role: str = MediaFile.Role.VIDEO,
    episode: Episode | None = None,
) -> MediaFile:
    path = make(downloaded(title, torrent_path))
    return make_file(
        title,
        role=role,
        torrent_path=torrent_path,
        torrent_index=MediaFile.objects.filter(title=title).count(),
        size=path.stat().st_size,
        episode=episode,
    )


def video(**options) -> Callable[[Path], Path]:
    return lambda path: make_video(path, **options)


def reload(file: MediaFile) -> MediaFile:
    return MediaFile.objects.get(pk=file.pk)


def library_file(data_dir: Path, file: MediaFile) -> Path:
    return data_dir / reload(file).path


# --------------------------------------------------------------------------- videos


def test_mp4_is_kept_and_hard_linked(data_dir: Path) -> None:
    title = new_title()
    file = add_file(title, "Movie.2020.1080p/Movie.2020.1080p.mp4", video(container="mp4"))
    source = downloaded(title, file.torrent_path)

    report = run_import(title.pk)

    assert report.error == "" and report.filed == ["library/Movie (2020)/Movie (2020).mp4"]
    file = reload(file)
    filed = data_dir / file.path
    assert filed.is_file() and os.path.samefile(filed, source)  # seeding keeps its file
    assert (file.container, file.video_codec, file.audio_codec) == ("mp4", "h264", "aac")
    assert file.size == source.stat().st_size and file.duration == pytest.approx(2.0, abs=0.2)
    title.refresh_from_db()
    assert title.status == Status.COMPLETE and title.status_detail == ""
    # the stream now serves the library file
    located = streaming.locate(title.pk, None)
    assert located.path == filed and not located.downloading
    assert [["media"]] in [row.keys for row in Outbox.objects.all()]


def test_mkv_is_remuxed_into_a_fast_start_mp4(data_dir: Path) -> None:
    title = new_title("Big Film", 1999)
    file = add_file(title, "Big.Film.1999/Big.Film.1999.mkv", video(container="mkv", bframes=2))
    source = downloaded(title, file.torrent_path)
    before = source.read_bytes()

    report = run_import(title.pk)

    assert report.error == ""
    filed = library_file(data_dir, file)
    assert filed == data_dir / "library" / "Big Film (1999)" / "Big Film (1999).mp4"
    info = probe(filed)
    assert (info.container, info.video_codec, info.audio_codec) == ("mp4", "h264", "aac")
    assert info.plan == "keep" and info.faststart is True
    assert info.duration == pytest.approx(2.0, abs=0.2)
    assert source.read_bytes() == before, "the torrent's own file is left alone for seeding"
    file = reload(file)
    assert (file.container, file.video_codec, file.audio_codec) == ("mp4", "h264", "aac")
    assert file.size == filed.stat().st_size
    assert not list(filed.parent.glob(".*.part")), "no temporary file left behind"
    title.refresh_from_db()
    assert title.status == Status.COMPLETE and title.status_detail == ""
    # the progress was announced on the title while remuxing
    assert [["media", title.pk]] in [row.keys for row in Outbox.objects.all()]


def test_mkv_with_ac3_audio_gets_only_its_audio_converted(data_dir: Path) -> None:
    title = new_title("Loud")
    file = add_file(title, "Loud/Loud.mkv", video(container="mkv", acodec="ac3"))
    assert probe(downloaded(title, file.torrent_path)).plan == "remux_audio"

    assert run_import(title.pk).error == ""

    info = probe(library_file(data_dir, file))
    assert (info.container, info.video_codec, info.audio_codec) == ("mp4", "h264", "aac")
    assert info.plan == "keep"


def test_webm_is_kept_with_its_own_extension(data_dir: Path) -> None:
    title = new_title("Open", 2010)
    add_file(title, "Open/Open.webm", video(container="webm", vcodec="vp9", acodec="opus"))
    report = run_import(title.pk)
    assert report.filed == ["library/Open (2010)/Open (2010).webm"]
    assert probe(data_dir / report.filed[0]).plan == "keep"


def test_hevc_is_left_where_it_is_with_the_reason(data_dir: Path) -> None:
    title = new_title("Modern", 2022)
    file = add_file(title, "Modern/Modern.mkv", video(container="mkv", vcodec="hevc"))
    reason = probe(downloaded(title, file.torrent_path)).reason

    report = run_import(title.pk)

    assert report.error == "" and report.filed == []
    title.refresh_from_db()
    assert title.status == Status.COMPLETE  # still downloadable and streamable as it is
    assert reason in title.status_detail and "HEVC" in title.status_detail
    file = reload(file)
    assert file.path == "" and file.video_codec == "hevc" and file.container == "mkv"
    assert not (data_dir / "library" / "Modern (2022)" / "Modern (2022).mp4").exists()
    assert streaming.locate(title.pk, None).path == downloaded(title, file.torrent_path)


def test_a_file_that_is_not_a_video_puts_the_title_in_error(data_dir: Path) -> None:
    title = new_title("Broken")
    add_file(title, "Broken/Broken.mkv", lambda p: (p.write_bytes(os.urandom(50_000)), p)[1])

    result = import_title.call(title.pk)  # the job itself: never raises

    assert result["error"].startswith("Filing into the library failed: Broken.mkv: not a")
    title.refresh_from_db()
    assert title.status == Status.ERROR and title.status_detail == result["error"]


def test_a_missing_download_and_a_missing_title_are_errors_not_exceptions(data_dir: Path) -> None:
    title = new_title("Gone")
    make_file(title, torrent_path="Gone/Gone.mkv", size=10)
    report = run_import(title.pk)
    assert "Gone.mkv: the downloaded file is missing" in report.error
    title.refresh_from_db()
    assert title.status == Status.ERROR and "missing" in title.status_detail
    assert run_import(987654).error == "The title is no longer in the library."


def test_nothing_is_filed_while_the_download_is_still_running(data_dir: Path) -> None:
    title = new_title("Early")
    file = add_file(title, "Early/Early.mp4", video())
    make_download(title, state="downloading")
    report = run_import(title.pk)
    assert report.filed == [] and report.warnings and reload(file).path == ""


# --------------------------------------------------------------------------- subtitles


def test_subtitles_become_webvtt_sidecars(data_dir: Path) -> None:
    title = new_title("Talk", 2001)
    add_file(title, "Talk.2001/Talk.2001.mkv", video(container="mkv"))
    srt = add_file(title, "Talk.2001/Talk.2001.en.srt", make_srt, role=MediaFile.Role.SUBTITLE)
    ass = add_file(title, "Talk.2001/Subs/French.ass", make_ass, role=MediaFile.Role.SUBTITLE)
    idx = add_file(
        title,
        "Talk.2001/Talk.2001.sub",
        lambda p: (p.write_bytes(b"\0" * 100), p)[1],
        role=MediaFile.Role.SUBTITLE,
    )

    assert run_import(title.pk).error == ""

    folder = data_dir / "library" / "Talk (2001)"
    srt, ass = reload(srt), reload(ass)
    assert srt.path == "library/Talk (2001)/Talk (2001).en.vtt" and srt.language == "en"
    assert ass.path == "library/Talk (2001)/Talk (2001).fr.vtt" and ass.language == "fr"
    english = (folder / "Talk (2001).en.vtt").read_text()
    assert english.startswith("WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nHello, <i>world</i>!")
    assert "Hello, world!" in (folder / "Talk (2001).fr.vtt").read_text()
    assert reload(idx).path == ""  # a picture subtitle: nothing a browser reads
    assert sorted(p.name for p in folder.iterdir()) == [
        "Talk (2001).en.vtt",
        "Talk (2001).fr.vtt",
        "Talk (2001).mp4",
    ]


def test_two_subtitles_in_one_language_get_two_files(data_dir: Path) -> None:
    title = new_title("Twice", 2003)
    add_file(title, "Twice/Twice.mp4", video())
    for name in ("Twice.en.srt", "Twice.en.forced.srt"):
        add_file(title, f"Twice/{name}", make_srt, role=MediaFile.Role.SUBTITLE)
    run_import(title.pk)
    paths = sorted(
        MediaFile.objects.filter(title=title, role="subtitle").values_list("path", flat=True)
    )
    assert paths == [
        "library/Twice (2003)/Twice (2003).en (2).vtt",
        "library/Twice (2003)/Twice (2003).en.vtt",
    ]


# --------------------------------------------------------------------------- shows


def test_episodes_are_filed_under_season_folders(data_dir: Path) -> None:
    show = make_show(title="The Show", year=2015, info_hash=new_info_hash(), seasons={1: ["", ""]})
    one, two = Episode.objects.order_by("number")
    e1 = add_file(show, "The.Show.S01/The.Show.S01E01.mp4", video(), episode=one)
    e2 = add_file(show, "The.Show.S01/The.Show.S01E02.mkv", video(container="mkv"), episode=two)
    sub = add_file(
        show, "The.Show.S01/The.Show.S01E02.en.srt", make_srt, MediaFile.Role.SUBTITLE, two
    )

    report = run_import(show.pk)

    assert report.error == ""
    base = "library/The Show (2015)/Season 01"
    assert reload(e1).path == f"{base}/The Show - S01E01.mp4"
    assert reload(e2).path == f"{base}/The Show - S01E02.mp4"
    assert reload(sub).path == f"{base}/The Show - S01E02.en.vtt"
    assert probe(library_file(data_dir, e2)).container == "mp4"


# --------------------------------------------------------------------------- safety


@pytest.mark.parametrize(
    "name",
    ["../../../../etc", "..", "/etc/cron.d/x", "a/../../b", "CON", "..\\..\\windows", "\x00\n.."],
)
def test_hostile_title_names_cannot_leave_the_library(data_dir: Path, name: str) -> None:
    title = new_title(name, None)
    file = add_file(title, "x/x.mp4", video())
    assert run_import(title.pk).error == ""
    filed = library_file(data_dir, file)
    assert filed.resolve().is_relative_to(data_dir / "library")
    assert filed.parent.parent == data_dir / "library"
    assert [p for p in data_dir.rglob("*.mp4") if "downloads" not in p.parts] == [filed]


def test_a_torrent_path_leaving_its_folder_is_not_followed(data_dir: Path, tmp_path: Path) -> None:
    title = new_title("Sneaky")
    outside = make_video(tmp_path / "outside.mp4")
    make_file(title, torrent_path="../../../outside.mp4", size=1)
    report = run_import(title.pk)
    assert "can't be found" in report.error
    assert not (data_dir / "library").exists() or not list((data_dir / "library").rglob("*.mp4"))
    assert outside.exists()


def test_two_titles_with_the_same_name_get_two_files(data_dir: Path) -> None:
    first, second = new_title("Heat", 1995), new_title("Heat", 1995)
    a = add_file(first, "Heat/Heat.mp4", video())
    b = add_file(second, "Heat/Heat.mkv", video(container="mkv"))
    run_import(first.pk)
    run_import(second.pk)
    assert reload(a).path == "library/Heat (1995)/Heat (1995).mp4"
    assert reload(b).path == "library/Heat (1995)/Heat (1995) (2).mp4"


# --------------------------------------------------------------------------- idempotence


def test_a_second_run_changes_nothing(data_dir: Path) -> None:
    title = new_title("Again", 2011)
    mp4 = add_file(title, "Again/Again.mkv", video(container="mkv"))
    add_file(title, "Again/Again.en.srt", make_srt, role=MediaFile.Role.SUBTITLE)
    first = run_import(title.pk)
    filed = library_file(data_dir, mp4)
    stat = filed.stat()
    rows = Outbox.objects.count()
    listing = sorted(p.relative_to(data_dir) for p in data_dir.rglob("*"))

    second = run_import(title.pk)

    assert second == ImportReport(title.pk, already=first.filed)
    assert filed.stat().st_ino == stat.st_ino and filed.stat().st_mtime == stat.st_mtime
    assert sorted(p.relative_to(data_dir) for p in data_dir.rglob("*")) == listing
    assert Outbox.objects.count() == rows, "nothing changed, nothing announced"


def test_a_remux_finished_before_a_crash_is_adopted_not_repeated(data_dir: Path) -> None:
    title = new_title("Crash", 2012)
    file = add_file(title, "Crash/Crash.mkv", video(container="mkv"))
    target = data_dir / "library" / "Crash (2012)" / "Crash (2012).mp4"
    # the job died after the rename, before it recorded the path; and a temporary file of an
    # earlier attempt killed mid-remux is lying around
    remux_to_mp4(downloaded(title, file.torrent_path), target)
    (target.parent / ".Crash (2012).mp4.abc123.part").write_bytes(b"half a file")
    inode = target.stat().st_ino

    assert run_import(title.pk).filed == ["library/Crash (2012)/Crash (2012).mp4"]
    assert reload(file).path == "library/Crash (2012)/Crash (2012).mp4"
    assert target.stat().st_ino == inode
    assert sorted(p.name for p in target.parent.glob("*.mp4")) == ["Crash (2012).mp4"]


# --------------------------------------------------------------------------- the job and progress


def test_the_completion_hook_queues_a_job_the_worker_runs(data_dir: Path) -> None:
    title = new_title("Queued", 2000)
    file = add_file(title, "Queued/Queued.mkv", video(container="mkv"))
    download_completed.send(sender=Download, title=title)  # what the engine part sends
    job = DBTaskResult.objects.get()
    assert job.task_path == "media.library_import.import_title" and job.args_kwargs["args"] == [
        title.pk
    ]
    assert reload(file).path == "", "the hook only queues; the worker files"

    worker = JobWorker(interval=0.05)
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while reload(file).path == "" and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
    assert reload(file).path == "library/Queued (2000)/Queued (2000).mp4"
    job.refresh_from_db()
    assert job.status == "SUCCESSFUL"
    assert job.return_value["filed"] == ["library/Queued (2000)/Queued (2000).mp4"]


def test_progress_is_throttled_and_weighted_by_size(data_dir: Path) -> None:
    title = new_title("Slow")
    now = [100.0]
    progress = _Progress(title, total=300, clock=lambda: now[0])
    details = []
    with progress.file(100):
        pass  # the first third of the bytes is done
    with progress.file(200) as report:
        for step in range(31):  # ten seconds of remux, progress every 1/3 s
            now[0] = 100.0 + step / 3
            report(step / 30)
            details.append(Title.objects.get(pk=title.pk).status_detail)
    # the detail changed at most every three seconds: at 0 s, 3 s, 6 s and 9 s
    assert list(dict.fromkeys(details)) == [
        "Making it playable in the browser… 33%",
        "Making it playable in the browser… 53%",
        "Making it playable in the browser… 73%",
        "Making it playable in the browser… 93%",
    ]
    announced = [row.keys for row in Outbox.objects.all()]
    assert announced.count([["media", title.pk]]) == 4


async def test_progress_reaches_open_pages(data_dir: Path) -> None:
    person = await sync_to_async(_person)("watcher")
    title = await sync_to_async(new_title)("Pushed")
    await sync_to_async(add_file)(
        title, "Pushed/Pushed.mkv", video(container="mkv", seconds=6, size=(320, 240), noise=True)
    )
    communicator = WebsocketCommunicator(
        application, "/ws/live/", headers=[(b"origin", ORIGIN), (b"cookie", person.cookie)]
    )
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    socket = Socket(communicator)
    try:
        assert (await socket.receive())["type"] == "hello"
        importing = asyncio.ensure_future(
            sync_to_async(run_import, thread_sensitive=False)(title.pk)
        )
        frames = []
        while not frames or frames[-1]["data"]["state"] == "remuxing":
            frame = await socket.receive(timeout=10)
            if frame["type"] == "set":
                assert frame["key"] == ["import", title.pk]
                frames.append(frame)
        assert (await importing).error == ""
        # Values pushed within one tick reach a socket as one frame holding the newest.
        assert all(f["data"]["state"] == "remuxing" for f in frames[:-1])
        assert frames[-1]["data"] == {"fraction": 1.0, "state": "done"}
        fractions = [f["data"]["fraction"] for f in frames]
        assert fractions == sorted(fractions)
    finally:
        await communicator.disconnect(timeout=1)
        await stop_relays()


def test_a_start_up_sweep_queues_what_was_never_filed(data_dir: Path) -> None:
    filed, unfiled = new_title("Filed"), new_title("Unfiled")
    add_file(filed, "Filed/Filed.mp4", video())
    add_file(unfiled, "Unfiled/Unfiled.mkv", video(container="mkv"))
    make_title(title="Wanted", status=Status.PENDING)
    run_import(filed.pk)

    assert library_import.enqueue_unfiled() == [unfiled.pk]
    assert [job.args_kwargs["args"] for job in DBTaskResult.objects.all()] == [[unfiled.pk]]
