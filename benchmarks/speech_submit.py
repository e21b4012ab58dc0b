"""Submit latency with speech: the speech-fit check (eSpeak NG) at submit, against a real
`vidgate serve --workers 0` (API only). Run: `.venv/bin/python benchmarks/speech_submit.py`.

Four figures: the first submit with speech (cold: the check's processes start and import numpy,
scipy and eSpeak); one client back to back; CLIENTS clients at once, each back to back (the checks
of one process ran one at a time under eSpeak's lock; a pool runs VIDGATE_SPEECH_CHECK_PROCESSES at
once); and plain submits (no audio) sent while those clients run, which is what the rest of the API
feels of the speech checks.
"""

from __future__ import annotations

import asyncio
import base64
import statistics
import time

import httpx
from common import photo_pixels, png, running_server

CLIENTS = 4
PER_CLIENT = 10
SPOKEN = 'A woman at the window says "We have to leave this place before the sun goes down tonight."'


def body(audio: bool) -> dict[str, object]:
    image = "data:image/png;base64," + base64.b64encode(png(photo_pixels(128, 72))).decode()
    return {"images": [image], "prompt": SPOKEN, "duration": 4, "audio": audio}


async def timed_submits(http: httpx.AsyncClient, payload: dict[str, object], count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        response = await http.post("/v3/async/vidu-q2-pro-img2video", json=payload)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
    return samples


async def measure(base: str, headers: dict[str, str]) -> dict[str, list[float]]:
    spoken, plain = body(True), body(False)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as http:
        cold = await timed_submits(http, spoken, 1)
        await timed_submits(http, spoken, 3)  # every pool process warm
        one = await timed_submits(http, spoken, PER_CLIENT * 2)
        await timed_submits(http, plain, 5)
        alone = await timed_submits(http, plain, 20)
        started = time.perf_counter()
        crowd = await asyncio.gather(
            *(timed_submits(http, spoken, PER_CLIENT) for _ in range(CLIENTS)),
            timed_submits(http, plain, 20),
        )
        elapsed = time.perf_counter() - started
    many = [sample for samples in crowd[:CLIENTS] for sample in samples]
    return {
        "cold": cold,
        "one": one,
        "many": many,
        "rate": [CLIENTS * PER_CLIENT / elapsed],
        "plain alone": alone,
        "plain beside": crowd[CLIENTS],
    }


def ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"p50 {statistics.median(samples) * 1000:7.1f} ms  p95 {p95 * 1000:7.1f} ms"


def main() -> None:
    with running_server(workers=0) as server:
        figures = asyncio.run(measure(server.base_url, server.headers))
    print(f"first submit with speech (cold): {figures['cold'][0] * 1000:.0f} ms")
    print(f"1 client, submits with speech:         {ms(figures['one'])}")
    print(f"{CLIENTS} clients, submits with speech:        {ms(figures['many'])}"
          f"  ({figures['rate'][0]:.1f} submits/s)")  # fmt: skip
    print(f"plain submits, alone:                  {ms(figures['plain alone'])}")
    print(f"plain submits, beside {CLIENTS} speech clients: {ms(figures['plain beside'])}")


if __name__ == "__main__":
    main()
