"""The player page, its subtitles, and saving where each person stopped.

- ``GET /media/<id>/watch[?file=<video file id>]``: a native ``<video>`` on `/media/<id>/stream`,
  one ``<track>`` per WebVTT subtitle of the video, an episode picker for shows, and the
  saved position to resume from (``static/plank/player.js`` does the rest).
- ``GET /media/<id>/subtitles/<file id>.vtt``: a subtitle file of the title, as ``text/vtt``.
- ``POST /media/<id>/position`` (``position``, ``duration``, ``file``; CSRF-protected): 204.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import get_language_info
from django.views.decorators.http import require_GET, require_POST

from media import files, playback, streaming
from media.models import Kind, MediaFile, PlaybackPosition, Title
from media.subtitles import MAX_BYTES as MAX_SUBTITLE_BYTES
from media.subtitles import SubtitleError, to_webvtt

MAX_NUMBER_CHARS = 32


SCANNED_SUBTITLES = frozenset({".srt", ".ass", ".ssa"})


def playable_subtitle(sub: MediaFile) -> bool:
    """A filed WebVTT, or a text subtitle a scan found in a library folder (converted when
    served: Plank never writes into the household's folders)."""
    suffix = Path(sub.path).suffix.lower()
    return suffix == ".vtt" or (sub.folder_id is not None and suffix in SCANNED_SUBTITLES)


def _text(status: int, message: str) -> HttpResponse:
    return streaming.Refusal(status, message).response()


@dataclass(frozen=True)
class Track:
    url: str
    lang: str
    label: str


@dataclass(frozen=True)
class Choice:
    file_id: int
    label: str


def _episode_code(file: MediaFile) -> str:
    episode = file.episode
    if episode is None:
        return ""
    return f"S{episode.season.number:02d}E{episode.number:02d}"


def video_label(file: MediaFile) -> str:
    """How the episode picker names a video: ``S01E02 · Name``, else the file name."""
    name = Path(file.path or file.torrent_path).name or f"Video {file.pk}"
    if file.episode is None:
        return name
    return (
        f"{_episode_code(file)} · {file.episode.name}" if file.episode.name else _episode_code(file)
    )


def _video_order(file: MediaFile) -> tuple:
    episode = file.episode
    if episode is None:
        return (1, 0, 0, (file.path or file.torrent_path).lower(), file.pk)
    return (0, episode.season.number, episode.number, "", file.pk)


def _language_label(code: str, fallback: str) -> str:
    if not code:
        return fallback
    try:
        return str(get_language_info(code.lower())["name"])
    except KeyError:
        base = code.split("-")[0].lower()
        try:
            return str(get_language_info(base)["name"]) + f" ({code})"
        except KeyError:
            return code


def subtitle_tracks(title: Title, video: MediaFile) -> list[Track]:
    """A ``<track>`` for each WebVTT subtitle of `video` (same episode; for movies, all)."""
    subtitles = MediaFile.objects.filter(
        title=title, role=MediaFile.Role.SUBTITLE, episode_id=video.episode_id
    ).order_by("language", "id")
    tracks = []
    for number, sub in enumerate((s for s in subtitles if playable_subtitle(s)), start=1):
        tracks.append(
            Track(
                url=reverse("subtitle", args=[title.pk, sub.pk]),
                lang=sub.language[:16],
                label=_language_label(sub.language, f"Subtitles {number}"),
            )
        )
    return tracks


def _default_video(
    request: HttpRequest, title: Title, videos: list[MediaFile], main_id: int
) -> MediaFile:
    """A show opens on the episode watched last (else the first); a movie on its main file."""
    if title.kind == Kind.TV:
        last = (
            PlaybackPosition.objects.filter(user=request.user, title=title, file__in=videos)
            .order_by("-updated_at")
            .values_list("file_id", flat=True)
            .first()
        )
        return next((v for v in videos if v.pk == last), videos[0])
    return next(v for v in videos if v.pk == main_id)


def _requested(videos: list[MediaFile], file_param: str) -> MediaFile | None:
    wanted = streaming.file_id(file_param)
    return next((v for v in videos if v.pk == wanted), None)


@require_GET
def watch(request: HttpRequest, pk: int) -> HttpResponse:
    title = Title.objects.filter(pk=pk).first()
    if title is None:
        return render(request, "media/watch.html", {"nav": "library", "missing": True}, status=404)
    videos = sorted(title.files.videos().select_related("episode__season"), key=_video_order)
    context: dict = {"nav": "library", "title": title, "choices": [], "tracks": []}
    if not videos:
        context["unavailable"] = (
            "This title has no video file yet. It appears here once the download has its "
            "details; you can start watching while it downloads."
        )
        return render(request, "media/watch.html", context)
    main = title.files.main_video()
    main_id = main.pk if main is not None else videos[0].pk
    file_param = request.GET.get("file")
    if file_param is not None:
        video = _requested(videos, file_param)
        if video is None:
            context["unavailable"] = "That video isn't one of this title's files."
            return render(request, "media/watch.html", context, status=404)
    else:
        video = _default_video(request, title, videos, main_id)
    try:
        located = streaming.locate(title.pk, str(video.pk))
    except streaming.Refusal as refusal:
        context["unavailable"] = refusal.message
        located = None
    stream_url = reverse("stream", args=[title.pk])
    if len(videos) > 1 or video.pk != main_id:
        stream_url += f"?file={video.pk}"
    context |= {
        "video": video,
        "video_label": _episode_code(video)
        + (f" · {video.episode.name}" if video.episode and video.episode.name else ""),
        "stream_url": stream_url,
        "downloading": bool(located and located.downloading),
        "start": playback.resume_position(request.user, title, video),
        "tracks": subtitle_tracks(title, video),
        "choices": [Choice(v.pk, video_label(v)) for v in videos] if len(videos) > 1 else [],
        "content_type": streaming.content_type_for(video.path or video.torrent_path),
    }
    return render(request, "media/watch.html", context)


@require_GET
def subtitle(request: HttpRequest, pk: int, file_id: int) -> HttpResponse:
    """A WebVTT subtitle of title `pk` (only its own files, only ``.vtt``, only in the data dir)."""
    sub = MediaFile.objects.filter(pk=file_id, title_id=pk, role=MediaFile.Role.SUBTITLE).first()
    if sub is None or not playable_subtitle(sub):
        return _text(404, "No such subtitle.")
    path = files.resolve(sub)
    try:
        if path is None or not path.is_file() or path.stat().st_size > MAX_SUBTITLE_BYTES:
            raise FileNotFoundError
        if path.suffix.lower() == ".vtt":
            data = path.read_bytes()
        else:  # a household's own .srt/.ass in a library folder: Plank never writes there
            data = to_webvtt(path).encode()
    except OSError:
        return _text(404, "This subtitle's file is missing.")
    except SubtitleError as exc:
        return _text(404, f"This subtitle can't be read: {exc}")
    response = HttpResponse(data, content_type="text/vtt; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"
    return response


def _number(value: str | None, name: str, *, required: bool) -> float | None:
    if value is None or not value.strip():
        if required:
            raise playback.BadPosition(f"The {name} is missing.")
        return None
    if len(value) > MAX_NUMBER_CHARS:
        raise playback.BadPosition(f"The {name} must be a number of seconds.")
    try:
        return float(value)
    except ValueError:
        raise playback.BadPosition(f"The {name} must be a number of seconds.") from None


@require_POST
def save_position(request: HttpRequest, pk: int) -> HttpResponse:
    """Remember where the user is: ``position`` and ``duration`` in seconds, ``file`` id. 204."""
    title = Title.objects.filter(pk=pk).first()
    if title is None:
        return _text(404, "This title isn't in the library.")
    file_param = request.POST.get("file", "").strip()
    if file_param:
        wanted = streaming.file_id(file_param)
        video = title.files.videos().filter(pk=wanted).first() if wanted is not None else None
        if video is None:
            return _text(400, "The file must be the id of one of this title's videos.")
    else:
        video = title.files.main_video()
        if video is None:
            return _text(400, "This title has no video to remember a position in.")
    try:
        position = _number(request.POST.get("position"), "position", required=True)
        duration = _number(request.POST.get("duration"), "duration", required=False)
        assert position is not None
        position, duration = playback.clean_position(position, duration)
    except playback.BadPosition as exc:
        return _text(400, str(exc))
    playback.save_position(request.user, title, video, position, duration)
    return HttpResponse(status=204)
