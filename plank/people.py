"""The People settings page: the household's accounts, invitations, roles, and whether members'
downloads need approval; and the page an invitation link opens. The rules are
``plank.invites`` and ``plank.access``; each person changes their own password with Django's
password change view (``/accounts/password/``)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login, password_validation
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import UsernameField
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from plank import invites
from plank.access import (
    ADMIN,
    MEMBER,
    admin_required,
    forbidden,
    grantable_roles,
    is_admin,
    may_manage,
    role_of,
)
from plank.live.project import PEOPLE
from plank.models import Invite, get_preferences

NEW_LINK = "plank.people.new_invite_link"  # the session key of a link shown once


# --- forms ------------------------------------------------------------------------------------


class InviteForm(forms.Form):
    role = forms.ChoiceField(choices=Invite.Role.choices, initial=MEMBER)
    note = forms.CharField(
        label="Who is it for?", max_length=200, required=False, help_text="Only admins see it."
    )

    def __init__(self, *args, actor=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        allowed = grantable_roles(actor)
        self.fields["role"].choices = [c for c in Invite.Role.choices if c[0] in allowed]


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=[(ADMIN, "Admin"), (MEMBER, "Member")])


class ApprovalForm(forms.Form):
    members_need_approval = forms.BooleanField(required=False)


class AcceptForm(forms.Form):
    """The new account of an invited person: a name and a password, checked as Django's user
    creation form checks them."""

    username = UsernameField(max_length=150, help_text="Letters, digits and @/./+/-/_ only.")
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label="The password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_username(self) -> str:
        name = self.cleaned_data["username"]
        get_user_model().username_validator(name)
        if get_user_model().objects.filter(username__iexact=name).exists():
            raise forms.ValidationError("Someone already has that name.")
        return name

    def clean(self) -> dict:
        data = super().clean()
        one, two = data.get("password1"), data.get("password2")
        if one and two and one != two:
            self.add_error("password2", "The two passwords are not the same.")
        elif one:
            user = get_user_model()(username=data.get("username", ""))
            try:
                password_validation.validate_password(one, user)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return data


# --- the page ---------------------------------------------------------------------------------


@require_GET
def people_page(request: HttpRequest) -> HttpResponse:
    """Everyone sees their own account (and the link to change their password); admins see
    the household, the invitations and the approval setting."""
    actor = request.user
    context = {
        "nav": "settings",
        "me_role": role_of(actor),
        "can_manage": is_admin(actor),
        "people_key": PEOPLE,
        "list_url": f"{reverse('people')}?partial=list",
        "new_link": request.session.pop(NEW_LINK, ""),
        "invite_days": settings.PLANK_INVITE_DAYS,
    }
    if is_admin(actor):
        users = get_user_model().objects.order_by("-is_superuser", "-is_staff", "username")
        context |= {
            "people": [
                {"user": u, "role": _role_name(u), "manageable": may_manage(actor, u)}
                for u in users
            ],
            "invites": invites.pending_invites(),
            "invite_form": InviteForm(actor=actor),
            "grantable": grantable_roles(actor),
            "approval": get_preferences().members_need_approval,
        }
    if request.htmx and request.GET.get("partial") == "list":
        return render(request, "plank/people.html#people", context)
    return render(request, "plank/people.html", context)


def _role_name(user) -> str:
    if not user.is_active:
        return "disabled"
    return "owner" if user.is_superuser else "admin" if user.is_staff else "member"


def _refused(request: HttpRequest, error: invites.PeopleError) -> HttpResponse:
    return forbidden(request, str(error))


@require_POST
@admin_required
def invite(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST, actor=request.user)
    if not form.is_valid():
        messages.error(request, "Choose a role you can give.")
        return redirect("people")
    try:
        made = invites.invite(request.user, form.cleaned_data["role"], form.cleaned_data["note"])
    except invites.PeopleError as exc:
        return _refused(request, exc)
    # Shown once, on the next page; only its hash is kept.
    request.session[NEW_LINK] = request.build_absolute_uri(
        reverse("invite-accept", args=[made.token])
    )
    return redirect("people")


@require_POST
@admin_required
def revoke(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        invites.revoke(request.user, pk)
    except invites.PeopleError as exc:
        return _refused(request, exc)
    messages.success(request, "Invitation withdrawn.")
    return redirect("people")


@require_POST
@admin_required
def change_role(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(get_user_model(), pk=pk)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose admin or member.")
        return redirect("people")
    try:
        invites.set_role(request.user, person, form.cleaned_data["role"])
    except invites.PeopleError as exc:
        return _refused(request, exc)
    messages.success(request, f"{person.get_username()} is now {form.cleaned_data['role']}.")
    return redirect("people")


@require_POST
@admin_required
def change_active(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(get_user_model(), pk=pk)
    active = request.POST.get("active") == "1"
    try:
        invites.set_active(request.user, person, active)
    except invites.PeopleError as exc:
        return _refused(request, exc)
    state = "enabled" if active else "disabled and logged out"
    messages.success(request, f"{person.get_username()} is {state}.")
    return redirect("people")


@require_POST
@admin_required
def approval(request: HttpRequest) -> HttpResponse:
    form = ApprovalForm(request.POST)
    form.is_valid()
    prefs = get_preferences()
    prefs.members_need_approval = bool(form.cleaned_data.get("members_need_approval"))
    prefs.save(update_fields=["members_need_approval", "updated_at"])
    messages.success(
        request,
        "Members' downloads now need approval."
        if prefs.members_need_approval
        else "Members' downloads start at once.",
    )
    return redirect("people")


# --- an invitation link -----------------------------------------------------------------------


@login_not_required
@require_http_methods(["GET", "POST"])
def accept(request: HttpRequest, token: str) -> HttpResponse:
    found = invites.find(token)
    if found is None:
        return render(request, "plank/people_invite.html", {"gone": True}, status=410)
    form = AcceptForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = invites.accept(
                token, form.cleaned_data["username"], form.cleaned_data["password1"]
            )
        except invites.PeopleError:
            return render(request, "plank/people_invite.html", {"gone": True}, status=410)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome to Plank, {user.get_username()}.")
        return redirect("library")
    status = 400 if request.method == "POST" else 200
    return render(
        request, "plank/people_invite.html", {"form": form, "invite": found}, status=status
    )
