"""The data folder Plank creates, its database files and its secret key are its owner's only."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from plank.private_files import private_dir, private_file
from tests.live.live_server import base_env, manage

MODES = (
    "import json, os, stat; from django.db import connection; connection.ensure_connection(); "
    "connection.cursor().execute('SELECT 1'); "
    "d = os.environ['PLANK_DATA_DIR']; "
    "print(json.dumps({n: oct(stat.S_IMODE(os.stat(os.path.join(d, n)).st_mode)) for n in "
    "os.listdir(d) if n.startswith(('plank.sqlite3', 'secret_key'))}))"
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_data_folder_and_its_database_files_are_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "data"
    env = base_env(data)
    env.pop("PLANK_SECRET_KEY")  # so Plank writes its own key file
    manage(env, "migrate", "--noinput", "-v", "0")
    assert mode(data) == 0o700
    listed = json.loads(manage(env, "shell", "-c", MODES).strip().splitlines()[-1])
    assert {"plank.sqlite3", "plank.sqlite3-wal", "plank.sqlite3-shm", "secret_key"} <= set(listed)
    assert set(listed.values()) == {"0o600"}, listed


def test_a_database_file_others_could_read_is_made_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "old"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    db = data / "plank.sqlite3"
    db.write_bytes(b"")
    db.chmod(0o644)
    env = base_env(data)
    manage(env, "migrate", "--noinput", "-v", "0")
    assert mode(db) == 0o600
    assert mode(data) == 0o755, "a folder that exists keeps its mode (it may be shared on purpose)"


def test_the_helpers(tmp_path: Path) -> None:
    made = private_dir(tmp_path / "a" / "b")
    assert mode(made) == 0o700
    loose = tmp_path / "loose"
    loose.write_text("x")
    loose.chmod(0o664)
    assert mode(private_file(loose)) == 0o600 and loose.read_text() == "x"
