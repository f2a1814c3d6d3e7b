"""The home rows above the library grid (media/home.py): each row's content and emptiness, per
person, live partials, escaping, and what they cost in queries."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import Client

from media import home, live
from media.models import Kind, MediaFile, PlaybackPosition, Title
from tests.factories import make_download, make_file, make_show, make_title, make_user

pytestmark = pytest.mark.django_db


def section(page: str, name: str) -> str:
    """The HTML of one row's section ("" when the page has none)."""
    found = re.search(
        rf'<section class="home-row[^"]*" id="home-row-{name}".*?</section>', page, re.S
    )
    return found.group(0) if found else ""


def is_hidden(html: str) -> bool:
    return bool(re.match(r"<section[^>]* hidden>", html))


def watched(user, title: Title, position: float, duration: float = 100.0, file=None):
    return PlaybackPosition.objects.create(
        user=user, title=title, file=file, position=position, duration=duration
    )


def episode_files(show: Title) -> list[MediaFile]:
    """A video file for each episode of ``show``, in order."""
    files = []
    for season in show.seasons.order_by("number"):
        for episode in season.episodes.order_by("number"):
            files.append(make_file(show, episode=episode, duration=1500.0))
    return files


# --- the rows, one by one ----------------------------------------------------------------


def test_an_empty_library_has_every_row_hidden(client_owner: Client) -> None:
    page = client_owner.get("/").content.decode()
    for name in home.BUILT_IN:
        html = section(page, name)
        assert html, name  # there, so it can appear when it gains something
        assert is_hidden(html), name


def test_continue_watching_is_per_person(client_member: Client, member, owner) -> None:
    mine = make_title(title="Heat")
    theirs = make_title(title="Ronin")
    done = make_title(title="Alien")
    watched(member, mine, 600, 6000)
    watched(owner, theirs, 600, 6000)  # another person's position
    watched(member, done, 5990, 6000)  # finished: not in Continue watching
    row = section(client_member.get("/").content.decode(), "continue")
    assert not is_hidden(row)
    assert "Heat" in row and f"/media/{mine.pk}/watch" in row and "10% watched" in row
    assert "Ronin" not in row and "Alien" not in row


def test_continue_watching_is_hidden_for_someone_who_watched_nothing(
    client_owner: Client, member
) -> None:
    watched(member, make_title(title="Heat"), 600, 6000)
    row = section(client_owner.get("/").content.decode(), "continue")
    assert is_hidden(row) and "Heat" not in row


def test_downloading_now_shows_progress_that_set_frames_move(client_owner: Client) -> None:
    title = make_title(title="Heat", status="downloading")
    make_download(title, state="downloading", progress=0.25, peers=4, download_rate=2048)
    make_title(title="Alien")  # complete: not downloading
    row = section(client_owner.get("/").content.decode(), "downloading")
    assert not is_hidden(row)
    assert "Heat" in row and "Alien" not in row
    assert f'data-live-set="download/{title.pk}"' in row  # the bar and the chip, moved in place
    assert 'data-bind-width="fraction" style="width: 25%"' in row
    assert 'class="status-chip' in row and "Downloading" in row


def test_recently_added_is_the_newest_complete_titles(client_owner: Client) -> None:
    old = make_title(title="Old One")
    for n in range(home.ROW_LIMIT):
        make_title(title=f"New {n}")
    make_title(title="Still Coming", status="downloading")
    make_title(title="Gone", status="removed")
    row = section(client_owner.get("/").content.decode(), "recent")
    assert row.count('class="poster-card home-card"') == home.ROW_LIMIT
    assert row.index(f"New {home.ROW_LIMIT - 1}") < row.index("New 0")
    assert old.title not in row and "Still Coming" not in row and "Gone" not in row


def test_up_next_is_the_episode_after_the_last_one_finished(client_member: Client, member) -> None:
    show = make_show(title="The Wire", seasons={1: 3, 2: 1})
    e1, e2, e3, s2e1 = episode_files(show)
    e2.delete()  # no file for S01E02: the next one with a file is S01E03
    watched(member, show, 1490, 1500, file=e1)
    row = section(client_member.get("/").content.decode(), "upnext")
    assert not is_hidden(row)
    assert "The Wire" in row and "S01E03 · Episode 3" in row and f"?file={e3.pk}" in row
    # Finishing the last episode of season 1 brings up season 2.
    watched(member, show, 1495, 1500, file=e3)
    row = section(client_member.get("/").content.decode(), "upnext")
    assert "S02E01" in row and f"?file={s2e1.pk}" in row


def test_up_next_has_nothing_while_an_episode_is_half_watched_or_the_show_is_done(
    client_member: Client, member, owner
) -> None:
    show = make_show(title="The Wire", seasons={1: 2})
    e1, e2 = episode_files(show)
    watched(member, show, 300, 1500, file=e1)  # in progress: Continue watching has it
    page = client_member.get("/").content.decode()
    assert is_hidden(section(page, "upnext"))
    assert "S01E01" in section(page, "continue")
    watched(member, show, 1499, 1500, file=e2)  # the last episode, finished
    assert is_hidden(section(client_member.get("/").content.decode(), "upnext"))
    other = make_show(title="Deadwood", seasons={1: 2})
    o1, _ = episode_files(other)
    watched(owner, other, 1499, 1500, file=o1)  # another person's show
    assert "Deadwood" not in client_member.get("/").content.decode().split('id="library-grid"')[0]


def test_rows_only_on_the_plain_library_page(client_owner: Client) -> None:
    make_title(title="Heat")
    for query in ({"type": "movie"}, {"q": "heat"}, {"sort": "title"}):
        page = client_owner.get("/", query).content.decode()
        assert 'id="home-rows"' not in page, query
        assert "Heat" in page
    assert 'id="home-rows"' in client_owner.get("/").content.decode()


# --- live partials ---------------------------------------------------------------------------


def test_each_row_is_a_live_partial_under_the_library_key(
    client_owner: Client, htmx_headers
) -> None:
    make_title(title="Heat")
    page = client_owner.get("/").content.decode()
    for name in home.BUILT_IN:
        html = section(page, name)
        assert f'data-live-key="media/home/{name}"' in html
        assert f'hx-get="/?partial=row&amp;row={name}"' in html
        # An invalidation of ("media",), which every title change announces, refetches it.
        assert live.LIBRARY == home.key(name)[:1]
    alone = client_owner.get("/", {"partial": "row", "row": "recent"}, **htmx_headers)
    body = alone.content.decode().strip()
    assert body.startswith('<section class="home-row" id="home-row-recent"')
    assert "Heat" in body and not is_hidden(body) and "<html" not in body
    unknown = client_owner.get("/", {"partial": "row", "row": "nope"}, **htmx_headers)
    assert unknown.status_code == 200 and unknown.content == b""


@pytest.mark.django_db(transaction=True)  # real commits: they make the cached rows stale
def test_shared_rows_are_cached_until_a_title_changes(client_owner: Client, htmx_headers) -> None:
    make_title(title="Heat")
    url = {"partial": "row", "row": "recent"}
    assert "Heat" in client_owner.get("/", url, **htmx_headers).content.decode()
    Title.objects.filter(title="Heat").update(title="Not announced")  # no announcement
    assert "Heat" in client_owner.get("/", url, **htmx_headers).content.decode()  # the cache
    make_title(title="Ronin")  # announced: ("media",) goes stale
    fresh = client_owner.get("/", url, **htmx_headers).content.decode()
    assert "Ronin" in fresh and "Not announced" in fresh


# --- escaping and cost -----------------------------------------------------------------------

HOSTILE = '<img src=x onerror="alert(1)">"&\''


def test_a_hostile_title_is_escaped_in_every_row(client_member: Client, member) -> None:
    show = make_show(title=HOSTILE, seasons={1: [HOSTILE, HOSTILE]})
    e1, e2 = episode_files(show)
    watched(member, show, 1499, 1500, file=e1)  # Up next: e2
    movie = make_title(title=HOSTILE, quality=HOSTILE[:32])  # quality: 32 characters at most
    watched(member, movie, 60, 6000)  # Continue watching
    loading = make_title(title=HOSTILE, status="downloading")
    make_download(loading, state="downloading", progress=0.5, error=HOSTILE)
    page = client_member.get("/").content.decode()
    rows = page.split('id="library-grid"')[0]
    for name in ("continue", "upnext", "downloading", "recent"):
        html = section(rows, name)
        assert "&lt;img src=x" in html, name
    assert "<img src=x" not in page
    assert 'onerror="alert' not in page


def test_the_page_with_every_row_full_stays_cheap(
    client_member: Client, member, django_assert_max_num_queries
) -> None:
    for n in range(20):
        title = make_title(title=f"Movie {n}")
        watched(member, title, 120 + n, 6000)
        downloading = make_title(title=f"Coming {n}", status="downloading")
        make_download(downloading, state="downloading", progress=n / 20)
    for n in range(15):
        show = make_show(title=f"Show {n}", seasons={1: 3})
        first, *_ = episode_files(show)
        watched(member, show, 1499, 1500, file=first)
    with django_assert_max_num_queries(14) as counted:
        page = client_member.get("/").content.decode()
    for name in home.BUILT_IN:
        html = section(page, name)
        assert not is_hidden(html) and html.count("home-card") == home.ROW_LIMIT, name
    home_queries = [
        q["sql"]
        for q in counted.captured_queries
        if "media_playbackposition" in q["sql"] or "LIMIT 12" in q["sql"]
    ]
    assert len(home_queries) <= 5  # positions, the episode files, downloading (+ files), recent


def test_kinds_of_titles_in_recent_are_both(client_owner: Client) -> None:
    make_title(title="Heat")
    make_show(title="The Wire")
    row = section(client_owner.get("/").content.decode(), "recent")
    assert "Heat" in row and "The Wire" in row
    assert Kind.TV in {t.kind for t in home.recently_added()}


def test_a_signed_out_person_has_no_personal_rows() -> None:
    history = home.History(AnonymousUser())
    assert history.continue_watching() == [] and history.up_next() == []
    make_user()  # someone exists; still nothing for nobody
    assert home.History(AnonymousUser()).rows == []
