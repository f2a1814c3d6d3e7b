"""Choosing a release: a score with its reasons, and the reason a release is rejected.

``score(candidate, target, rules)`` looks at what the release's name says (parsed by
``media.release_names`` plus the few tokens scoring needs: audio, languages, bit depth, red
flags) and at the feed's numbers (size, seeders):

- resolution and source (WEB-DL, BluRay, ...);
- **whether a browser plays it without conversion**, by the library's own codec rules
  (``media.probe``: H.264 / VP9 / AV1 video plays, with AAC / Opus / MP3 audio as it is or other
  audio converted to AAC when it is filed; HEVC, MPEG-4 Part 2, VC-1 do not, and Plank does not
  convert video);
- size against the runtime (too small for the claimed quality is suspicious);
- seeders (a tie-breaker: points grow with the doubling of seeders, capped);
- a trusted group, the preferred languages;
- red flags that reject it outright: CAM / telesync, "sample", password or RAR packs, a program
  in the name, fewer seeders than the minimum, a release blocked for this title.

Presets (``streaming``, the default: plays now, healthy swarm; ``quality``; ``small``) are sets
of weights; the owner's overrides (``ReleasePreferences.weights``) replace any of them by name.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from media.probe import CODEC_LABELS, MP4_AUDIO, MP4_VIDEO
from media.release_names import Release

# --------------------------------------------------------------------------- weights

STREAMING, QUALITY, SMALL = "streaming", "quality", "small"
RESOLUTIONS = ("2160p", "1080p", "720p", "sd", "unknown")
SOURCES = ("Remux", "BluRay", "WEB-DL", "WEBRip", "HDTV", "DVDRip", "HDRip", "DVD", "unknown")

PRESETS: dict[str, dict[str, Any]] = {
    STREAMING: {
        "resolution": {"2160p": 14, "1080p": 36, "720p": 22, "sd": 8, "unknown": 10},
        "source": {
            "Remux": 4,
            "BluRay": 18,
            "WEB-DL": 20,
            "WEBRip": 16,
            "HDTV": 10,
            "DVDRip": 6,
            "HDRip": 6,
            "DVD": 2,
            "unknown": 6,
        },
        "plays": 30,  # the video plays in a browser
        "unplayable": -60,
        "reject_unplayable": True,
        "audio_as_is": 6,  # the audio plays as it is (else it is converted when filed)
        "audio_converted": 2,
        "mp4": 3,  # an MP4 plays while it downloads, as it is
        "seeders": 3,  # per doubling of the seeders
        "seeders_cap": 15,
        "trusted": 10,
        "language": 8,
        "other_language": -15,
        "size_fits": 8,
        "too_small": -25,
        "too_big": -6,
        "smaller_is_better": 0,
        "season_pack": 6,
    },
    QUALITY: {
        "resolution": {"2160p": 40, "1080p": 30, "720p": 14, "sd": 2, "unknown": 6},
        "source": {
            "Remux": 30,
            "BluRay": 26,
            "WEB-DL": 18,
            "WEBRip": 12,
            "HDTV": 6,
            "DVDRip": 3,
            "HDRip": 3,
            "DVD": 2,
            "unknown": 4,
        },
        "plays": 6,
        "unplayable": -4,
        "reject_unplayable": False,
        "audio_as_is": 2,
        "audio_converted": 2,
        "mp4": 0,
        "seeders": 2,
        "seeders_cap": 10,
        "trusted": 10,
        "language": 8,
        "other_language": -15,
        "size_fits": 8,
        "too_small": -25,
        "too_big": 0,
        "smaller_is_better": 0,
        "season_pack": 6,
    },
    SMALL: {
        "resolution": {"2160p": 0, "1080p": 10, "720p": 20, "sd": 16, "unknown": 8},
        "source": {
            "Remux": 0,
            "BluRay": 12,
            "WEB-DL": 14,
            "WEBRip": 12,
            "HDTV": 10,
            "DVDRip": 8,
            "HDRip": 8,
            "DVD": 2,
            "unknown": 6,
        },
        "plays": 20,
        "unplayable": -20,
        "reject_unplayable": False,
        "audio_as_is": 4,
        "audio_converted": 2,
        "mp4": 2,
        "seeders": 3,
        "seeders_cap": 12,
        "trusted": 8,
        "language": 8,
        "other_language": -15,
        "size_fits": 4,
        "too_small": -25,
        "too_big": -20,
        "smaller_is_better": 20,  # points for the smallest size that still fits the quality
        "season_pack": 6,
    },
}
NUMBER_WEIGHTS = tuple(
    k
    for k, v in PRESETS[STREAMING].items()
    if isinstance(v, int | float) and not isinstance(v, bool)
)


def weights_for(preset: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The preset's weights with the owner's overrides (unknown names are ignored)."""
    base = PRESETS.get(preset, PRESETS[STREAMING])
    merged = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for name, value in (overrides or {}).items():
        if name not in merged:
            continue
        if isinstance(merged[name], dict) and isinstance(value, dict):
            merged[name].update({k: float(v) for k, v in value.items() if k in merged[name]})
        elif isinstance(merged[name], bool):
            merged[name] = bool(value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            merged[name] = value
    return merged


# --------------------------------------------------------------------------- what a name says

_VIDEO = {"x264": "h264", "x265": "hevc", "AV1": "av1", "XviD": "mpeg4", "MPEG": "mpeg2video"}
# Tokens the parser has no codec for (FFmpeg's names).
_TOKEN_VIDEO = [
    (re.compile(r"(?<![a-z0-9])vp9(?![a-z0-9])", re.I), "vp9"),
    (re.compile(r"(?<![a-z0-9])vc-?1(?![a-z0-9])", re.I), "vc1"),
]
# The parser's audio vocabulary (``Release.audio``) as FFmpeg names the codecs.
_AUDIO = {
    "AAC": "aac",
    "AC3": "ac3",
    "EAC3": "eac3",
    "DTS": "dts",
    "DTS-HD": "dts",
    "TrueHD": "truehd",
    "FLAC": "flac",
    "Opus": "opus",
    "MP3": "mp3",
    "PCM": "pcm_s16le",
}
_MULTI = re.compile(r"(?<![a-z0-9])(?:multi|dual(?:[\s._-]?audio)?)(?![a-z0-9])", re.I)
# The parser's red flags (``Release.flags``) that reject a release, in words.
_FLAG_WORDS = {
    "executable": "a program in the name (.exe): likely malware",
    "cam": "",  # by the source: CAM, telesync or telecine
    "screener": "screener: a preview copy",
    "sample": "a sample, not the whole film",
    "trailer": "a trailer, not the film",
    "password": "a password-protected pack",
    "archive": "a RAR archive",
}
_CAM_SOURCES = {
    "CAM": "CAM: filmed in a cinema",
    "TS": "telesync: filmed in a cinema",
    "TC": "telecine: copied from a cinema print",
    "SCR": "screener: a preview copy",
}

LANGUAGE_NAMES = {
    "en": "English",
    "fr": "French",
    "de": "German",
    "it": "Italian",
    "es": "Spanish",
    "hi": "Hindi",
    "ru": "Russian",
    "ja": "Japanese",
    "ko": "Korean",
    "pt": "Portuguese",
    "nl": "Dutch",
    "pl": "Polish",
    "tr": "Turkish",
}


@dataclass(frozen=True)
class Features:
    resolution: str  # one of RESOLUTIONS
    source: str  # one of SOURCES
    video: str  # FFmpeg's codec name, "" when the name does not say
    audio: str
    ten_bit: bool
    languages: tuple[str, ...]  # ISO 639-1, () when the name names none
    multi: bool
    mp4: bool
    flags: tuple[str, ...]  # reasons to reject, in words


def _resolution(quality: str) -> str:
    if quality in ("2160p", "1080p", "720p"):
        return quality
    if quality in ("1440p",):
        return "1080p"
    return "sd" if quality else "unknown"


def features(name: str, release: Release) -> Features:
    """What scoring needs of a release, from the parser's fields (``media.release_names``)."""
    video = _VIDEO.get(release.codec, "")
    if not video:
        video = next((codec for pattern, codec in _TOKEN_VIDEO if pattern.search(name)), "")
    audio = next((_AUDIO[a] for a in release.audio if a in _AUDIO), "")
    flags = []
    for flag in ("executable", "cam", "screener", "sample", "trailer", "password", "archive"):
        if flag in release.flags:
            words = _FLAG_WORDS[flag] or _CAM_SOURCES.get(release.source, _CAM_SOURCES["CAM"])
            if words not in flags:
                flags.append(words)
    if release.source in _CAM_SOURCES and _CAM_SOURCES[release.source] not in flags:
        flags.append(_CAM_SOURCES[release.source])
    languages = tuple(code for code in release.languages if len(code) == 2)
    return Features(
        resolution=_resolution(release.quality),
        source=release.source if release.source in SOURCES else "unknown",
        video=video,
        audio=audio,
        ten_bit=release.bit_depth.startswith("10"),
        languages=languages,
        multi="multi" in release.languages or bool(_MULTI.search(name)),
        mp4=release.container == "mp4",
        flags=tuple(flags),
    )


def label(codec: str) -> str:
    return CODEC_LABELS.get(codec, codec.upper() or "unknown")


def playability(f: Features) -> tuple[bool | None, str]:
    """(plays in a browser: True / False / None when unknown, the reason in words), by
    ``media.probe``'s rules: MP4 video codecs play; others are not converted."""
    if not f.video:
        if f.resolution == "2160p":
            return None, "codec not named (2160p releases are often HEVC)"
        return None, "codec not named (probably H.264)"
    if f.video == "h264" and f.ten_bit:
        return False, "10-bit H.264: your browser cannot play it"
    if f.video not in MP4_VIDEO:
        return False, f"{label(f.video)}: your browser cannot play it"
    return True, f"{label(f.video)} plays in the browser"


# --------------------------------------------------------------------------- targets and rules

# Plausible megabytes per minute, by resolution: below LOW is suspicious, below LOW / 4 a fake.
LOW_MB_PER_MIN = {"2160p": 20.0, "1080p": 6.0, "720p": 3.0, "sd": 1.2, "unknown": 1.2}
HIGH_MB_PER_MIN = {"2160p": 500.0, "1080p": 200.0, "720p": 80.0, "sd": 40.0, "unknown": 500.0}
MOVIE_MINUTES = 110
EPISODE_MINUTES = 45


@dataclass(frozen=True)
class Rules:
    """What the household chose: preset weights, minimum seeders, trusted groups, languages."""

    weights: dict[str, Any]
    min_seeders: int = 2
    trusted: frozenset[str] = frozenset()
    languages: tuple[str, ...] = ("en",)
    blocked: frozenset[str] = frozenset()  # info hashes blocked for this title

    @classmethod
    def default(cls) -> Rules:
        return cls(weights=weights_for(STREAMING))


@dataclass(frozen=True)
class Target:
    """What the releases are for: a movie, a season, or an episode, and how long it runs."""

    kind: str = "movie"
    season: int | None = None
    episode: int | None = None
    minutes: int | None = None  # the runtime (a movie's, or an episode's)
    episodes_in_season: int | None = None

    def expected_minutes(self, release: Release) -> int:
        per = self.minutes or (EPISODE_MINUTES if self.kind == "tv" else MOVIE_MINUTES)
        if self.kind == "tv" and not release.episodes:
            return per * (self.episodes_in_season or 10)  # a season pack
        return per * max(len(release.episodes), 1)


@dataclass
class Reason:
    text: str
    points: float

    @property
    def good(self) -> bool:
        return self.points > 0


@dataclass
class Scored:
    """A candidate with its score, why, and why it is rejected ("" when it is not)."""

    candidate: Any
    points: float = 0.0
    reasons: list[Reason] = field(default_factory=list)
    rejected: str = ""
    features: Features | None = None

    @property
    def score(self) -> int:
        return round(self.points)

    def add(self, text: str, points: float) -> None:
        self.reasons.append(Reason(text, points))
        self.points += points


def _megabytes(size: int) -> str:
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB"


def _size(s: Scored, f: Features, size: int, minutes: int, w: dict[str, Any]) -> None:
    if size <= 0:
        return
    per_minute = size / 1e6 / minutes
    low, high = LOW_MB_PER_MIN[f.resolution], HIGH_MB_PER_MIN[f.resolution]
    what = f"{_megabytes(size)} for about {minutes} min at {f.resolution}"
    if per_minute < low / 4:
        s.rejected = s.rejected or f"{what}: far too small, likely a fake"
        return
    if per_minute < low:
        s.add(f"{what}: suspiciously small", w["too_small"])
    elif per_minute > high:
        s.add(f"{what}: very large", w["too_big"])
    else:
        s.add(f"{what}: a plausible size", w["size_fits"])
        if w["smaller_is_better"]:
            # From the full points at the low end of plausible to none at four times it.
            share = max(0.0, 1 - (per_minute - low) / (3 * low))
            if share:
                s.add("small for its quality", round(w["smaller_is_better"] * share, 1))


def score(candidate: Any, target: Target, rules: Rules) -> Scored:
    """Score one candidate (anything with ``name``, ``release``, ``size``, ``seeders``,
    ``info_hash``)."""
    w = rules.weights
    release: Release = candidate.release
    f = features(candidate.name, release)
    s = Scored(candidate=candidate, features=f)
    if candidate.info_hash and candidate.info_hash in rules.blocked:
        s.rejected = "blocked for this title (it failed before)"
    if f.flags:
        s.rejected = s.rejected or f.flags[0]

    res_label = f.resolution if f.resolution != "unknown" else "resolution not named"
    s.add(res_label, w["resolution"].get(f.resolution, 0))
    s.add(f.source if f.source != "unknown" else "source not named", w["source"].get(f.source, 0))

    plays, why = playability(f)
    if plays is False:
        if w["reject_unplayable"]:
            s.rejected = s.rejected or why
        s.add(why, w["unplayable"])
    else:
        s.add(why, w["plays"] if plays else w["plays"] / 2)
        if f.audio and f.audio not in MP4_AUDIO:
            s.add(f"{label(f.audio)} audio: converted to AAC when filed", w["audio_converted"])
        elif f.audio:
            s.add(f"{label(f.audio)} audio plays as it is", w["audio_as_is"])
        if f.mp4 and w["mp4"]:
            s.add("MP4: plays while it downloads", w["mp4"])

    _size(s, f, candidate.size, target.expected_minutes(release), w)

    seeders = candidate.seeders
    floor = max(rules.min_seeders, getattr(candidate, "min_seeders", 0))  # the indexer's too
    if seeders is not None:
        if seeders < floor:
            plural = "s" if seeders != 1 else ""
            s.rejected = s.rejected or f"{seeders} seeder{plural}, minimum {floor}"
        points = min(w["seeders"] * math.log2(seeders + 1), w["seeders_cap"])
        s.add(f"{seeders} seeder{'s' if seeders != 1 else ''}", round(points, 1))
    else:
        s.add("seeders unknown", 0)

    group = (release.group or "").lower()
    if group and group in rules.trusted:
        s.add(f"trusted group {release.group}", w["trusted"])

    preferred = set(rules.languages) or {"en"}
    named = set(f.languages)
    if named and not f.multi and not named & preferred:
        names = ", ".join(LANGUAGE_NAMES.get(c, c) for c in sorted(named))
        liked = ", ".join(LANGUAGE_NAMES.get(c, c) for c in sorted(preferred))
        s.add(f"{names} audio (you prefer {liked})", w["other_language"])
    elif f.multi:
        s.add("several audio languages", w["language"])
    elif named & preferred:
        names = ", ".join(LANGUAGE_NAMES.get(c, c) for c in sorted(named & preferred))
        s.add(f"{names} audio", w["language"])
    elif not named and "en" in preferred:
        s.add("English (no other language named)", w["language"])

    if (
        target.kind == "tv"
        and target.season is not None
        and target.episode is None
        and not release.episodes
    ):
        s.add("the whole season in one", w["season_pack"])
    return s


def rank(candidates: list[Any], target: Target, rules: Rules) -> list[Scored]:
    """Every candidate scored: accepted ones first (best first), then the rejected."""
    scored = [score(c, target, rules) for c in candidates]
    scored.sort(
        key=lambda s: (
            bool(s.rejected),
            -s.points,
            -(s.candidate.seeders or 0),
            getattr(s.candidate, "priority", 25),
        )
    )
    return scored


def best(scored: list[Scored]) -> Scored | None:
    return next((s for s in scored if not s.rejected), None)
