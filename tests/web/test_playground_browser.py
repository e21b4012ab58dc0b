"""The playground in a real browser (Debian's chromium through Playwright, never a downloaded one)
against a real server on 127.0.0.1 with a worker: fill the form, Generate, watch the progress, play
and download the video; errors beside their field; phone width; no script errors.

Screenshots are kept under var/test-artefacts/playground/ (ignored by git)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, Request

from support.live import LiveServer, live_server
from support.media import make_image, probe
from support.servers import ImageServer
from vidgate.errors import ApiNotFound
from vidgate.settings import Settings

CHROMIUM = "/usr/bin/chromium"
ARTEFACTS = Path(__file__).parents[2] / "var" / "test-artefacts" / "playground"
LAPTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,  # chromium is a process of its own
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="browser tests need Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
    ),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need playwright (the dev extra)")


@dataclass
class Console:
    """What the page said on its console: uncaught errors and error messages (a CSP refusal is one)."""

    problems: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> None:
        page.on("pageerror", lambda error: self.problems.append(f"uncaught: {error}"))
        page.on("console", self._message)

    def _message(self, message: Any) -> None:
        # An HTTP error answer the page handles (a 403 for a wrong key, the 404 of a server without
        # /v3/engines) is logged by chromium as "Failed to load resource"; every other error counts.
        if message.type == "error" and not message.text.startswith("Failed to load resource: the server"):
            self.problems.append(message.text)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def server(settings: Settings) -> Iterator[LiveServer]:
    with live_server(settings) as live:
        yield live


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.png"
    path.write_bytes(make_image(640, 360, seed=2))
    return path


def open_page(browser: Any, server: LiveServer, viewport: dict[str, int]) -> tuple[Any, Console]:
    context = browser.new_context(viewport=viewport, accept_downloads=True)
    page = context.new_page()
    console = Console()
    console.watch(page)
    page.goto(server.base_url + "/")
    return page, console


def screenshot(page: Any, name: str) -> None:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)


def fill_request(page: Any, key: str, photo: Path) -> None:
    page.get_by_label("API key").fill(key)
    page.get_by_label("Images", exact=True).set_input_files(str(photo))
    page.get_by_label("Prompt").fill("Slow zoom in on the harbour")
    page.get_by_label("Duration").fill("1")
    page.get_by_label("Resolution").select_option("540p")
    page.get_by_label("Seed").fill("5")


def run_snippet(command: list[str], workdir: Path, server: LiveServer) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDGATE_")}
    done = subprocess.run(
        command,
        cwd=workdir,
        env=env | {"VIDGATE_API_KEY": server.key},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def no_horizontal_scroll(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_generate_play_download(
    browser: Any, server: LiveServer, photo: Path, tmp_path: Path, viewport: dict[str, int]
) -> None:
    page, console = open_page(browser, server, viewport)
    fill_request(page, server.key, photo)
    assert page.get_by_role("list", name="Chosen images").get_by_role("listitem").count() == 1
    page.get_by_role("button", name="Generate").click()

    progress = page.get_by_role("progressbar")
    progress.wait_for(state="visible")
    page.wait_for_function("() => document.getElementById('progress').value === 100", timeout=30_000)
    page.wait_for_function("() => document.getElementById('video').readyState >= 2", timeout=30_000)
    assert page.locator("#task-status").inner_text().startswith("Done")
    assert page.locator("#seed-used").inner_text() == "5"
    assert page.evaluate("document.getElementById('video').duration") == pytest.approx(1.0, abs=0.1)
    page.evaluate("document.getElementById('video').play()")
    page.wait_for_function("() => document.getElementById('video').currentTime > 0", timeout=10_000)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download").click()
    saved = tmp_path / "downloaded.mp4"
    download_info.value.save_as(saved)
    assert probe(saved)["frames"] == 24

    curl = page.get_by_label("curl").input_value()
    assert "--data-binary @var/request.json" in curl and "$VIDGATE_API_KEY" in curl
    assert server.key not in curl, "the snippet never carries the key"
    python = page.get_by_label("Python SDK").input_value()
    assert '["photo.png"]' in python and "seed=5," in python and '"Slow zoom in on the harbour"' in python
    if viewport is LAPTOP:  # the snippets run as they are, from a folder with the photo
        workdir = tmp_path / "snippets"
        (workdir / "var").mkdir(parents=True)
        shutil.copy(photo, workdir / "photo.png")
        with page.expect_download() as request_file:
            page.get_by_role("link", name="Save var/request.json").click()
        request_file.value.save_as(workdir / "var" / "request.json")
        assert json.loads(run_snippet(["bash", "-c", curl], workdir, server))["task_id"]
        run_snippet([sys.executable, "-c", python], workdir, server)
        assert probe(workdir / "var" / "out.mp4")["frames"] == 24

    task_id = page.locator("#task-id").inner_text().removeprefix("Task ")
    recent = page.get_by_role("listitem").filter(has_text=task_id)
    recent.wait_for()
    assert "SUCCEED" in recent.inner_text()
    assert no_horizontal_scroll(page)
    screenshot(page, f"done-{viewport['width']}")
    assert console.problems == []


def test_a_wrong_key_is_shown_beside_the_key_field(browser: Any, server: LiveServer, photo: Path) -> None:
    page, console = open_page(browser, server, LAPTOP)
    fill_request(page, "vg_not_a_key", photo)
    page.get_by_role("button", name="Generate").focus()
    page.keyboard.press("Enter")  # by keyboard
    error = page.locator("#api-key-error")
    error.wait_for(state="visible")
    assert "INVALID_API_KEY" in error.inner_text()
    assert page.get_by_label("API key").get_attribute("aria-invalid") == "true"
    assert page.locator("#run").is_hidden()
    screenshot(page, "wrong-key")
    assert console.problems == []


def test_a_too_long_prompt_and_a_too_large_image_name_their_field(
    browser: Any, settings: Settings, tmp_path: Path
) -> None:
    small = settings.model_copy(update={"max_image_bytes": 2048})
    big = tmp_path / "big.png"
    big.write_bytes(make_image(640, 360, seed=9))
    with live_server(small, with_worker=False) as server:
        page, console = open_page(browser, server, LAPTOP)
        fill_request(page, server.key, big)
        page.get_by_role("button", name="Generate").click()
        page.locator("#images-error").wait_for(state="visible")
        assert "IMAGE_FILE_EXCEEDS_MAX_SIZE" in page.locator("#images-error").inner_text()

        page.get_by_role("button", name="Remove image 1").click()
        page.get_by_label("Image URL").fill("https://images.example/photo.jpg")
        page.get_by_role("button", name="Add URL").click()
        page.get_by_label("Prompt").fill("x" * 2001)
        page.get_by_role("button", name="Generate").click()
        page.locator("#prompt-error").wait_for(state="visible")
        assert "prompt" in page.locator("#prompt-error").inner_text()
        assert page.locator("#images-error").is_hidden(), "the earlier error is cleared"
        assert page.get_by_label("Prompt").get_attribute("aria-invalid") == "true"
        assert console.problems == []


def test_remembered_only_when_ticked(browser: Any, server: LiveServer) -> None:
    page, _console = open_page(browser, server, LAPTOP)
    page.get_by_label("API key").fill(server.key)
    page.get_by_label("API key").press("Tab")  # leaving the field commits it
    assert page.evaluate("localStorage.length") == 0
    page.get_by_label("Remember").check()
    assert page.evaluate("Object.values(localStorage)") == [server.key]
    page.reload()
    assert page.get_by_label("API key").input_value() == server.key
    assert server.key not in page.url
    page.get_by_label("Remember").uncheck()
    assert page.evaluate("localStorage.length") == 0


def test_the_engine_field_is_hidden_without_several_engines(browser: Any, server: LiveServer) -> None:
    page, console = open_page(browser, server, LAPTOP)
    page.get_by_label("API key").fill(server.key)
    page.get_by_label("API key").press("Tab")
    page.get_by_text("No tasks yet.").wait_for()
    assert page.locator("#engine-field").is_hidden()
    voices = page.get_by_label("Voice").locator("option").count()
    assert voices > 1, "the voice list comes from GET /v3/voices"
    assert console.problems == []


def test_cancel_while_queued_with_an_image_url(
    browser: Any, settings: Settings, image_server: ImageServer, tmp_path: Path
) -> None:
    url = image_server.add("/photo.png", make_image(320, 180))
    with live_server(settings, with_worker=False) as server:
        page, console = open_page(browser, server, LAPTOP)
        page.get_by_label("API key").fill(server.key)
        page.get_by_label("Image URL").fill(url)
        page.get_by_label("Image URL").press("Enter")  # adds it, does not submit
        page.get_by_label("Prompt").fill("Pan left, it's dusk")  # a quote the shell snippet must escape
        page.get_by_role("button", name="Generate").click()
        page.get_by_text("Queued · 0%").wait_for()
        page.get_by_role("button", name="Cancel").click()
        page.get_by_text("Failed · 0% · CANCELED").wait_for()
        assert page.get_by_role("button", name="Cancel").is_hidden()
        assert page.locator("#outcome").is_hidden()

        curl = page.get_by_label("curl").input_value()
        assert url in curl and "request.json" not in curl, "URLs only: the body is inline"
        assert page.get_by_role("link", name="Save var/request.json").is_hidden()
        task_id = json.loads(run_snippet(["bash", "-c", curl], tmp_path, server))["task_id"]
        task = server.services.store.get_task(task_id)
        assert (
            task is not None and task.params.images == [url] and task.params.prompt == "Pan left, it's dusk"
        )
        assert f'["{url}"]' in page.get_by_label("Python SDK").input_value()
        assert console.problems == []


def test_without_the_event_stream_it_polls_and_reopens_from_the_list(
    browser: Any, settings: Settings, photo: Path
) -> None:
    """A server with no task-events (the hosted gateways have none): progress comes from task-result."""
    no_events = APIRouter()

    @no_events.get("/v3/async/task-events")
    def _gone(request: Request) -> None:
        raise ApiNotFound(f"No API at {request.method} {request.url.path}.")

    with live_server(settings, routes_first=no_events) as server:
        page, console = open_page(browser, server, LAPTOP)
        fill_request(page, server.key, photo)
        page.get_by_role("button", name="Generate").click()
        page.wait_for_function("() => document.getElementById('video').readyState >= 2", timeout=30_000)
        task_id = page.locator("#task-id").inner_text().removeprefix("Task ")
        assert page.get_by_role("progressbar").get_attribute("aria-valuetext") == "100%"

        page.reload()  # a fresh page: the task is found again in the list
        page.get_by_label("API key").fill(server.key)
        page.get_by_label("API key").press("Tab")
        page.get_by_role("button", name=f"Open video of task {task_id}").click()
        page.wait_for_function("() => document.getElementById('video').readyState >= 2", timeout=30_000)
        assert page.locator("#snippets").is_hidden(), "an older task's request is not known here"
        assert console.problems == []


def test_several_engines_show_the_engine_field(browser: Any, settings: Settings, photo: Path) -> None:
    """`GET /v3/engines` as a deployment with two engines answers it."""
    engines = APIRouter()

    @engines.get("/v3/engines")
    def _two() -> dict[str, object]:
        return {
            "engines": [
                {"name": "motion", "description": "camera moves on CPU", "limits": {}, "served": True},
                {"name": "wan", "description": "diffusion on GPU", "limits": {}, "served": False},
            ],
            "default": "motion",
        }

    with live_server(settings, with_worker=False, routes_first=engines) as server:
        page, console = open_page(browser, server, LAPTOP)
        fill_request(page, server.key, photo)
        page.get_by_label("API key").press("Tab")
        engine = page.get_by_label("Engine")
        engine.wait_for(state="visible")
        assert engine.locator("option").all_inner_texts() == ["motion", "wan (no worker now)"]
        assert engine.input_value() == "motion"
        page.get_by_role("button", name="Generate").click()
        page.get_by_text("Queued · 0%").wait_for()
        assert "extra={'engine': 'motion'}" in page.get_by_label("Python SDK").input_value().replace('"', "'")
        assert console.problems == []
        page.context.close()  # ends the event stream of the task left queued, so the server stops at once


def test_drop_and_paste_add_images(browser: Any, server: LiveServer, photo: Path) -> None:
    page, console = open_page(browser, server, LAPTOP)
    png = base64.b64encode(photo.read_bytes()).decode()
    transfer = page.evaluate_handle(
        """(png) => {
            const bytes = Uint8Array.from(atob(png), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], "dropped.png", {type: "image/png"}));
            return transfer;
        }""",
        png,
    )
    page.dispatch_event("#drop-zone", "drop", {"dataTransfer": transfer})
    page.evaluate(
        """(transfer) => document.dispatchEvent(
            new ClipboardEvent("paste", {clipboardData: transfer, bubbles: true}))""",
        transfer,
    )
    chosen = page.get_by_role("list", name="Chosen images").get_by_role("listitem")
    chosen.nth(1).wait_for()
    assert chosen.count() == 2 and "dropped.png" in chosen.nth(0).inner_text()
    assert console.problems == []


def test_every_control_is_reached_with_tab(browser: Any, server: LiveServer) -> None:
    page, _console = open_page(browser, server, LAPTOP)
    reached = []
    for _ in range(30):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.id || document.activeElement.textContent"))
    for control in ("api-key", "remember", "image-files", "image-url", "add-url", "prompt", "duration",
                    "resolution", "movement-amplitude", "seed", "voice", "bgm", "audio", "watermark",
                    "off-peak", "generate"):  # fmt: skip
        assert control in reached, control
    assert reached.index("api-key") < reached.index("prompt") < reached.index("generate"), "in reading order"


@pytest.mark.s3
def test_videos_from_a_bucket_play_under_the_policy(browser: Any, s3_settings: Settings, photo: Path) -> None:
    """With S3 storage the video link redirects to the bucket's host (another origin here: moto on
    its own port): the policy's media-src must allow it, and nothing else, for the video to play."""
    with live_server(s3_settings) as server:
        page, console = open_page(browser, server, LAPTOP)
        policy = page.evaluate("fetch('/').then((r) => r.headers.get('content-security-policy'))")
        assert f"media-src 'self' {s3_settings.s3_endpoint_url}" in policy
        fill_request(page, server.key, photo)
        page.get_by_role("button", name="Generate").click()
        page.wait_for_function("() => document.getElementById('video').readyState >= 2", timeout=30_000)
        assert page.evaluate("document.getElementById('video').currentSrc").startswith(server.base_url)
        assert console.problems == []
