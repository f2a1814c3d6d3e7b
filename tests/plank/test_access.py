"""The three roles and the helpers views use to check them."""

from __future__ import annotations

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from plank.access import ADMIN, MEMBER, OWNER, admin_required, is_admin, may_change, role_of
from tests.factories import make_title, make_user

pytestmark = pytest.mark.django_db


def test_roles_follow_the_account() -> None:
    assert role_of(make_user("owner")) == OWNER
    assert role_of(make_user("admin")) == ADMIN
    assert role_of(make_user("member")) == MEMBER
    assert role_of(make_user("admin", is_active=False)) is None


def test_members_change_only_what_they_added() -> None:
    alice, bob, admin = make_user("member"), make_user("member"), make_user("admin")
    mine = make_title(added_by=alice)
    assert may_change(alice, mine) and not may_change(bob, mine) and may_change(admin, mine)
    assert may_change(bob, make_title()), "nobody's title (added by a command) is everyone's"
    assert is_admin(admin) and not is_admin(alice)


@pytest.mark.parametrize(("role", "status"), [("owner", 200), ("admin", 200), ("member", 403)])
def test_admin_required(role: str, status: int) -> None:
    view = admin_required(lambda request: HttpResponse("done"))
    request = RequestFactory().post("/x")
    request.user = make_user(role)
    response = view(request)
    assert response.status_code == status
    if status == 403:
        assert b"Only an admin can do that." in response.content
