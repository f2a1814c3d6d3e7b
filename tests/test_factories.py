"""The shared test world (tests.factories) builds what it says it builds."""

from __future__ import annotations

import pytest
from django.test import Client

from media.models import Kind, MediaFile, Status
from tests.conftest import MATRIX
from tests.factories import (
    PASSWORD,
    make_download,
    make_file,
    make_show,
    make_title,
    make_user,
    new_info_hash,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("role", "superuser", "staff"),
    [("owner", True, True), ("admin", False, True), ("member", False, False)],
)
def test_each_role_gets_its_flags_and_can_log_in(role: str, superuser: bool, staff: bool) -> None:
    user = make_user(role)
    assert (user.is_superuser, user.is_staff, user.is_active) == (superuser, staff, True)
    assert Client().login(username=user.username, password=PASSWORD)


def test_users_get_names_of_their_own_unless_given_one() -> None:
    assert make_user().username != make_user().username
    assert make_user("admin", username="ada").username == "ada"


def test_an_unknown_role_is_refused() -> None:
    with pytest.raises(ValueError, match="role must be one of"):
        make_user("superuser")


def test_a_title_is_a_complete_movie_unless_told_otherwise() -> None:
    title = make_title()
    assert (title.kind, title.status, title.info_hash) == (Kind.MOVIE, Status.COMPLETE, None)
    wanted = make_title(title="Heat", status=Status.PENDING, year=1995)
    assert (wanted.title, wanted.status, wanted.year) == ("Heat", Status.PENDING, 1995)


def test_a_title_with_a_magnet_gets_its_info_hash() -> None:
    title = make_title(magnet=MATRIX)
    assert title.info_hash == "c9e15763f722f23e98a29decdfae341b98d53056"
    assert make_title(magnet=MATRIX, info_hash=None).info_hash is None  # unless it is given


def test_a_show_gets_the_seasons_and_episodes_asked_for() -> None:
    show = make_show(seasons={1: 3, 2: ["Pilot", "Second"]})
    assert show.kind == Kind.TV
    episodes = {
        season.number: [(e.number, e.name) for e in season.episodes.order_by("number")]
        for season in show.seasons.all()
    }
    assert episodes == {
        1: [(1, "Episode 1"), (2, "Episode 2"), (3, "Episode 3")],
        2: [(1, "Pilot"), (2, "Second")],
    }
    assert make_show().seasons.get().episodes.count() == 2
    assert not make_show(seasons={}).seasons.exists()


def test_a_file_is_a_video_of_its_title() -> None:
    title = make_title()
    video = make_file(title, path="library/x.mp4")
    assert (video.title, video.role, video.path) == (title, MediaFile.Role.VIDEO, "library/x.mp4")
    subtitle = make_file(title, role=MediaFile.Role.SUBTITLE, language="en")
    assert (subtitle.role, subtitle.language) == (MediaFile.Role.SUBTITLE, "en")


def test_a_download_takes_its_titles_info_hash_or_a_new_one() -> None:
    title = make_title(magnet=MATRIX)
    assert make_download(title).info_hash == title.info_hash
    one, two = make_download(make_title()), make_download(make_title())
    assert len(one.info_hash) == 40 and one.info_hash != two.info_hash
    assert new_info_hash() != new_info_hash()
