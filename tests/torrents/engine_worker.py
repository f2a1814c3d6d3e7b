"""A throw-away engine process for the resume tests (run as a script; the test kills it -9).

    python tests/torrents/engine_worker.py MAGNET SAVE_PATH RESUME_DIR [LISTEN]

Starts an offline ``Engine`` (LISTEN, 127.0.0.1:0 by default; no DHT/LSD/UPnP) saving resume
data every 0.3 s, adds the magnet and prints one JSON line of status every 0.1 s until it is
killed.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from torrents.engine import Engine  # noqa: E402


def main(magnet: str, save_path: str, resume_dir: str, listen: str = "127.0.0.1:0") -> None:
    engine = Engine(
        listen=listen,
        resume_dir=resume_dir,
        dht=False,
        lsd=False,
        upnp=False,
        resume_interval=0.3,
    )
    engine.start()
    info_hash = engine.add_magnet(magnet, save_path)
    while True:
        print(json.dumps(asdict(engine.status(info_hash))), flush=True)
        time.sleep(0.1)


if __name__ == "__main__":
    main(*sys.argv[1:5])
