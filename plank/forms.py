from __future__ import annotations

import re

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

from plank.models import Preferences
from plank.tmdb_credentials import credential_kind


class OwnerForm(UserCreationForm):
    """The first account: a superuser, so the owner can also use the admin."""

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username",)

    def save(self, commit: bool = True):
        user = super().save(commit=False)
        user.is_staff = True
        user.is_superuser = True
        if commit:
            user.save()
        return user


class PreferencesForm(forms.ModelForm):
    class Meta:
        model = Preferences
        fields = (
            "tmdb_api_key",
            "tmdb_language",
            "dht",
            "lsd",
            "port_mapping",
            "seed_ratio",
            "metadata_timeout",
        )
        widgets = {
            "tmdb_api_key": forms.PasswordInput(
                render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}
            )
        }

    clear_tmdb_api_key = forms.BooleanField(label="Remove the saved key", required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.tmdb_api_key:
            # The key is never sent back to a browser: an empty field keeps the saved one.
            self.fields["tmdb_api_key"].widget.attrs["placeholder"] = (
                "saved — leave empty to keep it"
            )

    def clean_tmdb_api_key(self) -> str:
        key = self.cleaned_data["tmdb_api_key"].strip()
        if self.data.get("clear_tmdb_api_key"):
            return ""
        if not key:
            return self.instance.tmdb_api_key
        if credential_kind(key) is None:
            raise forms.ValidationError(
                "That doesn't look like a TMDB key: use the 32-character API key (v3) or the long read access token (v4)."
            )
        return key

    def clean_tmdb_language(self) -> str:
        lang = self.cleaned_data["tmdb_language"].strip()
        if not re.fullmatch(r"[a-z]{2}(-[A-Z]{2})?", lang):
            raise forms.ValidationError("Use a language code like en-US or fr-FR.")
        return lang
