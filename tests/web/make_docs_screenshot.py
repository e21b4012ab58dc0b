"""Writes docs/playground.png, the README's screenshot: a real run of the playground in chromium.

.venv/bin/python tests/web/make_docs_screenshot.py
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from support.live import live_server  # noqa: E402
from vidgate.cli import _example_image_data_uri  # noqa: E402
from vidgate.settings import Settings  # noqa: E402

WORK = ROOT / "var" / "docs-screenshot"
JS_SEEK = """new Promise(done => {
    const video = document.getElementById('video');
    video.addEventListener('seeked', done, {once: true});
    video.currentTime = 1.2;
})"""


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    photo = WORK / "sunset.png"
    photo.write_bytes(base64.b64decode(_example_image_data_uri().split(",", 1)[1]))
    Image.open(photo).resize((1024, 576), Image.Resampling.LANCZOS).save(photo)
    settings = Settings(data_dir=WORK / "var", _env_file=None)  # type: ignore[call-arg]
    with live_server(settings) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 960, "height": 900})
        page.goto(server.base_url + "/")
        page.get_by_label("API key").fill(server.key)
        page.get_by_label("Images", exact=True).set_input_files(str(photo))
        page.get_by_label("Prompt").fill("Slow zoom in on a warm sunset over the sea")
        page.get_by_label("Duration").fill("2")
        page.get_by_label("Resolution").select_option("540p")
        page.get_by_label("Seed").fill("123")
        page.get_by_role("button", name="Generate").click()
        page.wait_for_function("() => document.getElementById('video').readyState >= 2", timeout=60_000)
        page.evaluate(JS_SEEK)
        page.wait_for_timeout(1500)
        page.screenshot(path=str(WORK / "full.png"), full_page=True)
        browser.close()
    shot = Image.open(WORK / "full.png").convert("RGB")
    shot = shot.resize((shot.width * 2 // 3, shot.height * 2 // 3), Image.Resampling.LANCZOS)
    target = ROOT / "docs" / "playground.png"
    shot.quantize(colors=160, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)
    print(f"{target}: {shot.width}x{shot.height}, {target.stat().st_size} bytes")


if __name__ == "__main__":
    main()
