"""``/downloads/``: the columns, the actions each state and role gets, the free disk space."""

from __future__ import annotations

import html
import re
import shutil
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from media.models import Title
from tests.factories import make_download, make_title, make_user
from torrents import disk

pytestmark = pytest.mark.django_db

GB = 1024**3


def page_of(client: Client) -> str:
    response = client.get("/downloads/")
    assert response.status_code == 200
    return response.content.decode()


def row_of(page: str, title: Title) -> str:
    """The ``<tr>`` of ``title``'s download."""
    found = re.search(rf'<tr data-live-set="download/{title.pk}".*?</tr>', page, re.S)
    assert found, f"no row for {title}"
    return found.group(0)


def actions_in(row: str) -> list[str]:
    return re.findall(r'data-action="(\w+)"', row)


def downloading(user=None, **fields) -> Title:
    title = make_title(title="The Matrix", year=1999, status="downloading", added_by=user)
    values = {
        "state": "downloading",
        "progress": 0.4213,
        "download_rate": 3_250_000,
        "upload_rate": 51_200,
        "peers": 14,
        "eta": 1260,
        "total_size": 8 * GB,
        "downloaded": 4 * GB,
        "uploaded": 1 * GB,
        "progress_at": timezone.now(),
    }
    make_download(title, **{**values, **fields})
    return title


def test_a_row_shows_size_progress_rates_ratio_peers_eta_and_state(client_owner: Client) -> None:
    title = downloading()
    row = row_of(page_of(client_owner), title)
    assert f'href="/media/{title.pk}/"' in row and "The Matrix" in row
    assert "4.0 GB</span> / <span" in row and "8.0 GB" in row  # downloaded / total
    assert "42%" in row
    assert "3.1 MB/s" in row and "50.0 KB/s" in row  # down and up
    assert ">0.25<" in row  # ratio: 1 GB up for 4 GB down
    assert '<td class="dl-peers" data-label="Peers" data-field="peers">14</td>' in row
    assert "21m 0s" in row
    assert 'class="status-chip tone-busy' in row and "Downloading" in row
    for label in ("Title", "State", "Progress", "Size", "Speed", "Ratio", "Peers", "ETA"):
        assert f'data-label="{label}"' in row  # the phone layout's cell labels


def test_no_ratio_before_any_byte(client_owner: Client) -> None:
    title = downloading(state="metadata", downloaded=0, uploaded=0, progress=0)
    assert '<td class="dl-ratio" data-label="Ratio">—</td>' in row_of(page_of(client_owner), title)


def test_the_state_says_why(client_owner: Client) -> None:
    stalled = downloading(progress_at=timezone.now() - timedelta(minutes=10))
    failed = make_title(title="Broken", status="downloading")
    make_download(failed, state="error", error="No space left on device")
    page = page_of(client_owner)
    assert "Stalled" in row_of(page, stalled) and "No data for 10" in row_of(page, stalled)
    assert "No space left on device" in row_of(page, failed)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("downloading", ["pause", "remove"]),
        ("metadata", ["pause", "remove"]),
        ("paused", ["resume", "remove"]),
        ("no_peers", ["retry", "remove"]),
        ("error", ["retry", "remove"]),
        ("seeding", ["pause", "remove"]),
        ("complete", ["remove"]),
    ],
)
def test_actions_fit_the_state(client_owner: Client, state: str, expected: list[str]) -> None:
    title = downloading(state=state)
    row = row_of(page_of(client_owner), title)
    assert actions_in(row) == expected
    if "pause" in expected:
        label = "Stop seeding" if state == "seeding" else "Pause"
        assert f'data-action="pause">{label}</button>' in row


def test_a_stalled_download_offers_retry_too(client_owner: Client) -> None:
    title = downloading(progress_at=timezone.now() - timedelta(minutes=10))
    assert actions_in(row_of(page_of(client_owner), title)) == ["pause", "retry", "remove"]


def test_actions_are_post_forms_with_csrf(client_owner: Client) -> None:
    title = downloading()
    row = row_of(page_of(client_owner), title)
    form = re.search(r"<form [^>]*>", row).group(0)
    assert 'method="post"' in form and f'action="/downloads/{title.pk}/pause"' in form
    assert 'name="csrfmiddlewaretoken"' in row
    assert f'href="/media/{title.pk}/delete"' in row  # Remove: the title's delete confirm page


def test_the_pause_form_pauses(client_owner: Client) -> None:
    title = downloading()
    response = client_owner.post(f"/downloads/{title.pk}/pause")
    assert response.status_code == 302
    assert actions_in(row_of(page_of(client_owner), title)) == ["resume", "remove"]


def test_a_member_changes_only_their_own(member, client_member: Client) -> None:
    mine = downloading(user=member)
    someone_elses = make_title(title="Heat", status="downloading", added_by=make_user("owner"))
    make_download(someone_elses, state="downloading", progress=0.1, peers=2)
    page = page_of(client_member)
    assert actions_in(row_of(page, mine)) == ["pause", "remove"]
    theirs = row_of(page, someone_elses)
    assert actions_in(theirs) == [] and "Pause" not in theirs and "<form" not in theirs
    assert "Heat" in theirs  # still listed, with its progress


def test_an_admin_changes_anyones(admin, client_admin: Client, member) -> None:
    title = downloading(user=member)
    assert actions_in(row_of(page_of(client_admin), title)) == ["pause", "remove"]


def test_a_hostile_title_is_escaped(client_owner: Client) -> None:
    title = downloading()
    Title.objects.filter(pk=title.pk).update(title='<script>alert("x")</script><img src=x>')
    page = page_of(client_owner)
    assert "<script>alert" not in page and "<img src=x>" not in page
    assert html.escape("<script>alert(") in page


def test_free_space_of_the_downloads_disk(client_owner: Client, data_dir, settings) -> None:
    settings.PLANK_LOW_DISK_BYTES = 0
    usage = shutil.disk_usage(settings.DOWNLOADS_DIR)
    page = page_of(client_owner)
    assert re.search(r"<strong>[\d.]+ [KMGTP]?B</strong> free of [\d.]+ [KMGTP]?B", page)
    total = disk.downloads_space()
    assert total is not None and total.total == usage.total
    assert "nearly full" not in page


def test_a_low_disk_warns(client_owner: Client, data_dir, settings) -> None:
    settings.PLANK_LOW_DISK_BYTES = 1024**6  # an exabyte: every disk is "low"
    page = page_of(client_owner)
    assert 'class="disk-space low"' in page
    warning = re.search(r'<div class="notice warn disk-warning" role="alert">.*?</div>', page, re.S)
    assert warning and "nearly full" in warning.group(0)
    assert "downloads stop with an error" in warning.group(0)  # what happens when it is full


def test_the_free_space_shows_with_no_download_too(client_owner: Client, data_dir) -> None:
    page = page_of(client_owner)
    assert "Nothing is downloading" in page and "free of" in page


def test_the_list_partial_has_the_free_space(client_owner: Client, htmx_headers) -> None:
    downloading()
    part = client_owner.get("/downloads/?partial=list", **htmx_headers).content.decode()
    assert part.lstrip().startswith('<section id="downloads"') and "free of" in part
    assert "<html" not in part


def test_a_folder_not_made_yet_is_measured_on_its_disk(tmp_path) -> None:
    space = disk.downloads_space(tmp_path / "not" / "yet")
    assert space is not None and space.total == shutil.disk_usage(tmp_path).total


def test_low_compares_with_the_threshold() -> None:
    assert disk.DiskSpace(free=5, total=10, threshold=6).low
    assert not disk.DiskSpace(free=6, total=10, threshold=6).low


def test_title_links_preload(client_owner: Client) -> None:
    title = downloading()
    page = page_of(client_owner)
    assert f'<a href="/media/{title.pk}/" preload="mouseover">' in page
    assert 'hx-ext="preload"' in page
    assert "django_htmx/ext/hx-preload-2.min.js" in page


def test_the_page_does_not_query_per_row(client_owner: Client, django_assert_max_num_queries):
    for _ in range(5):
        make_download(make_title(status="downloading"), state="downloading", progress=0.5)
    with django_assert_max_num_queries(12):
        page_of(client_owner)
