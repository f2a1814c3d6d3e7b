"""Copy browser-safe streams into a fast-start MP4, converting only the audio when asked.

`remux_to_mp4(src, dst)` never leaves a half-written `dst`; an exception from the `progress`
callback cancels it. Subtitle, data and attachment streams are dropped (they become WebVTT
sidecars, `media.subtitles`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable
from fractions import Fraction
from pathlib import Path

import av
import av.error

from media.files import replacing
from media.probe import CODEC_LABELS, MP4_AUDIO, MP4_VIDEO, codec_name, main_video_stream

log = logging.getLogger(__name__)

Progress = Callable[[float], None]

#: AAC we make: stereo, 48 kHz unless the source is already 44.1 kHz
AAC_BIT_RATE = 192_000
AAC_RATES = (44100, 48000)
PROGRESS_INTERVAL = 0.1  # seconds between progress calls (the final 1.0 always comes)


class RemuxError(Exception):
    """The file couldn't be made into a playable MP4. The message is fit to show a person."""


def remux_to_mp4(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    progress: Progress | None = None,
    transcode_audio: bool = False,
) -> Path:
    """Write `src` as a fast-start MP4 at `dst` (replacing it) and return `dst`.

    The main video stream is copied. Audio streams MP4 and browsers take (AAC, MP3, Opus) are
    copied; the others are converted to AAC stereo when `transcode_audio` is true, otherwise
    left out (and if that would leave a file with audio silent, `RemuxError` is raised).
    `progress` gets rising fractions, 0.0 first and 1.0 last (once `dst` is in place), at most
    about ten times a second; an exception it raises aborts the remux.
    """
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise RemuxError(f"{src.name}: no such file")
    with replacing(dst) as tmp:
        _remux(src, tmp, progress, transcode_audio)
    if progress is not None:
        progress(1.0)
    return dst


def _remux(src: Path, tmp: Path, progress: Progress | None, transcode_audio: bool) -> None:
    try:
        inp = av.open(str(src), metadata_errors="replace")
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise RemuxError(f"{src.name}: not a readable video file ({exc})") from exc
    with inp:
        video = main_video_stream(inp)
        if video is None:
            raise RemuxError(f"{src.name}: there is no video stream to copy")
        vcodec = codec_name(video)
        if vcodec not in MP4_VIDEO:
            raise RemuxError(
                f"{src.name}: {CODEC_LABELS.get(vcodec, vcodec)} video can't be copied into MP4 "
                "for browsers, and this version of Plank doesn't convert video"
            )
        try:
            out = av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"})
        except (av.error.FFmpegError, OSError) as exc:
            raise RemuxError(f"can't write {tmp.parent}: {exc}") from exc
        finished = False
        try:
            _copy(src, inp, out, video, progress, transcode_audio)
            finished = True
        except av.error.FFmpegError as exc:
            raise RemuxError(f"{src.name}: remuxing failed ({exc})") from exc
        finally:
            try:
                out.close()  # writes the trailer; faststart moves the index to the front
            except av.error.FFmpegError as exc:
                if finished:
                    raise RemuxError(f"{src.name}: writing the MP4 failed ({exc})") from exc


def _copy(
    src: Path,
    inp: av.container.InputContainer,
    out: av.container.OutputContainer,
    video: av.VideoStream,
    progress: Progress | None,
    transcode_audio: bool,
) -> None:
    copies: dict[int, av.stream.Stream] = {video.index: _copy_stream(out, video)}
    transcoders: dict[int, _AacTranscoder] = {}
    audio_in = list(inp.streams.audio)
    for stream in audio_in:
        if codec_name(stream) in MP4_AUDIO:
            copies[stream.index] = _copy_stream(out, stream)
        elif transcode_audio:
            transcoders[stream.index] = _AacTranscoder(out, stream)
    if audio_in and not copies.keys() - {video.index} and not transcoders:
        names = ", ".join(
            sorted({CODEC_LABELS.get(codec_name(s), codec_name(s)) for s in audio_in})
        )
        raise RemuxError(
            f"{src.name}: the audio ({names}) can't be copied into MP4; convert it "
            "(transcode_audio=True) rather than lose the sound"
        )

    reporter = _Reporter(progress, inp)
    if progress is not None:
        progress(0.0)
    fixers = {index: _Timestamps() for index in copies}
    selected = [inp.streams[i] for i in sorted([*copies, *transcoders])]
    for packet in inp.demux(selected):
        if packet.size == 0:  # the demuxer's end-of-stream markers
            continue
        index = packet.stream.index
        reporter.update(packet)
        if index in transcoders:
            transcoders[index].feed(packet)
            continue
        for ready in fixers[index].fix(packet):
            ready.stream = copies[index]
            out.mux(ready)
    for index, fixer in fixers.items():
        for ready in fixer.finish():
            ready.stream = copies[index]
            out.mux(ready)
    for transcoder in transcoders.values():
        transcoder.flush()


class _Timestamps:
    """Repairs one copied stream's timestamps so the MP4 muxer accepts every packet.

    - Matroska stores only presentation times; with B-frames the demuxer can't know the decode
      time (dts) of the first few packets and leaves it out. Those packets hold the first key
      frame, so they must not be dropped: they are held back until the first packet with a dts
      arrives, then given the dts before it, one frame duration apart (what FFmpeg does).
    - A dts that repeats or goes backwards is nudged forward; a missing or too-early pts is set
      to the dts.
    """

    MAX_PENDING = 64

    def __init__(self) -> None:
        self.pending: list[av.Packet] = []
        self.last_dts: int | None = None

    def fix(self, packet: av.Packet) -> list[av.Packet]:
        if packet.dts is None and packet.pts is None:
            log.warning("dropping a packet with no timestamps in stream %s", packet.stream_index)
            return []
        if packet.dts is None and self.last_dts is None:
            self.pending.append(packet)
            return self._release_sorted() if len(self.pending) > self.MAX_PENDING else []
        if packet.dts is None:  # a gap mid-stream
            packet.dts = min(packet.pts, self.last_dts + 1)
        ready: list[av.Packet] = []
        if self.pending:
            step = packet.duration or self.pending[-1].duration or 1
            count = len(self.pending)
            for i, held in enumerate(self.pending):
                held.dts = packet.dts - (count - i) * step
            ready = self._emit(self.pending)
            self.pending = []
        return ready + self._emit([packet])

    def finish(self) -> list[av.Packet]:
        return self._release_sorted()

    def _release_sorted(self) -> list[av.Packet]:
        """No dts in sight: decode times are the presentation times in order, shifted back just
        enough that none comes after its own presentation time."""
        if not self.pending:
            return []
        times = sorted(p.pts for p in self.pending)
        shift = max(t - p.pts for t, p in zip(times, self.pending, strict=True))
        for t, held in zip(times, self.pending, strict=True):
            held.dts = t - shift
        ready = self._emit(self.pending)
        self.pending = []
        return ready

    def _emit(self, packets: list[av.Packet]) -> list[av.Packet]:
        for packet in packets:
            if self.last_dts is not None and packet.dts <= self.last_dts:
                packet.dts = self.last_dts + 1
            if packet.pts is None or packet.pts < packet.dts:
                packet.pts = packet.dts
            self.last_dts = packet.dts
        return packets


def _copy_stream(out: av.container.OutputContainer, template: av.stream.Stream) -> av.stream.Stream:
    stream = out.add_stream_from_template(template)
    # Never carry a source FourCC over (AVI's "H264", "XVID"): the MP4 muxer picks its own.
    stream.codec_context.codec_tag = "\0\0\0\0"
    stream.time_base = template.time_base
    language = template.metadata.get("language")
    if language:
        stream.metadata["language"] = language
    return stream


class _AacTranscoder:
    """Decode one audio stream and encode it as AAC stereo into `out`."""

    def __init__(self, out: av.container.OutputContainer, source: av.AudioStream) -> None:
        self.out = out
        self.source = source
        source_rate = source.codec_context.sample_rate or 48000
        rate = source_rate if source_rate in AAC_RATES else 48000
        self.stream = out.add_stream("aac", rate=rate, layout="stereo")
        self.stream.codec_context.bit_rate = AAC_BIT_RATE
        language = source.metadata.get("language")
        if language:
            self.stream.metadata["language"] = language
        self.resampler = av.AudioResampler(
            format="fltp", layout="stereo", rate=rate, frame_size=1024
        )
        self.time_base = Fraction(1, rate)
        self.next_pts: int | None = None

    def _encode(self, frames: Iterable[av.AudioFrame | None]) -> None:
        for frame in frames:
            for resampled in self.resampler.resample(frame):
                # The resampler keeps the source's time base (often 1/1000), so its pts jitter
                # by a millisecond; count samples instead, from where the source audio starts.
                if self.next_pts is None:
                    start = resampled.pts if resampled.pts is not None else 0
                    tb = resampled.time_base or self.time_base
                    self.next_pts = round(start * tb / self.time_base)
                resampled.pts = self.next_pts
                resampled.time_base = self.time_base
                self.next_pts += resampled.samples
                for packet in self.stream.encode(resampled):
                    self.out.mux(packet)

    def feed(self, packet: av.Packet) -> None:
        try:
            frames = packet.decode()
        except av.error.InvalidDataError:  # a damaged audio packet: skip it, keep going
            log.warning("skipping an undecodable audio packet at dts %s", packet.dts)
            return
        self._encode(frames)

    def flush(self) -> None:
        with contextlib.suppress(av.error.EOFError):
            self._encode(self.source.codec_context.decode(None))
        self._encode([None])
        for packet in self.stream.encode(None):
            self.out.mux(packet)


class _Reporter:
    """Turns packet timestamps into throttled, monotonic progress fractions."""

    def __init__(self, progress: Progress | None, inp: av.container.InputContainer) -> None:
        self.progress = progress
        self.start = (inp.start_time or 0) / av.time_base
        self.duration = (inp.duration or 0) / av.time_base
        self.best = 0.0
        self.last_call = time.monotonic()  # the caller has just been told 0.0

    def update(self, packet: av.Packet) -> None:
        if self.progress is None or self.duration <= 0 or packet.time_base is None:
            return
        stamp = packet.dts if packet.dts is not None else packet.pts
        if stamp is None:
            return
        seconds = float(stamp * packet.time_base) - self.start
        fraction = min(1.0, max(0.0, seconds / self.duration))
        if fraction <= self.best:
            return
        self.best = fraction
        now = time.monotonic()
        if now - self.last_call >= PROGRESS_INTERVAL and fraction < 1.0:
            self.last_call = now
            self.progress(fraction)
