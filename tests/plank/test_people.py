"""People in the app: invitations by a one-time link, roles, disabling, each person's own
password, and the People settings page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from plank import invites
from plank.access import ADMIN, MEMBER, role_of
from plank.models import Invite, get_preferences
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new passphrase"


def invite_link(client: Client, role: str = MEMBER, note: str = "for Sam") -> str:
    """Make an invitation on the People page; the link it shows once."""
    response = client.post("/settings/people/invite", {"role": role, "note": note})
    assert response.status_code == 302 and response["Location"] == "/settings/people/"
    page = client.get("/settings/people/").content.decode()
    found = re.search(r'value="(http://testserver/invite/[^"/]+/)"', page)
    assert found, "the new link is on the page"
    again = client.get("/settings/people/").content.decode()
    assert found.group(1) not in again, "the link is shown once"
    return found.group(1).removeprefix("http://testserver")


def accept(path: str, username: str = "sam", password: str = NEW_PASSWORD) -> tuple[Client, int]:
    visitor = Client()
    response = visitor.post(
        path, {"username": username, "password1": password, "password2": password}
    )
    return visitor, response.status_code


def test_an_invitation_link_makes_an_account_with_its_role_once(client_owner: Client) -> None:
    path = invite_link(client_owner, role=ADMIN)
    assert Client().get(path).status_code == 200  # anyone with the link, without a login
    visitor, status = accept(path)
    assert status == 302
    sam = get_user_model().objects.get(username="sam")
    assert role_of(sam) == ADMIN
    assert visitor.get("/").status_code == 200, "logged in as the new account"
    invite = Invite.objects.get()
    assert invite.used_by == sam and invite.used_at is not None
    # single use
    _, again = accept(path, username="sam2")
    assert again == 410
    assert not get_user_model().objects.filter(username="sam2").exists()
    assert b"no longer works" in Client().get(path).content


def test_only_a_hash_of_the_token_is_kept(client_owner: Client) -> None:
    path = invite_link(client_owner)
    token = path.split("/")[2]
    assert token not in Invite.objects.get().token_hash and len(token) >= 40


def test_an_expired_link_does_nothing(owner) -> None:
    made = invites.invite(owner, MEMBER)
    Invite.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    _, status = accept(f"/invite/{made.token}/")
    assert status == 410
    assert not get_user_model().objects.filter(username="sam").exists()


def test_a_bad_name_or_password_says_why_and_changes_nothing(owner) -> None:
    made = invites.invite(owner, MEMBER)
    path = f"/invite/{made.token}/"
    response = Client().post(path, {"username": "owner", "password1": "x", "password2": "y"})
    assert response.status_code == 400
    text = response.content.decode()
    assert "Someone already has that name." in text and "not the same" in text
    short = Client().post(path, {"username": "sam", "password1": "short", "password2": "short"})
    assert short.status_code == 400 and b"too short" in short.content
    assert Invite.objects.get().used_at is None


def test_admins_invite_members_only_and_members_nobody(client_admin, client_member) -> None:
    assert client_admin.post("/settings/people/invite", {"role": ADMIN}).status_code == 302
    assert not Invite.objects.filter(role=ADMIN).exists()  # the form refuses the role
    invite_link(client_admin, role=MEMBER)
    assert client_member.post("/settings/people/invite", {"role": MEMBER}).status_code == 403
    assert Invite.objects.count() == 1


def test_the_owner_sets_roles_and_admins_cannot_make_admins(owner, admin, member) -> None:
    owner_client, admin_client = Client(), Client()
    owner_client.force_login(owner)
    admin_client.force_login(admin)
    assert (
        admin_client.post(f"/settings/people/{member.pk}/role", {"role": ADMIN}).status_code == 403
    )
    member.refresh_from_db()
    assert role_of(member) == MEMBER
    assert (
        owner_client.post(f"/settings/people/{member.pk}/role", {"role": ADMIN}).status_code == 302
    )
    member.refresh_from_db()
    assert role_of(member) == ADMIN
    # nobody changes the owner, not even the owner
    assert (
        owner_client.post(f"/settings/people/{owner.pk}/role", {"role": MEMBER}).status_code == 403
    )
    assert (
        admin_client.post(f"/settings/people/{owner.pk}/active", {"active": "0"}).status_code == 403
    )


def test_disabling_logs_the_person_out_everywhere(owner, member) -> None:
    theirs = Client()
    theirs.force_login(member)
    assert theirs.get("/").status_code == 200
    owner_client = Client()
    owner_client.force_login(owner)
    assert (
        owner_client.post(f"/settings/people/{member.pk}/active", {"active": "0"}).status_code
        == 302
    )
    member.refresh_from_db()
    assert not member.is_active and role_of(member) is None
    assert theirs.get("/").status_code == 302, "their session ended"
    assert all(
        s.get_decoded().get("_auth_user_id") != str(member.pk) for s in Session.objects.all()
    )
    login = Client().post("/accounts/login/", {"username": "member", "password": PASSWORD})
    assert login.status_code == 200, "a disabled account cannot log in"
    assert (
        owner_client.post(f"/settings/people/{member.pk}/active", {"active": "1"}).status_code
        == 302
    )
    member.refresh_from_db()
    assert member.is_active


def test_each_person_changes_their_own_password(client_member: Client, member) -> None:
    assert client_member.get("/accounts/password/").status_code == 200
    response = client_member.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302 and response["Location"] == "/accounts/password/done/"
    member.refresh_from_db()
    assert member.check_password(NEW_PASSWORD)
    wrong = client_member.post(
        "/accounts/password/",
        {"old_password": "nope", "new_password1": "x" * 12, "new_password2": "x" * 12},
    )
    assert wrong.status_code == 200 and b"incorrectly" in wrong.content


def test_the_people_page_shows_the_household_to_admins_and_yourself_to_members(
    client_admin, client_member, owner
) -> None:
    page = client_admin.get("/settings/people/").content.decode()
    assert "owner" in page and "member" in page and "Make an invitation link" in page
    mine = client_member.get("/settings/people/").content.decode()
    assert "Change your password" in mine
    assert "Make an invitation link" not in mine and ">owner<" not in mine
    tabs = client_member.get("/settings/").content.decode()
    assert 'href="/settings/people/"' in tabs, "a section of the settings"


def test_the_approval_setting_is_an_admins(client_admin, client_member) -> None:
    assert (
        client_member.post("/settings/people/approval", {"members_need_approval": "on"}).status_code
        == 403
    )
    assert not get_preferences().members_need_approval
    assert (
        client_admin.post("/settings/people/approval", {"members_need_approval": "on"}).status_code
        == 302
    )
    assert get_preferences().members_need_approval
    client_admin.post("/settings/people/approval", {})
    assert not get_preferences().members_need_approval


def test_withdrawing_an_invitation(client_owner, owner) -> None:
    made = invites.invite(owner, ADMIN)
    assert (
        client_owner.post(f"/settings/people/invites/{made.invite.pk}/withdraw").status_code == 302
    )
    assert not Invite.objects.exists()
    _, status = accept(f"/invite/{made.token}/")
    assert status == 410
