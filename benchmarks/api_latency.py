"""API latency under 50 concurrent clients against a real `vidgate serve --workers 0` (API only, so
rendering does not compete for the CPU). Run: `.venv/bin/python benchmarks/api_latency.py`.

Targets (DESIGN.md): submit p50 < 15 ms, task-result p50 < 5 ms on a 2-core machine. The clients
run in this process (one asyncio loop), so they share the machine with the server, as they would.
"""

from __future__ import annotations

import asyncio
import base64
import statistics
import time

import httpx
from common import photo_pixels, png, running_server

CLIENTS = 50
REQUESTS_PER_CLIENT = 20


def small_png_data_uri() -> str:
    return "data:image/png;base64," + base64.b64encode(png(photo_pixels(128, 72))).decode()


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run_clients(
    base: str, headers: dict[str, str], clients: int, per_client: int
) -> tuple[list[float], list[float]]:
    body = {"images": [small_png_data_uri()], "prompt": "slow zoom in", "duration": 5}
    url_body = {"images": ["https://93.184.215.14/photo.jpg"], "prompt": "pan left", "duration": 5}
    submits: list[float] = []
    results: list[float] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30) as http:

        async def client(index: int) -> None:
            for n in range(per_client):
                started = time.perf_counter()
                response = await http.post(
                    "/v3/async/vidu-q2-pro-img2video", json=body if (index + n) % 2 else url_body
                )
                submits.append(time.perf_counter() - started)
                task_id = response.json()["task_id"]
                started = time.perf_counter()
                await http.get("/v3/async/task-result", params={"task_id": task_id})
                results.append(time.perf_counter() - started)

        await asyncio.gather(*(client(i) for i in range(clients)))
    return submits, results


def main() -> None:
    with running_server(workers=0) as server:  # API only: rendering must not compete for the CPU
        asyncio.run(run_clients(server.base_url, server.headers, 4, 10))  # warm-up
        runs = {}
        for clients, per_client in ((1, 200), (CLIENTS, REQUESTS_PER_CLIENT)):
            started = time.perf_counter()
            submits, results = asyncio.run(run_clients(server.base_url, server.headers, clients, per_client))
            runs[clients] = (submits, results, time.perf_counter() - started)
    print("submits: half a 128x72 PNG data: URI, half an https URL; each followed by one task-result")
    for clients, (submits, results, elapsed) in runs.items():
        rate = (len(submits) + len(results)) / elapsed
        print(f"{clients:3d} concurrent client(s), {len(submits)} submits, {rate:.0f} requests/s")
        for name, samples in (("submit", submits), ("task-result", results)):
            p50, p95 = statistics.median(samples) * 1000, percentile(samples, 0.95) * 1000
            print(f"    {name:12s} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms")


if __name__ == "__main__":
    main()
