"""Forms of the indexers' settings page: an indexer, and how releases are chosen."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import forms

from torrents import selection
from torrents.models import Indexer, ReleasePreferences


class IndexerForm(forms.ModelForm):
    url = forms.URLField(
        label="URL",
        max_length=500,
        assume_scheme="http",
        help_text=Indexer._meta.get_field("url").help_text,
        widget=forms.URLInput(
            attrs={"placeholder": "http://127.0.0.1:9117", "spellcheck": "false"}
        ),
    )

    class Meta:
        model = Indexer
        fields = (
            "name",
            "kind",
            "url",
            "api_key",
            "enabled",
            "priority",
            "categories",
            "timeout",
            "min_seeders",
        )
        widgets = {
            "api_key": forms.PasswordInput(
                render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}
            ),
            "url": forms.URLInput(
                attrs={"placeholder": "http://127.0.0.1:9117", "spellcheck": "false"}
            ),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["api_key"].required = False
        if self.instance.pk and self.instance.api_key:
            # The key is never sent back to a browser: an empty field keeps the saved one.
            self.fields["api_key"].widget.attrs["placeholder"] = "saved — leave empty to keep it"

    def clean_api_key(self) -> str:
        key = self.cleaned_data.get("api_key", "").strip()
        return key or (self.instance.api_key if self.instance.pk else "")

    def clean_url(self) -> str:
        url = self.cleaned_data["url"].strip()
        if urlsplit(url).scheme not in ("http", "https"):
            raise forms.ValidationError("Use an http:// or https:// address.")
        return url

    def clean_categories(self) -> str:
        text = self.cleaned_data.get("categories", "").replace(" ", "")
        parts = [p for p in text.split(",") if p]
        if any(not p.isdigit() for p in parts):
            raise forms.ValidationError(
                "Categories are numbers separated by commas, e.g. 2000,5000."
            )
        return ",".join(parts)

    def clean_timeout(self) -> float:
        timeout = self.cleaned_data["timeout"]
        if not 1 <= timeout <= 120:
            raise forms.ValidationError("Give a timeout from 1 to 120 seconds.")
        return timeout

    def clean_priority(self) -> int:
        priority = self.cleaned_data["priority"]
        if not 1 <= priority <= 50:
            raise forms.ValidationError("Give a priority from 1 (first) to 50 (last).")
        return priority


# The weights a person may change, as number fields: (field name, weight name, sub-key, label).
WEIGHT_FIELDS: list[tuple[str, str, str, str]] = [
    *[(f"resolution_{r}", "resolution", r, f"Resolution {r}") for r in selection.RESOLUTIONS],
    *[
        (f"source_{s.lower().replace('-', '')}", "source", s, f"Source {s}")
        for s in selection.SOURCES
    ],
    ("w_plays", "plays", "", "Plays in the browser"),
    ("w_unplayable", "unplayable", "", "Cannot play in the browser"),
    ("w_audio_as_is", "audio_as_is", "", "Audio plays as it is"),
    ("w_seeders", "seeders", "", "Per doubling of the seeders"),
    ("w_seeders_cap", "seeders_cap", "", "Seeders: at most"),
    ("w_trusted", "trusted", "", "Trusted group"),
    ("w_language", "language", "", "Preferred language"),
    ("w_other_language", "other_language", "", "Another language"),
    ("w_size_fits", "size_fits", "", "Plausible size"),
    ("w_too_small", "too_small", "", "Suspiciously small"),
    ("w_too_big", "too_big", "", "Very large"),
    ("w_smaller_is_better", "smaller_is_better", "", "Smaller is better"),
]


class ReleasePreferencesForm(forms.ModelForm):
    reject_unplayable = forms.BooleanField(
        label="Reject what the browser cannot play", required=False
    )

    class Meta:
        model = ReleasePreferences
        fields = (
            "preset",
            "min_seeders",
            "trusted_groups",
            "languages",
            "research_hours",
            "fallback",
        )
        widgets = {"trusted_groups": forms.Textarea(attrs={"rows": 3, "spellcheck": "false"})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        effective = selection.weights_for(self.instance.preset, self.instance.weights)
        self.fields["reject_unplayable"].initial = effective["reject_unplayable"]
        for name, weight, key, label in WEIGHT_FIELDS:
            value = effective[weight][key] if key else effective[weight]
            self.fields[name] = forms.FloatField(
                label=label, initial=value, min_value=-200, max_value=200
            )

    def weight_fields(self) -> list[forms.BoundField]:
        return [self[name] for name, *_ in WEIGHT_FIELDS]

    def clean_research_hours(self) -> int:
        hours = self.cleaned_data["research_hours"]
        if not 1 <= hours <= 168:
            raise forms.ValidationError("Give a number of hours from 1 to 168.")
        return hours

    def save(self, commit: bool = True) -> ReleasePreferences:
        prefs = super().save(commit=False)
        base = selection.PRESETS[prefs.preset]
        preset_changed = "preset" in self.changed_data
        overrides: dict[str, Any] = {} if preset_changed else {}
        if not preset_changed:
            for name, weight, key, _ in WEIGHT_FIELDS:
                value = self.cleaned_data[name]
                default = base[weight][key] if key else base[weight]
                if value != default:
                    if key:
                        overrides.setdefault(weight, {})[key] = value
                    else:
                        overrides[weight] = value
            if self.cleaned_data["reject_unplayable"] != base["reject_unplayable"]:
                overrides["reject_unplayable"] = self.cleaned_data["reject_unplayable"]
        prefs.weights = overrides  # a new preset starts from its own weights
        if commit:
            prefs.save()
        return prefs
