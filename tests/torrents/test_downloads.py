"""The download service end to end: a Title's magnet, a real engine part, a real seeder."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db.models.signals import pre_save
from django.test import Client

from media import library
from media.magnets import parse_magnet
from media.models import Episode, MediaFile, Status, Title
from plank import parts, system
from plank.live.models import Outbox
from tests.factories import make_title, make_user
from tests.torrents.conftest import offline_engine, random_bytes, sha1, wait_for
from torrents import downloads, engine_part
from torrents import engine as engine_module
from torrents.engine_part import NO_PEERS_MESSAGE, EnginePart, Throttle
from torrents.models import Download, EngineCommand
from torrents.signals import download_completed, download_failed

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_reads")]

KB = 1000
MiB = 1024 * 1024


@pytest.fixture
def make_part(tmp_path: Path, settings) -> Iterator[Callable[..., EnginePart]]:
    settings.DATA_DIR = tmp_path
    settings.DOWNLOADS_DIR = tmp_path / "downloads"
    parts: list[EnginePart] = []

    def make(**options) -> EnginePart:
        options.setdefault("poll_interval", 0.2)
        options.setdefault("metadata_timeout", 2.0)
        options.setdefault("save_interval", 0.5)
        options.setdefault("min_video_size", 100 * KB)
        part = EnginePart(offline_engine(tmp_path / "resume"), **options)
        part.start()
        parts.append(part)
        return part

    yield make
    for part in parts:
        part.stop()
    assert engine_module.current() is None


@pytest.fixture
def part(make_part) -> EnginePart:
    return make_part()


def add_title(magnet: str, kind: str = "movie", name: str = "Test") -> Title:
    """A wanted title with ``magnet`` (and its info hash), as the add form leaves it."""
    return make_title(kind=kind, title=name, magnet=magnet, status=Status.PENDING)


def download_of(title: Title) -> Download:
    return Download.objects.get(title_id=title.pk)


def wait_state(title: Title, *states: str, timeout: float = 30) -> Download:
    try:
        return wait_for(
            lambda: (d := download_of(title)).state in states and d,
            timeout,
            f"download state in {states}",
        )
    except AssertionError as exc:
        d = download_of(title)
        engine = engine_module.current()
        seen = engine.status(d.info_hash) if engine is not None and d.info_hash in engine else None
        raise AssertionError(
            f"{exc}; the download is {d.state} ({d.error or d.title.status_detail}); engine: {seen}"
        ) from None


def test_movie_from_magnet_to_complete(part, make_torrent, seeder, tmp_path: Path) -> None:
    video = random_bytes(2 * MiB)
    subtitle = b"1\n00:00:01,000 --> 00:00:02,000\nHi\n"
    torrent = make_torrent(
        {
            "Movie.2020.1080p/Movie.2020.1080p.mkv": video,
            "Movie.2020.1080p/Movie.2020.1080p.en.srt": subtitle,
            "Movie.2020.1080p/Movie.2020.1080p.mp4.exe": random_bytes(200 * KB),
            "Movie.2020.1080p/Sample/sample.mkv": random_bytes(150 * KB),
        }
    )
    _, magnet = seeder(torrent)
    completed: list[int] = []

    def record(sender, title, **kwargs) -> None:
        completed.append(title.pk)

    download_completed.connect(record)
    try:
        title = add_title(magnet)
        download = downloads.start(title)
        assert download.state == Download.State.METADATA
        assert title.status == Status.DOWNLOADING
        assert download.save_path == str(tmp_path / "downloads" / title.info_hash)

        download = wait_state(title, "complete")
        # the signal goes after the completion commits: wait for it, not just for the row
        wait_for(lambda: completed, 10, "download_completed")
    finally:
        download_completed.disconnect(record)
    title.refresh_from_db()
    assert title.status == Status.COMPLETE and title.status_detail == ""
    assert download.progress == 1.0 and download.completed_at and download.metadata_at
    assert download.total_size == len(video) + len(subtitle)
    assert completed == [title.pk]

    files = {f.torrent_path: f for f in MediaFile.objects.filter(title=title)}
    assert set(files) == {
        "Movie.2020.1080p/Movie.2020.1080p.mkv",
        "Movie.2020.1080p/Movie.2020.1080p.en.srt",
    }
    mkv = files["Movie.2020.1080p/Movie.2020.1080p.mkv"]
    assert mkv.role == "video" and mkv.size == len(video) and mkv.torrent_index is not None
    assert files["Movie.2020.1080p/Movie.2020.1080p.en.srt"].role == "subtitle"

    root = Path(download.save_path)
    assert sha1((root / mkv.torrent_path).read_bytes()) == sha1(video)
    assert not (root / "Movie.2020.1080p" / "Movie.2020.1080p.mp4.exe").exists()
    assert not (root / "Movie.2020.1080p" / "Sample" / "sample.mkv").exists()

    # the state changes were announced with the library's and the downloads' keys
    announced = [row.keys for row in Outbox.objects.all()]
    assert any(["media"] in keys and ["download"] in keys for keys in announced)


def test_show_episodes_are_mapped(part, make_torrent, seeder) -> None:
    torrent = make_torrent(
        {
            "Show.S01.720p/Show.S01E01.720p.mkv": random_bytes(400 * KB),
            "Show.S01.720p/Show.S01E02.720p.mkv": random_bytes(500 * KB),
            "Show.S01.720p/Show.S01E02.720p.srt": b"1\n00:00:01,000 --> 00:00:02,000\nHi\n",
        },
        piece_size=16 * 1024,
    )
    _, magnet = seeder(torrent)
    show = add_title(magnet, kind="tv", name="Show")
    downloads.start(show)
    wait_state(show, "complete")

    assert [(s.number, [e.number for e in s.episodes.all()]) for s in show.seasons.all()] == [
        (1, [1, 2])
    ]
    videos = MediaFile.objects.filter(title=show, role="video").select_related("episode__season")
    assert sorted((f.episode.season.number, f.episode.number, f.torrent_path) for f in videos) == [
        (1, 1, "Show.S01.720p/Show.S01E01.720p.mkv"),
        (1, 2, "Show.S01.720p/Show.S01E02.720p.mkv"),
    ]
    subtitle = MediaFile.objects.get(title=show, role="subtitle")
    assert subtitle.episode == Episode.objects.get(season__show=show, number=2)


@contextmanager
def told_failed(into: list) -> Iterator[None]:
    """Collect ``download_failed`` as (title id, cause, reason) while the block runs."""

    def record(sender, title, reason, cause, **kwargs) -> None:
        into.append((title.pk, cause, reason))

    download_failed.connect(record)
    try:
        yield
    finally:
        download_failed.disconnect(record)


def test_a_program_posing_as_a_movie_is_refused(part, make_torrent, seeder) -> None:
    torrent = make_torrent({"Movie.2021/movie.mp4.exe": random_bytes(600 * KB)})
    _, magnet = seeder(torrent)
    title = add_title(magnet)
    failed = []
    with told_failed(failed):
        downloads.start(title)
        download = wait_state(title, "error", timeout=15)
        wait_for(lambda: failed, 5, "download_failed")
    assert failed == [(title.pk, "refused", download.error)]
    title.refresh_from_db()
    assert title.status == Status.ERROR
    assert (
        title.status_detail
        == "This torrent holds only a program (movie.mp4.exe), not a video — Plank won't download it."
    )
    assert download.error == title.status_detail
    assert title.info_hash not in part.engine
    assert not MediaFile.objects.filter(title=title).exists()
    assert not (Path(download.save_path) / "Movie.2021" / "movie.mp4.exe").exists()


def test_no_peers_then_retry(part) -> None:
    title = add_title("magnet:?xt=urn:btih:" + "5a" * 20 + "&dn=Nobody.Seeds.This")
    failed = []
    with told_failed(failed):
        downloads.start(title)
        download = wait_state(title, "no_peers", timeout=10)
        wait_for(lambda: failed, 5, "download_failed")
    assert failed == [(title.pk, "no_peers", NO_PEERS_MESSAGE)]
    title.refresh_from_db()
    assert title.status_detail == NO_PEERS_MESSAGE
    assert title.status == Status.DOWNLOADING

    downloads.retry(title)
    download = download_of(title)
    title.refresh_from_db()
    assert download.state == "metadata" and download.resume_tries == 1 and title.status_detail == ""
    wait_state(title, "no_peers", timeout=10)  # still nobody: the timer started again


def test_pause_and_resume(part, make_torrent, seeder) -> None:
    torrent = make_torrent({"Film/Film.2019.mkv": random_bytes(2 * MiB)}, piece_size=16 * 1024)
    _, magnet = seeder(torrent, upload_limit=150 * KB)
    title = add_title(magnet)
    downloads.start(title)
    wait_state(title, "downloading", timeout=15)

    downloads.pause(title)
    assert download_of(title).state == "paused"
    wait_for(lambda: part.engine.status(title.info_hash).paused, 5, "engine paused")
    downloads.resume(title)
    assert download_of(title).state == "downloading"
    wait_for(lambda: not part.engine.status(title.info_hash).paused, 5, "engine resumed")


def test_progress_is_saved_every_few_seconds_not_every_tick(
    make_part, make_torrent, seeder
) -> None:
    part = make_part(save_interval=1.5)
    torrent = make_torrent({"Film/Film.mkv": random_bytes(3 * MiB)}, piece_size=16 * 1024)
    _, magnet = seeder(torrent, upload_limit=300 * KB)
    title = add_title(magnet)
    downloads.start(title)
    wait_state(title, "downloading", timeout=15)

    seen = set()
    for _ in range(40):
        download = download_of(title)
        if download.progress_at:
            seen.add((download.progress_at, download.progress))
        time.sleep(0.1)
    times = sorted(at for at, _ in seen)
    assert len(times) >= 2
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 1.4, gaps
    assert max(progress for _, progress in seen) > 0
    assert download.peers == 1 and download.download_rate > 0
    assert part.engine.status(title.info_hash).progress < 1


def test_commands_from_a_web_only_process(part, make_torrent, seeder) -> None:
    torrent = make_torrent({"Film/Film.mkv": random_bytes(2 * MiB)}, piece_size=16 * 1024)
    _, magnet = seeder(torrent, upload_limit=100 * KB)
    engine_module.install(None)  # this "process" has no engine; the part's loop still runs
    try:
        title = add_title(magnet)
        downloads.start(title)
        assert EngineCommand.objects.filter(action="add").exists()
        wait_state(title, "downloading", timeout=15)

        downloads.pause(title)
        wait_for(
            lambda: part.engine.status(title.info_hash).paused, 5, "the engine to apply the pause"
        )
        downloads.remove(title, delete_files=True)
        # the download goes; the title's status is the library's (media.library.delete_title)
        assert not Download.objects.filter(title=title).exists()
        assert EngineCommand.objects.filter(action="remove", delete_files=True).exists()
        wait_for(lambda: title.info_hash not in part.engine, 5, "the engine to apply the removal")
        wait_for(
            lambda: not Path(part.engine.resume_dir / f"{title.info_hash}.fastresume").exists(),
            5,
            "resume file gone",
        )
        assert not (Path(settings_downloads()) / title.info_hash).exists()
        assert not EngineCommand.objects.exists()
    finally:
        engine_module.install(part.engine)


def settings_downloads() -> str:
    return str(settings.DOWNLOADS_DIR)


def test_restart_picks_up_where_it_left(make_part, make_torrent, seeder) -> None:
    data = random_bytes(2 * MiB)
    torrent = make_torrent({"Film/Film.mkv": data}, piece_size=16 * 1024)
    _, magnet = seeder(torrent, upload_limit=250 * KB)
    first = make_part()
    title = add_title(magnet)
    downloads.start(title)
    wait_for(lambda: download_of(title).progress > 0.2, 20, "some progress")
    orphan = first.engine.add_magnet(
        "magnet:?xt=urn:btih:" + "77" * 20, Path(settings_downloads()) / "orphan"
    )
    first.stop()

    second = make_part()
    assert title.info_hash in second.engine
    assert orphan not in second.engine, "a torrent no download asks for is dropped"
    download = wait_state(title, "complete")
    assert sha1((Path(download.save_path) / "Film" / "Film.mkv").read_bytes()) == sha1(data)


def test_throttle() -> None:
    throttle = Throttle(1.0)
    assert throttle.ready("a", now=10.0)
    assert not throttle.ready("a", now=10.5)
    assert throttle.ready("b", now=10.5)
    assert throttle.ready("a", now=11.0)


def test_engine_is_a_registered_part_with_a_health_check(part) -> None:
    registration = next(r for r in parts.registered() if r.name == "engine")
    assert registration.roles == frozenset({"engine"})
    assert registration.factory is engine_part.engine_part
    check = engine_part.engine_check()
    assert check.ok and check.summary == "0 torrent(s)"
    assert ("DHT / LSD / UPnP", "off / off / off") in check.details
    assert engine_part.engine_check in system._checks


# --------------------------------------------------------------------------- crashes and races


def test_retry_starts_a_title_that_never_got_its_download(part, make_torrent, seeder) -> None:
    """A title left pending with no download row (a crash before it, an older Plank): Retry
    works on it, and so does adding its magnet again."""
    torrent = make_torrent({"Film/Film.mkv": random_bytes(1 * MiB)}, piece_size=16 * 1024)
    _, magnet = seeder(torrent)
    title = add_title(magnet)
    assert not Download.objects.filter(title=title).exists()
    client = Client()
    client.force_login(make_user("owner"))
    response = client.post(f"/downloads/{title.pk}/retry", HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    wait_state(title, "downloading", "complete", "seeding", timeout=20)

    stuck = add_title(make_torrent({"Two/Two.mkv": random_bytes(MiB)}).magnet(), name="Two")
    again = library.add_magnet(parse_magnet(stuck.magnet), "movie", None)
    assert not again.created and again.title.pk == stuck.pk
    assert Download.objects.filter(title=stuck).exists(), "adding it again restarted it"


def test_retry_without_a_magnet_says_why(part) -> None:
    wanted = make_title(status=Status.PENDING)
    client = Client()
    client.force_login(make_user("owner"))
    response = client.post(f"/downloads/{wanted.pk}/retry", HTTP_HX_REQUEST="true")
    assert response.status_code == 409
    assert response.content == b"This title has no magnet link to download yet."
    assert not Download.objects.exists()


def test_reconcile_makes_the_session_and_the_rows_agree(part, make_torrent, seeder) -> None:
    """What a crash can leave behind, all at once, then one reconcile."""
    engine = part.engine
    a, b, c = (
        make_torrent({f"{n}/{n}.mkv": random_bytes(MiB)}, piece_size=16 * 1024) for n in "ABC"
    )
    _, magnet_a = seeder(a)
    _, magnet_b = seeder(b)
    stuck = add_title(magnet_a, name="Stuck")  # pending, a magnet, no download row
    engine.add_magnet(magnet_b, Path(settings.DOWNLOADS_DIR) / "stray")  # nobody asked for it
    half_deleted = make_title(status=Status.REMOVED, removing_files=True)  # a delete cut short
    left = EngineCommand.objects.create(info_hash=c.info_hash, action="remove")  # not applied

    part.reconcile()

    assert Download.objects.filter(title=stuck).exists()
    wait_for(lambda: a.info_hash in engine, 5, "the stuck title's torrent in the session")
    assert b.info_hash not in engine, "a torrent no download asks for is dropped"
    assert not Title.objects.filter(pk=half_deleted.pk).exists(), "the delete finished"
    assert not EngineCommand.objects.filter(pk=left.pk).exists(), "the command was carried out"
    wait_state(stuck, "downloading", "complete", "seeding", timeout=20)


def test_deletes_racing_the_engine_are_quiet(part, make_torrent, seeder, caplog) -> None:
    """Titles deleted while the engine is busy with them (adding, fetching metadata, vetting,
    reporting progress, completing): expected races, never logged as errors."""
    caplog.set_level("DEBUG")
    for n in range(6):
        torrent = make_torrent({f"R{n}/R{n}.mkv": random_bytes(MiB)}, piece_size=16 * 1024)
        _, magnet = seeder(torrent, upload_limit=400 * KB)
        title = library.add_magnet(parse_magnet(magnet), "movie", None).title
        if n % 3 == 1:
            wait_for(lambda t=title: Download.objects.filter(title=t, state="downloading"), 15, "d")
        elif n % 3 == 2:
            time.sleep(0.4)  # metadata and vetting in flight
        library.delete_title(Title.objects.get(pk=title.pk), delete_files=True)
        wait_for(lambda h=torrent.info_hash: h not in part.engine, 10, "the torrent to go")
    time.sleep(1.5)  # let the engine's late events for the deleted rows arrive
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
    assert not Title.objects.exists() and not Download.objects.exists()
    assert not EngineCommand.objects.exists()


def test_a_row_deleted_between_read_and_save_is_an_expected_race(
    part, make_torrent, seeder, caplog
) -> None:
    """The races the issue saw, made to happen every time: the row goes right before the engine
    part saves it (``Save with update_fields did not affect any rows``), and a removed torrent's
    handle is used once more (``invalid torrent handle used``). Both are handled quietly."""
    caplog.set_level("DEBUG")
    torrent = make_torrent({"Gone/Gone.mkv": random_bytes(MiB)}, piece_size=16 * 1024)
    _, magnet = seeder(torrent, upload_limit=200 * KB)
    title = library.add_magnet(parse_magnet(magnet), "movie", None).title
    download = wait_state(title, "downloading", timeout=15)
    status = part.engine.status(download.info_hash)
    handle = part.engine._session.handle(download.info_hash)

    def delete_first(sender, instance, update_fields=None, **kwargs):
        if update_fields:  # the engine part's saves name their fields
            Download.objects.filter(pk=instance.pk).delete()

    pre_save.connect(delete_first, sender=Download, dispatch_uid="test-delete-first")
    try:
        Download.objects.filter(pk=download.pk).update(state="paused")  # progress saves a state
        part._pushes.forget(download.info_hash)  # not throttled by the engine's own last tick
        part._saves.forget(download.info_hash)
        part._guarded(part.on_progress, status)  # (the save's transaction undoes the delete)
        part._guarded(downloads.fail, download.info_hash, "The download failed: disk full")
    finally:
        pre_save.disconnect(sender=Download, dispatch_uid="test-delete-first")
    part.engine.remove(download.info_hash)
    part._guarded(handle.status)
    said = [f"{r.getMessage()} {r.exc_info[1] if r.exc_info else ''}" for r in caplog.records]
    races = [m for m in said if "did not affect" in m or "invalid torrent handle" in m]
    assert len(races) >= 2, "the races happened"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
