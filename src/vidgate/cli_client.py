"""`vidgate submit | status | wait | cancel | tasks | download`: the CLI as a client of a running server.

It speaks only the public contract (the same paths and Bearer key as the hosted gateways), through
the SDK, so it works against any server that does. Output follows where it goes: on a terminal,
words and a progress bar (on stderr); piped, exactly one JSON document on stdout and nothing else.

Exit codes: 0 done; 1 the task failed (its reason on stderr); 2 bad usage or a 4xx from the server;
3 the server is unreachable or answered 5xx; 130 interrupted, the task left running.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn
from urllib.parse import urlsplit

import typer

from vidgate.tasks.model import TERMINAL_STATUSES

if TYPE_CHECKING:  # imported when a command runs: `vidgate --help` stays fast
    from rich.progress import Progress

    from vidgate.client import Client

TERMINAL = tuple(status.wire for status in TERMINAL_STATUSES)

EXIT_DONE, EXIT_TASK_FAILED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
DEFAULT_SERVER = "http://127.0.0.1:8000"
# Where `make run` (`vidgate serve --dev`) keeps its key, relative to the repository root.
DEV_KEY_PATH = Path("var") / "dev-api-key"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
POLL_INTERVAL_S = 0.5
STATUS_WORDS = {
    "TASK_STATUS_QUEUED": "queued",
    "TASK_STATUS_PROCESSING": "rendering",
    "TASK_STATUS_SUCCEED": "done",
    "TASK_STATUS_FAILED": "failed",
}

# Client-side settings are command-line options that typer also reads from the environment
# (`envvar=`): they configure the client, not a server, so they are not fields of `Settings`.
Server = Annotated[
    str, typer.Option("--server", envvar="VIDGATE_SERVER", help="Base URL of the server.", show_default=True)
]
ApiKey = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar="VIDGATE_API_KEY",
        help="Your API key (default for a local server: the dev key in var/dev-api-key).",
        show_default=False,
    ),
]
ForceJson = Annotated[bool, typer.Option("--json", help="Print the JSON document even on a terminal.")]
Output = Annotated[Path | None, typer.Option("-o", "--output", help="Save the video here (an MP4).")]


class Outcome(Exception):
    """Ends a command with this exit code, after printing `message` on stderr."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def register(app: typer.Typer) -> None:
    """Adds the client commands to the `vidgate` command."""
    app.command("submit")(submit)
    app.command("status")(status)
    app.command("wait")(wait)
    app.command("cancel")(cancel)
    app.command("tasks")(tasks)
    app.command("download")(download)


def submit(
    images: Annotated[
        list[str], typer.Argument(help="Image files or http(s) URLs (files go up as data URIs).")
    ],
    prompt: Annotated[str, typer.Option(help="What the video shows; camera words pick the move.")],
    duration: Annotated[int | None, typer.Option(help="Seconds, 1..10 (server default 5).")] = None,
    resolution: Annotated[str | None, typer.Option(help="540p, 720p or 1080p (server default 720p).")] = None,
    movement_amplitude: Annotated[str | None, typer.Option(help="auto, small, medium or high.")] = None,
    seed: Annotated[int | None, typer.Option(help="Same seed and inputs => same video.")] = None,
    bgm: Annotated[bool, typer.Option("--bgm", help="Add background music.")] = False,
    audio: Annotated[bool, typer.Option("--audio", help="Add ambience; speak quoted text.")] = False,
    voice_id: Annotated[str | None, typer.Option(help="Voice of the speech (see GET /v3/voices).")] = None,
    watermark: Annotated[bool, typer.Option("--watermark", help="Add the visible watermark.")] = False,
    off_peak: Annotated[bool, typer.Option("--off-peak", help="Cheaper class: runs when idle.")] = False,
    engine: Annotated[str | None, typer.Option(help="Engine to run on (vidgate: GET /v3/engines).")] = None,
    webhook_url: Annotated[str | None, typer.Option(help="POST the result here when it ends.")] = None,
    idempotency_key: Annotated[str | None, typer.Option(help="Same key + same body => same task.")] = None,
    wait_: Annotated[bool, typer.Option("--wait", help="Wait for the task to end.")] = False,
    output: Output = None,
    server: Server = DEFAULT_SERVER,
    api_key: ApiKey = None,
    as_json: ForceJson = False,
) -> None:
    """Submit a task; with --wait (or -o), follow it to the end and save the video."""
    extra: dict[str, Any] = {}
    if engine is not None:
        extra["engine"] = engine
    if webhook_url is not None:
        extra["webhook"] = {"url": webhook_url}
    options = {
        "duration": duration,
        "resolution": resolution,
        "movement_amplitude": movement_amplitude,
        "seed": seed,
        "bgm": bgm or None,
        "audio": audio or None,
        "voice_id": voice_id,
        "watermark": watermark or None,
        "off_peak": off_peak or None,
        "extra": extra or None,
    }
    with _session(server, api_key) as client:
        try:
            task_id = client.submit(images, prompt, idempotency_key=idempotency_key, **options)
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise Outcome(EXIT_USAGE, f"cannot read image {exc.filename}: {exc.strerror}") from None
        if not (wait_ or output):
            _emit({"task_id": task_id}, as_json, lambda: task_id)
            return
        _follow(client, task_id, output, as_json)


def status(
    task_id: Annotated[str, typer.Argument(help="The task's id.")],
    server: Server = DEFAULT_SERVER,
    api_key: ApiKey = None,
    as_json: ForceJson = False,
) -> None:
    """Show a task's status, progress and video link (its task-result document when piped)."""
    with _session(server, api_key) as client:
        document = client.result(task_id)
        _emit(document, as_json, lambda: _describe(document))


def wait(
    task_id: Annotated[str, typer.Argument(help="The task's id.")],
    output: Output = None,
    server: Server = DEFAULT_SERVER,
    api_key: ApiKey = None,
    as_json: ForceJson = False,
) -> None:
    """Follow a task to its end with a progress bar; with -o, save the video."""
    with _session(server, api_key) as client:
        _follow(client, task_id, output, as_json)


def cancel(
    task_id: Annotated[str, typer.Argument(help="The task's id.")],
    server: Server = DEFAULT_SERVER,
    api_key: ApiKey = None,
    as_json: ForceJson = False,
) -> None:
    """Cancel a task (a queued one ends at once, a running one within about a second)."""
    with _session(server, api_key) as client:
        document = client.cancel(task_id)
        _emit(document, as_json, lambda: _describe(document))


def tasks(
    status_filter: Annotated[
        str | None, typer.Option("--status", help="Only this status: QUEUED, PROCESSING, SUCCEED, FAILED.")
    ] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first (1..100).")] = 20,
    cursor: Annotated[str | None, typer.Option(help="next_cursor of the previous page.")] = None,
    server: Server = DEFAULT_SERVER,
    api_key: ApiKey = None,
    as_json: ForceJson = False,
) -> None:
    """List your tasks, newest first."""
    with _session(server, api_key) as client:
        page = client.list_tasks(status_filter, limit, cursor)

        def lines() -> str:
            rows = [_describe(document, one_line=True) for document in page["tasks"]] or ["no tasks"]
            if page.get("next_cursor"):
                rows.append(f"more: --cursor {page['next_cursor']}")
            return "\n".join(rows)

        _emit(page, as_json, lines)


def download(
    task_id: Annotated[str, typer.Argument(help="The task's id.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to save the MP4.")],
    server: Server = DEFAULT_SERVER,
    api_key: ApiKey = None,
    as_json: ForceJson = False,
) -> None:
    """Save a finished task's video."""
    with _session(server, api_key) as client:
        document = client.result(task_id)
        state = document["task"]["status"]
        if state == "TASK_STATUS_FAILED":
            _emit(document, as_json, None)
            raise _failure(document)
        if state != "TASK_STATUS_SUCCEED":
            raise Outcome(
                EXIT_USAGE,
                f"task {task_id} is {STATUS_WORDS.get(state, state)}, not done yet: "
                f"`vidgate wait {task_id} -o {output}` waits for it and saves the video",
            )
        _save(client, document, output, as_json)


# ---- following a task ----


def _follow(client: Client, task_id: str, output: Path | None, as_json: bool) -> None:
    """Poll task-result to the end (polling works against every server; the hosted gateways have no
    event stream), showing progress on a terminal; Ctrl-C asks whether to cancel the task."""
    document = _poll_with_progress(client, task_id)
    if document["task"]["status"] == "TASK_STATUS_FAILED":
        _emit(document, as_json, None)
        raise _failure(document)
    if output is None:
        _emit(document, as_json, lambda: f"done: {document['videos'][0]['video_url']}")
        return
    _save(client, document, output, as_json)


def _failure(document: dict[str, Any]) -> Outcome:
    task = document["task"]
    reason = task.get("reason") or "no reason given"
    return Outcome(EXIT_TASK_FAILED, f"task {task['task_id']} failed: {reason}")


def _poll_with_progress(client: Client, task_id: str) -> dict[str, Any]:
    cancel_requested = False
    with _progress_bar() as progress:
        bar = progress.add_task("submitted", total=100, eta="") if progress else None
        document = client.result(task_id)
        while True:
            task = document["task"]
            if progress is not None and bar is not None:
                eta = f"ETA {round(task['eta'])} s" if task.get("eta") else ""
                word = STATUS_WORDS.get(task["status"], task["status"])
                progress.update(bar, completed=task.get("progress_percent", 0), description=word, eta=eta)
            if task["status"] in TERMINAL:
                return document
            try:
                time.sleep(POLL_INTERVAL_S)
                document = client.result(task_id)
            except KeyboardInterrupt:
                if progress is not None:
                    progress.stop()
                if cancel_requested or not _ask_to_cancel(task_id):
                    _emit(document, False, None)
                    raise Outcome(
                        EXIT_INTERRUPTED, f"task {task_id} left running; `vidgate wait {task_id}` follows it"
                    ) from None
                cancel_requested = True
                document = client.cancel(task_id)
                if progress is not None:
                    progress.start()


def _ask_to_cancel(task_id: str) -> bool:
    """Ask on the terminal (never on stdout, which may be piped); without one, leave it running."""
    if not sys.stdin.isatty():
        return False
    try:
        return typer.confirm(f"\nCancel task {task_id} on the server?", default=False, err=True)
    except (typer.Abort, KeyboardInterrupt, EOFError):  # a second Ctrl-C: leave it
        return False


@contextlib.contextmanager
def _progress_bar() -> Iterator[Progress | None]:
    """A rich progress bar on stderr when that is a terminal; None otherwise."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        yield None
        return
    columns = (
        TextColumn("{task.description:>9}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[eta]}"),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        yield progress


@contextlib.contextmanager
def render_progress() -> Iterator[Callable[[float], None]]:
    """For `vidgate generate`: an engine `on_progress` callback (a fraction in [0, 1]) that draws the
    same bar on stderr when it is a terminal, and does nothing otherwise (without even importing
    rich: a scripted `generate` pays nothing for it)."""
    if not sys.stderr.isatty():
        yield lambda _fraction: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    columns = (
        TextColumn("rendering"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("rendering", total=1.0)
        yield lambda fraction: progress.update(bar, completed=fraction)


def _save(client: Client, document: dict[str, Any], output: Path, as_json: bool) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    client.download(document, output)
    _emit(document | {"output": str(output)}, as_json, lambda: f"saved {output}")


# ---- connecting, printing, exit codes ----


@contextlib.contextmanager
def _session(server: str, api_key: str | None) -> Iterator[Client]:
    """A client for the server, and the one place that turns what went wrong into an exit code."""
    import httpx

    from vidgate.client import ApiError, Client

    try:
        key = _resolve_key(server, api_key)
        with Client(server.rstrip("/"), key) as client:
            yield client
    except Outcome as outcome:
        typer.echo(f"error: {outcome}" if outcome.code != EXIT_INTERRUPTED else str(outcome), err=True)
        raise typer.Exit(outcome.code) from None
    except ApiError as exc:
        typer.echo(f"error: {exc.code} {exc.reason}: {exc.message}", err=True)
        raise typer.Exit(EXIT_UNREACHABLE if exc.code >= 500 else EXIT_USAGE) from None
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        _fail(EXIT_USAGE, f"--server {server!r} is not an http(s) URL ({exc})")
    except httpx.TransportError as exc:
        _fail(EXIT_UNREACHABLE, f"cannot reach the server at {server}: {exc or type(exc).__name__}")
    except KeyboardInterrupt:  # outside the wait (submitting, downloading): nothing to ask
        _fail(EXIT_INTERRUPTED, "interrupted")


def _fail(code: int, message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _resolve_key(server: str, api_key: str | None) -> str:
    """--api-key / VIDGATE_API_KEY, else the dev key of a local `make run`. The dev key file is read
    only for a loopback server: a local secret is never sent to another host."""
    if api_key:
        return api_key
    host = urlsplit(server).hostname or ""
    if host in LOOPBACK_HOSTS and DEV_KEY_PATH.is_file():
        return DEV_KEY_PATH.read_text().strip()
    raise Outcome(EXIT_USAGE, "no API key: pass --api-key or set VIDGATE_API_KEY")


def _emit(document: dict[str, Any], as_json: bool, words: Callable[[], str] | None) -> None:
    """On a terminal, the words (if any); piped or with --json, the JSON document, one per run."""
    if as_json or not sys.stdout.isatty():
        typer.echo(json.dumps(document))
    elif words is not None:
        typer.echo(words())


def _describe(document: dict[str, Any], one_line: bool = False) -> str:
    task = document["task"]
    parts = [
        task["task_id"],
        STATUS_WORDS.get(task["status"], task["status"]),
        f"{task.get('progress_percent', 0)}%",
    ]
    if task["status"] not in TERMINAL and task.get("eta"):
        parts.append(f"ETA {round(task['eta'])} s")
    if task.get("reason"):
        parts.append(task["reason"])
    line = "  ".join(parts)
    if document.get("videos") and not one_line:
        line += "\n" + document["videos"][0]["video_url"]
    return line
