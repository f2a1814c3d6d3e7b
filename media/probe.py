"""What is in a video file, and what it takes to play it in a browser.

`probe(path)` describes a file's container and streams (PyAV) and decides a plan: ``keep``,
``remux``, ``remux_audio`` or ``unsupported`` (docs/streaming.md). A file that isn't media
raises `ProbeError`; no PyAV exception leaves this module.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import av
import av.error

Plan = Literal["keep", "remux", "remux_audio", "unsupported"]

#: video a browser decodes (H.264 only in 8-bit 4:2:0, see `_h264_problem`)
SAFE_VIDEO = frozenset({"h264", "vp8", "vp9", "av1"})
#: audio a browser decodes; Vorbis only from WebM
SAFE_AUDIO = frozenset({"aac", "opus", "mp3", "vorbis"})
#: what may sit in an MP4 that we keep or make
MP4_VIDEO = frozenset({"h264", "vp9", "av1"})
MP4_AUDIO = frozenset({"aac", "mp3", "opus"})
#: what may sit in a WebM we keep
WEBM_VIDEO = frozenset({"vp8", "vp9", "av1"})
WEBM_AUDIO = frozenset({"opus", "vorbis"})
#: subtitle codecs that are text (convertible to WebVTT); the rest are pictures (PGS, VobSub)
TEXT_SUBTITLES = frozenset({"subrip", "srt", "ass", "ssa", "webvtt", "mov_text", "text"})
_H264_PIX_FMTS = frozenset({"yuv420p", "yuvj420p", "nv12"})

CODEC_LABELS = {
    "h264": "H.264",
    "hevc": "HEVC (H.265)",
    "mpeg4": "MPEG-4 Part 2 (DivX/Xvid)",
    "msmpeg4v3": "MS MPEG-4 v3 (DivX 3)",
    "mpeg2video": "MPEG-2",
    "mpeg1video": "MPEG-1",
    "vc1": "VC-1",
    "wmv3": "Windows Media Video 9",
    "vp8": "VP8",
    "vp9": "VP9",
    "av1": "AV1",
    "aac": "AAC",
    "mp3": "MP3",
    "opus": "Opus",
    "vorbis": "Vorbis",
    "ac3": "Dolby Digital (AC-3)",
    "eac3": "Dolby Digital Plus (E-AC-3)",
    "truehd": "Dolby TrueHD",
    "dts": "DTS",
    "flac": "FLAC",
    "alac": "Apple Lossless",
    "wmav2": "Windows Media Audio",
    "mp2": "MPEG Layer 2 audio",
}
CONTAINER_LABELS = {
    "mp4": "MP4",
    "mov": "QuickTime (MOV)",
    "mkv": "Matroska (MKV)",
    "webm": "WebM",
    "avi": "AVI",
    "mpegts": "MPEG transport stream",
    "flv": "Flash video",
    "asf": "Windows Media (ASF)",
}


class ProbeError(Exception):
    """The file can't be read as audio/video. The message is fit to show a person."""


@dataclass(frozen=True)
class AudioTrack:
    index: int
    codec: str
    channels: int
    language: str = ""
    default: bool = False


@dataclass(frozen=True)
class SubtitleTrack:
    index: int
    codec: str
    language: str = ""
    title: str = ""
    forced: bool = False
    default: bool = False

    @property
    def is_text(self) -> bool:
        """Text subtitles can be turned into WebVTT sidecars; picture ones (PGS, VobSub) can't."""
        return self.codec in TEXT_SUBTITLES


@dataclass(frozen=True)
class ProbeResult:
    path: Path
    container: str
    """Short container name: mp4, mov, mkv, webm, avi, or FFmpeg's own name for the rest."""
    format_name: str
    """FFmpeg's demuxer name, e.g. ``"matroska,webm"``."""
    duration: float | None
    """Seconds, or None when the file doesn't say."""
    video_codec: str | None
    width: int | None
    height: int | None
    audio_codecs: list[str]
    plan: Plan
    reason: str
    video_profile: str = ""
    pix_fmt: str = ""
    audio_tracks: list[AudioTrack] = field(default_factory=list)
    subtitle_streams: list[SubtitleTrack] = field(default_factory=list)
    faststart: bool | None = None
    """For MP4/MOV: True when the index (moov) comes before the data, so playback can start
    before the whole file is read."""
    size: int = 0

    @property
    def browser_playable(self) -> bool:
        """True when the file can be served to a browser as it is."""
        return self.plan == "keep"

    @property
    def audio_codec(self) -> str:
        """The audio codec a player starts with (default track, else the first), or ``""``."""
        track = _primary(self.audio_tracks)
        return track.codec if track else ""

    @property
    def mime_type(self) -> str:
        return "video/webm" if self.container == "webm" else "video/mp4"


def probe(path: str | os.PathLike[str], *, timeout: float | None = None) -> ProbeResult:
    """Describe the media file at `path` and decide how to play it. Raises `ProbeError`.

    `timeout` (seconds) bounds FFmpeg's reading: a file still being written, or a slow share,
    can otherwise keep it looking for streams for ever."""
    path = Path(path)
    if not path.is_file():
        raise ProbeError(f"{path.name}: " + ("not a file" if path.exists() else "no such file"))
    size = path.stat().st_size
    if size == 0:
        raise ProbeError(f"{path.name}: the file is empty")
    try:
        with av.open(str(path), metadata_errors="replace", timeout=timeout) as container:
            return _describe(path, size, container)
    except ProbeError:
        raise
    except (av.error.FFmpegError, OSError, ValueError, UnicodeError) as exc:
        raise ProbeError(
            f"{path.name}: not a readable video file ({_ffmpeg_message(exc)})"
        ) from exc


def _ffmpeg_message(exc: BaseException) -> str:
    if isinstance(exc, av.error.FFmpegError) and exc.strerror:
        return str(exc.strerror)
    return str(exc) or type(exc).__name__


def _describe(path: Path, size: int, container: av.container.InputContainer) -> ProbeResult:
    format_name = container.format.name
    video = main_video_stream(container)
    audio_streams = list(container.streams.audio)
    if video is None and not audio_streams:
        raise ProbeError(f"{path.name}: not a video file (no audio or video streams found)")

    short = _container_name(path, format_name, container)
    audio_tracks = [
        AudioTrack(
            index=s.index,
            codec=codec_name(s),
            channels=int(s.codec_context.channels or 0),
            language=_language(s),
            default=bool(s.disposition & av.stream.Disposition.default),
        )
        for s in audio_streams
    ]
    subtitle_tracks = [
        SubtitleTrack(
            index=s.index,
            codec=codec_name(s),
            language=_language(s),
            title=str(s.metadata.get("title", "")),
            forced=bool(s.disposition & av.stream.Disposition.forced),
            default=bool(s.disposition & av.stream.Disposition.default),
        )
        for s in container.streams.subtitles
    ]
    video_codec = codec_name(video) if video is not None else None
    profile = ""
    pix_fmt = ""
    width = height = None
    if video is not None:
        cc = video.codec_context
        profile = str(cc.profile or "")
        pix_fmt = cc.format.name if cc.format is not None else ""
        width, height = (cc.width or None), (cc.height or None)

    plan, reason = _plan(short, video_codec, profile, pix_fmt, _primary(audio_tracks))
    faststart = _mp4_faststart(path) if short in ("mp4", "mov") else None
    return ProbeResult(
        path=path,
        container=short,
        format_name=format_name,
        duration=_duration(container),
        video_codec=video_codec,
        width=width,
        height=height,
        audio_codecs=[t.codec for t in audio_tracks],
        plan=plan,
        reason=reason,
        video_profile=profile,
        pix_fmt=pix_fmt,
        audio_tracks=audio_tracks,
        subtitle_streams=subtitle_tracks,
        faststart=faststart,
        size=size,
    )


def main_video_stream(container: av.container.InputContainer) -> av.VideoStream | None:
    """The first real video stream (cover art pictures don't count)."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    return None


def codec_name(stream: av.stream.Stream) -> str:
    cc = stream.codec_context
    if cc is None:
        return "unknown"
    codec = cc.codec
    # canonical_name is the codec id ("mp3"), name is the decoder ("mp3float").
    return str(getattr(codec, "canonical_name", None) or cc.name or "unknown")


def _language(stream: av.stream.Stream) -> str:
    lang = str(stream.metadata.get("language", "") or "")
    return "" if lang.lower() in ("und", "unk", "") else lang


def _primary(tracks: list[AudioTrack]) -> AudioTrack | None:
    for track in tracks:
        if track.default:
            return track
    return tracks[0] if tracks else None


def _container_name(path: Path, format_name: str, container: av.container.InputContainer) -> str:
    names = format_name.split(",")
    if "matroska" in names:
        return "webm" if _ebml_doctype(path) == "webm" else "mkv"
    if "mp4" in names or "mov" in names:
        brand = str(container.metadata.get("major_brand", "")).strip().lower()
        if brand == "qt" or (not brand and path.suffix.lower() == ".mov"):
            return "mov"
        return "mp4"
    return names[0]


def _ebml_doctype(path: Path) -> str:
    """Read the DocType ("matroska" or "webm") from the EBML header at the start of the file."""
    with path.open("rb") as fh:
        head = fh.read(128)
    at = head.find(b"\x42\x82")
    if at < 0 or at + 3 > len(head):
        return ""
    first = head[at + 2]
    length_bytes = 1
    while length_bytes <= 8 and not first & (0x80 >> (length_bytes - 1)):
        length_bytes += 1
    if length_bytes > 8:
        return ""
    size = first & (0xFF >> length_bytes)
    for b in head[at + 3 : at + 2 + length_bytes]:
        size = (size << 8) | b
    start = at + 2 + length_bytes
    return head[start : start + size].decode("ascii", "replace").rstrip("\x00")


def mp4_top_level_boxes(path: str | os.PathLike[str], limit: int = 64) -> list[str]:
    """The four-character types of an MP4/MOV file's top-level boxes, in file order."""
    boxes: list[str] = []
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        end = fh.tell()
        pos = 0
        while pos + 8 <= end and len(boxes) < limit:
            fh.seek(pos)
            header = fh.read(16)
            size = int.from_bytes(header[:4], "big")
            kind = header[4:8].decode("latin-1")
            if size == 1 and len(header) >= 16:
                size = int.from_bytes(header[8:16], "big")
            elif size == 0:
                size = end - pos
            if size < 8:
                break
            boxes.append(kind)
            pos += size
    return boxes


def _mp4_faststart(path: Path) -> bool | None:
    boxes = mp4_top_level_boxes(path)
    if "moov" not in boxes:
        return None
    if "mdat" not in boxes:
        return True
    return boxes.index("moov") < boxes.index("mdat")


def _duration(container: av.container.InputContainer) -> float | None:
    """Longest audio/video stream (subtitles may run past the picture), else the container's."""
    best: float | None = None
    for stream in list(container.streams.video) + list(container.streams.audio):
        seconds: float | None = None
        if stream.duration is not None and stream.time_base is not None:
            seconds = float(stream.duration * stream.time_base)
        else:
            seconds = _parse_duration_tag(str(stream.metadata.get("DURATION", "")))
        if seconds is not None and seconds > 0:
            best = seconds if best is None else max(best, seconds)
    if best is None and container.duration is not None and container.duration > 0:
        best = container.duration / av.time_base
    return round(best, 3) if best is not None else None


def _parse_duration_tag(value: str) -> float | None:
    """Matroska's per-track ``DURATION`` tag: ``HH:MM:SS.nnnnnnnnn``."""
    try:
        hours, minutes, seconds = value.strip().split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except ValueError:
        return None


def _label(codec: str | None) -> str:
    return CODEC_LABELS.get(codec or "", codec or "unknown")


def _h264_problem(profile: str, pix_fmt: str) -> str:
    lowered = profile.lower()
    if "10" in lowered or "4:2:2" in lowered or "4:4:4" in lowered:
        return f"H.264 {profile} profile"
    if pix_fmt and pix_fmt not in _H264_PIX_FMTS:
        return f"H.264 with {pix_fmt} pictures"
    return ""


def _plan(
    container: str,
    video_codec: str | None,
    profile: str,
    pix_fmt: str,
    audio: AudioTrack | None,
) -> tuple[Plan, str]:
    box = CONTAINER_LABELS.get(container, container)
    if video_codec is None:
        return "unsupported", "There is no video in this file (audio only)."
    if video_codec not in SAFE_VIDEO:
        return "unsupported", (
            f"The video is {_label(video_codec)}, which browsers can't play, and this version "
            "of Plank doesn't convert video."
        )
    if video_codec == "h264" and (problem := _h264_problem(profile, pix_fmt)):
        return "unsupported", (
            f"The video is {problem}, which browsers can't play, and this version of Plank "
            "doesn't convert video."
        )
    audio_codec = audio.codec if audio else None
    what = _label(video_codec) + (f" + {_label(audio_codec)}" if audio_codec else "")

    if container == "webm" and video_codec in WEBM_VIDEO and audio_codec in (None, *WEBM_AUDIO):
        return "keep", f"WebM with {what} plays in browsers as it is."
    if video_codec not in MP4_VIDEO:
        # VP8 outside WebM: it can't go into MP4 and we don't write WebM.
        return "unsupported", (
            f"{_label(video_codec)} video only plays from WebM, and this version of Plank "
            "doesn't convert video."
        )
    if container == "mp4" and audio_codec in (None, *MP4_AUDIO):
        return "keep", f"MP4 with {what} plays in browsers as it is."
    if audio_codec is None or audio_codec in MP4_AUDIO:
        return "remux", f"{box} isn't played by browsers; the {what} streams are copied into MP4."
    if audio_codec in SAFE_AUDIO:  # Vorbis: fine in WebM, not in MP4
        return "remux_audio", (
            f"{_label(audio_codec)} audio can't go into MP4; the {_label(video_codec)} video is "
            "copied and the audio converted to AAC stereo."
        )
    return "remux_audio", (
        f"Browsers can't play {_label(audio_codec)} audio; the {_label(video_codec)} video is "
        "copied into MP4 and the audio converted to AAC stereo."
    )
