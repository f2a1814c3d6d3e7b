"""Requests: a member's Get waits for an admin when the household says so; admins approve or
decline with a note; approval tells whoever finds releases (``request_approved``); the member
sees the outcome."""

from __future__ import annotations

import pytest
from django.test import Client

from media import requests
from media.models import Request
from media.signals import request_approved
from plank.live.models import Outbox
from plank.models import get_preferences
from tests.factories import make_title, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def approvals_on(db) -> None:
    prefs = get_preferences()
    prefs.members_need_approval = True
    prefs.save()


@pytest.fixture
def heard():
    """What ``request_approved`` receivers hear (a receiver like the torrents app's)."""
    got: list[tuple] = []

    def receiver(sender, title, request, **kwargs):
        got.append((title, request))

    request_approved.connect(receiver, dispatch_uid="test-heard")
    yield got
    request_approved.disconnect(dispatch_uid="test-heard")


def test_only_members_need_approval_and_only_when_the_setting_says_so(owner, admin, member) -> None:
    assert not requests.needs_approval(member)
    prefs = get_preferences()
    prefs.members_need_approval = True
    prefs.save()
    assert requests.needs_approval(member)
    assert not requests.needs_approval(admin) and not requests.needs_approval(owner)
    member.is_active = False
    assert not requests.needs_approval(member), "nobody's Get, a disabled person's"


def test_asking_twice_is_one_request(member, approvals_on) -> None:
    title = make_title(status="pending")
    first = requests.ask(title, member, "for the weekend", release_name="Heat.1995.1080p")
    again = requests.ask(title, member, "")
    assert first.pk == again.pk and Request.objects.count() == 1
    assert again.note == "for the weekend" and again.release_name == "Heat.1995.1080p"
    assert again.state == Request.State.PENDING


def test_an_admin_approves_with_a_note_and_the_release_finder_is_told(
    client_admin, member, approvals_on, heard, django_capture_on_commit_callbacks
) -> None:
    title = make_title(title="Heat", year=1995, status="pending")
    asked = requests.ask(title, member, "please")
    page = client_admin.get("/requests/").content.decode()
    assert "Heat (1995)" in page and "please" in page and "Approve" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client_admin.post(f"/requests/{asked.pk}/approve", {"note": "enjoy"})
    assert response.status_code == 302
    asked.refresh_from_db()
    assert asked.state == Request.State.APPROVED and asked.decision_note == "enjoy"
    assert [(t.pk, r.pk) for t, r in heard] == [(title.pk, asked.pk)]
    # deciding again is refused, and nothing is sent twice
    with django_capture_on_commit_callbacks(execute=True):
        again = client_admin.post(f"/requests/{asked.pk}/decline", {"note": "no"})
    assert again.status_code == 302
    asked.refresh_from_db()
    assert asked.state == Request.State.APPROVED and len(heard) == 1


def test_a_member_sees_their_own_requests_and_the_outcome(
    client_admin, member, approvals_on, heard
) -> None:
    other = make_user("member")
    title = make_title(title="Ronin", status="pending")
    mine = requests.ask(title, member, "")
    requests.ask(make_title(title="Secret Santa", status="pending"), other, "")
    theirs = Client()
    theirs.force_login(member)
    page = theirs.get("/requests/").content.decode()
    assert "Ronin" in page and "Secret Santa" not in page and "Approve" not in page
    client_admin.post(f"/requests/{mine.pk}/decline", {"note": "we have it on disc"})
    page = theirs.get("/requests/?partial=list", HTTP_HX_REQUEST="true").content.decode()
    assert "Declined" in page and "we have it on disc" in page
    assert heard == []


def test_members_cannot_decide_and_only_the_asker_withdraws(member, approvals_on) -> None:
    asked = requests.ask(make_title(status="pending"), member, "")
    other = Client()
    other.force_login(make_user("member"))
    assert other.post(f"/requests/{asked.pk}/approve").status_code == 403
    assert other.post(f"/requests/{asked.pk}/withdraw").status_code == 403
    mine = Client()
    mine.force_login(member)
    assert mine.post(f"/requests/{asked.pk}/approve").status_code == 403
    assert mine.post(f"/requests/{asked.pk}/withdraw").status_code == 302
    asked.refresh_from_db()
    assert asked.state == Request.State.WITHDRAWN


@pytest.mark.django_db(transaction=True)
def test_every_change_to_a_request_is_announced_for_the_requests_page(member, admin) -> None:
    Outbox.objects.all().delete()
    asked = requests.ask(make_title(status="pending"), member, "")
    requests.approve(asked, admin, "ok")
    keys = [row.keys for row in Outbox.objects.order_by("seq")]
    assert sum(["requests"] in k for k in keys) == 2, keys
