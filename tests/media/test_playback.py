"""media.playback (positions, resume, continue watching) and the POST /media/<id>/position view."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template.loader import render_to_string
from django.test import Client
from django.utils import timezone

from media import playback
from media.models import Kind, MediaFile, PlaybackPosition, Status, Title
from tests.factories import make_file, make_title, make_user


@pytest.fixture
def movie(db) -> Title:
    return make_title(title="Movie", year=2020, status=Status.COMPLETE)


@pytest.fixture
def video(movie: Title, data_dir: Path) -> MediaFile:
    path = data_dir / "library/Movie/movie.mp4"
    path.parent.mkdir(parents=True)
    path.write_bytes(bytes(1000))
    return make_file(movie, path="library/Movie/movie.mp4", size=1000, duration=6000)


def watchable(name: str, *, status: str = Status.COMPLETE) -> tuple[Title, MediaFile]:
    """A movie called ``name`` with one small video."""
    title = make_title(title=name, status=status)
    return title, make_file(title, path=f"library/{name}.mp4", size=10)


def stored_position(user, title: Title, file: MediaFile | None) -> float:
    """The position saved for `user` in `file` of `title` (0.0 when none is)."""
    row = PlaybackPosition.objects.filter(user=user, title=title, file=file).first()
    return row.position if row is not None else 0.0


# --------------------------------------------------------------------------- the service


def test_save_and_resume(member, movie: Title, video: MediaFile) -> None:
    assert stored_position(member, movie, video) == 0.0
    row = playback.save_position(member, movie, video, 123.5, 6000)
    assert row is not None
    assert stored_position(member, movie, video) == 123.5
    playback.save_position(member, movie, video, 200, 6000)
    assert stored_position(member, movie, video) == 200
    assert PlaybackPosition.objects.count() == 1
    stored = PlaybackPosition.objects.get()
    assert (stored.user, stored.title, stored.file, stored.duration) == (member, movie, video, 6000)


def test_positions_are_per_user(member, owner, movie: Title, video: MediaFile) -> None:
    playback.save_position(member, movie, video, 100, 6000)
    assert stored_position(owner, movie, video) == 0.0
    playback.save_position(owner, movie, video, 50, 6000)
    assert stored_position(member, movie, video) == 100


def test_unknown_duration_keeps_the_stored_one(member, movie: Title, video: MediaFile) -> None:
    playback.save_position(member, movie, video, 100, 6000)
    playback.save_position(member, movie, video, 150, None)
    stored = PlaybackPosition.objects.get()
    assert (stored.position, stored.duration) == (150, 6000)


def test_position_past_the_end_is_clamped(member, movie: Title, video: MediaFile) -> None:
    playback.save_position(member, movie, video, 6001.2, 6000)
    assert stored_position(member, movie, video) == 6000


@pytest.mark.parametrize(
    ("position", "duration"),
    [
        (math.nan, 6000),
        (math.inf, 6000),
        (-math.inf, None),
        (-1, 6000),
        (-0.001, None),
        (playback.MAX_SECONDS + 1, None),
        (1e300, 6000),
        (10, math.nan),
        (10, math.inf),
        (10, 0),
        (10, -5),
        (10, playback.MAX_SECONDS * 2),
        ("abc", None),
        (None, None),
    ],
)
def test_bad_values_are_ignored(member, movie: Title, video: MediaFile, position, duration) -> None:
    playback.save_position(member, movie, video, 100, 6000)
    assert playback.save_position(member, movie, video, position, duration) is None
    stored = PlaybackPosition.objects.get()
    assert (stored.position, stored.duration) == (100, 6000)


def test_a_file_of_another_title_is_refused(member, movie: Title) -> None:
    _, other = watchable("Other")
    with pytest.raises(ValueError):
        playback.save_position(member, movie, other, 10, 100)
    assert not PlaybackPosition.objects.exists()


def test_anonymous_saves_nothing(movie: Title, video: MediaFile) -> None:
    assert playback.save_position(AnonymousUser(), movie, video, 10, 100) is None
    assert playback.continue_watching(AnonymousUser()) == []
    assert not PlaybackPosition.objects.exists()


def test_a_movie_without_a_file_row(member, movie: Title) -> None:
    playback.save_position(member, movie, None, 42, 100)
    playback.save_position(member, movie, None, 43, 100)
    assert PlaybackPosition.objects.count() == 1
    assert stored_position(member, movie, None) == 43


def test_resume_position_restarts_finished_videos(member, movie: Title, video: MediaFile) -> None:
    assert playback.resume_position(member, movie, video) == 0.0
    playback.save_position(member, movie, video, 1000, 6000)
    assert playback.resume_position(member, movie, video) == 1000
    playback.save_position(member, movie, video, 5900, 6000)  # 98%: finished
    assert playback.resume_position(member, movie, video) == 0.0
    # without a stored duration, the probed one decides
    PlaybackPosition.objects.update(duration=None)
    assert playback.resume_position(member, movie, video) == 0.0
    playback.save_position(member, movie, video, 60, None)
    assert playback.resume_position(member, movie, video) == 60


def _aged(minutes: int) -> None:
    """Make the last saved position `minutes` old, to order them without sleeping."""
    row = PlaybackPosition.objects.order_by("-id").first()
    assert row is not None
    PlaybackPosition.objects.filter(pk=row.pk).update(
        updated_at=timezone.now() - timedelta(minutes=minutes)
    )


def test_continue_watching_rules(member, owner) -> None:
    a, fa = watchable("Started long ago")
    b, fb = watchable("Started recently")
    c, fc = watchable("Barely started")
    d, fd = watchable("Finished")
    e, fe = watchable("No duration known")
    f, ff = watchable("Exactly thirty seconds")
    g, fg = watchable("Removed", status=Status.REMOVED)
    h, fh = watchable("Someone else's")
    playback.save_position(member, a, fa, 600, 6000)
    _aged(50)
    playback.save_position(member, b, fb, 31, 6000)
    _aged(10)
    playback.save_position(member, c, fc, 29, 6000)
    playback.save_position(member, d, fd, 5700, 6000)  # exactly 95%
    playback.save_position(member, e, fe, 120, None)
    _aged(20)
    playback.save_position(member, f, ff, 30, 6000)
    playback.save_position(member, g, fg, 600, 6000)
    playback.save_position(owner, h, fh, 600, 6000)

    rows = playback.continue_watching(member)
    assert [r.title for r in rows] == [b, e, a]
    assert rows[0].progress_percent == 1  # type: ignore[attr-defined]
    assert rows[2].progress_percent == 10  # type: ignore[attr-defined]
    assert rows[1].progress_percent == 0  # type: ignore[attr-defined]
    assert playback.continue_watching(member, limit=2) == rows[:2]
    assert playback.continue_watching(member, limit=0) == []
    assert [r.title for r in playback.continue_watching(owner)] == [h]


def test_continue_watching_shows_the_latest_episode_of_a_show(member) -> None:
    show = make_title(title="Show", kind=Kind.TV, status=Status.COMPLETE)
    ep1 = make_file(show, path="library/Show/e1.mp4", size=1)
    ep2 = make_file(show, path="library/Show/e2.mp4", size=1)
    playback.save_position(member, show, ep1, 100, 1000)
    _aged(30)
    playback.save_position(member, show, ep2, 200, 1000)
    rows = playback.continue_watching(member)
    assert len(rows) == 1
    assert rows[0].file == ep2
    # finishing the latest episode takes the show off the row
    playback.save_position(member, show, ep2, 990, 1000)
    assert playback.continue_watching(member) == []


def test_many_titles_stay_within_the_limit(member) -> None:
    for i in range(15):
        title, file = watchable(f"T{i}")
        playback.save_position(member, title, file, 100, 1000)
    assert len(playback.continue_watching(member)) == 12
    assert len(playback.continue_watching(member, limit=5)) == 5


def test_continue_watching_partial_renders_cards(member) -> None:
    title, file = watchable('<img src=x onerror="alert(1)">')
    playback.save_position(member, title, file, 250, 1000)
    html = render_to_string(
        "media/continue_watching.html", {"positions": playback.continue_watching(member)}
    )
    assert f'href="/media/{title.pk}/watch?file={file.pk}"' in html
    assert 'style="width: 25%"' in html
    assert 'aria-valuenow="25"' in html
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert render_to_string("media/continue_watching.html", {"positions": []}).strip() == ""


# --------------------------------------------------------------------------- POST /media/<id>/position


def test_post_saves_and_answers_204(
    client_member: Client, member, movie: Title, video: MediaFile
) -> None:
    response = client_member.post(
        f"/media/{movie.pk}/position",
        {"position": "61.25", "duration": "6000.5", "file": str(video.pk)},
    )
    assert response.status_code == 204
    assert response.content == b""
    stored = PlaybackPosition.objects.get()
    assert (stored.user, stored.file, stored.position, stored.duration) == (
        member,
        video,
        61.25,
        6000.5,
    )


def test_post_without_a_file_uses_the_main_video(
    client_member: Client, movie: Title, video: MediaFile
) -> None:
    make_file(movie, path="library/Movie/sample.mp4", size=10)
    assert (
        client_member.post(
            f"/media/{movie.pk}/position", {"position": "5", "duration": ""}
        ).status_code
        == 204
    )
    assert PlaybackPosition.objects.get().file == video


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"position": "abc"}, b"number of seconds"),
        ({"position": ""}, b"missing"),
        ({}, b"missing"),
        ({"position": "nan"}, b"finite"),
        ({"position": "NaN", "duration": "100"}, b"finite"),
        ({"position": "inf"}, b"finite"),
        ({"position": "1e400"}, b"finite"),
        ({"position": "-1"}, b"negative"),
        ({"position": "99999999999"}, b"too large"),
        ({"position": "1" * 100}, b"number of seconds"),
        ({"position": "10", "duration": "0"}, b"positive"),
        ({"position": "10", "duration": "-3"}, b"positive"),
        ({"position": "10", "duration": "nan"}, b"positive"),
        ({"position": "10", "duration": "Infinity"}, b"positive"),
        ({"position": "10", "duration": "x"}, b"number of seconds"),
        ({"position": "10", "file": "abc"}, b"videos"),
        ({"position": "10", "file": "-1"}, b"videos"),
        ({"position": "10", "file": "999999"}, b"videos"),
    ],
)
def test_bad_values_are_400_and_nothing_is_saved(
    client_member: Client, movie: Title, video: MediaFile, data: dict, message: bytes
) -> None:
    response = client_member.post(f"/media/{movie.pk}/position", data)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert message in response.content
    assert not PlaybackPosition.objects.exists()


def test_a_file_of_another_title_is_400(
    client_member: Client, movie: Title, video: MediaFile
) -> None:
    _, other = watchable("Other")
    response = client_member.post(
        f"/media/{movie.pk}/position", {"position": "10", "file": str(other.pk)}
    )
    assert response.status_code == 400
    # a subtitle of the same title isn't a video either
    sub = make_file(movie, role=MediaFile.Role.SUBTITLE, path="library/Movie/movie.en.vtt", size=0)
    assert (
        client_member.post(
            f"/media/{movie.pk}/position", {"position": "10", "file": str(sub.pk)}
        ).status_code
        == 400
    )
    assert not PlaybackPosition.objects.exists()


def test_post_only(client_member: Client, movie: Title, video: MediaFile) -> None:
    assert client_member.get(f"/media/{movie.pk}/position").status_code == 405
    assert client_member.get(f"/media/{movie.pk}/position", {"position": "5"}).status_code == 405
    assert not PlaybackPosition.objects.exists()


def test_missing_title_is_404(client_member: Client, db) -> None:
    assert client_member.post("/media/999999/position", {"position": "5"}).status_code == 404


def test_anonymous_is_sent_to_login(member, movie: Title, video: MediaFile) -> None:
    response = Client().post(
        f"/media/{movie.pk}/position", {"position": "5", "file": str(video.pk)}
    )
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not PlaybackPosition.objects.exists()


@pytest.fixture
def csrf_client(member) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    return client


def _page_token(client: Client, title: Title) -> str:
    page = client.get(f"/media/{title.pk}/watch").content.decode()
    match = re.search(
        r'data-position-form[^>]*>\s*<input type="hidden" name="csrfmiddlewaretoken" value="([^"]+)"',
        page,
    )
    assert match, "the player page carries the CSRF token for player.js"
    return match.group(1)


def test_csrf_is_enforced(csrf_client: Client, movie: Title, video: MediaFile) -> None:
    url = f"/media/{movie.pk}/position"
    data = {"position": "12", "duration": "6000", "file": str(video.pk)}
    assert csrf_client.post(url, data).status_code == 403
    token = _page_token(csrf_client, movie)
    assert csrf_client.post(url, data | {"csrfmiddlewaretoken": "x" * 64}).status_code == 403
    assert not PlaybackPosition.objects.exists()
    # what player.js sends: the token in the form body (also how sendBeacon carries it) ...
    assert csrf_client.post(url, data | {"csrfmiddlewaretoken": token}).status_code == 204
    # ... and fetch() adds the header too
    assert (
        csrf_client.post(url, data | {"position": "13"}, headers={"X-CSRFToken": token}).status_code
        == 204
    )
    assert PlaybackPosition.objects.get().position == 13


def test_a_beacon_from_another_origin_is_refused(
    csrf_client: Client, movie: Title, video: MediaFile
) -> None:
    token = _page_token(csrf_client, movie)
    response = csrf_client.post(
        f"/media/{movie.pk}/position",
        {"position": "12", "file": str(video.pk), "csrfmiddlewaretoken": token},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert not PlaybackPosition.objects.exists()


def test_saving_from_two_users_and_the_page_resumes(
    client_member: Client, member, movie: Title, video: MediaFile
) -> None:
    other = make_user("member")
    other_client = Client()
    other_client.force_login(other)
    client_member.post(
        f"/media/{movie.pk}/position",
        {"position": "300", "duration": "6000", "file": str(video.pk)},
    )
    other_client.post(
        f"/media/{movie.pk}/position", {"position": "40", "duration": "6000", "file": str(video.pk)}
    )
    assert 'data-start="300.000"' in client_member.get(f"/media/{movie.pk}/watch").content.decode()
    assert 'data-start="40.000"' in other_client.get(f"/media/{movie.pk}/watch").content.decode()
