"""The CLI on a real terminal (a pty): the progress bar, the saved path, and Ctrl-C while waiting,
which asks whether to cancel the task or leave it running."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from support.live import LiveServer, live_server
from support.media import make_image, probe
from vidgate.client import Client
from vidgate.settings import Settings

pytestmark = pytest.mark.slow


@dataclass
class Terminal:
    process: subprocess.Popen[bytes]
    master: int
    seen: bytes = b""

    def read_until(self, text: bytes, timeout: float = 30) -> bytes:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            assert time.monotonic() < deadline, f"{text!r} never came; the terminal showed {self.seen!r}"
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.seen += os.read(self.master, 65536)
                except OSError:  # EIO: the command ended and closed the terminal
                    assert text in self.seen, f"{text!r} never came; the terminal showed {self.seen!r}"
        return self.seen

    def type(self, text: bytes) -> None:
        os.write(self.master, text)

    def finish(self, timeout: float = 30) -> int:
        code = self.process.wait(timeout=timeout)
        self.read_rest()
        os.close(self.master)
        return code

    def read_rest(self) -> None:
        while select.select([self.master], [], [], 0.05)[0]:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.seen += chunk


def on_a_terminal(args: list[str], env: dict[str, str]) -> Terminal:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # wide enough for the bar
    process = subprocess.Popen(
        [sys.executable, "-m", "vidgate", *args], stdin=slave, stdout=slave, stderr=slave, env=env
    )
    os.close(slave)
    return Terminal(process, master)


def client_env(server: LiveServer, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDGATE_")}
    return env | {
        "VIDGATE_SERVER": server.base_url,
        "VIDGATE_API_KEY": server.key,
        "VIDGATE_DATA_DIR": str(tmp_path / "client-var"),
        "TERM": "xterm-256color",
    }


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.png"
    path.write_bytes(make_image(320, 180))
    return path


@pytest.fixture
def idle_server(settings: Settings) -> Iterator[LiveServer]:
    """No worker: a submitted task stays queued for as long as the test needs."""
    with live_server(settings, with_worker=False) as live:
        yield live


def test_wait_shows_a_bar_and_the_saved_path(settings: Settings, photo: Path, tmp_path: Path) -> None:
    out = tmp_path / "var" / "out.mp4"
    with live_server(settings) as server:
        terminal = on_a_terminal(
            ["submit", str(photo), "--prompt", "pan right", "--duration", "1", "-o", str(out)],
            client_env(server, tmp_path),
        )
        terminal.read_until(f"saved {out}".encode())
        assert terminal.finish() == 0
        store = server.services.store
        [task] = store.list_tasks(store.keys.authenticate(server.key).tenant_id)  # type: ignore[union-attr]
        status = on_a_terminal(["status", task.id], client_env(server, tmp_path))
        assert status.finish() == 0
        assert f"{task.id}  done  100%".encode() in status.seen and b"/v3/files/videos/" in status.seen
        listing = on_a_terminal(["tasks"], client_env(server, tmp_path))
        assert listing.finish() == 0
        assert listing.seen.strip() == f"{task.id}  done  100%".encode()
    assert b"100%" in terminal.seen and b"done" in terminal.seen
    assert b'{"task"' not in terminal.seen, "words on a terminal, not JSON"
    assert probe(out)["frames"] == 24


def results_read(server: LiveServer) -> float:
    """How many task-result requests the server has answered, from its own /metrics."""
    metrics = httpx.get(server.base_url + "/metrics").text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("vidgate_http_requests_total") and 'route="/v3/async/task-result"' in line
    )


def _submitted(server: LiveServer, photo: Path) -> str:
    with Client(server.base_url, server.key) as client:
        return client.submit([photo], "zoom in", duration=1)


def test_ctrl_c_then_yes_cancels_the_task(idle_server: LiveServer, photo: Path, tmp_path: Path) -> None:
    task_id = _submitted(idle_server, photo)
    terminal = on_a_terminal(["wait", task_id], client_env(idle_server, tmp_path))
    terminal.read_until(b"queued")
    terminal.process.send_signal(signal.SIGINT)  # what Ctrl-C sends
    terminal.read_until(b"Cancel task")
    terminal.type(b"y\n")
    assert terminal.finish() == 1
    assert b"CANCELED" in terminal.seen
    task = idle_server.services.store.get_task(task_id)
    assert task is not None and task.reason == "CANCELED"


def test_ctrl_c_then_no_leaves_it_running(idle_server: LiveServer, photo: Path, tmp_path: Path) -> None:
    task_id = _submitted(idle_server, photo)
    terminal = on_a_terminal(["wait", task_id], client_env(idle_server, tmp_path))
    terminal.read_until(b"queued")
    terminal.process.send_signal(signal.SIGINT)
    terminal.read_until(b"Cancel task")
    terminal.type(b"\n")  # the default: no
    assert terminal.finish() == 130
    assert f"vidgate wait {task_id}".encode() in terminal.seen
    task = idle_server.services.store.get_task(task_id)
    assert task is not None and task.status.value == "QUEUED"


def test_ctrl_c_when_piped_leaves_it_running_and_prints_one_document(
    idle_server: LiveServer, photo: Path, tmp_path: Path
) -> None:
    task_id = _submitted(idle_server, photo)
    process = subprocess.Popen(
        [sys.executable, "-m", "vidgate", "wait", task_id],
        env=client_env(idle_server, tmp_path),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while results_read(idle_server) < 2:  # the command is in its waiting loop: once read, then polled
        assert time.monotonic() < deadline and process.poll() is None, "the command never polled"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert json.loads(stdout)["task"]["task_id"] == task_id
    assert b"left running" in stderr


def test_generate_shows_the_bar_on_a_terminal(photo: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDGATE_")}
    env |= {"VIDGATE_DATA_DIR": str(tmp_path / "var"), "TERM": "xterm-256color"}
    out = tmp_path / "local.mp4"
    terminal = on_a_terminal(
        [
            "generate",
            str(photo),
            "--prompt",
            "tilt up",
            "--duration",
            "1",
            "--resolution",
            "540p",
            "-o",
            str(out),
        ],
        env,
    )
    assert terminal.finish(timeout=60) == 0
    assert b"rendering" in terminal.seen and b"100%" in terminal.seen
    assert probe(out)["frames"] == 24
