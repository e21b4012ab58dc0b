"""The `vidgate` command: serve, worker, keys, generate, doctor, gc, usage."""

from __future__ import annotations

import base64
import contextlib
import functools
import io
import json
import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from pydantic import ValidationError

from vidgate import cli_client, cli_ops
from vidgate.settings import Settings

if TYPE_CHECKING:  # imported lazily at run time: `vidgate --help` stays fast
    import numpy as np
    from pydantic_core import ErrorDetails

    from vidgate.store.sql import SqlTaskStore

# Plain help, not typer's rich panels: those show a `<bool>` value on every flag (`--bgm <bool>`,
# even `--help <bool>`), as if flags took a value.
app = typer.Typer(
    help="vidgate: a self-hosted image-to-video server.", no_args_is_help=True, rich_markup_mode=None
)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(keys_app, name="keys")


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"vidgate {version('vidgate')}")
        raise typer.Exit()


@app.callback()
def _main(
    _version: Annotated[
        bool | None,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = None,
) -> None:
    """vidgate: a self-hosted image-to-video server."""


DEV_KEY_FILE = "dev-api-key"
EXAMPLE_REQUEST_FILE = "example-request.json"


def _store(settings: Settings) -> SqlTaskStore:
    from vidgate.store.db import open_task_store

    return open_task_store(settings.resolved_database_url())


def _settings_or_exit(cli_options: Mapping[str, object] | None = None) -> Settings:
    """The settings, with `cli_options` (field name: value given on the command line, None when
    not given) over the environment. A bad value stops the command with one line per value, naming
    the variable or option as the user wrote it, instead of pydantic's traceback."""
    # Passed as init values, which pydantic-settings ranks above the environment: an option is
    # checked like its variable, and a bad variable it overrides does not stop the command.
    given: dict[str, Any] = {
        field: value for field, value in (cli_options or {}).items() if value is not None
    }
    try:
        return Settings(**given)
    except ValidationError as exc:
        for error in exc.errors():
            typer.echo(f"error: {_describe_setting_error(error, given)}", err=True)
        raise typer.Exit(2) from None


def _describe_setting_error(error: ErrorDetails, cli_options: Mapping[str, object]) -> str:
    problem = error["msg"].removeprefix("Value error, ")
    if not error["loc"]:  # a check across fields, whose message names them; its input is every value
        return f"settings: {problem}"
    field = str(error["loc"][0])
    source = f"--{field.replace('_', '-')}" if field in cli_options else f"VIDGATE_{field.upper()}"
    # A secret goes to the terminal and its scrollback, and often to a log: name it, never echo it.
    given = "not shown, it is a secret" if "secret" in field else f"given {error['input']!r}"
    return f"{source}: {problem} ({given})"


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port.")] = None,
    workers: Annotated[int | None, typer.Option(help="Embedded worker processes (0 = API only).")] = None,
    dev: Annotated[bool, typer.Option(help="Create a local dev key if none, print a curl to try.")] = False,
    api_workers: Annotated[
        int | None, typer.Option(help="API processes on the one port (default VIDGATE_API_WORKERS, 1).")
    ] = None,
) -> None:
    """Start the API server (and embedded workers)."""
    import uvicorn

    from vidgate.app import create_app
    from vidgate.worker.process import EmbeddedWorkers

    options = {"host": host, "port": port, "workers": workers, "api_workers": api_workers}
    settings = _settings_or_exit(options)
    _engines_must_run(settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Built here even for several API processes: the migrations, the kept secrets and the dev key
    # happen once, before any API process starts.
    with _store_must_open():
        application = create_app(settings)
    if dev:
        _print_dev_instructions(settings, _ensure_dev_key(settings, application.state.services.store))
    embedded = EmbeddedWorkers(settings, settings.workers)
    try:
        if settings.api_workers == 1:
            uvicorn.run(application, host=settings.host, port=settings.port, log_level="info")
        else:
            # Each API process builds its own app from the environment: hand it the options too.
            os.environ.update({f"VIDGATE_{k.upper()}": str(v) for k, v in options.items() if v is not None})
            application.state.services.store.engine.dispose()  # this process serves no request
            uvicorn.run(
                "vidgate.app:create_app",
                factory=True,
                host=settings.host,
                port=settings.port,
                workers=settings.api_workers,
                log_level="info",
            )
    finally:
        embedded.stop()


@app.command()
def worker(
    engines: Annotated[
        str | None,
        typer.Option(help="Engines this worker runs, comma-separated (default: every enabled engine)."),
    ] = None,
    device: Annotated[
        str | None,
        typer.Option(
            help="The GPU of this worker's diffusers engine, e.g. cuda:1 (VIDGATE_DIFFUSERS_DEVICE)."
        ),
    ] = None,
) -> None:
    """Run a standalone worker against the configured database and storage."""
    from vidgate.worker.process import run_worker_until_signalled

    settings = _settings_or_exit({"worker_engines": engines, "diffusers_device": device})
    _engines_must_run(settings)
    with _store_must_open():
        run_worker_until_signalled(settings)


def _engines_must_run(settings: Settings) -> None:
    """An enabled engine that cannot run (an unknown name, a missing API key or model folder) stops
    the command at start with its reason in one line."""
    from vidgate.engines import check_deployment

    try:
        check_deployment(settings)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@contextlib.contextmanager
def _store_must_open() -> Iterator[None]:
    """A store that cannot open (a bucket out of reach, a missing extra) stops the command with
    its reason, not a traceback."""
    from vidgate.storage import StorageUnavailable

    try:
        yield
    except StorageUnavailable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="A label for the key.")],
    tenant: Annotated[str | None, typer.Option(help="Tenant the key acts for (default: the name).")] = None,
    rate: Annotated[
        str | None, typer.Option(help="Submits per period: N/s, N/min, N/hour, N/day or 'unlimited'.")
    ] = None,
    concurrency: Annotated[
        str | None, typer.Option(help="Tasks queued or processing at once (0 or 'unlimited': none).")
    ] = None,
    daily: Annotated[str | None, typer.Option(help="Tasks per UTC day (0 or 'unlimited': none).")] = None,
    engine: Annotated[
        str | None, typer.Option(help="Pin the key to this engine: its tasks run there only.")
    ] = None,
) -> None:
    """Create a key; prints only the key (shown once, stored hashed). Limits left out take the
    VIDGATE_KEY_DEFAULT_* settings (unlimited unless set)."""
    from vidgate.tasks.limits import KeyLimits, parse_count, parse_rate

    for option, value in (("--name", name), ("--tenant", tenant)):
        if value is not None and not value.strip():
            typer.echo(f"error: {option} must not be empty", err=True)
            raise typer.Exit(2)
    settings = _settings_or_exit()
    try:
        per, period = parse_rate(rate if rate is not None else settings.key_default_rate)
        limits = KeyLimits(
            rate=per,
            rate_period_s=period,
            concurrency=parse_count(
                concurrency if concurrency is not None else settings.key_default_concurrency, "concurrency"
            ),
            daily=parse_count(daily if daily is not None else settings.key_default_daily, "daily"),
        )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    enabled = settings.enabled_engines()
    if engine is not None and engine not in enabled:
        typer.echo(f"error: --engine {engine!r} is not enabled ({', '.join(enabled)})", err=True)
        raise typer.Exit(2)
    _record, secret = _store(settings).keys.create(name, tenant, limits, engine)
    typer.echo(secret)


@keys_app.command("list")
def keys_list() -> None:
    """List keys (prefix, name, tenant, limits, state); never the keys themselves."""
    for key in _store(_settings_or_exit()).keys.list():
        state = "revoked" if key.revoked_ms else "active"
        limits = key.limits.describe()
        engine = f"  engine={key.engine}" if key.engine else ""
        typer.echo(
            f"{key.id}  {key.prefix}…  name={key.name}  tenant={key.tenant_id}  {limits}{engine}  {state}"
        )


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="Key id, or prefix as `keys list` shows it (or its start).")],
) -> None:
    """Revoke a key; it stops working at once."""
    from vidgate.store.keys import Revocation

    # `keys list` ends each prefix with an ellipsis; a prefix copied from it, with either spelling
    # of the ellipsis, names the key.
    id_or_prefix = key.strip().removesuffix("…").removesuffix("...")
    outcome = _store(_settings_or_exit()).keys.revoke(id_or_prefix)
    if outcome is Revocation.AMBIGUOUS:
        typer.echo(
            f"several active keys match {id_or_prefix!r}: give more of the prefix, or the key id"
            " (see `vidgate keys list`)",
            err=True,
        )
        raise typer.Exit(1)
    if outcome is Revocation.NO_MATCH:
        typer.echo(f"no active key {id_or_prefix!r}", err=True)
        raise typer.Exit(1)
    typer.echo("revoked")


@app.command()
def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document instead of lines.")] = False,
    quiet_ok: Annotated[bool, typer.Option("--quiet-ok", help="Print only warnings and failures.")] = False,
) -> None:
    """Check this host: codecs, database, clock, storage, engines, speech, signing secret. Exit 1 on
    any failure."""
    from vidgate.doctor import report

    raise typer.Exit(report(_settings_or_exit(), as_json=as_json, quiet_ok=quiet_ok))


@app.command("webhook-secret")
def webhook_secret() -> None:
    """Print the secret that signs webhooks (Standard Webhooks `whsec_...`), for your receiver."""
    typer.echo(_settings_or_exit().resolved_webhook_secret())


@app.command()
def generate(
    images: Annotated[list[Path], typer.Argument(help="Input images (PNG, JPEG, WebP).", exists=True)],
    prompt: Annotated[str, typer.Option(help="What the video shows; camera words pick the move.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the MP4.")],
    duration: Annotated[int, typer.Option(min=1, max=10)] = 5,
    resolution: Annotated[str, typer.Option(help="540p, 720p or 1080p")] = "720p",
    movement_amplitude: Annotated[str, typer.Option(help="auto, small, medium, high")] = "auto",
    seed: Annotated[int | None, typer.Option(help="Same seed => same video.")] = None,
    bgm: Annotated[bool, typer.Option("--bgm", help="Add background music.")] = False,
    audio: Annotated[bool, typer.Option("--audio", help="Add ambience and speak quoted text.")] = False,
    voice_id: Annotated[str | None, typer.Option(help="Voice of the speech (see GET /v3/voices).")] = None,
    watermark: Annotated[bool, typer.Option("--watermark", help="Add the visible watermark.")] = False,
    quality: Annotated[
        Literal["fast", "balanced", "best"] | None,
        typer.Option(help="x264 preset/CRF and resampling; default VIDGATE_QUALITY (balanced)."),
    ] = None,
) -> None:
    """Render locally with no server, through the same engine path as the worker."""
    from vidgate.engines import get_engine
    from vidgate.engines.base import RenderError
    from vidgate.errors import VidgateError
    from vidgate.inputs.images import check_image_count, normalised_pixels
    from vidgate.schemas import SubmitRequest
    from vidgate.worker.jobs import build_render_job, load_images

    settings = _settings_or_exit()
    try:
        check_image_count(len(images), settings.max_images)
        request = SubmitRequest(
            images=[str(p) for p in images],
            prompt=prompt,
            duration=duration,
            resolution=resolution,
            movement_amplitude=movement_amplitude,
            seed=seed,
            bgm=bgm,
            audio=audio,
            voice_id=voice_id,
            watermark=watermark,
        )
    except VidgateError as exc:
        typer.echo(f"error: {exc.reason}: {exc.message}", err=True)
        raise typer.Exit(2) from None
    except ValidationError as exc:
        # Imported only here: it brings in FastAPI, which a render that goes well never needs.
        from vidgate.api.errors import describe_validation_error

        refusal = describe_validation_error(list(exc.errors()))  # the server's own words for it
        typer.echo(f"error: {refusal.reason}: {refusal.message}", err=True)
        raise typer.Exit(2) from None
    params = request.to_params([])  # the images are read below, one at a time
    engine = get_engine(settings.engine, settings)

    def read(index: int, path: Path) -> np.ndarray:
        data = path.read_bytes()
        return normalised_pixels(data, index, settings.max_image_bytes, settings.max_image_pixels)

    try:
        loaders = [functools.partial(read, i, p) for i, p in enumerate(images)]
        arrays = load_images(params, loaders, engine)
        job, sound_info = build_render_job(params, arrays, output, settings, engine.name, quality)
    except (VidgateError, RenderError) as exc:
        typer.echo(f"error: {exc.reason}: {exc.message}", err=True)
        raise typer.Exit(2) from None
    output.parent.mkdir(parents=True, exist_ok=True)
    with cli_client.render_progress() as on_progress:  # a bar on a terminal, else nothing
        result = engine.render(job, on_progress, lambda: False)
    typer.echo(
        json.dumps(
            {
                "output": str(result.path),
                "seed": params.seed,
                "width": result.width,
                "height": result.height,
                "frames": result.frames,
                **sound_info,
                **result.info,
            }
        )
    )


def _ensure_dev_key(settings: Settings, store: SqlTaskStore) -> str:
    """The local dev key is kept in plain text under the data folder (the database has only its hash),
    so `make run` can print a working curl every time."""
    path = settings.data_dir / DEV_KEY_FILE
    if path.exists():
        secret = path.read_text().strip()
        if store.keys.authenticate(secret) is not None:
            return secret
    _record, secret = store.keys.create("dev", "dev")
    path.unlink(missing_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        out.write(secret + "\n")  # created owner-only: never readable by others, not even briefly
    return secret


def _print_dev_instructions(settings: Settings, secret: str) -> None:
    request_path = settings.data_dir / EXAMPLE_REQUEST_FILE
    body = {
        "images": [_example_image_data_uri()],
        "prompt": "Slow zoom in on a warm sunset over the sea",
        "duration": 5,
        "resolution": "720p",
        "movement_amplitude": "auto",
        "seed": 123,
    }
    request_path.write_text(json.dumps(body, indent=2) + "\n")
    base = f"http://{settings.host}:{settings.port}"
    typer.echo(
        "\nvidgate is starting. Dev API key: " + secret + "\n\nSubmit a task:\n"
        f"  curl -s -X POST {base}/v3/async/vidu-q2-pro-img2video \\\n"
        f"    -H 'Authorization: Bearer {secret}' -H 'Content-Type: application/json' \\\n"
        f"    -d @{request_path}\n\nThen poll it (use the task_id printed above):\n"
        f"  curl -s -H 'Authorization: Bearer {secret}' "
        f"'{base}/v3/async/task-result?task_id=TASK_ID'\n"
    )


def _example_image_data_uri() -> str:
    """A small sunset gradient, so the example runs with no network and no files."""
    import numpy as np
    from PIL import Image

    height, width = 144, 256
    y = np.linspace(0, 1, height)[:, None, None]
    x = np.linspace(0, 1, width)[None, :, None]
    sky = np.array([255, 140, 60]) * (1 - y) + np.array([40, 60, 140]) * y
    sun = 255 * np.exp(-(((x - 0.5) ** 2) + ((y - 0.45) ** 2)) / 0.01)
    pixels = np.clip(sky + sun * np.array([1.0, 0.9, 0.6]), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


# The commands that talk to a running server (submit, status, wait, ...): see cli_client.py.
cli_client.register(app)
# The operator's `gc` and `usage`: see cli_ops.py.
cli_ops.register(app, cli_ops.CliContext(_settings_or_exit, _store, _store_must_open))
