"""`vidgate` commands as separate processes, for end-to-end tests that stop, kill or restart them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx


def vidgate_env(data_dir: Path, database_url: str = "", **settings: str) -> dict[str, str]:
    """This process's environment without its VIDGATE_ settings, and with these."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDGATE_")}
    env |= {"VIDGATE_DATA_DIR": str(data_dir), "VIDGATE_DATABASE_URL": database_url}
    return env | {f"VIDGATE_{name.upper()}": value for name, value in settings.items()}


def run_vidgate(env: dict[str, str], *args: str) -> str:
    """Run a command to its end; its standard output."""
    command = [sys.executable, "-m", "vidgate", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout.strip()


def start_vidgate(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "vidgate", *args], env=env, stdout=out, stderr=out)


def stop_vidgate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_healthy(
    base_url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while not _healthy(base_url):
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)


def _healthy(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False
