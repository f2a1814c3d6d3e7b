from __future__ import annotations

from django import forms

from media.magnets import Magnet, MagnetError, parse_magnet
from media.models import Kind

MAX_MAGNET_LENGTH = 4000


class AddMagnetForm(forms.Form):
    magnet = forms.CharField(
        label="Magnet link",
        strip=True,
        # No max_length here: parse_magnet gives the clearer message and the field stays sane.
        widget=forms.Textarea(
            attrs={
                "rows": 3,
                "placeholder": "magnet:?xt=urn:btih:…",
                "spellcheck": "false",
                "autocomplete": "off",
            }
        ),
        error_messages={"required": "Paste a magnet link."},
    )
    type = forms.ChoiceField(
        label="This is a", choices=Kind.choices, widget=forms.RadioSelect, initial=Kind.MOVIE
    )

    def clean_magnet(self) -> Magnet:
        try:
            return parse_magnet(self.cleaned_data["magnet"])
        except MagnetError as exc:
            raise forms.ValidationError(exc.message) from None
