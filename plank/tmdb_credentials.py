"""The shape of a TMDB credential, so the settings form can check the key it stores.

Two forms, told apart by their shape: a v3 API key (32 hexadecimal characters) or a v4 read
access token (a JWT). The TMDB client (``browse.tmdb``) decides by the same rule how to send it.
"""

from __future__ import annotations

import re
from typing import Literal

CredentialKind = Literal["v3", "v4"]

_V3_KEY_RE = re.compile(r"^[0-9a-fA-F]{32}$")
_V4_TOKEN_RE = re.compile(r"^eyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*$")


def credential_kind(credential: str | None) -> CredentialKind | None:
    """``"v3"`` for a 32-hex API key, ``"v4"`` for a read access token (JWT), else ``None``."""
    if not isinstance(credential, str):
        return None
    value = credential.strip()
    if _V3_KEY_RE.fullmatch(value):
        return "v3"
    if _V4_TOKEN_RE.fullmatch(value):
        return "v4"
    return None
