"""What the benchmark scripts share: a test photo, and a real `vidgate serve` to measure against."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

VIDGATE = [sys.executable, "-m", "vidgate"]


def photo_pixels(width: int = 1280, height: int = 720) -> np.ndarray:
    """A photo-like RGB image: smooth gradients and fine grain (so motion and coding both have work)."""
    rng = np.random.default_rng(0)
    x, y = np.meshgrid(np.linspace(0, 1, width), np.linspace(0, 1, height))
    base = np.stack([200 * x + 30 * y, 120 + 80 * y * x, 220 - 150 * y], axis=-1)
    return np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)


def png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    base_url: str
    headers: dict[str, str]
    env: dict[str, str]
    work: Path


@contextlib.contextmanager
def running_server(
    workers: int, *serve_options: str, database_url: str = "", settings: dict[str, str] | None = None
) -> Iterator[RunningServer]:
    """`vidgate serve` on a free port with a fresh data folder and key, stopped at the end;
    `serve_options` are more options of `vidgate serve` (`--api-workers 2`), `database_url` a
    database other than the data folder's SQLite file, `settings` more VIDGATE_* variables (`{port}`
    in a value is the server's port)."""
    work = Path(tempfile.mkdtemp(prefix="vidgate-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDGATE_")}
    port = free_port()
    env |= {"VIDGATE_DATA_DIR": str(work / "var"), "VIDGATE_PORT": str(port)}
    env |= {"VIDGATE_DATABASE_URL": database_url} if database_url else {}
    env |= {name: value.replace("{port}", str(port)) for name, value in (settings or {}).items()}
    created = subprocess.run(
        [*VIDGATE, "keys", "create", "--name", "bench"], env=env, capture_output=True, text=True
    )
    headers = {"Authorization": f"Bearer {created.stdout.strip()}"}
    base_url = f"http://127.0.0.1:{env['VIDGATE_PORT']}"
    server = subprocess.Popen(
        [*VIDGATE, "serve", "--workers", str(workers), *serve_options],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                httpx.get(f"{base_url}/healthz")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        time.sleep(1.0 if workers else 0)  # let embedded workers finish starting
        yield RunningServer(base_url, headers, env, work)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait()
