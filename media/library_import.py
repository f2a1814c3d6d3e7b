"""Into the library: file a completed download as browser-playable files.

When a title's download completes, the torrents app calls :func:`import_completed`. It only
queues the :func:`import_title` job (django-tasks); the job worker (``plank.jobs``, in the
process that runs the engine) runs it, so a long remux never holds up the engine.
:func:`run_import` does the work and can be called directly (tests, commands).

For each video of the title, from its download folder (``DOWNLOADS_DIR/<info hash>/...``):

- probe it (``media.probe``);
- plan ``keep`` (an MP4/WebM browsers play): hard-link it into the library (a copy when the
  library is on another file system), so the torrent keeps seeding from its download folder;
- plan ``remux``/``remux_audio``: write a fast-start MP4 straight into the library
  (``media.remux``), the streams copied, the audio converted when it must be;
- plan ``unsupported``: leave it where it is (it can still be streamed or downloaded as it is)
  and say why on the title page; the title stays complete.

Movies go to ``library/Title (Year)/Title (Year).mp4`` (``.webm`` for a kept WebM), episodes to
``library/Show (Year)/Season 01/Show - S01E02.mp4`` (``media.filing``). Subtitles (.srt .ass
.ssa .vtt) become WebVTT sidecars next to their video: ``Title (Year).en.vtt``.

While remuxing, the fraction done is pushed as ``("import", <title id>)`` at most twice a
second, and the title's ``status_detail`` says "Making it playable in the browser… 40%" (written
at most every `DETAIL_SECONDS`, announced as ``("media", <title id>)``).

Safe to run again: a file already in the library is left alone; a hard link or remux that
crashed half-way leaves no partial file (both write a temporary file and rename it). A failure
puts the title in error with a message a person can read; no exception leaves the job.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from cachalot.api import cachalot_disabled
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks import task

from media import live
from media.downloading import download_of, still_downloading
from media.files import download_path, inside, resolve
from media.filing import library_path, sanitize_name, sidecar_path, unique_path
from media.folders import folder_for
from media.models import Kind, LibraryFolder, MediaFile, Status, Title
from media.probe import ProbeError, ProbeResult, probe
from media.remux import RemuxError, remux_to_mp4
from media.scan_files import partial_hash
from media.subtitles import SubtitleError, subtitle_language, write_webvtt
from plank.live.events import emit, push

log = logging.getLogger(__name__)

PUSH_SECONDS = 0.5
"""At most this often a ``set`` frame with the remux fraction."""
DETAIL_SECONDS = 3.0
"""At most this often the title's ``status_detail`` is rewritten with the percentage."""
CONVERTIBLE_SUBTITLES = frozenset({".srt", ".ass", ".ssa", ".vtt"})
REMUXING = "Making it playable in the browser…"
_LINK_FALLBACK_ERRNOS = frozenset(
    {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EACCES}
)


@dataclass
class ImportReport:
    """What one run did (the job's return value, so JSON-friendly)."""

    title_id: int
    filed: list[str] = field(default_factory=list)
    """Paths (relative to the data directory) written or linked by this run."""
    already: list[str] = field(default_factory=list)
    """Paths that were in the library before this run."""
    unsupported: list[str] = field(default_factory=list)
    """Why videos were left as they are (the probe's reasons)."""
    warnings: list[str] = field(default_factory=list)
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ImportFailed(Exception):
    """One file could not be filed; the message is fit to show a person."""


# ---------------------------------------------------------------------------- the entry points


def import_completed(title: Title) -> None:
    """A title's download completed: queue the import job."""
    enqueue_import(title.pk)


def enqueue_import(title_id: int) -> None:
    """Queue :func:`import_title` for the job worker; a failure to queue is logged, not raised."""
    try:
        import_title.enqueue(title_id)
    except Exception:
        log.exception("could not queue the library import of title %s", title_id)


@task()
def import_title(title_id: int) -> dict[str, Any]:
    """The background job: ``import_title.enqueue(pk)``."""
    return run_import(title_id).as_dict()


def enqueue_unfiled() -> list[int]:
    """Queue an import for every complete title with a video not in the library yet: a sweep
    for start-up, in case the process stopped between a completion and its import (a job
    that was running when the process died is not run again by the worker). Titles whose
    videos can't be made playable are looked at again too; that is only a probe. Returns the
    titles' ids."""
    pending = list(
        Title.objects.filter(
            status=Status.COMPLETE, files__role=MediaFile.Role.VIDEO, files__path=""
        )
        .order_by("pk")
        .values_list("pk", flat=True)
        .distinct()
    )
    for pk in pending:
        enqueue_import(pk)
    return pending


def run_import(title_id: int) -> ImportReport:
    """File title ``title_id``'s downloaded files into the library (see the module doc).

    Never raises: a failure is recorded on the title (status error) and in the report."""
    report = ImportReport(title_id)
    with _title_lock(title_id), cachalot_disabled():
        try:
            _import(title_id, report)
        except Exception as exc:
            log.exception("importing title %s failed", title_id)
            report.error = f"Filing into the library failed: {exc}"
            try:
                _finish(title_id, report)
            except Exception:  # the database itself is in trouble: the log has to do
                log.exception("recording the failed import of title %s", title_id)
    return report


# ---------------------------------------------------------------------------- the work


_locks: dict[int, threading.Lock] = {}
_locks_guard = threading.Lock()


@contextmanager
def _title_lock(title_id: int) -> Iterator[None]:
    """One import of a title at a time in this process (the second finds the work done)."""
    with _locks_guard:
        lock = _locks.setdefault(title_id, threading.Lock())
    with lock:
        yield


def _data_dir() -> Path:
    return Path(settings.DATA_DIR).resolve()


def _library_dir(title: Title | None = None) -> Path:
    """Where a title is filed: the library folder of its kind (movies, shows) when there is one
    (``media.folders.folder_for``), else Plank's own library directory."""
    folder = folder_for(title.kind) if title is not None else None
    library = Path(folder.path) if folder is not None else Path(settings.LIBRARY_DIR)
    library.mkdir(parents=True, exist_ok=True)
    return library.resolve()


def _libraries() -> list[Path]:
    """Every place Plank files into: its library directory and the library folders."""
    folders = [Path(p).resolve() for p in LibraryFolder.objects.values_list("path", flat=True)]
    return [Path(settings.LIBRARY_DIR).resolve(), *folders]


def _stored(path: Path) -> dict[str, Any]:
    """How MediaFile stores ``path``: relative to its library folder, or to the data directory."""
    resolved = path.resolve()
    for folder in LibraryFolder.objects.all():
        if inside(folder.path, resolved) is not None:
            return {"folder": folder, "path": resolved.relative_to(folder.path).as_posix()}
    if inside(_data_dir(), resolved) is not None:
        return {"folder": None, "path": resolved.relative_to(_data_dir()).as_posix()}
    raise ImportFailed(
        f"{path} is neither in a library folder nor inside the data directory ({settings.DATA_DIR})"
    )


def _relative(path: Path) -> str:
    """A filed path as the import's report says it (relative to the data directory, or whole)."""
    resolved = inside(_data_dir(), path)
    return resolved.relative_to(_data_dir()).as_posix() if resolved is not None else str(path)


def _import(title_id: int, report: ImportReport) -> None:
    title = Title.objects.filter(pk=title_id).first()
    if title is None:
        report.error = "The title is no longer in the library."
        return
    if title.status == Status.REMOVED:
        report.warnings.append("The title was removed; nothing filed.")
        return
    if still_downloading(title):
        report.warnings.append("The download isn't complete yet; nothing filed.")
        return
    videos = list(
        MediaFile.objects.filter(title=title, role=MediaFile.Role.VIDEO)
        .select_related("episode__season")
        .order_by("episode__season__number", "episode__number", "torrent_index", "id")
    )
    if not videos:
        report.warnings.append("The title has no video files; nothing filed.")
        return
    plans: list[tuple[MediaFile, Path, ProbeResult]] = []
    targets: dict[int, Path] = {}  # video pk -> where it is (or would be) in the library
    errors: list[str] = []
    for video in videos:
        filed = _already_filed(video)
        if filed is not None:
            report.already.append(video.path)
            targets[video.pk] = filed
            continue
        try:
            source = _source(title, video)
            info = probe(source)
        except (ImportFailed, ProbeError) as exc:
            errors.append(_about(video, exc))
            continue
        targets[video.pk] = _target(title, video, info)
        plans.append((video, source, info))

    remux_bytes = sum(src.stat().st_size for _, src, info in plans if _remuxes(info))
    progress = _Progress(title, remux_bytes)
    for video, source, info in plans:
        try:
            if info.plan == "unsupported":
                _leave(video, info)
                report.unsupported.append(_unsupported_reason(title, video, info))
                continue
            dest, done = _place(video, targets[video.pk], source, info)
            if done:
                result = probe(dest)
            elif info.plan == "keep":
                _link_or_copy(source, dest)
                result = info
            else:
                with progress.file(source.stat().st_size) as report_fraction:
                    remux_to_mp4(
                        source,
                        dest,
                        progress=report_fraction,
                        transcode_audio=info.plan == "remux_audio",
                    )
                result = probe(dest)
            targets[video.pk] = dest
            if not _record(video, dest, result):  # the title went away meanwhile
                dest.unlink(missing_ok=True)
                report.error = "The title was deleted while it was being filed."
                return
            report.filed.append(_relative(dest))
        except (ImportFailed, RemuxError, ProbeError, OSError) as exc:
            log.warning("filing %s of title %s failed: %s", video, title_id, exc)
            errors.append(_about(video, exc))

    _subtitles(title, videos, targets, report, errors)
    if errors:
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
        report.error = (
            "Filing into the library failed: " + errors[0] + (more if len(errors) > 1 else "")
        )
    _finish(title_id, report)


def _name(file: MediaFile) -> str:
    return PurePosixPath(file.torrent_path or file.path or f"file {file.pk}").name


def _about(file: MediaFile, exc: BaseException) -> str:
    """``name: what went wrong`` (the probe's and remux's messages name the file already)."""
    text = (exc.strerror or str(exc)) if isinstance(exc, OSError) else str(exc)
    name = _name(file)
    return text if text.startswith(name) else f"{name}: {text}"


def _remuxes(info: ProbeResult) -> bool:
    return info.plan in ("remux", "remux_audio")


def _already_filed(file: MediaFile) -> Path | None:
    """The file's place in the library when it is there already (a previous run filed it)."""
    if not file.path:
        return None
    path = resolve(file)
    if path is None or not path.is_file():
        return None
    if not any(path.is_relative_to(library) for library in _libraries()):
        return None
    return path


def _source(title: Title, file: MediaFile) -> Path:
    """The downloaded file: where the engine wrote it (never outside its download folder)."""
    path = download_path(title, file)
    download = download_of(title)
    if path is None and file.torrent_path and download is not None and download.save_path:
        path = inside(download.save_path, file.torrent_path)
    if path is None:
        raise ImportFailed("the downloaded file can't be found (no download folder for it)")
    if not path.is_file():
        raise ImportFailed("the downloaded file is missing from its download folder")
    return path


def _target(title: Title, video: MediaFile, info: ProbeResult) -> Path:
    """Where a video belongs in the library (absolute; nothing is written yet)."""
    ext = ".webm" if info.plan == "keep" and info.container == "webm" else ".mp4"
    episode = video.episode
    if title.kind == Kind.TV and episode is not None:
        rel = library_path(
            Kind.TV, title.title, title.year, episode.season.number, episode.number, ext
        )
    else:
        rel = library_path(Kind.MOVIE, title.title, title.year, ext=ext)
        if title.kind == Kind.TV:  # an extra with no episode number: in the show's folder
            stem = sanitize_name(PurePosixPath(video.torrent_path or f"video {video.pk}").stem)
            rel = rel.parent / f"{stem}{ext}"
    return _in_library(rel, _library_dir(title))


def _in_library(path: Path, library: Path | None = None) -> Path:
    """``path`` (relative to ``library``, or absolute inside a place Plank files into),
    resolved; never outside."""
    for base in [library] if library is not None else _libraries():
        resolved = inside(base, path)
        if resolved is not None:
            return resolved
    raise ImportFailed(f"{path} would be outside the library folder")


def _claimed(path: Path, file: MediaFile) -> bool:
    """Whether another library file already sits at ``path``."""
    return MediaFile.objects.filter(**_stored(path)).exclude(pk=file.pk).exists()


def _place(video: MediaFile, dest: Path, source: Path, info: ProbeResult) -> tuple[Path, bool]:
    """Where to write a video: ``dest``, or a free name next to it when something else sits
    there. True with it when the file there is already this video's (a run that stopped
    between writing the file and recording it)."""
    if not os.path.lexists(dest):
        return dest, False
    if not _claimed(dest, video) and dest.is_file():
        if info.plan == "keep" and _same_file(dest, source):
            return dest, True
        if _remuxes(info) and _remuxed_from(dest, info):
            return dest, True
    return _in_library(unique_path(dest)), False


def _remuxed_from(path: Path, source: ProbeResult) -> bool:
    """Whether ``path`` looks like the finished remux of ``source`` (playable, same length)."""
    try:
        made = probe(path)
    except ProbeError:
        return False
    if made.plan != "keep" or made.container != "mp4" or made.video_codec != source.video_codec:
        return False
    if made.duration is None or source.duration is None:
        return False
    return abs(made.duration - source.duration) < 1.0


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _link_or_copy(source: Path, dest: Path) -> None:
    """Hard-link ``source`` at ``dest`` (a copy across file systems), atomically."""
    if _same_file(source, dest):
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name[:60]}.{uuid.uuid4().hex[:8]}.part")
    try:
        try:
            os.link(source, tmp)
        except OSError as exc:
            if exc.errno not in _LINK_FALLBACK_ERRNOS:
                raise
            log.info("can't hard-link %s (%s); copying it", source, exc.strerror)
            shutil.copyfile(source, tmp)
            os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _record(video: MediaFile, dest: Path, info: ProbeResult) -> bool:
    """Write where the video now is and what it holds; False if its row is gone."""
    st = dest.stat()
    rows = MediaFile.objects.filter(pk=video.pk)
    changed = rows.update(
        **_stored(dest),
        size=st.st_size,
        mtime_ns=st.st_mtime_ns,  # what a scan of the library folder compares
        partial_hash=partial_hash(dest, st.st_size),
        container=info.container[:32],
        video_codec=(info.video_codec or "")[:32],
        audio_codec=info.audio_codec[:32],
        duration=info.duration,
    )
    return changed == 1


def _leave(video: MediaFile, info: ProbeResult) -> None:
    """An unsupported video stays in its download folder; only what it holds is written."""
    MediaFile.objects.filter(pk=video.pk).update(
        container=info.container[:32],
        video_codec=(info.video_codec or "")[:32],
        audio_codec=info.audio_codec[:32],
        duration=info.duration,
    )


def _unsupported_reason(title: Title, video: MediaFile, info: ProbeResult) -> str:
    episode = video.episode
    where = (
        f"S{episode.season.number:02d}E{episode.number:02d}: "
        if title.kind == Kind.TV and episode is not None
        else ""
    )
    return (
        f"{where}{info.reason} The file is kept as it is: download it to play it in another player."
    )


def _subtitles(
    title: Title,
    videos: list[MediaFile],
    targets: dict[int, Path],
    report: ImportReport,
    errors: list[str],
) -> None:
    """Each .srt/.ass/.ssa/.vtt subtitle as a WebVTT sidecar next to its video."""
    if not targets:
        return
    by_episode = {v.episode_id: v for v in videos if v.pk in targets}
    main = MediaFile.objects.filter(pk__in=targets).main_video()
    for sub in MediaFile.objects.filter(title=title, role=MediaFile.Role.SUBTITLE):
        if _already_filed(sub) is not None:
            report.already.append(sub.path)
            continue
        if PurePosixPath(sub.torrent_path).suffix.lower() not in CONVERTIBLE_SUBTITLES:
            continue  # picture subtitles (VobSub .sub/.idx): nothing a browser reads
        video = by_episode.get(sub.episode_id)
        if video is None:
            if title.kind == Kind.TV and len(by_episode) > 1:
                report.warnings.append(f"{_name(sub)}: no episode to put it next to")
                continue
            video = main
        try:
            source = _source(title, sub)
            language = subtitle_language(sub.torrent_path) or sub.language
            dest = sidecar_path(targets[video.pk], language)
            if os.path.lexists(dest) and _claimed(dest, sub):
                dest = unique_path(dest)
            dest = _in_library(dest)
            write_webvtt(source, dest)
            st = dest.stat()
            changed = MediaFile.objects.filter(pk=sub.pk).update(
                **_stored(dest),
                size=st.st_size,
                mtime_ns=st.st_mtime_ns,
                container="vtt",
                language=language[:16],
            )
            if changed:
                report.filed.append(_relative(dest))
        except SubtitleError as exc:  # a broken subtitle doesn't stop the film
            report.warnings.append(str(exc))
        except (ImportFailed, OSError, ValueError) as exc:
            errors.append(_about(sub, exc))


def _finish(title_id: int, report: ImportReport) -> None:
    """Say on the title how it went, and announce it (not when nothing changed)."""
    with transaction.atomic():
        title = Title.objects.select_for_update().filter(pk=title_id).first()
        if title is None:
            return
        status, detail = title.status, title.status_detail
        if report.error:
            status, detail = Status.ERROR, report.error
        elif title.status in (Status.COMPLETE, Status.ERROR) or report.filed:
            status, detail = Status.COMPLETE, " ".join(report.unsupported)
        if (status, detail) == (title.status, title.status_detail) and not report.filed:
            return
        title.set_status(status, detail)
    push(live.filing(title_id), {"fraction": 1.0, "state": "error" if report.error else "done"})


class _Progress:
    """Remux progress over all of a title's remuxed files, weighted by their sizes."""

    def __init__(
        self, title: Title, total: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.title_id = title.pk
        self.total = max(total, 1)
        self.done = 0
        self.clock = clock
        self.last_push = float("-inf")
        self.last_detail = float("-inf")

    @contextmanager
    def file(self, weight: int) -> Iterator[Callable[[float], None]]:
        def report(fraction: float) -> None:
            try:
                self.update((self.done + fraction * weight) / self.total)
            except Exception:  # reporting must never abort the remux
                log.exception("reporting the remux progress of title %s", self.title_id)

        try:
            yield report
        finally:
            self.done += weight

    def update(self, fraction: float) -> None:
        now = self.clock()
        fraction = min(max(fraction, 0.0), 1.0)
        if now - self.last_push >= PUSH_SECONDS:
            self.last_push = now
            push(live.filing(self.title_id), {"fraction": round(fraction, 4), "state": "remuxing"})
        if now - self.last_detail >= DETAIL_SECONDS:
            self.last_detail = now
            # Only the title's page shows the percentage: a QuerySet.update (which the
            # library's declaration does not see) and an announcement of just that page.
            with transaction.atomic():
                Title.objects.filter(pk=self.title_id).update(
                    status_detail=f"{REMUXING} {int(fraction * 100)}%", updated_at=timezone.now()
                )
                emit(live.title(self.title_id))
