"""schemathesis against a running `vidgate serve`: every operation in the OpenAPI document, through
its examples, coverage, fuzzing and stateful phases (submit -> task-result / task-cancel /
task-events by the document's links): no 5xx, every response matching its documented schema and
status codes, schema-invalid requests refused, auth enforced.

Every check runs, `positive_data_acceptance` too: a schema-valid request must not be refused, so the
schema says what the server accepts. The one exception is a submit refused for what no schema can
state (an image's content, a host's addresses): schemathesis.toml lets a submit answer 400, and the
hook check in schemathesis_hooks.py fails the run unless such a 400 is for one of those reasons.

Bounded for CI: 25 examples per operation and a fixed seed (the same requests every run). The
event stream of a queued task never ends (no worker
runs here), so requests are cut at 5 s; schemathesis counts a cut stream as neither pass nor failure.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 25
HERE = Path(__file__).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_schemathesis_finds_nothing(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDGATE_")}
    env |= {"VIDGATE_DATA_DIR": str(tmp_path / "var"), "VIDGATE_PORT": str(port)}
    vidgate = [sys.executable, "-m", "vidgate"]
    key = subprocess.run(
        [*vidgate, "keys", "create", "--name", "st"], env=env, capture_output=True, text=True, check=True
    )
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen([*vidgate, "serve", "--workers", "0"], env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not _answers(f"{base}/healthz"):
            assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.1)
        run = subprocess.run(
            [sys.executable, "-m", "schemathesis.cli", "--config-file", str(HERE / "schemathesis.toml"),
             "run", f"{base}/openapi.json",
             "--header", f"Authorization: Bearer {key.stdout.strip()}",
             "--checks", "all",
             "--max-examples", str(MAX_EXAMPLES), "--seed", "1", "--workers", "1",
             "--request-timeout", "5", "--report-dir", str(tmp_path / "report")],
            capture_output=True, text=True, timeout=300, cwd=tmp_path,
            env=env | {"NO_COLOR": "1", "SCHEMATHESIS_HOOKS": str(HERE / "schemathesis_hooks.py")},
        )  # fmt: skip
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=15)
        log.close()
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅  {phase}" in run.stdout, f"{phase} did not run:\n{run.stdout[-4000:]}"
    assert "Traceback" not in (tmp_path / "serve.log").read_text(), "no unhandled error on the server"


def _answers(url: str) -> bool:
    try:
        return httpx.get(url).status_code == 200
    except httpx.TransportError:
        return False
