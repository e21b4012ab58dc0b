"""API latency under 50 concurrent clients against a real `vidgate serve --workers 0` (API only, so
rendering does not compete for the CPU). Run: `.venv/bin/python benchmarks/api_latency.py`.

Targets (DESIGN.md): submit p50 < 15 ms, task-result p50 < 5 ms on a 2-core machine. The clients
run in this process (one asyncio loop), so they share the machine with the server, as they would.

Three loads: one client back to back (service time); 50 clients back to back, each sending its next
request the moment the last one answers (saturation: latency there is queueing, by Little's law);
and 50 clients at a client's pace, each submitting a task and then polling its result every
PACE_S, as SDKs and the upstream API's examples do (the load a server of this size meets).
"""

from __future__ import annotations

import asyncio
import base64
import math
import random
import re
import statistics
import time

import httpx
from common import photo_pixels, png, running_server

CLIENTS = 50
REQUESTS_PER_CLIENT = 20
PACE_S = 0.5  # between one client's requests in the paced run: 50 clients offer ~100 requests/s
PACED_RUN_S = 20.0
POLLS_PER_SUBMIT = 4


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


async def run_paced_clients(
    base: str, headers: dict[str, str], clients: int, run_s: float
) -> tuple[list[float], list[float]]:
    """Each client: submit, then POLLS_PER_SUBMIT task-result polls, one request every PACE_S
    (measured from one request's start to the next; a slow answer delays only that client)."""
    body = {"images": [small_png_data_uri()], "prompt": "slow zoom in", "duration": 5}
    submits: list[float] = []
    results: list[float] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    rng = random.Random(1)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30) as http:
        end = time.perf_counter() + run_s

        async def client(offset: float) -> None:
            await asyncio.sleep(offset)  # clients spread over one pace, not all at once
            task_id, step = "", 0
            while time.perf_counter() < end:
                started = time.perf_counter()
                if step % (POLLS_PER_SUBMIT + 1) == 0:
                    response = await http.post("/v3/async/vidu-q2-pro-img2video", json=body)
                    submits.append(time.perf_counter() - started)
                    task_id = response.json()["task_id"]
                else:
                    await http.get("/v3/async/task-result", params={"task_id": task_id})
                    results.append(time.perf_counter() - started)
                step += 1
                await asyncio.sleep(max(0.0, started + PACE_S - time.perf_counter()))

        await asyncio.gather(*(client(rng.uniform(0, PACE_S)) for _ in range(clients)))
    return submits, results


ROUTES = {"submit": "/v3/async/vidu-q2-pro-img2video", "task-result": "/v3/async/task-result"}
BUCKET = re.compile(r"^vidgate_http_request_duration_seconds_bucket\{(.*)\} (\S+)$", re.MULTILINE)
LABEL = re.compile(r'(\w+)="([^"]*)"')


def server_buckets(base: str) -> dict[str, list[tuple[float, float]]]:
    """Per route, the server's own latency histogram (cumulative counts by upper bound, seconds)."""
    buckets: dict[str, list[tuple[float, float]]] = {}
    for labels, count in BUCKET.findall(httpx.get(f"{base}/metrics").text):
        named = dict(LABEL.findall(labels))
        buckets.setdefault(named["route"], []).append((float(named["le"]), float(count)))
    return {route: sorted(pairs) for route, pairs in buckets.items()}


def server_median_ms(
    before: dict[str, list[tuple[float, float]]], after: dict[str, list[tuple[float, float]]], route: str
) -> float:
    """The median of the server's own timings (request in to first byte out) between two scrapes,
    interpolated within its bucket as Prometheus' histogram_quantile does."""
    earlier = dict(before.get(route, []))
    counts = [(bound, count - earlier.get(bound, 0.0)) for bound, count in after[route]]
    half, lower, below = counts[-1][1] / 2, 0.0, 0.0
    for bound, cumulative in counts:
        if cumulative >= half:
            inside = cumulative - below
            share = (half - below) / inside if inside else 1.0
            return (lower + (bound - lower) * share) * 1000 if bound != math.inf else lower * 1000
        lower, below = bound, cumulative
    return math.nan


def main() -> None:
    with running_server(workers=0) as server:  # API only: rendering must not compete for the CPU
        asyncio.run(run_clients(server.base_url, server.headers, 4, 10))  # warm-up
        runs = {}
        for clients, per_client in ((1, 200), (CLIENTS, REQUESTS_PER_CLIENT)):
            before, started = server_buckets(server.base_url), time.perf_counter()
            submits, results = asyncio.run(run_clients(server.base_url, server.headers, clients, per_client))
            label = f"{clients:3d} concurrent client(s), back to back"
            runs[label] = (
                submits,
                results,
                time.perf_counter() - started,
                before,
                server_buckets(server.base_url),
            )
        before, started = server_buckets(server.base_url), time.perf_counter()
        paced = asyncio.run(run_paced_clients(server.base_url, server.headers, CLIENTS, PACED_RUN_S))
        label = f"{CLIENTS:3d} concurrent clients, one request every {PACE_S} s each"
        runs[label] = (*paced, time.perf_counter() - started, before, server_buckets(server.base_url))
    print("back to back: half the submits carry a 128x72 PNG data: URI, half an https URL; each is")
    print(f"followed by one task-result. Paced: a data: URI submit, then {POLLS_PER_SUBMIT} polls.")
    print("client: as the clients saw it; server: the server's own time to first byte (/metrics).")
    for label, (submits, results, elapsed, before, after) in runs.items():
        rate = (len(submits) + len(results)) / elapsed
        print(f"{label}: {len(submits)} submits, {rate:.0f} requests/s")
        for name, samples in (("submit", submits), ("task-result", results)):
            p50, p95 = statistics.median(samples) * 1000, percentile(samples, 0.95) * 1000
            server_p50 = server_median_ms(before, after, ROUTES[name])
            print(
                f"    {name:12s} client p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  server p50 {server_p50:6.1f} ms"
            )


if __name__ == "__main__":
    main()
