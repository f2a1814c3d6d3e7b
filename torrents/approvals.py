"""Whether a person's Get needs an admin's approval (``media.requests``), and asking for it.

Until the library has requests, nobody's Get needs approval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from media.models import Title
from torrents.results import Result


@dataclass(frozen=True)
class Asked:
    message: str
    title: Title | None = None


def needs_approval(user: Any) -> bool:
    return False


def ask_for_result(result: Result, kind: str, user: Any) -> Asked:
    return Asked("Requests need approval, but this Plank cannot record them yet.")


def ask_for_title(title: Title, user: Any, note: str = "") -> Asked:
    return Asked("Requests need approval, but this Plank cannot record them yet.", title)
