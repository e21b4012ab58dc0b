"""kill -9 of one of two API processes on one database while clients submit through both: every
submit answered 200 is a task that completes, and a client that got no answer retries with its
Idempotency-Key on the other process and gets the one task its key names, never a second one."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from support.live import free_port
from support.media import data_uri, make_image
from support.private_postgres import private_postgres
from support.processes import run_vidgate, start_vidgate, stop_vidgate, vidgate_env, wait_until_healthy

pytestmark = pytest.mark.slow

SUBMIT = "/v3/async/vidu-q2-pro-img2video"
RESULT = "/v3/async/task-result"
CLIENTS = 8
MOST_SUBMITS = 32  # bounded: every task is rendered before the test ends


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_kill_9_of_an_api_process_loses_no_answered_submit(tmp_path: Path, backend: str) -> None:
    with contextlib.ExitStack() as cleanup:
        database_url = cleanup.enter_context(private_postgres()).url if backend == "postgres" else ""
        stored = _kill_one_of_two(tmp_path, database_url)
    assert stored["stored"] == stored["expected"], "one task per Idempotency-Key, none nobody asked for"


def _kill_one_of_two(tmp_path: Path, database_url: str) -> dict[str, dict[str, str]]:
    data_dir = tmp_path / "var"
    env = vidgate_env(data_dir, database_url)
    key = run_vidgate(env, "keys", "create", "--name", "kill")
    headers = {"Authorization": f"Bearer {key}"}
    ports = [free_port(), free_port()]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    logs = [tmp_path / "victim.log", tmp_path / "survivor.log"]
    # The victim runs the API alone; the survivor also runs the one worker, which must outlive the kill.
    victim = start_vidgate(env, logs[0], "serve", "--workers", "0", "--port", str(ports[0]))
    survivor = start_vidgate(env, logs[1], "serve", "--workers", "1", "--port", str(ports[1]))
    image = data_uri(make_image(64, 48))
    body = {"images": [image], "prompt": "zoom in", "duration": 1, "resolution": "540p"}

    def post(http: httpx.Client, base: str, idempotency_key: str) -> httpx.Response:
        seed = int(idempotency_key.rsplit("-", 1)[1])  # the same body each time its key is sent
        idempotent = {"Idempotency-Key": idempotency_key}
        return http.post(base + SUBMIT, json=body | {"seed": seed}, headers=idempotent)

    answered: dict[str, str] = {}  # Idempotency-Key -> task id, for submits answered 200
    unanswered: list[str] = []  # Idempotency-Keys of submits that got no answer
    lock, killed = threading.Lock(), threading.Event()
    try:
        for base, process, log in zip(bases, [victim, survivor], logs, strict=True):
            wait_until_healthy(base, process, log)

        def client(number: int) -> None:
            with httpx.Client(headers=headers, timeout=30) as http:
                for i in range(MOST_SUBMITS // CLIENTS):
                    idempotency_key = f"client-{number}-{i}"
                    base = bases[(number + i) % 2]
                    try:
                        answer = post(http, base, idempotency_key)
                    except httpx.TransportError:  # the victim died with the request in hand, or before
                        with lock:
                            unanswered.append(idempotency_key)
                        continue
                    assert answer.status_code == 200, answer.text
                    with lock:
                        answered[idempotency_key] = answer.json()["task_id"]
                    if killed.is_set() and i % 2:
                        return  # enough submits after the kill; keep the render queue short

        with ThreadPoolExecutor(CLIENTS) as pool:
            running = [pool.submit(client, n) for n in range(CLIENTS)]
            while len(answered) < 8:
                time.sleep(0.01)
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            killed.set()
            for future in running:
                future.result()
        assert unanswered, "some submits met the dead process"

        with httpx.Client(headers=headers, timeout=30) as http:
            retried = {}
            for idempotency_key in unanswered:
                again = post(http, bases[1], idempotency_key)
                assert again.status_code == 200, again.text
                retried[idempotency_key] = again.json()["task_id"]
            for idempotency_key, task_id in answered.items():  # retried after a 200: the same task
                assert post(http, bases[1], idempotency_key).json()["task_id"] == task_id

            expected = answered | retried
            deadline = time.monotonic() + 60
            pending = set(expected.values())
            while pending:
                assert time.monotonic() < deadline, f"{len(pending)} tasks never ended"
                for task_id in list(pending):
                    task = http.get(bases[1] + RESULT, params={"task_id": task_id}).json()["task"]
                    if task["status"] in ("TASK_STATUS_SUCCEED", "TASK_STATUS_FAILED"):
                        assert task["status"] == "TASK_STATUS_SUCCEED", task
                        pending.discard(task_id)
                time.sleep(0.2)
    finally:
        stop_vidgate(victim)
        stop_vidgate(survivor)

    engine = create_engine(database_url or f"sqlite:///{data_dir / 'vidgate.db'}")
    with engine.connect() as db:
        stored = {row[0]: row[1] for row in db.execute(text("SELECT idempotency_key, id FROM tasks"))}
    engine.dispose()
    return {"stored": stored, "expected": expected}
