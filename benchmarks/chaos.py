"""Reliability under chaos: workers killed with SIGKILL at random moments while 200 tasks run.

Run: `make chaos` (or `.venv/bin/python benchmarks/chaos.py [--backend sqlite|postgres|both]`).

For each backend (a SQLite file in a temp folder; PostgreSQL in a schema of its own at
`--postgres-url`, skipped with a message when unreachable), one `vidgate serve --workers 0` (API only)
and `--workers` standalone `vidgate worker` processes share the database and the storage folder, with
a short lease (3 s, heartbeat every second) and sweep (0.5 s) so that killed work is rescued quickly.
200 small tasks (540p, 1-3 s, motion engine) go in through the SDK, each with an idempotency key; a
third ask for a webhook to a receiver on 127.0.0.1, and about 8 % are cancelled (half right after
submit, half soon after a worker starts them). Meanwhile a seeded chaos loop SIGKILLs a random worker
every 0.5-2 s (`--kill-every`) and starts a replacement, until every task has ended. Then, with the
fleet stopped, it checks the design's bar: every task terminal and none lost; no task's terminal
status ever changed; each SUCCEED video downloads and decodes (PyAV) with the frames
its duration asks for; exactly one stored file per succeeded task and none for failed ones; no partial
(`.part`, `.tmp-`) or earlier-attempt files anywhere; every failure explained (CANCELED when cancelled,
MAX_ATTEMPTS_EXCEEDED after the last attempt was killed); exactly one webhook id per webhook task,
signed, carrying the final status (redeliveries of the same id, at-least-once, are counted, not
failed). Exits 1 when any check fails.
"""

from __future__ import annotations

import argparse
import base64
import collections
import contextlib
import http.server
import json
import os
import platform
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import httpx
from common import VIDGATE, free_port, photo_pixels, png
from sqlalchemy import Engine, select, text
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from vidgate.client import ApiError, Client
from vidgate.settings import new_webhook_secret
from vidgate.store.db import open_engine
from vidgate.store.tables import tasks

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PROMPTS = ("slow zoom in", "pan left", "pan right", "tilt up", "dolly out", "orbit", "truck left", "crane up")
LEASE_S, SWEEP_S = 3.0, 0.5
MAX_ATTEMPTS = 3
RUN_LIMIT_S = 1800  # per backend: tasks still running after this are reported, not waited for
WEBHOOK_LIMIT_S = 180  # a sender killed mid-delivery holds it for 60 s before another retries
TERMINAL = ("SUCCEED", "FAILED")
WIRE_TERMINAL = ("TASK_STATUS_SUCCEED", "TASK_STATUS_FAILED")


@dataclass
class Plan:
    body: dict[str, Any]
    idempotency_key: str
    # Cancelled this many seconds after submit ("queued") or after it is first seen PROCESSING
    # ("running"); None = never cancelled.
    cancel: tuple[str, float] | None


def make_plans(rng: random.Random, count: int, webhook_url: str, images: list[str]) -> list[Plan]:
    plans = []
    for index in range(count):
        body: dict[str, Any] = {
            "images": [rng.choice(images)],
            "prompt": rng.choice(PROMPTS),
            "duration": rng.choice((1, 2, 3)),
            "resolution": "540p",
            "seed": index,
        }
        if index % 3 == 0:
            body["extra"] = {"webhook": {"url": webhook_url}}
        cancel = None
        if rng.random() < 0.08:
            cancel = (
                ("queued", rng.uniform(0.0, 0.5))
                if rng.random() < 0.5
                else ("running", rng.uniform(0.0, 1.0))
            )
        plans.append(Plan(body, str(uuid.UUID(int=rng.getrandbits(128))), cancel))
    return plans


@dataclass
class Delivery:
    webhook_id: str
    task_id: str
    status: str
    signed: bool


class WebhookReceiver:
    """Records every delivery it gets (answering 204), checking its Standard Webhooks signature."""

    def __init__(self, secret: str) -> None:
        self.deliveries: list[Delivery] = []
        receiver, verifier, lock = self, Webhook(secret), threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    document, signed = verifier.verify(body, headers), True
                except WebhookVerificationError:
                    document, signed = json.loads(body), False
                task = document["task"]
                with lock:
                    receiver.deliveries.append(
                        Delivery(headers.get("webhook-id", ""), task["task_id"], task["status"], signed)
                    )
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/vidgate"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Fleet:
    """Every process this script starts, kept so that all of them are stopped whatever happens. They
    run in sessions of their own: a Ctrl-C reaches only this script, which then stops them."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.started: list[subprocess.Popen[bytes]] = []
        self.workers: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                [*VIDGATE, *args], env=self.env, stdout=log, stderr=log, start_new_session=True
            )
        self.started.append(process)
        return process

    def start_worker(self) -> None:
        self.workers.append(self.start(f"worker-{len(self.started):03d}", "worker"))

    def kill_worker(self, victim: subprocess.Popen[bytes]) -> None:
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        self.workers.remove(victim)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (a worker finishes its task in hand), then SIGKILL whatever is still running."""
        for process in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.started:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass
class Observed:
    """What the chaos loop saw of the task table while it ran."""

    first_terminal: dict[str, str] = field(default_factory=dict)
    flips: set[str] = field(default_factory=set)  # tasks whose terminal status later changed

    def poll(self, engine: Engine) -> dict[str, str]:
        with engine.connect() as conn:
            statuses = {row.id: row.status for row in conn.execute(select(tasks.c.id, tasks.c.status))}
        for task_id, status in statuses.items():
            if status in TERMINAL and self.first_terminal.setdefault(task_id, status) != status:
                self.flips.add(f"{task_id}: {self.first_terminal[task_id]} -> {status}")
        return statuses


def leased_by(engine: Engine, pid: int) -> list[str]:
    query = select(tasks.c.id).where(tasks.c.status == "PROCESSING", tasks.c.lease_owner.like(f"%:{pid}:%"))
    with engine.connect() as conn:
        return list(conn.execute(query).scalars())


@dataclass
class Submitted:
    at: float  # monotonic time of the answer
    task_id: str = ""  # empty when no answer came
    error: str = ""


def submit_all(client: Client, plans: list[Plan], submitted: list[Submitted], gaps: list[float]) -> None:
    """Submit at a staggered pace; a submit whose answer was lost is retried under the same
    idempotency key, so it can never create a second task."""
    for plan, gap in zip(plans, gaps, strict=True):
        outcome = Submitted(0.0)
        for _attempt in range(3):
            try:
                outcome.task_id = client.submit(idempotency_key=plan.idempotency_key, **plan.body)
                outcome.error = ""
                break
            except (httpx.TransportError, ApiError) as exc:
                outcome.error = f"{plan.idempotency_key}: {exc}"
                time.sleep(0.5)
        outcome.at = time.monotonic()
        submitted.append(outcome)
        time.sleep(gap)


def probe(path: Path) -> tuple[int, float, int, int]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return frames, float(container.duration or 0) / 1e6, stream.width, stream.height


@contextlib.contextmanager
def postgres_schema(base_url: str) -> Iterator[str | None]:
    """A schema of our own (so a test run sharing the database is neither disturbed nor disturbing);
    yields a URL whose connections use it, or None when PostgreSQL is unreachable."""
    schema = f"vidgate_chaos_{secrets.token_hex(4)}"
    admin = open_engine(base_url)
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:
        print(f"postgres: SKIPPED, {base_url} is unreachable ({type(exc).__name__}: {exc})".splitlines()[0])
        admin.dispose()
        yield None
        return
    try:
        yield f"{base_url}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


class ChaosRun:
    """One backend: start the fleet, submit while killing workers, read everything back, judge."""

    def __init__(self, name: str, database_url: str, args: argparse.Namespace, work: Path) -> None:
        self.name, self.args, self.work = name, args, work
        self.rng = random.Random(args.seed)
        secret = new_webhook_secret()
        self.receiver = WebhookReceiver(secret)
        image = "data:image/png;base64," + base64.b64encode(png(photo_pixels(320, 180))).decode()
        self.plans = make_plans(self.rng, args.tasks, self.receiver.url, [image])
        self.base_url = f"http://127.0.0.1:{free_port()}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIDGATE_")} | {
            "VIDGATE_DATA_DIR": str(work / "var"),
            "VIDGATE_DATABASE_URL": database_url,
            "VIDGATE_PORT": self.base_url.rsplit(":", 1)[1],
            "VIDGATE_ALLOW_PRIVATE_URLS": "true",  # the webhook receiver is on 127.0.0.1
            "VIDGATE_WEBHOOK_SECRET": secret,
            "VIDGATE_LEASE_SECONDS": str(LEASE_S),
            "VIDGATE_SWEEP_INTERVAL": str(SWEEP_S),
            "VIDGATE_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
            "VIDGATE_ENCODER_THREADS": "1",  # several workers share a few cores
        }
        self.fleet = Fleet(env, work)
        self.engine = open_engine(database_url or f"sqlite:///{work / 'var' / 'vidgate.db'}")
        self.failed: list[str] = []  # names of the checks that failed
        # What the phases find, for `judge`.
        self.observed = Observed()
        self.submitted: list[Submitted] = []
        self.cancelled: set[str] = set()
        self.seen_running: dict[str, float] = {}  # task id -> when first seen PROCESSING
        self.cancel_answers: collections.Counter[str] = collections.Counter()
        self.kills = self.kills_mid_task = 0
        self.chaos_s = self.webhooks_s = 0.0
        self.unsettled: list[str] = []
        self.finals: dict[str, dict[str, Any]] = {}
        self.lost: list[str] = []
        self.bad_videos: list[str] = []

    def run(self) -> bool:
        """True when every check passed."""
        try:
            with self.start() as client:
                self.chaos(client)
                self.settle_webhooks()
                self.read_back(client)
            self.fleet.stop()  # every process gone: whatever is on disk now stays there
            self.judge()
            return not self.failed
        finally:
            self.fleet.stop()
            self.receiver.close()
            self.engine.dispose()

    def start(self) -> Client:
        key = subprocess.run(
            [*VIDGATE, "keys", "create", "--name", "chaos"],
            env=self.fleet.env, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        server = self.fleet.start("serve", "serve", "--workers", "0")
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.base_url}/healthz").status_code == 200:
                    break
            if server.poll() is not None:
                raise RuntimeError(f"vidgate serve exited; see {self.work / 'serve.log'}")
            time.sleep(0.1)
        for _ in range(self.args.workers):
            self.fleet.start_worker()
        return Client(self.base_url, key, timeout=60)

    def chaos(self, client: Client) -> None:
        """Submit in the background; kill a random worker every so often and start another, cancel
        the planned tasks, until every submitted task has ended."""
        gaps = [self.rng.uniform(0.0, 0.15) for _ in self.plans]
        submitter = threading.Thread(
            target=submit_all, args=(client, self.plans, self.submitted, gaps), daemon=True
        )
        started = time.monotonic()
        submitter.start()
        next_kill = started + self.rng.uniform(*self.args.kill_every)
        while time.monotonic() - started < RUN_LIMIT_S:
            statuses = self.observed.poll(self.engine)
            if not submitter.is_alive() and all(
                statuses.get(s.task_id) in TERMINAL for s in self.submitted if s.task_id
            ):
                break
            now = time.monotonic()
            if now >= next_kill and self.fleet.workers:
                victim = self.rng.choice(self.fleet.workers)
                self.kills_mid_task += bool(leased_by(self.engine, victim.pid))
                self.fleet.kill_worker(victim)
                self.fleet.start_worker()
                self.kills += 1
                next_kill = now + self.rng.uniform(*self.args.kill_every)
            self.cancel_due(client, statuses, now)
            time.sleep(0.1)
        self.chaos_s = time.monotonic() - started

    def cancel_due(self, client: Client, statuses: dict[str, str], now: float) -> None:
        for plan, task in zip(self.plans, list(self.submitted), strict=False):
            if plan.cancel is None or not task.task_id or task.task_id in self.cancelled:
                continue
            when, delay = plan.cancel
            if statuses.get(task.task_id) == "PROCESSING":
                self.seen_running.setdefault(task.task_id, now)
            since = task.at if when == "queued" else self.seen_running.get(task.task_id)
            if since is not None and now >= since + delay:
                answer = client.cancel(task.task_id)["task"]["status"].removeprefix("TASK_STATUS_")
                self.cancel_answers[f"{when}, answered {answer}"] += 1
                self.cancelled.add(task.task_id)

    def settle_webhooks(self) -> None:
        """Wait until the outbox has settled every delivery (a sender killed mid-delivery holds it
        until its lease runs out, then another sender delivers it again)."""
        started = time.monotonic()
        unsettled = select(tasks.c.id).where(tasks.c.webhook_state.not_in(("delivered", "failed")))
        while time.monotonic() - started < WEBHOOK_LIMIT_S:
            with self.engine.connect() as conn:
                self.unsettled = list(conn.execute(unsettled).scalars())
            if not self.unsettled:
                break
            time.sleep(0.5)
        self.webhooks_s = time.monotonic() - started

    def read_back(self, client: Client) -> None:
        """What a client sees: every task through the API, every video downloaded and decoded."""
        for plan, task in zip(self.plans, self.submitted, strict=False):
            if not task.task_id:
                continue
            try:
                self.finals[task.task_id] = document = client.result(task.task_id)
            except ApiError as exc:
                self.lost.append(f"{task.task_id}: {exc}")
                continue
            if document["task"]["status"] != "TASK_STATUS_SUCCEED":
                continue
            frames, duration, width, height = probe(client.download(document, self.work / "download.mp4"))
            seconds = plan.body["duration"]
            if (frames, width, height) != (24 * seconds, 960, 540) or abs(duration - seconds) > 0.05:
                self.bad_videos.append(f"{task.task_id}: {frames} frames, {duration:.2f} s, {width}x{height}")

    def check(self, name: str, ok: bool, detail: str = "") -> None:
        print(f"  [{'ok' if ok else 'FAIL'}] {name}" + ("" if ok or not detail else f": {detail[:2000]}"))
        if not ok:
            self.failed.append(name)

    def judge(self) -> None:
        with self.engine.connect() as conn:
            rows = list(conn.execute(select(tasks)))
        ids = [s.task_id for s in self.submitted if s.task_id]
        var = self.work / "var"
        videos = sorted(p.name for p in (var / "objects" / "videos").glob("*") if p.is_file())
        published = sorted(Path(row.output_key).name for row in rows if row.status == "SUCCEED")
        orphans = {p for p in (var / "work").rglob("*") if p.is_file()} | {
            p for p in var.rglob("*") if p.name.endswith(".part") or p.name.startswith(".tmp-")
        }
        reasons = collections.Counter(row.reason for row in rows if row.status == "FAILED")
        unexplained = [
            f"{row.id}: {row.reason!r} (attempt {row.attempt})"
            for row in rows
            if row.status == "FAILED"
            and not (row.reason == "CANCELED" and row.id in self.cancelled)
            and not (row.reason == "MAX_ATTEMPTS_EXCEEDED" and row.attempt == MAX_ATTEMPTS)
        ]
        hooked = {
            s.task_id for s, plan in zip(self.submitted, self.plans, strict=False) if "extra" in plan.body
        }
        deliveries = self.receiver.deliveries
        hook_ids: dict[str, set[str]] = collections.defaultdict(set)
        for delivery in deliveries:
            hook_ids[delivery.task_id].add(delivery.webhook_id)
        distinct = {webhook_id for group in hook_ids.values() for webhook_id in group}
        wrong_hooks = [
            f"{d.task_id}: {d.status}{'' if d.signed else ' (bad signature)'}"
            for d in deliveries
            if not d.signed or d.status != self.finals.get(d.task_id, {}).get("task", {}).get("status")
        ]
        running = [t for t, doc in self.finals.items() if doc["task"]["status"] not in WIRE_TERMINAL]
        rescued = sum(1 for row in rows if row.status == "SUCCEED" and row.attempt > 1)
        attempts = dict(sorted(collections.Counter(row.attempt for row in rows).items()))

        print(f"\n{self.name}: {len(ids)} tasks, {self.args.workers} workers, seed {self.args.seed}")
        print(f"  until every task ended   {self.chaos_s:.1f} s ({len(ids) / self.chaos_s:.2f} tasks/s)")
        print(f"  kill -9                  {self.kills} ({self.kills_mid_task} of a worker holding a task)")
        print(f"  final states             {dict(collections.Counter(row.status for row in rows))}")
        print(f"  failure reasons          {dict(reasons)}")
        print(f"  attempts used            {attempts} (tasks by attempt count; 0 = cancelled while queued)")
        print(f"  SUCCEED after a kill     {rescued} (a later attempt finished what a killed one began)")
        print(f"  cancels sent             {len(self.cancelled)}: {dict(self.cancel_answers)}")
        cancelled = collections.Counter(row.status for row in rows if row.id in self.cancelled)
        print(f"  cancelled tasks ended    {dict(cancelled)} (SUCCEED: finished before the cancel landed)")
        print(f"  webhook tasks            {len(hooked)}: {len(distinct)} ids, {len(deliveries)} deliveries")
        print(f"  webhook redeliveries     {len(deliveries) - len(distinct)} (same id again: at-least-once)")
        print(f"  webhooks settled         {self.webhooks_s:.1f} s after the last task ended")
        check = self.check
        errors = [s.error for s in self.submitted if s.error]
        check("every submit answered", len(ids) == len(self.plans), "; ".join(errors))
        check("no task created twice", sorted(ids) == sorted(row.id for row in rows), f"{len(rows)} rows")
        check("0 lost, every task terminal", not self.lost and not running, "; ".join(self.lost + running))
        flips = sorted(self.observed.flips)
        check("no terminal status ever changed", not flips, "; ".join(flips))
        check("every SUCCEED video downloads and decodes", not self.bad_videos, "; ".join(self.bad_videos))
        check(
            "one file per SUCCEED task (its last attempt), none for failed ones",
            videos == published,
            f"extra {sorted(set(videos) - set(published))}, missing {sorted(set(published) - set(videos))}",
        )
        check("no orphan or partial files", not orphans, " ".join(sorted(map(str, orphans))))
        check("every failure explained", not unexplained, "; ".join(unexplained))
        check(
            "exactly one webhook id per webhook task, all settled",
            set(hook_ids) == hooked
            and all(len(group) == 1 for group in hook_ids.values())
            and len(distinct) == len(hooked)
            and not self.unsettled,
            f"none for {sorted(hooked - set(hook_ids))}, unasked {sorted(set(hook_ids) - hooked)}, "
            f"unsettled {self.unsettled}",
        )
        check("webhooks signed, carrying the final status", not wrong_hooks, "; ".join(wrong_hooks))


def machine() -> str:
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "CPU")
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{model}, {os.cpu_count()} cores, {memory:.0f} GiB, {platform.system()} {platform.release()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kill-every", type=float, nargs=2, default=(0.5, 2.0), metavar=("MIN_S", "MAX_S"))
    parser.add_argument("--keep", action="store_true", help="keep the temp folders (logs, database, files)")
    args = parser.parse_args()
    # Ctrl-C (even where a shell started us with SIGINT ignored), SIGTERM and SIGHUP all unwind, so
    # every `finally` stops the processes we started and drops the PostgreSQL schema.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda signum, _frame: sys.exit(128 + signum))
    print(f"machine: {machine()}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    failed = False
    for backend in ("sqlite", "postgres") if args.backend == "both" else (args.backend,):
        with (
            postgres_schema(args.postgres_url) if backend == "postgres" else contextlib.nullcontext("") as url
        ):
            if url is None:
                continue
            work = Path(tempfile.mkdtemp(prefix=f"vidgate-chaos-{backend}-"))
            ok = False
            try:
                ok = ChaosRun(backend, url, args, work).run()
            finally:
                failed |= not ok
                if ok and not args.keep:
                    shutil.rmtree(work, ignore_errors=True)
                else:
                    print(f"  logs, database and files kept in {work}")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
