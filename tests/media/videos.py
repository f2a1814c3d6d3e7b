"""Tiny real test videos, made with PyAV (no numpy, no ffmpeg binary).

Importable helpers for any test that needs a media file::

    from tests.media.videos import make_video, make_srt, make_ass

`make_video` writes a real, moving picture (colour bars that slide one step per frame, plus a
frame counter block) and a real sine tone, encoded with the codecs asked for. The defaults make
a 2 s, 160x120, 12 fps clip in well under a second.
"""

from __future__ import annotations

import math
import os
from array import array
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av

Container = Literal["mp4", "mkv", "avi", "webm", "mov"]
VCodec = Literal["h264", "mpeg4", "vp9", "hevc"]
ACodec = Literal["aac", "ac3", "mp3", "opus", "vorbis", "flac", "pcm_s16le"]

#: codec name we speak -> FFmpeg encoder inside the PyAV wheel
VIDEO_ENCODERS: dict[str, str] = {
    "h264": "libx264",
    "mpeg4": "mpeg4",
    "vp9": "libvpx-vp9",
    "hevc": "libx265",
}
AUDIO_ENCODERS: dict[str, str] = {
    "aac": "aac",
    "ac3": "ac3",
    "mp3": "libmp3lame",
    "opus": "libopus",
    "vorbis": "vorbis",
    "flac": "flac",
    "pcm_s16le": "pcm_s16le",
}
#: options that keep the encoders fast on two shared cores
VIDEO_OPTIONS: dict[str, dict[str, str]] = {
    "h264": {"preset": "ultrafast", "tune": "zerolatency"},
    "vp9": {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"},
    "hevc": {"preset": "ultrafast", "x265-params": "log-level=none"},
    "mpeg4": {},
}
_FORMATS = {"mp4": "mp4", "mkv": "matroska", "avi": "avi", "webm": "webm", "mov": "mov"}

# YUV of classic colour bars: white, yellow, cyan, green, magenta, red, blue, black
_BARS = [
    (235, 128, 128),
    (210, 16, 146),
    (170, 166, 16),
    (145, 54, 34),
    (106, 202, 222),
    (81, 90, 240),
    (41, 240, 110),
    (16, 128, 128),
]

SAMPLE_SUBTITLES = [
    (1.0, 2.5, "Hello, <i>world</i>!"),
    (3.0, 4.25, "Second line\nwith a break"),
]


def _bars_frame(width: int, height: int, index: int, noise: bool) -> av.VideoFrame:
    frame = av.VideoFrame(width, height, "yuv420p")
    shift = (index * 4) % width
    bar_width = max(1, width // len(_BARS))
    for plane_no, plane in enumerate(frame.planes):
        pw, ph, stride = plane.width, plane.height, plane.line_size
        scale = 1 if plane_no == 0 else 2
        row = bytearray(stride)
        for x in range(pw):
            bar = ((x * scale + shift) // bar_width) % len(_BARS)
            row[x] = _BARS[bar][plane_no]
        if noise and plane_no == 0:
            # Incompressible luma: makes big files for benchmarks.
            data = bytearray(os.urandom(stride * ph))
        else:
            data = bytearray(bytes(row) * ph)
        if plane_no == 0:
            # A black block that walks down the picture, so consecutive frames differ everywhere.
            block = max(2, ph // 8)
            top = (index * 2) % max(1, ph - block)
            for y in range(top, top + block):
                start = y * stride
                data[start : start + block] = bytes(block)
        plane.update(bytes(data))
    frame.pts = index
    return frame


def _tone(samples: int, start: int, rate: int, freq: float = 440.0) -> av.AudioFrame:
    pcm = array(
        "h",
        (int(12000 * math.sin(2 * math.pi * freq * (start + i) / rate)) for i in range(samples)),
    )
    frame = av.AudioFrame(format="s16", layout="mono", samples=samples)
    frame.planes[0].update(pcm.tobytes())
    frame.sample_rate = rate
    frame.pts = start
    return frame


def make_video(
    path: str | os.PathLike[str],
    *,
    container: Container = "mp4",
    vcodec: VCodec = "h264",
    acodec: ACodec | None = "aac",
    seconds: float = 2.0,
    size: tuple[int, int] = (160, 120),
    fps: int = 12,
    subtitles: Sequence[tuple[float, float, str]] | None = None,
    subtitle_language: str = "eng",
    noise: bool = False,
    bframes: int = 0,
    video_options: dict[str, str] | None = None,
) -> Path:
    """Write a real video file and return its path.

    `subtitles` (MKV only) adds a SubRip track with the given ``(start, end, text)`` cues.
    `noise` fills the picture with random luma (big, incompressible files for benchmarks).
    `bframes` makes H.264 (or MPEG-4) with that many B-frames between references, as real
    releases have: their packets come out of order, and Matroska then lacks the first dts.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = size
    frames = max(1, round(seconds * fps))
    with av.open(str(path), "w", format=_FORMATS[container]) as out:
        vstream = out.add_stream(VIDEO_ENCODERS[vcodec], rate=fps)
        vstream.width, vstream.height = width, height
        vstream.pix_fmt = "yuv420p"
        vstream.codec_context.gop_size = fps
        options = dict(VIDEO_OPTIONS[vcodec])
        if bframes and vcodec == "h264":
            # Real releases reorder frames; zerolatency would forbid it.
            options.pop("tune", None)
            options["x264-params"] = f"bframes={bframes}:b-adapt=0"
        elif bframes and vcodec == "mpeg4":
            vstream.codec_context.max_b_frames = bframes
        vstream.options = {**options, **(video_options or {})}
        astream = None
        resampler = None
        rate = 48000 if acodec in ("opus", "ac3") else 44100
        if acodec is not None:
            astream = out.add_stream(AUDIO_ENCODERS[acodec], rate=rate, layout="stereo")
            if acodec == "vorbis":
                astream.options = {"strict": "experimental"}  # FFmpeg's own Vorbis encoder
            resampler = av.AudioResampler(
                format=astream.codec_context.format,
                layout=astream.codec_context.layout,
                rate=rate,
                frame_size=astream.codec_context.frame_size or 1024,
            )
        sstream = None
        if subtitles:
            if container != "mkv":
                raise ValueError("embedded subtitles are only made for MKV")
            sstream = out.add_mux_stream("subrip")
            sstream.time_base = Fraction(1, 1000)
            sstream.metadata["language"] = subtitle_language

        def audio_until(end: int, flush: bool = False) -> None:
            nonlocal audio_done
            if astream is None or resampler is None:
                return
            frames_in = []
            if end > audio_done:
                frames_in.append(_tone(end - audio_done, audio_done, rate))
                audio_done = end
            if flush:
                frames_in.append(None)
            for tone in frames_in:
                for frame in resampler.resample(tone):
                    for packet in astream.encode(frame):
                        out.mux(packet)
            if flush:
                for packet in astream.encode(None):
                    out.mux(packet)

        # Picture and sound are made side by side, so the file is interleaved like a real one.
        audio_done = 0
        total_samples = int(seconds * rate)
        for i in range(frames):
            for packet in vstream.encode(_bars_frame(width, height, i, noise)):
                out.mux(packet)
            audio_until(min(total_samples, (i + 1) * rate // fps))
        for packet in vstream.encode(None):
            out.mux(packet)
        audio_until(total_samples, flush=True)

        if sstream is not None:
            for start, end, text in subtitles or ():
                packet = av.Packet(text.encode())
                packet.stream = sstream
                packet.time_base = sstream.time_base
                packet.pts = packet.dts = int(start / sstream.time_base)
                packet.duration = int((end - start) / sstream.time_base)
                out.mux(packet)
    return path


SRT_TEXT = """1
00:00:01,000 --> 00:00:02,500
Hello, <i>world</i>!

2
00:00:03,000 --> 00:00:04,250
Second line
with a break
"""

ASS_TEXT = """[Script Info]
Title: test
ScriptType: v4.00+

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, Bold, Italic
Style: Default,Arial,20,&H00FFFFFF,0,0

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
Dialogue: 0,0:00:01.00,0:00:02.50,Default,,0,0,0,,{\\i1}Hello{\\i0}, world!
Comment: 0,0:00:02.00,0:00:03.00,Default,,0,0,0,,not shown
Dialogue: 0,0:00:03.00,0:00:04.25,Default,,0,0,0,,{\\an8\\pos(10,20)}Second line\\Nwith a break, and commas
"""


def make_srt(path: str | os.PathLike[str], text: str = SRT_TEXT, encoding: str = "utf-8") -> Path:
    """Write a SubRip file (two cues by default) and return its path."""
    path = Path(path)
    path.write_bytes(text.replace("\n", "\r\n").encode(encoding))
    return path


def make_ass(path: str | os.PathLike[str], text: str = ASS_TEXT, encoding: str = "utf-8") -> Path:
    """Write an Advanced SubStation Alpha file (two dialogue lines, one comment)."""
    path = Path(path)
    path.write_bytes(text.encode(encoding))
    return path
