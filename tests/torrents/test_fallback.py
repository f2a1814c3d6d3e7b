"""The automatic fallback, with real parts: the best release holds ``movie.mp4.exe`` → vetting
refuses it → it is blocked for the title, the title page says so, and the next candidate starts
by itself and completes; a release that finds no peer in time goes the same way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from media.models import Title
from plank.jobs import JobWorker
from tests.factories import make_title
from tests.media.videos import make_video
from tests.torrents import find_helpers
from tests.torrents.conftest import MadeTorrent, offline_engine, wait_for
from tests.torrents.fake_torznab import FakeIndexer, FakeRelease, plain_indexer
from torrents import engine as engine_module
from torrents import signals
from torrents.engine_part import EnginePart
from torrents.models import BlockedRelease, Download, TitleSearch, get_release_preferences

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_reads")]
fake, fresh_search = find_helpers.fake, find_helpers.fresh_search  # fixtures

KB = 1000
GOOD = "Night.Train.2019.720p.WEB-DL.AAC2.0.H.264-GRP"
BAD = "Night.Train.2019.1080p.WEB-DL.AAC2.0.H.264-FAKE"


@pytest.fixture
def engine_part(settings, data_dir: Path) -> Iterator[EnginePart]:
    """The engine part (no peers after 3 s) and the job worker, as ``serve`` runs them."""
    settings.RESUME_DIR = data_dir / "resume"
    part = EnginePart(
        offline_engine(settings.RESUME_DIR),
        poll_interval=0.2,
        metadata_timeout=3,
        save_interval=0.5,
        min_video_size=50 * KB,
    )
    part.start()
    jobs = JobWorker(interval=0.1)
    jobs.start()
    yield part
    jobs.stop()
    part.stop()
    assert engine_module.current() is None


def night_train() -> Title:
    return make_title(title="Night Train", year=2019, tmdb_id=4242, status="pending", magnet="")


def test_a_refused_release_is_blocked_and_the_next_starts_by_itself(
    engine_part, fake, make_torrent, seeder, tmp_path: Path
) -> None:
    film = make_video(
        tmp_path / "made" / "film.mp4", container="mp4", size=(320, 240), seconds=4
    ).read_bytes()
    bad: MadeTorrent = make_torrent(
        {f"{BAD}/movie.mp4.exe": b"MZ" + b"\0" * 200_000, f"{BAD}/readme.txt": b"play me"}
    )
    good: MadeTorrent = make_torrent({f"{GOOD}/{GOOD}.mp4": film})
    _, bad_magnet = seeder(bad)
    _, good_magnet = seeder(good)
    fake.add(
        FakeIndexer(
            "local",
            "Local",
            [
                FakeRelease(
                    BAD,
                    bad.info_hash,
                    size=5_000_000_000,
                    seeders=500,
                    magnet=bad_magnet,
                    tmdb_id=4242,
                ),
                FakeRelease(
                    GOOD,
                    good.info_hash,
                    size=2_000_000_000,
                    seeders=20,
                    magnet=good_magnet,
                    tmdb_id=4242,
                ),
            ],
        )
    )
    plain_indexer(fake, "local")
    title = night_train()  # a wanted title: searched at once, and its best release started

    # the best scored first (1080p, 500 seeders), then vetting refused it ...
    blocked = wait_for(
        lambda: BlockedRelease.objects.filter(title=title).first(), 40, "the refusal"
    )
    assert (blocked.info_hash, blocked.name, blocked.cause) == (bad.info_hash, BAD, signals.REFUSED)
    assert "movie.mp4.exe" in blocked.reason
    # ... and the next one started by itself, and finished
    wait_for(
        lambda: Title.objects.get(pk=title.pk).info_hash == good.info_hash, 30, "the next release"
    )
    wait_for(
        lambda: Title.objects.get(pk=title.pk).status == "complete",
        60,
        "the next release to complete",
    )
    row = TitleSearch.objects.get(title=title)
    assert row.trigger == TitleSearch.Trigger.FALLBACK and row.state == TitleSearch.State.STARTED
    assert (
        row.outcome.startswith(f"“{BAD}” failed (") and f"started the next: “{GOOD}”" in row.outcome
    )
    # the refused torrent and what it wrote are gone; only the new download remains
    assert list(Download.objects.values_list("info_hash", flat=True)) == [good.info_hash]
    assert bad.info_hash not in engine_part.engine
    assert not (Path(settings.DOWNLOADS_DIR) / bad.info_hash).exists()


def test_no_peers_in_time_goes_to_the_next(
    engine_part, fake, make_torrent, seeder, tmp_path: Path
) -> None:
    lonely = FakeRelease(
        "Night.Train.2019.1080p.BluRay.x264-NOBODY",
        "7" * 40,
        size=8_000_000_000,
        seeders=60,
        tmdb_id=4242,
    )
    good: MadeTorrent = make_torrent({f"{GOOD}/{GOOD}.mp4": b"\0" * 300_000})
    _, good_magnet = seeder(good)
    fake.add(
        FakeIndexer(
            "local",
            "Local",
            [
                lonely,
                FakeRelease(
                    GOOD,
                    good.info_hash,
                    size=2_000_000_000,
                    seeders=20,
                    magnet=good_magnet,
                    tmdb_id=4242,
                ),
            ],
        )
    )
    plain_indexer(fake, "local")
    title = night_train()
    blocked = wait_for(lambda: BlockedRelease.objects.filter(title=title).first(), 30, "no peers")
    assert (blocked.info_hash, blocked.cause) == (lonely.info_hash, signals.NO_PEERS)
    wait_for(
        lambda: Title.objects.get(pk=title.pk).info_hash == good.info_hash, 30, "the next release"
    )
    assert Download.objects.get(title__pk=title.pk).info_hash == good.info_hash


def test_a_pasted_magnet_is_not_replaced_and_the_switch_is_respected(fake) -> None:
    title = make_title(magnet=f"magnet:?xt=urn:btih:{'6' * 40}&dn=Mine", status="error")
    signals.download_failed.send(
        sender=Download, title=title, reason="No peers.", cause=signals.NO_PEERS
    )
    assert not BlockedRelease.objects.exists()  # not Plank's choice: left to the person
    prefs = get_release_preferences()
    prefs.fallback = False
    prefs.save()
    chosen = make_title(magnet=f"magnet:?xt=urn:btih:{'5' * 40}&dn=Chosen", status="error")
    TitleSearch.objects.create(title=chosen, state="started")
    signals.download_failed.send(
        sender=Download, title=chosen, reason="No peers.", cause=signals.NO_PEERS
    )
    assert not BlockedRelease.objects.exists()  # the owner switched the fallback off
