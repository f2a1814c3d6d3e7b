"""Secrets at rest: API keys are stored encrypted with a key derived from Django's SECRET_KEY.

``EncryptedTextField`` keeps a string encrypted in the database (Fernet: AES-128-CBC with an
HMAC) and gives it back decrypted in Python. Values written before the field was encrypted (plain
text) are read as they are and encrypted on their next save. Changing SECRET_KEY makes stored
secrets unreadable: they read as empty and must be entered again (a warning says which).
Secrets are never rendered back: forms use a password widget that does not echo them, the admin
excludes them, and ``mask`` is what a page may show.
"""

from __future__ import annotations

import base64
import logging
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import models

log = logging.getLogger(__name__)

PREFIX = "enc1:"  # marks an encrypted value (anything else is a plain value from before)


@lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"plank-secrets-v1", info=b"api keys"
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt(value: str) -> str:
    if not value:
        return ""
    return PREFIX + _fernet(settings.SECRET_KEY).encrypt(value.encode()).decode("ascii")


def decrypt(stored: str) -> str:
    if not stored:
        return ""
    if not stored.startswith(PREFIX):
        return stored  # written before encryption: encrypted on the next save
    try:
        return _fernet(settings.SECRET_KEY).decrypt(stored[len(PREFIX) :].encode()).decode()
    except (InvalidToken, ValueError):
        log.warning("a stored secret cannot be decrypted (was the secret key changed?)")
        return ""


def mask(value: str) -> str:
    """What a page may show of a secret: whether it is set, never any of it."""
    return "saved" if value else "not set"


class EncryptedTextField(models.TextField):
    """A string kept encrypted in the database."""

    description = "Encrypted text"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> str:
        return decrypt(value or "")

    def to_python(self, value: Any) -> str:
        if value is None:
            return ""
        return decrypt(value) if isinstance(value, str) else str(value)

    def get_prep_value(self, value: Any) -> str:
        value = super().get_prep_value(value)
        return encrypt(value or "")
