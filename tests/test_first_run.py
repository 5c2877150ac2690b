"""The first run prints the URL that will really be served (issue 16: `make start PORT=5123`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_make_start_passes_host_and_port_to_the_printed_url() -> None:
    dry_run = subprocess.run(["make", "-n", "init", "serve", "HOST=127.0.0.2", "PORT=5123"], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout
    assert "SERVER_NAME_HINT=http://127.0.0.2:5123" in dry_run
    assert "--host 127.0.0.2 --port 5123" in dry_run
