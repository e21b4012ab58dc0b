"""Operator commands on the deployment's own database and storage: `vidgate gc` and `vidgate usage`."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Annotated

import typer

from vidgate.settings import Settings

if TYPE_CHECKING:
    from vidgate.store.sql import SqlTaskStore


@dataclass(frozen=True)
class CliContext:
    """What these commands take from cli.py: the settings (a bad one stops the command in its own
    words), the task store, and the guard that turns a store that cannot open into an error line."""

    settings: Callable[[], Settings]
    store: Callable[[Settings], SqlTaskStore]
    store_must_open: Callable[[], AbstractContextManager[None]]


_context: CliContext | None = None


def register(app: typer.Typer, context: CliContext) -> None:
    global _context
    _context = context
    app.command("gc")(gc)
    app.command("usage")(usage)


def _cli() -> CliContext:
    assert _context is not None, "cli_ops.register runs when vidgate.cli is imported"
    return _context


def gc(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be deleted; delete nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document instead of lines.")] = False,
) -> None:
    """Delete the videos and stored inputs older than VIDGATE_RETENTION now (workers' sweeps do it
    too); prints what was deleted and how many bytes."""
    from vidgate.storage import open_store
    from vidgate.worker.gc import collect_garbage

    cli = _cli()
    settings = cli.settings()
    retention_s = settings.retention_seconds()
    if retention_s is None:
        typer.echo("VIDGATE_RETENTION is 0: everything is kept; nothing to do", err=True)
        raise typer.Exit(0)
    with cli.store_must_open():
        objects = open_store(settings)
    report = collect_garbage(cli.store(settings), objects, retention_s, dry_run=dry_run, passes=1_000_000)
    if as_json:
        typer.echo(json.dumps(asdict(report) | {"retention": settings.retention}))
        return
    for key in report.keys:
        typer.echo(f"{'would delete' if dry_run else 'deleted'} {key}")
    typer.echo(f"{report.summary()} (retention {settings.retention})")


def usage(
    key: Annotated[
        str | None, typer.Option(help="Only this key: its id, or its prefix as `keys list` shows it.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="First UTC day, YYYY-MM-DD (default: 29 days ago).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Last UTC day, YYYY-MM-DD (default: today).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document instead of lines.")] = False,
) -> None:
    """Usage from the ledger, per tenant, key and engine: tasks submitted, succeeded, failed and
    cancelled, seconds of video delivered and of rendering."""
    from vidgate.tasks.usage import BadUsageQuery, parse_usage_query

    settings = _cli().settings()
    try:
        query = parse_usage_query(since, until, "")  # the window; the operator's view groups by tenant too
    except BadUsageQuery as exc:
        typer.echo(f"error: --{exc.field}: {exc}", err=True)
        raise typer.Exit(2) from None
    store = _cli().store(settings)
    keys = {known.id: known for known in store.keys.list()}
    key_id = None
    if key is not None:
        wanted = key.strip().removesuffix("…").removesuffix("...")
        matches = [k for k in keys.values() if wanted and (k.id == wanted or k.prefix.startswith(wanted))]
        if len(matches) != 1:
            typer.echo(f"error: --key {key!r} names {'no' if not matches else 'more than one'} key", err=True)
            raise typer.Exit(2)
        key_id = matches[0].id
    groups = ("tenant", "key", "engine")
    rows = store.usage.report(since=query.since, until=query.until, group_by=groups, key_id=key_id)
    window = {"since": query.since.isoformat(), "until": query.until.isoformat()}
    if as_json:
        listed = [
            {"tenant_id": row.group["tenant"], "key_id": row.group["key"], "engine": row.group["engine"]}
            | asdict(row.figures)
            for row in rows
        ]
        typer.echo(json.dumps(window | {"rows": listed}))
        return
    typer.echo(f"usage {window['since']} .. {window['until']} (UTC days)")
    for row in rows:
        known = keys.get(row.group["key"])
        name = f"{known.prefix}… ({known.name})" if known else (row.group["key"] or "(no key)")
        f = row.figures
        typer.echo(
            f"{row.group['tenant']}  {name}  {row.group['engine']}  submitted={f.submitted} "
            f"succeeded={f.succeeded} failed={f.failed} cancelled={f.cancelled} "
            f"video_s={f.video_seconds:g} render_s={f.render_seconds:.1f}"
        )
    if not rows:
        typer.echo("no tasks in this window")
