"""The wheel as a user gets it: `python -m build`, installed in a venv of its own (binary wheels only:
no compiler), then `vidgate serve --dev` from that venv answers /healthz and renders a task, with
speech, to SUCCEED. Migrations, package data and voice data must all come from the install.

Installing the dependencies (numpy, scipy, OpenCV, PyAV...) takes a minute, so the venv with them is
kept under var/ between runs, keyed by the wheel's exact requirements and the Python version: a
changed requirement gets a new venv. vidgate itself is reinstalled from the new wheel every run
(pip removes every file of the previous one first), so a file missing from the wheel is never hidden.
`VIDGATE_TEST_FRESH_VENV=1` (and a fresh checkout, as in CI) builds the venv from nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from email.parser import Parser
from pathlib import Path

import av
import httpx
import pytest

import vidgate

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[2]
SRC = Path(vidgate.__file__).parent
VENVS = ROOT / "var" / "test-wheel-venvs"
COMPLETE = ".complete"  # written last: a venv without it was interrupted and is rebuilt


def run(*args: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--wheel", "--outdir", out, ROOT)
    (built,) = out.glob("vidgate-*.whl")
    return built


def requirements_of(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(name).decode())
    return sorted(metadata.get_all("Requires-Dist") or [])


@pytest.fixture(scope="module")
def venv(wheel: Path) -> Path:
    key = hashlib.sha256(json.dumps([sys.version, requirements_of(wheel)]).encode()).hexdigest()[:16]
    path = VENVS / key
    pip_options = ["--quiet", "--no-compile", "--only-binary", ":all:", "--disable-pip-version-check"]
    if os.environ.get("VIDGATE_TEST_FRESH_VENV") == "1" or not (path / COMPLETE).exists():
        shutil.rmtree(path, ignore_errors=True)
        run(sys.executable, "-m", "venv", path)
        run(path / "bin" / "python", "-m", "pip", "install", *pip_options, wheel)
        (path / COMPLETE).write_text(wheel.name)
    else:
        run(
            path / "bin" / "python",
            "-m",
            "pip",
            "install",
            *pip_options,
            "--no-deps",
            "--force-reinstall",
            wheel,
        )
    run(path / "bin" / "python", "-m", "pip", "check")  # every requirement met
    return path


def test_the_wheel_carries_every_file_of_the_package(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        packed = {name for name in archive.namelist() if name.startswith("vidgate/")}
    needed = {
        f"vidgate/{path.relative_to(SRC).as_posix()}"
        for path in SRC.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".mako")
    }
    assert needed - packed == set(), "missing from the wheel (pyproject.toml's package-data)"
    assert any(name.startswith("vidgate/store/migrations/versions/") for name in packed)


@pytest.fixture
def served(venv: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    data_dir = tmp_path / "var"
    # Only what a user's shell would have: no VIDGATE_* of the developer's, no PYTHONPATH to the source.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIDGATE_", "PYTHON"))}
    env |= {"VIDGATE_DATA_DIR": str(data_dir), "VIDGATE_PORT": str(port)}
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [venv / "bin" / "vidgate", "serve", "--dev"], cwd=tmp_path, env=env, stdout=out, stderr=out
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield base, data_dir
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        print(log.read_text())  # shown by pytest when the test fails


def test_serve_dev_from_the_installed_wheel_renders_a_task_with_speech(
    venv: Path, served: tuple[str, Path], tmp_path: Path
) -> None:
    base, data_dir = served
    installed = run(venv / "bin" / "python", "-c", "import vidgate; print(vidgate.__file__)", cwd=tmp_path)
    assert installed.stdout.startswith(str(venv)), "the server runs the installed copy, not the source"
    assert run(venv / "bin" / "vidgate", "--version").stdout.startswith("vidgate ")

    key = (data_dir / "dev-api-key").read_text().strip()
    headers = {"Authorization": f"Bearer {key}"}
    body = json.loads((data_dir / "example-request.json").read_text())
    body |= {"duration": 1, "resolution": "540p", "audio": True, "prompt": 'Slow zoom in. She says: "Hello."'}
    submitted = httpx.post(f"{base}/v3/async/vidu-q2-pro-img2video", json=body, headers=headers, timeout=30)
    assert submitted.status_code == 200, submitted.text
    task_id = submitted.json()["task_id"]
    deadline = time.monotonic() + 120
    while True:
        doc = httpx.get(f"{base}/v3/async/task-result", params={"task_id": task_id}, headers=headers).json()
        status = doc["task"]["status"]
        if status in ("TASK_STATUS_SUCCEED", "TASK_STATUS_FAILED"):
            break
        assert time.monotonic() < deadline, doc
        time.sleep(0.1)
    assert status == "TASK_STATUS_SUCCEED", doc
    video = httpx.get(doc["videos"][0]["video_url"], follow_redirects=True, timeout=30)
    assert video.status_code == 200
    (tmp_path / "out.mp4").write_bytes(video.content)
    with av.open(str(tmp_path / "out.mp4")) as container:
        assert {s.type for s in container.streams} == {"video", "audio"}
