"""The login page, throttled (``plank.throttle``): Django's ``LoginView`` and its form, refusing
to check anything while the user name or the address is locked out, with the wait in words."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.http import HttpResponse

from plank import throttle


class ThrottledAuthenticationForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "throttled": "Too many failed attempts. Wait %(wait)s, then try again.",
    }

    def __init__(self, request: Any = None, *args: Any, wait: int = 0, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        self.wait = wait

    def clean(self) -> dict[str, Any]:
        if self.wait:  # locked out: the password is not even looked at
            raise forms.ValidationError(
                self.error_messages["throttled"],
                code="throttled",
                params={"wait": throttle.wait_in_words(self.wait)},
            )
        return super().clean()


class ThrottledLoginView(LoginView):
    form_class = ThrottledAuthenticationForm
    redirect_authenticated_user = True

    def _who(self) -> tuple[str, str]:
        name = str(self.request.POST.get("username", ""))[:150]
        return name, throttle.client_address(self.request)

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        if self.request.method == "POST":
            kwargs["wait"] = throttle.locked_for(*self._who())
        return kwargs

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        throttle.succeeded(form.get_user().get_username())
        return super().form_valid(form)

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        if not form.has_error("__all__", "throttled"):
            wait = throttle.failed(*self._who())
            if wait:  # this failure was one too many: say so now
                form = self.get_form_class()(self.request, data=self.request.POST, wait=wait)
                form.is_valid()
        response = super().form_invalid(form)
        if form.has_error("__all__", "throttled"):
            response.status_code = 429
        return response
