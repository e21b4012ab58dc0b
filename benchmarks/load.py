"""Load: many concurrent clients submitting and polling against `vidgate serve --workers 0
--api-workers N`, beside a bare FastAPI app on uvicorn with as many processes, in one run.

Run: `.venv/bin/python benchmarks/load.py [--clients 200] [--seconds 60] [--api-workers 1,2]`.

Each client submits a task (a 128x72 PNG data: URI), then polls its result POLLS_PER_SUBMIT times,
back to back, until the run's time is up or it has sent MAX_REQUESTS_PER_CLIENT requests (bounded
in count and time). The clients run in CLIENT_PROCESSES processes on this machine, each one asyncio
loop, so they share the CPU with the servers, as clients on one host would. Any answer but a 200,
and any request that fails, is an error. The bare app answers the same two routes with a constant
document and no database: the ratio of the two throughputs is what vidgate costs over the framework.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
from common import free_port, photo_pixels, png, running_server

SUBMIT = "/v3/async/vidu-q2-pro-img2video"
RESULT = "/v3/async/task-result"
POLLS_PER_SUBMIT = 4
MAX_REQUESTS_PER_CLIENT = 2000
CLIENT_PROCESSES = 2
SETTLE_S = 3.0  # after /healthz answers, for every API process to be up

BARE_APP = textwrap.dedent(
    """
    from fastapi import FastAPI

    def create_app() -> FastAPI:
        app = FastAPI()

        @app.post("/v3/async/vidu-q2-pro-img2video")
        def submit(body: dict) -> dict:
            return {"task_id": "bare", "status": "TASK_STATUS_QUEUED"}

        @app.get("/v3/async/task-result")
        def result(task_id: str) -> dict:
            return {"task": {"task_id": task_id, "status": "TASK_STATUS_QUEUED"}, "videos": []}

        @app.get("/healthz")
        def healthz() -> dict:
            return {"status": "ok"}

        return app
    """
)


@dataclass
class Samples:
    submit_ms: list[float] = field(default_factory=list)
    result_ms: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    seconds: float = 0.0  # from the first request to the last answer


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def _clients(base: str, headers: dict[str, str], clients: int, seconds: float) -> Samples:
    body = {"images": ["data:image/png;base64," + base64.b64encode(png(photo_pixels(128, 72))).decode()]}
    body |= {"prompt": "slow zoom in", "duration": 1, "resolution": "540p"}
    samples = Samples()
    # Idle connections are dropped before uvicorn's 5 s keep-alive ends: at the same 5 s (httpx's
    # default) a request can go out on a connection the server is closing, and fail.
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60) as http:
        begun = time.perf_counter()
        end = begun + seconds

        async def client() -> None:
            task_id = ""
            for step in range(MAX_REQUESTS_PER_CLIENT):
                if time.perf_counter() >= end:
                    return
                started = time.perf_counter()
                submitting = step % (POLLS_PER_SUBMIT + 1) == 0
                try:
                    if submitting:
                        response = await http.post(SUBMIT, json=body)
                    else:
                        response = await http.get(RESULT, params={"task_id": task_id})
                except httpx.HTTPError as exc:
                    samples.errors += 1
                    samples.first_error = samples.first_error or repr(exc)
                    continue
                elapsed_ms = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    samples.errors += 1
                    samples.first_error = samples.first_error or f"{response.status_code} {response.text}"
                    continue
                if submitting:
                    samples.submit_ms.append(elapsed_ms)
                    task_id = response.json()["task_id"]
                else:
                    samples.result_ms.append(elapsed_ms)

        await asyncio.gather(*(client() for _ in range(clients)))
        samples.seconds = time.perf_counter() - begun
    return samples


def _client_process(args: tuple[str, dict[str, str], int, float]) -> Samples:
    return asyncio.run(_clients(*args))


def load(base: str, headers: dict[str, str], clients: int, seconds: float) -> tuple[Samples, float]:
    """All the clients' samples, and the time they ran (the client processes' start left out)."""
    share = [clients // CLIENT_PROCESSES + (i < clients % CLIENT_PROCESSES) for i in range(CLIENT_PROCESSES)]
    with multiprocessing.get_context("spawn").Pool(CLIENT_PROCESSES) as pool:
        parts = pool.map(_client_process, [(base, headers, n, seconds) for n in share])
    wall = max(part.seconds for part in parts)
    total = Samples()
    for part in parts:
        total.submit_ms += part.submit_ms
        total.result_ms += part.result_ms
        total.errors += part.errors
        total.first_error = total.first_error or part.first_error
    return total, wall


@contextlib.contextmanager
def bare_server(processes: int) -> Iterator[str]:
    """The bare app on uvicorn (with httptools and uvloop, as vidgate's), `processes` of it."""
    folder = tempfile.mkdtemp(prefix="vidgate-bare-")
    with open(os.path.join(folder, "bare_app.py"), "w") as out:
        out.write(BARE_APP)
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "bare_app:create_app", "--port", str(port)]
    command += ["--workers", str(processes), "--log-level", "warning"]
    server = subprocess.Popen(command, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base)
        yield base
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait()
        shutil.rmtree(folder, ignore_errors=True)


def _wait_healthy(base: str) -> None:
    while True:
        try:
            httpx.get(f"{base}/healthz")
            break
        except httpx.TransportError:
            time.sleep(0.1)
    time.sleep(SETTLE_S)


def report(label: str, samples: Samples, wall: float) -> float:
    requests = len(samples.submit_ms) + len(samples.result_ms)
    rps = requests / wall
    print(
        f"| {label} | {requests} | {samples.errors} | {rps:.0f} "
        f"| {percentile(samples.submit_ms, 0.5):.1f} / {percentile(samples.submit_ms, 0.99):.1f} "
        f"| {percentile(samples.result_ms, 0.5):.1f} / {percentile(samples.result_ms, 0.99):.1f} |"
    )
    if samples.first_error:
        print(f"  first error: {samples.first_error[:300]}")
    return rps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--api-workers", default="1,2", help="API process counts to measure, comma-separated")
    parser.add_argument("--database-url", default="", help="e.g. a PostgreSQL of the benchmark's own")
    options = parser.parse_args()
    database = "PostgreSQL" if options.database_url.startswith("postgres") else "SQLite"
    print(f"{options.clients} clients, {options.seconds:.0f} s per run, {os.cpu_count()} CPUs, {database}")
    print("| server | requests | errors | requests/s | submit p50 / p99 (ms) | task-result p50 / p99 (ms) |")
    print("|---|---|---|---|---|---|")
    for processes in [int(n) for n in options.api_workers.split(",")]:
        with bare_server(processes) as base:
            bare_rps = report(f"bare FastAPI x{processes}", *load(base, {}, options.clients, options.seconds))
        serve_options = ("--api-workers", str(processes))
        with running_server(0, *serve_options, database_url=options.database_url) as server:
            _wait_healthy(server.base_url)
            samples, wall = load(server.base_url, server.headers, options.clients, options.seconds)
            rps = report(f"vidgate --api-workers {processes}", samples, wall)
        print(f"  vidgate / bare at {processes} process(es): {rps / bare_rps:.2f}")


if __name__ == "__main__":
    main()
