"""media/status.py: one state per title with its reason, and the chip that shows it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.template import Context, Template
from django.utils import timezone

from media import status
from media.library_import import REMUXING
from media.models import MediaFile, Status, Title
from media.status import STALLED_AFTER, status_of
from tests.conftest import MATRIX
from tests.factories import make_download, make_file, make_title

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def fresh(title: Title) -> Title:
    """The title as a page reads it: its download and files with it."""
    return Title.objects.select_related("download").prefetch_related("files").get(pk=title.pk)


def downloading(**fields) -> Title:
    title = make_title(magnet=MATRIX, status=Status.DOWNLOADING)
    fields.setdefault("state", "downloading")
    fields.setdefault("progress_at", NOW - timedelta(seconds=3))
    make_download(title, **fields)
    make_file(title, torrent_path="The.Matrix.1999.mkv", size=2_000_000_000)
    return fresh(title)


def chip(title: Title, **options) -> str:
    args = " ".join(f"{k}={v}" for k, v in options.items())
    return Template("{% load status_chip %}{% status_chip title " + args + " %}").render(
        Context({"title": title})
    )


# --- a test per state --------------------------------------------------------------------


def test_wanted_has_no_release_yet() -> None:
    s = status_of(make_title(status=Status.PENDING, magnet=""), NOW)
    assert (s.state, s.label) == ("wanted", "Wanted")
    assert "no release" in s.reason


def test_fetching_metadata_says_who_it_asks() -> None:
    title = make_title(magnet=MATRIX, status=Status.PENDING)
    make_download(title, state="metadata", peers=0, searching_since=NOW - timedelta(minutes=3))
    s = status_of(fresh(title), NOW)
    assert (s.state, s.label) == ("metadata", "Fetching metadata")
    assert "no peers yet" in s.reason and "3\xa0minutes" in s.reason
    assert s.live_key == f"download/{title.pk}"


def test_fetching_metadata_just_started_says_no_time() -> None:
    title = make_title(magnet=MATRIX, status=Status.PENDING)
    make_download(title, state="metadata", peers=2, searching_since=NOW - timedelta(seconds=20))
    s = status_of(fresh(title), NOW)
    assert s.reason == "Asking the swarm for the list of files (2 peers connected)."


def test_no_peers_for_the_magnet_is_waiting_for_peers_with_what_to_do() -> None:
    title = make_title(magnet=MATRIX, status=Status.PENDING)
    title.set_status(Status.PENDING, "No peers found for this magnet yet.")
    make_download(title, state="no_peers")
    s = status_of(fresh(title), NOW)
    assert s.state == "waiting" and s.label == "Waiting for peers"
    assert s.reason.startswith("No peers found for this magnet yet.")
    assert "find another release" in s.reason


def test_no_peers_connected_mid_download_is_waiting_not_downloading() -> None:
    s = status_of(downloading(progress=0.25, peers=0, download_rate=0), NOW)
    assert s.state == "waiting"
    assert s.reason == "No peers connected (25% done)." and s.fraction == 0.25


def test_checking_the_files() -> None:
    title = make_title(magnet=MATRIX, status=Status.PENDING)
    make_download(title, state="vetting")
    s = status_of(fresh(title), NOW)
    assert (s.state, s.label) == ("checking", "Checking")


def test_downloading_with_percent_speed_peers_and_time_left() -> None:
    title = downloading(progress=0.4213, peers=12, download_rate=1_572_864, eta=250)
    s = status_of(title, NOW)
    assert (s.state, s.fraction) == ("downloading", 0.4213)
    assert s.reason == "1.5 MB/s from 12 peers, 4m 10s left."
    assert (s.rate, s.peers, s.eta) == (1_572_864, 12, 250)


def test_paused_says_where() -> None:
    s = status_of(downloading(state="paused", progress=0.5), NOW)
    assert (s.state, s.reason, s.fraction) == ("paused", "Paused at 50%.", 0.5)


def test_stalled_when_nothing_was_written_for_a_while() -> None:
    # The row still shows the last speed: the tick that saw it drop to 0 was never written.
    title = downloading(
        progress=0.6, peers=3, download_rate=80_000, progress_at=NOW - timedelta(minutes=7)
    )
    s = status_of(title, NOW)
    assert (s.state, s.label) == ("stalled", "Stalled")
    assert s.reason == "No data for 7\xa0minutes (60% done). Retry, or find another release."


def test_not_stalled_just_before_the_limit() -> None:
    title = downloading(
        progress=0.6,
        peers=3,
        download_rate=80_000,
        progress_at=NOW - STALLED_AFTER + timedelta(seconds=1),
    )
    assert status_of(title, NOW).state == "downloading"


def test_a_download_that_never_wrote_progress_counts_from_its_search() -> None:
    title = downloading(progress_at=None, searching_since=NOW - timedelta(minutes=10), peers=2)
    assert status_of(title, NOW).state == "stalled"


def test_importing_when_downloaded_and_not_filed_yet() -> None:
    title = downloading(state="complete", progress=1.0)
    title.set_status(Status.COMPLETE)
    s = status_of(fresh(title), NOW)
    assert (s.state, s.label) == ("importing", "Importing")
    assert s.live_key == f"import/{title.pk}"


def test_converting_with_the_percent_the_remux_wrote() -> None:
    title = downloading(state="seeding", progress=1.0)
    title.set_status(Status.COMPLETE, f"{REMUXING} 40%")
    s = status_of(fresh(title), NOW)
    assert (s.state, s.fraction, s.live_key) == ("converting", 0.4, f"import/{title.pk}")


def test_ready_when_filed() -> None:
    title = make_title(status=Status.COMPLETE)
    make_file(title, path="library/Heat (1995)/Heat (1995).mp4", container="mp4")
    s = status_of(fresh(title), NOW)
    assert (s.state, s.label, s.reason, s.tone) == ("ready", "Ready", "In the library.", "ok")


def test_ready_but_seeding_says_so() -> None:
    title = downloading(state="seeding", progress=1.0)
    title.set_status(Status.COMPLETE)
    MediaFile.objects.filter(title=title).update(path="library/M.mp4", container="mp4")
    assert status_of(fresh(title), NOW).reason == "In the library, and sharing it with others."


def test_ready_with_a_video_browsers_cannot_play_says_why() -> None:
    title = downloading(state="complete", progress=1.0)
    reason = "The video is HEVC, which browsers can't play. The file is kept as it is."
    title.set_status(Status.COMPLETE, reason)
    MediaFile.objects.filter(title=title).update(container="matroska", video_codec="hevc")
    s = status_of(fresh(title), NOW)
    assert (s.state, s.reason) == ("ready", reason)


def test_error_from_the_download_in_words() -> None:
    title = make_title(magnet=MATRIX, status=Status.ERROR, status_detail="The title's reason.")
    make_download(title, state="error", error="Refused: the torrent holds only a program (.exe).")
    s = status_of(fresh(title), NOW)
    assert (s.state, s.reason) == ("error", "Refused: the torrent holds only a program (.exe).")


def test_error_from_filing_in_words() -> None:
    title = downloading(state="complete", progress=1.0)
    title.set_status(Status.ERROR, "Filing into the library failed: the disk is full.")
    s = status_of(fresh(title), NOW)
    assert (s.state, s.reason) == ("error", "Filing into the library failed: the disk is full.")


def test_missing_file() -> None:
    title = make_title(status=Status.COMPLETE)
    make_file(title, path="Heat.mp4", missing_since=NOW - timedelta(days=1))
    s = status_of(fresh(title), NOW)
    assert (s.state, s.label, s.reason) == (
        "missing",
        "Missing file",
        "The video file is gone from its folder.",
    )


def test_missing_some_episodes_of_a_show_counts_them() -> None:
    title = make_title(status=Status.COMPLETE, kind="tv")
    for n in range(3):
        make_file(title, path=f"S01E0{n}.mp4", missing_since=NOW if n == 0 else None)
    assert status_of(fresh(title), NOW).reason == "1 of 3 video files are gone from their folders."


def test_no_video_at_all_is_missing() -> None:
    assert status_of(fresh(make_title(status=Status.COMPLETE)), NOW).state == "missing"


def test_removing() -> None:
    assert status_of(make_title(status=Status.REMOVED), NOW).state == "removing"


def test_every_state_has_a_label_and_a_tone() -> None:
    states = {"wanted", "metadata", "waiting", "checking", "downloading", "paused", "stalled"}
    states |= {"importing", "converting", "ready", "missing", "error", "removing"}
    assert states == set(status.LABELS) == set(status.TONES)


def test_a_page_of_titles_reads_status_without_a_query_per_title(django_assert_num_queries) -> None:
    for _ in range(5):
        title = make_title(status=Status.COMPLETE)
        make_file(title, path="x.mp4")
    titles = list(Title.objects.select_related("download").prefetch_related("files"))
    with django_assert_num_queries(0):
        assert {status_of(t, NOW).state for t in titles} == {"ready"}


# --- the chip ------------------------------------------------------------------------------


def test_the_chip_of_a_download_updates_from_its_progress_frames() -> None:
    title = downloading(progress=0.4213, peers=12, download_rate=1_572_864, eta=250)
    html = chip(title)
    assert f'data-live-set="download/{title.pk}"' in html
    assert 'data-state="downloading"' in html and "tone-busy" in html
    assert 'data-field="fraction" data-format="percent">42%</span>' in html
    assert '<span data-field="rate" data-format="rate">1.5 MB/s</span>' in html
    assert '<span data-field="eta" data-format="eta">4m 10s</span>' in html
    assert '<span data-field="peers">12</span>' in html
    assert 'title="1.5 MB/s from 12 peers, 4m 10s left."' in html


def test_the_chip_of_a_stalled_download_says_why_and_what_to_do() -> None:
    title = downloading(progress=0.6, progress_at=NOW - timedelta(hours=2))
    html = chip(title)
    assert "Stalled" in html and "tone-warn" in html
    assert "No data for 2\xa0hours (60% done). Retry, or find another release." in html


def test_the_chip_of_a_remux_follows_the_import_frames() -> None:
    title = downloading(state="complete", progress=1.0)
    title.set_status(Status.COMPLETE, f"{REMUXING} 7%")
    html = chip(fresh(title))
    assert f'data-live-set="import/{title.pk}"' in html
    assert 'data-field="fraction" data-format="percent">7.0%</span>' in html  # as live.js
    assert "Converting" in html


def test_a_ready_chip_has_no_live_hook_and_a_compact_one_hides_its_reason(
    data_dir: Path,
) -> None:
    title = make_title(status=Status.COMPLETE)
    make_file(title, path="library/a.mp4")
    html = chip(fresh(title), compact="True")
    assert "data-live-set" not in html and "Ready" in html
    assert 'class="status-chip-reason visually-hidden"' in html


def test_the_chip_escapes_reasons() -> None:
    title = make_title(status=Status.ERROR, status_detail="<script>alert(1)</script>")
    html = chip(title)
    assert "<script>" not in html and "&lt;script&gt;" in html
