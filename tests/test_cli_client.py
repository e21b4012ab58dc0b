"""The CLI as a client of a running server (submit, status, wait, cancel, tasks, download), against a
real server on 127.0.0.1: exit codes, one JSON document when piped, the dev key fallback."""

from __future__ import annotations

import http.server
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from support.live import LiveServer, free_port, live_server
from support.media import data_uri, make_image, probe
from support.servers import ImageServer, serving_http
from vidgate.cli import app
from vidgate.cli_client import Outcome, _resolve_key, _session
from vidgate.client import Client
from vidgate.settings import Settings


@pytest.fixture
def server(settings: Settings) -> Iterator[LiveServer]:
    with live_server(settings) as live:
        yield live


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.png"
    path.write_bytes(make_image(320, 180))
    return path


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def against(server: LiveServer) -> list[str]:
    return ["--server", server.base_url, "--api-key", server.key]


def test_submit_wait_saves_the_video_and_prints_one_json_document(
    server: LiveServer, photo: Path, tmp_path: Path
) -> None:
    out = tmp_path / "var" / "out.mp4"
    code, stdout, stderr = run(
        "submit", str(photo), "--prompt", "pan left", "--duration", "1", "--resolution", "540p",
        "--seed", "7", "--wait", "-o", str(out), *against(server),
    )  # fmt: skip
    assert code == 0, stderr
    document = json.loads(stdout)  # the whole of stdout is one document
    assert document["task"]["status"] == "TASK_STATUS_SUCCEED"
    assert document["extra"]["seed"] == "7" and document["output"] == str(out)
    assert probe(out)["frames"] == 24


def test_status_tasks_download_cancel(server: LiveServer, photo: Path, tmp_path: Path) -> None:
    code, stdout, _ = run("submit", str(photo), "--prompt", "zoom in", "--duration", "1", *against(server))
    assert code == 0
    task_id = json.loads(stdout)["task_id"]
    assert run("wait", task_id, *against(server))[0] == 0
    code, stdout, _ = run("status", task_id, *against(server))
    assert code == 0 and json.loads(stdout)["task"]["status"] == "TASK_STATUS_SUCCEED"
    code, stdout, _ = run("tasks", "--status", "SUCCEED", *against(server))
    assert code == 0 and [t["task"]["task_id"] for t in json.loads(stdout)["tasks"]] == [task_id]
    code, stdout, _ = run("tasks", "--status", "FAILED", *against(server))
    assert code == 0 and json.loads(stdout)["tasks"] == []
    out = tmp_path / "downloaded.mp4"
    code, stdout, _ = run("download", task_id, "-o", str(out), *against(server))
    assert code == 0 and json.loads(stdout)["output"] == str(out) and probe(out)["frames"] == 24
    code, stdout, _ = run("cancel", task_id, *against(server))
    assert code == 0 and json.loads(stdout)["task"]["status"] == "TASK_STATUS_SUCCEED", "ended: unchanged"


def test_every_field_goes_into_the_body(photo: Path) -> None:
    """Against a recording server speaking the contract: the CLI sends exactly the flags given."""
    received: list[tuple[str, dict[str, str], dict[str, object]]] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append((self.path, dict(self.headers.items()), body))
            answer = b'{"task_id": "t-1"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_args: object) -> None:
            pass

    with serving_http(Recorder) as port:
        code, stdout, stderr = run(
            "submit", str(photo), "https://images.example/second.jpg", "--prompt", 'say "hello"',
            "--duration", "2", "--resolution", "1080p", "--movement-amplitude", "small", "--seed", "9",
            "--bgm", "--audio", "--voice-id", "English_Warm_Woman", "--watermark", "--off-peak",
            "--engine", "motion", "--webhook-url", "https://hooks.example/in", "--idempotency-key", "k-1",
            "--server", f"http://127.0.0.1:{port}", "--api-key", "vg_test",
        )  # fmt: skip
    assert (code, json.loads(stdout)) == (0, {"task_id": "t-1"}), stderr
    [(path, headers, body)] = received
    assert path == "/v3/async/vidu-q2-pro-img2video"
    assert headers["Authorization"] == "Bearer vg_test" and headers["Idempotency-Key"] == "k-1"
    assert body == {
        "images": [data_uri(photo.read_bytes()), "https://images.example/second.jpg"],
        "prompt": 'say "hello"',
        "duration": 2,
        "resolution": "1080p",
        "movement_amplitude": "small",
        "seed": 9,
        "bgm": True,
        "audio": True,
        "voice_id": "English_Warm_Woman",
        "watermark": True,
        "off_peak": True,
        "extra": {"engine": "motion", "webhook": {"url": "https://hooks.example/in"}},
    }


def test_a_failed_task_exits_1_with_its_reason(server: LiveServer, image_server: ImageServer) -> None:
    missing = image_server.base_url + "/gone.png"  # answers 404: the worker fails the task
    code, stdout, stderr = run(
        "submit", missing, "--prompt", "pan", "--duration", "1", "--wait", *against(server)
    )
    assert code == 1
    assert "INVALID_IMAGE_URL" in stderr and "failed" in stderr
    document = json.loads(stdout)
    assert document["task"]["status"] == "TASK_STATUS_FAILED"
    task_id = document["task"]["task_id"]
    code, _, stderr = run("download", task_id, "-o", "never.mp4", *against(server))
    assert code == 1 and "INVALID_IMAGE_URL" in stderr and not Path("never.mp4").exists()
    assert run("wait", task_id, *against(server))[0] == 1, "waiting on an ended failure: still 1"


def test_a_400_and_bad_usage_exit_2(server: LiveServer, photo: Path, tmp_path: Path) -> None:
    code, stdout, stderr = run("submit", str(photo), "--prompt", "x", "--duration", "11", *against(server))
    assert (code, stdout) == (2, "") and "400 INVALID_REQUEST_BODY" in stderr and "duration" in stderr
    code, _, stderr = run("submit", str(tmp_path / "nope.png"), "--prompt", "x", *against(server))
    assert code == 2 and "cannot read image" in stderr and "nope.png" in stderr
    code, _, stderr = run("submit", str(photo), *against(server))  # --prompt is required
    assert code == 2 and "--prompt" in stderr
    code, _, stderr = run("status", "no-such-task", *against(server))
    assert code == 2 and "TASK_NOT_FOUND" in stderr
    code, _, stderr = run("status", "x", "--server", server.base_url, "--api-key", "vg_wrong")
    assert code == 2 and "403 INVALID_API_KEY" in stderr
    code, _, stderr = run("status", "x", "--server", "ftp://127.0.0.1/", "--api-key", "k")
    assert code == 2 and "not an http(s) URL" in stderr


def test_download_of_an_unfinished_task_exits_2(settings: Settings, photo: Path, tmp_path: Path) -> None:
    with live_server(settings, with_worker=False) as server:
        with Client(server.base_url, server.key) as client:
            task_id = client.submit([photo], "pan", duration=1)
        code, _, stderr = run("download", task_id, "-o", str(tmp_path / "x.mp4"), *against(server))
    assert code == 2 and "not done yet" in stderr and f"vidgate wait {task_id}" in stderr


def test_unreachable_or_5xx_exits_3() -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    code, stdout, stderr = run("status", "abc", "--server", nobody, "--api-key", "k")
    assert (code, stdout) == (3, "") and "cannot reach the server" in stderr

    class Broken(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = (
                b'{"code": 500, "reason": "GET_RESULT_FAILED", "message": "Internal fault.", "metadata": {}}'
            )
            self.send_response(500)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    with serving_http(Broken) as port:
        code, _, stderr = run("status", "abc", "--server", f"http://127.0.0.1:{port}", "--api-key", "k")
    assert code == 3 and "500 GET_RESULT_FAILED" in stderr


def test_server_and_key_from_the_environment(server: LiveServer, photo: Path) -> None:
    env = {"VIDGATE_SERVER": server.base_url, "VIDGATE_API_KEY": server.key}
    code, stdout, stderr = run("submit", str(photo), "--prompt", "tilt up", "--duration", "1", env=env)
    assert code == 0, stderr
    assert json.loads(stdout)["task_id"]


def test_the_dev_key_file_of_a_local_server(
    server: LiveServer, photo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VIDGATE_API_KEY", raising=False)
    code, _, stderr = run("tasks", "--server", server.base_url)
    assert code == 2 and "no API key" in stderr
    (tmp_path / "var").mkdir(exist_ok=True)
    (tmp_path / "var" / "dev-api-key").write_text(server.key + "\n")
    code, stdout, stderr = run("tasks", "--server", server.base_url)
    assert code == 0 and json.loads(stdout)["tasks"] == [], stderr


def test_the_dev_key_is_never_sent_to_another_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "dev-api-key").write_text("vg_local_secret\n")
    assert _resolve_key("http://localhost:8000", None) == "vg_local_secret"
    with pytest.raises(Outcome, match="no API key"):
        _resolve_key("https://gateway.example", None)


def test_ctrl_c_outside_a_wait_is_exit_130() -> None:
    """Interrupted while submitting or downloading there is no task to ask about: 130, no traceback."""
    with pytest.raises(typer.Exit) as stopped, _session("http://127.0.0.1:1", "k"):
        raise KeyboardInterrupt
    assert stopped.value.exit_code == 130
