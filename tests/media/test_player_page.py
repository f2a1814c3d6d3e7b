"""The player page (/media/<id>/watch) and its subtitles."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from django.test import Client

from media import playback
from media.models import Episode, MediaFile, Season, Status, Title
from tests.factories import make_file, make_show, make_title

VTT = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHello <b>there</b>\n"


@pytest.fixture
def put(data_dir: Path):
    def write(relative: str, content: bytes | str = b"\x00" * 100) -> str:
        target = data_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            target.write_text(content, encoding="utf-8")
        else:
            target.write_bytes(content)
        return relative

    return write


@pytest.fixture
def movie(db, put) -> tuple[Title, MediaFile]:
    title = make_title(title="Movie", year=2020, status=Status.COMPLETE)
    video = make_file(
        title, path=put("library/Movie (2020)/Movie (2020).mp4"), size=100, duration=5400
    )
    return title, video


def video_tag(page: str) -> str:
    match = re.search(r"<video\b[^>]*>", page)
    assert match, "no <video> element"
    return match.group(0)


def attr(tag: str, name: str) -> str:
    match = re.search(rf'\b{name}="([^"]*)"', tag)
    assert match, f"no {name} in {tag}"
    return html.unescape(match.group(1))


def test_movie_page_has_a_native_player(
    client_member: Client, movie: tuple[Title, MediaFile]
) -> None:
    title, video = movie
    response = client_member.get(f"/media/{title.pk}/watch")
    assert response.status_code == 200
    page = response.content.decode()
    tag = video_tag(page)
    assert attr(tag, "src") == f"/media/{title.pk}/stream"
    assert " controls" in tag and " playsinline" in tag
    assert attr(tag, "preload") == "metadata"
    assert attr(tag, "data-start") == "0.000"
    assert attr(tag, "data-position-url") == f"/media/{title.pk}/position"
    assert attr(tag, "data-file") == str(video.pk)
    assert "/static/plank/player.js" in page
    assert "data-buffering" in page and "Buffering…" in page
    assert 'name="csrfmiddlewaretoken"' in page
    assert "<script>" not in page.split("<body", 1)[1]  # no inline script on the page
    assert "<track" not in page


def test_resumes_from_the_saved_position(
    client_member: Client, member, movie: tuple[Title, MediaFile]
) -> None:
    title, video = movie
    playback.save_position(member, title, video, 1234.5678, 5400)
    assert (
        attr(
            video_tag(client_member.get(f"/media/{title.pk}/watch").content.decode()), "data-start"
        )
        == "1234.568"
    )
    playback.save_position(member, title, video, 5300, 5400)  # finished: start again
    assert (
        attr(
            video_tag(client_member.get(f"/media/{title.pk}/watch").content.decode()), "data-start"
        )
        == "0.000"
    )


def test_subtitle_tracks(client_member: Client, movie: tuple[Title, MediaFile], put) -> None:
    title, _ = movie
    subtitle = MediaFile.Role.SUBTITLE
    en = make_file(
        title,
        role=subtitle,
        path=put("library/Movie (2020)/Movie (2020).en.vtt", VTT),
        language="en",
    )
    pt = make_file(
        title,
        role=subtitle,
        path=put("library/Movie (2020)/Movie (2020).pt-BR.vtt", VTT),
        language="pt-BR",
    )
    bare = make_file(title, role=subtitle, path=put("library/Movie (2020)/Movie (2020).vtt", VTT))
    make_file(
        title,
        role=subtitle,
        path=put("library/Movie (2020)/Movie (2020).fr.srt", "1\n"),
        language="fr",
    )
    page = client_member.get(f"/media/{title.pk}/watch").content.decode()
    tracks = re.findall(r"<track\b[^>]*>", page)
    assert len(tracks) == 3  # the .srt has no WebVTT twin: a browser can't read it
    by_src = {attr(t, "src"): t for t in tracks}
    assert set(by_src) == {f"/media/{title.pk}/subtitles/{f.pk}.vtt" for f in (en, pt, bare)}
    en_tag = by_src[f"/media/{title.pk}/subtitles/{en.pk}.vtt"]
    assert attr(en_tag, "kind") == "subtitles"
    assert attr(en_tag, "srclang") == "en" and attr(en_tag, "label") == "English"
    assert (
        attr(by_src[f"/media/{title.pk}/subtitles/{pt.pk}.vtt"], "label") == "Brazilian Portuguese"
    )
    bare_tag = by_src[f"/media/{title.pk}/subtitles/{bare.pk}.vtt"]
    assert "srclang" not in bare_tag and attr(bare_tag, "label") == "Subtitles 1"

    served = client_member.get(f"/media/{title.pk}/subtitles/{en.pk}.vtt")
    assert served.status_code == 200
    assert served["Content-Type"] == "text/vtt; charset=utf-8"
    assert served.content.decode() == VTT


def test_subtitle_view_serves_only_the_titles_own_vtt_files(
    client_member: Client, movie: tuple[Title, MediaFile], put, data_dir: Path
) -> None:
    title, video = movie
    subtitle = MediaFile.Role.SUBTITLE
    other = make_title(title="Other", status=Status.PENDING)
    theirs = make_file(other, role=subtitle, path=put("library/Other/other.vtt", VTT))
    srt = make_file(title, role=subtitle, path=put("library/Movie (2020)/x.srt", "1\n"))
    (data_dir.parent / "secret.vtt").write_text("WEBVTT\n\nSECRET\n")
    escape = make_file(title, role=subtitle, path="../secret.vtt")
    missing = make_file(title, role=subtitle, path="library/Movie (2020)/gone.vtt")
    for file in (theirs, srt, escape, missing, video):
        response = client_member.get(f"/media/{title.pk}/subtitles/{file.pk}.vtt")
        assert response.status_code == 404
        assert b"SECRET" not in response.content
    assert client_member.get(f"/media/{other.pk}/subtitles/{theirs.pk}.vtt").status_code == 200
    assert Client().get(f"/media/{other.pk}/subtitles/{theirs.pk}.vtt").status_code == 302


@pytest.fixture
def show(db, put) -> tuple[Title, list[MediaFile]]:
    title = make_show(title="Show", status=Status.COMPLETE, seasons={})
    season = Season.objects.create(show=title, number=1)
    files = []
    # made out of order on purpose: the picker sorts by episode number, not by row
    for number, name in ((2, "The Second"), (1, "Pilot"), (3, "")):
        episode = Episode.objects.create(season=season, number=number, name=name)
        path = put(f"library/Show/Season 01/Show - S01E{number:02d}.mkv")
        files.append(make_file(title, episode=episode, path=path, size=100 + number))
    return title, files


def test_show_has_an_episode_picker(
    client_member: Client, show: tuple[Title, list[MediaFile]]
) -> None:
    title, (e2, e1, e3) = show
    page = client_member.get(f"/media/{title.pk}/watch").content.decode()
    options = re.findall(r'<option value="(\d+)"( selected)?>([^<]*)</option>', page)
    assert [(int(v), label) for v, _, label in options] == [
        (e1.pk, "S01E01 · Pilot"),
        (e2.pk, "S01E02 · The Second"),
        (e3.pk, "S01E03"),
    ]
    assert [int(v) for v, selected, _ in options if selected] == [
        e1.pk
    ]  # the first episode by default
    assert attr(video_tag(page), "src") == f"/media/{title.pk}/stream?file={e1.pk}"
    assert 'name="file"' in page and f'action="/media/{title.pk}/watch"' in page

    page = client_member.get(f"/media/{title.pk}/watch", {"file": e3.pk}).content.decode()
    tag = video_tag(page)
    assert attr(tag, "src") == f"/media/{title.pk}/stream?file={e3.pk}"
    assert attr(tag, "data-file") == str(e3.pk)
    assert "S01E03" in page


def test_show_resumes_the_episode_watched_last(
    client_member: Client, member, show: tuple[Title, list[MediaFile]]
) -> None:
    title, (e2, _, _) = show
    playback.save_position(member, title, e2, 77, 1000)
    tag = video_tag(client_member.get(f"/media/{title.pk}/watch").content.decode())
    assert attr(tag, "src") == f"/media/{title.pk}/stream?file={e2.pk}"
    assert attr(tag, "data-start") == "77.000"


def test_episode_subtitles_belong_to_their_episode(
    client_member: Client, show: tuple[Title, list[MediaFile]], put
) -> None:
    title, (e2, e1, _) = show
    sub1 = make_file(
        title,
        episode=e1.episode,
        role=MediaFile.Role.SUBTITLE,
        path=put("library/Show/Season 01/Show - S01E01.en.vtt", VTT),
        language="en",
    )
    make_file(
        title,
        episode=e2.episode,
        role=MediaFile.Role.SUBTITLE,
        path=put("library/Show/Season 01/Show - S01E02.en.vtt", VTT),
        language="en",
    )
    page = client_member.get(f"/media/{title.pk}/watch", {"file": e1.pk}).content.decode()
    assert [attr(t, "src") for t in re.findall(r"<track\b[^>]*>", page)] == [
        f"/media/{title.pk}/subtitles/{sub1.pk}.vtt"
    ]


def test_another_titles_file_is_refused(
    client_member: Client, movie: tuple[Title, MediaFile], show: tuple[Title, list[MediaFile]]
) -> None:
    title, _ = movie
    _, episodes = show
    for junk in (str(episodes[0].pk), "abc", "-1", ""):
        response = client_member.get(f"/media/{title.pk}/watch", {"file": junk})
        assert response.status_code == 404
        assert "<video" not in response.content.decode()


def test_no_file_yet_shows_a_message(client_member: Client, db) -> None:
    title = make_title(title="Coming", status=Status.PENDING)
    response = client_member.get(f"/media/{title.pk}/watch")
    assert response.status_code == 200
    page = response.content.decode()
    assert "<video" not in page
    assert "no video file yet" in page


def test_missing_file_on_disk_shows_a_message(
    client_member: Client, movie: tuple[Title, MediaFile], data_dir: Path
) -> None:
    title, video = movie
    (data_dir / video.path).unlink()
    page = client_member.get(f"/media/{title.pk}/watch").content.decode()
    assert "<video" not in page
    assert "missing from disk" in page


def test_downloading_title_plays_with_a_note(client_member: Client, db, data_dir: Path) -> None:
    title = make_title(
        title="Arriving",
        status=Status.DOWNLOADING,
        info_hash="c9e15763f722f23e98a29decdfae341b98d53056",
    )
    make_file(title, torrent_path="Arriving/arriving.mp4", torrent_index=0, size=10**9)
    page = client_member.get(f"/media/{title.pk}/watch").content.decode()
    assert attr(video_tag(page), "src") == f"/media/{title.pk}/stream"
    assert "Still downloading" in page


def test_unknown_title_is_404(client_member: Client, db) -> None:
    response = client_member.get("/media/999999/watch")
    assert response.status_code == 404
    assert "isn't in the library" in response.content.decode()


def test_anonymous_is_sent_to_login(movie: tuple[Title, MediaFile], member) -> None:
    title, _ = movie
    response = Client().get(f"/media/{title.pk}/watch")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_hostile_names_are_escaped(client_member: Client, db, put) -> None:
    evil = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    title = make_show(title=evil, status=Status.COMPLETE, seasons={1: [evil, evil]})
    for episode in Episode.objects.order_by("number"):
        path = put(f"library/x/{episode.number}.mp4")
        make_file(title, episode=episode, path=path, size=episode.number)
    make_file(
        title,
        episode=Episode.objects.get(number=1),
        role=MediaFile.Role.SUBTITLE,
        path=put("library/x/1.vtt", VTT),
        language='"><b>',
    )
    page = client_member.get(
        f"/media/{title.pk}/watch",
        {"file": MediaFile.objects.filter(episode__number=1, role="video").get().pk},
    ).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "<img src=x" not in page
    assert '"><b>' not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    video = video_tag(page)
    assert "onerror" not in video.replace("&lt;img src=x onerror=alert(2)&gt;", "")
