"""Crashes lose nothing: a real ``manage.py serve`` killed with SIGKILL at each step of adding
a title (the add's commit, the metadata, the vetting, the completion, the import into the
library) and of deleting it, then started again, reaches the same end state as a run that was
never interrupted.

The kill is a fault-injection point (``plank.faults.crash_point``: ``PLANK_CRASH_AT`` names it,
and the process sends itself SIGKILL there, as ``kill -9`` would). What the restart must bring
back is read from the server's own SQLite database and its data folder: the title, its download
and its files; the library's files (no leftover ``.part`` files); the downloaded bytes; the
engine's resume file; no command left waiting. The seeder is a libtorrent session in this
process, named in the magnet (``x.pe``); the video is a real MKV, remuxed on import.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.live.live_server import Server, base_env, create_user, manage, start_server
from tests.media.videos import make_video
from tests.torrents.conftest import MadeTorrent, Seeder, made_torrent, sha1, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ADD_STEPS = [
    "add.committed",  # the title and its download committed, the engine not told yet
    "metadata.received",  # the metadata is here, nothing vetted
    "vetting.chosen",  # the files chosen in the engine, not yet recorded
    "completion.finished",  # every piece here, the completion not recorded
    "completion.committed",  # the completion recorded, the import not queued
    "import.writing",  # the remuxed MP4 written, not yet renamed into the library
]
DELETE_STEPS = [
    "delete.engine",  # the torrent dropped, its downloaded data not yet deleted
    "delete.marked",  # the title gone from the library, its files and row not yet
    "delete.files",  # its library files deleted, its row not yet
]
NAME = "Cold.Harbour.2017.1080p.WEB"


@pytest.fixture(scope="module")
def torrent(tmp_path_factory) -> MadeTorrent:
    made = tmp_path_factory.mktemp("crash-video")
    video = make_video(made / "v.mkv", container="mkv", size=(320, 240), seconds=4, noise=True)
    return made_torrent(made / "content", {f"{NAME}/{NAME}.mkv": video.read_bytes()})


@pytest.fixture(scope="module")
def magnet(torrent: MadeTorrent) -> Iterator[str]:
    seeder = Seeder()
    try:
        yield seeder.seed(torrent)
    finally:
        seeder.close()


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> Path:
    """A migrated data folder with one person, copied for each run (it holds no paths yet)."""
    root = tmp_path_factory.mktemp("crash-template") / "data"
    env = base_env(root)
    manage(env, "migrate", "--noinput", "-v", "0")
    create_user(env, "anna")
    return root


class Plank:
    """One data folder and the ``serve`` processes run on it, one after the other."""

    def __init__(self, template: Path, where: Path) -> None:
        self.data = where / "data"
        shutil.copytree(template, self.data)
        # RECONCILE_SECONDS: the periodic reconcile runs too, not only the one at start.
        self.env = base_env(self.data, RECONCILE_SECONDS="3", DOWNLOAD_SAVE_SECONDS="0.5")
        self.port: int | None = None
        self.server: Server | None = None
        self.started = ""

    def start(self, crash_at: str = "") -> Server:
        env = dict(self.env)
        if crash_at:
            env["PLANK_CRASH_AT"] = crash_at
        self.started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        self.server = start_server(env, port=self.port)
        self.port = self.server.port
        return self.server

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def browser(self) -> requests.Session:
        """A logged-in session (a just-started server on a busy machine may answer slowly)."""
        assert self.server is not None
        for attempt in range(6):
            try:
                session = requests.Session()
                session.cookies.set("sessionid", self.server.login("anna"))
                session.get(f"{self.server.url}/accounts/login/", timeout=20)  # the CSRF cookie
                return session
            except requests.Timeout:
                if attempt == 5:
                    raise
        raise AssertionError("unreachable")

    def post(self, path: str, data: dict[str, str]) -> None:
        """POST as a logged-in person; the server may die before it answers (that is the
        point), so a dropped connection is not an error here."""
        session = self.browser()
        data = {**data, "csrfmiddlewaretoken": session.cookies["csrftoken"]}
        try:
            session.post(f"{self.server.url}{path}", data=data, allow_redirects=False, timeout=30)
        except requests.ConnectionError:
            pass

    def wait_killed(self, timeout: float = 90) -> None:
        assert self.server is not None
        process = self.server.process
        try:
            process.wait(timeout)
        except Exception:
            raise AssertionError(f"not killed in {timeout}s:\n{self.server.log()}") from None
        assert process.returncode == -signal.SIGKILL, self.server.log()
        self.server = None

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(f"file:{self.data / 'plank.sqlite3'}?mode=ro", uri=True) as db:
            return db.execute(sql).fetchall()

    def jobs_busy(self) -> int:
        """Jobs queued, or running in this server (a job running when a process was killed
        stays "running" in the table: not this server's)."""
        return self.rows(
            "SELECT count(*) FROM django_tasks_database_dbtaskresult WHERE status = 'READY' "
            f"OR (status = 'RUNNING' AND started_at >= '{self.started}')"
        )[0][0]

    def library(self) -> list[str]:
        """Everything under library/, hidden files included."""
        root = self.data / "library"
        return (
            sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) if root.exists() else []
        )


def added(plank: Plank) -> dict[str, Any] | None:
    """The end state of an add, once it is reached (None until then)."""
    titles = plank.rows("SELECT id, title, year, status, status_detail FROM media_title")
    if len(titles) != 1:
        return None
    title_id, *title = titles[0]
    files = plank.rows(
        "SELECT torrent_path, role, path, container FROM media_mediafile ORDER BY torrent_path"
    )
    downloads = plank.rows("SELECT info_hash, state, progress FROM torrents_download")
    commands = plank.rows("SELECT action FROM torrents_enginecommand")
    filed = files and all(path for _, role, path, _ in files if role == "video")
    settled = title[3] == ""  # no step in progress ("Making it playable… 0%" is one)
    if title[2] != "complete" or not settled or not filed or commands or not downloads:
        return None
    if plank.jobs_busy():
        return None
    info_hash = downloads[0][0]
    return {
        "title": title,
        "download": downloads[0][1:],
        "files": files,
        "library": plank.library(),
        "resume file": (plank.data / "resume" / f"{info_hash}.fastresume").exists(),
        "downloaded": sha1(
            (plank.data / "downloads" / info_hash / NAME / f"{NAME}.mkv").read_bytes()
        ),
    }


def deleted(plank: Plank, info_hash: str) -> dict[str, Any] | None:
    """The end state of a delete with its files, once it is reached."""
    state = {
        "titles": plank.rows("SELECT count(*) FROM media_title")[0][0],
        "downloads": plank.rows("SELECT count(*) FROM torrents_download")[0][0],
        "files": plank.rows("SELECT count(*) FROM media_mediafile")[0][0],
        "commands": plank.rows("SELECT count(*) FROM torrents_enginecommand")[0][0],
        "library": plank.library(),
        "downloaded": (plank.data / "downloads" / info_hash).exists(),
        "resume file": (plank.data / "resume" / f"{info_hash}.fastresume").exists(),
    }
    done = not state["titles"] and not state["commands"] and not state["downloaded"]
    return state if done and not state["resume file"] else None


def add_and_wait(plank: Plank, magnet: str, crash_at: str = "") -> dict[str, Any]:
    plank.start(crash_at)
    plank.post("/media/add", {"magnet": magnet, "type": "movie"})
    if crash_at:
        plank.wait_killed()
        plank.start()  # again, as after a kill -9
    try:
        state = wait_for(lambda: added(plank), 120, "the add's end state", interval=0.25)
        time.sleep(1)  # nothing more changes after it (a late job, a late reconcile)
        assert added(plank) == state
        return state
    except AssertionError:
        print(plank.server.log() if plank.server else "")
        print(plank.rows("SELECT id, status, status_detail FROM media_title"))
        print(plank.rows("SELECT info_hash, state, progress FROM torrents_download"))
        print(plank.rows("SELECT torrent_path, role, path FROM media_mediafile"))
        print(plank.rows("SELECT action FROM torrents_enginecommand"))
        print(
            plank.rows(
                "SELECT task_path, status, started_at FROM django_tasks_database_dbtaskresult"
            )
        )
        raise


def delete_and_wait(plank: Plank, info_hash: str, crash_at: str = "") -> dict[str, Any]:
    (title_id,) = plank.rows("SELECT id FROM media_title")[0]
    plank.start(crash_at)
    plank.post(f"/media/{title_id}/delete", {"delete_files": "on"})
    if crash_at:
        plank.wait_killed()
        plank.start()
    try:
        return wait_for(lambda: deleted(plank, info_hash), 60, "the delete's end state", 0.25)
    except AssertionError:
        print(plank.server.log() if plank.server else "")
        raise


@pytest.fixture(scope="module")
def uninterrupted(migrated: Path, magnet: str, torrent: MadeTorrent, tmp_path_factory):
    """The end states of an add and of a delete that nothing interrupted."""
    plank = Plank(migrated, tmp_path_factory.mktemp("uninterrupted"))
    try:
        add_state = add_and_wait(plank, magnet)
        plank.stop()
        delete_state = delete_and_wait(plank, torrent.info_hash)
    finally:
        plank.stop()
    assert add_state["library"] == [
        "Cold Harbour (2017)",
        "Cold Harbour (2017)/Cold Harbour (2017).mp4",
    ]
    assert delete_state["library"] == [] and delete_state["files"] == 0
    return add_state, delete_state


@pytest.mark.parametrize("step", ADD_STEPS)
def test_a_kill_during_an_add_then_a_restart_ends_where_an_uninterrupted_add_does(
    step: str, migrated: Path, magnet: str, uninterrupted, tmp_path: Path
) -> None:
    plank = Plank(migrated, tmp_path)
    try:
        assert add_and_wait(plank, magnet, crash_at=step) == uninterrupted[0]
    finally:
        plank.stop()


@pytest.mark.parametrize("step", DELETE_STEPS)
def test_a_kill_during_a_delete_then_a_restart_ends_where_an_uninterrupted_delete_does(
    step: str, migrated: Path, magnet: str, torrent: MadeTorrent, uninterrupted, tmp_path: Path
) -> None:
    plank = Plank(migrated, tmp_path)
    try:
        add_and_wait(plank, magnet)
        plank.stop()
        assert delete_and_wait(plank, torrent.info_hash, crash_at=step) == uninterrupted[1]
    finally:
        plank.stop()


def test_the_crash_points_are_where_the_code_is() -> None:
    """Every step named here is a crash point in the code (a renamed point would make its test
    pass without ever killing anything)."""
    root = Path(__file__).resolve().parents[2]
    sources = "".join(
        p.read_text() for package in ("media", "torrents") for p in (root / package).rglob("*.py")
    )
    missing = [s for s in ADD_STEPS + DELETE_STEPS if f'crash_point("{s}")' not in sources]
    assert missing == []
    assert os.environ.get("PLANK_CRASH_AT", "") == ""
