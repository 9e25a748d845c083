"""``roster``: serve the API, run workers, upgrade the schema, manage workspaces, read runs."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from roster.cli import batches as batches_cli
from roster.cli import export as export_cli
from roster.cli import load as load_cli
from roster.cli import runs as runs_cli
from roster.cli import users as users_cli
from roster.cli.common import or_exit, out
from roster.cli.startup import close_stores, open_store, show_version
from roster.domain.merges import DAY_MS, TOMBSTONE_KEPT_MS

if TYPE_CHECKING:
    from roster.domain.workspaces import Workspace

# Server-side packages are imported by the commands that use them, not here: `roster load` is a
# client, and starts in a fraction of the time without SQLAlchemy, Alembic and the services.

app = typer.Typer(
    help="Roster: customer data platform core (MoEngage, Customer.io and Masivo compatible).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
ws_app = typer.Typer(help="Workspaces (tenants) and their API keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(ws_app, name="workspace")
app.add_typer(runs_cli.app, name="runs")
app.add_typer(users_cli.app, name="user")
app.add_typer(export_cli.app, name="export")
app.add_typer(batches_cli.app, name="batches")
app.command("load")(load_cli.command)


@app.callback()
def _options(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    ctx.call_on_close(close_stores)  # whatever the command opened


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address [ROSTER_HOST].")] = None,
    port: Annotated[
        int | None, typer.Option(min=0, max=65535, help="Listen port [ROSTER_PORT].")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=0, max=64, help="Worker loops beside the API [ROSTER_WORKERS]."),
    ] = None,
    worker_processes: Annotated[
        bool | None,
        typer.Option(
            "--worker-processes/--worker-threads",
            help="Run the worker loops as child processes, a core each (the default), or as "
            "threads of this process [ROSTER_WORKER_PROCESSES].",
            show_default=False,
        ),
    ] = None,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="API only; run `roster worker` elsewhere.")
    ] = False,
    tls_cert: Annotated[
        str | None,
        typer.Option(help="PEM certificate: serve HTTPS only [ROSTER_TLS_CERT]."),
    ] = None,
    tls_key: Annotated[
        str | None, typer.Option(help="PEM private key of the certificate [ROSTER_TLS_KEY].")
    ] = None,
) -> None:
    """Run the HTTP API (and, unless --no-worker, the workers) after upgrading the schema.

    The worker loops are `roster worker` child processes, started again if one dies and
    stopped (after the batch in hand) when `serve` stops; with --worker-threads, threads of
    this process."""
    import uvicorn

    from roster import metrics
    from roster.api.app import create_app
    from roster.cli import startup
    from roster.cli.runtime import WorkerPool, WorkerProcesses, stop_on_signals

    settings = startup.settings_or_exit()
    cert, key = tls_cert or settings.tls_cert, tls_key or settings.tls_key
    startup.check_tls(cert, key)
    opened = open_store("create", settings=settings, announce=False)
    container = opened.container
    n = 0 if no_worker else (settings.workers if workers is None else workers)
    as_processes = settings.worker_processes if worker_processes is None else worker_processes
    config = uvicorn.Config(
        create_app(container),
        host=host or settings.host,
        port=settings.port if port is None else port,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
        ssl_certfile=cert,
        ssl_keyfile=key,
    )
    shown = {"workers": n, "worker_processes": as_processes, **opened.fields()}
    server = startup.listening_server(config, shown)
    workers_in_hand: WorkerPool | WorkerProcesses
    if as_processes:
        grace = settings.shutdown_grace_seconds
        env = metrics.share_with_children()  # their counts join this process's /metrics
        workers_in_hand = WorkerProcesses(
            n, grace, shutting_down=lambda: server.should_exit, env=env
        )
    else:
        workers_in_hand = WorkerPool(container, n)
    stop_on_signals(workers_in_hand, server)
    workers_in_hand.start()
    try:
        server.run()
    finally:
        workers_in_hand.stop()
        metrics.stop_sharing()
        container.db.dispose()


@app.command()
def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(
            min=1, max=64, help="Worker loops in this process [ROSTER_WORKER_CONCURRENCY]."
        ),
    ] = None,
    parent_pid: Annotated[
        int | None,
        typer.Option(hidden=True, help="Stop (as on SIGTERM) once this parent process is gone."),
    ] = None,
) -> None:
    """Apply queued batches until SIGTERM (the batch in hand is finished first)."""
    import structlog

    from roster.cli.runtime import WorkerPool, run_until_stopped

    opened = open_store("refuse", announce=False)
    container, settings = opened.container, opened.container.settings
    n = settings.worker_concurrency if concurrency is None else concurrency
    log = structlog.get_logger("roster.worker")
    log.info("worker.process_started", concurrency=n, **opened.fields())
    run_until_stopped(WorkerPool(container, n), parent_pid)
    container.db.dispose()


@app.command()
def purge(
    older_than_days: Annotated[
        float,
        typer.Option(min=0, help="Purge tombstones with no new data for this many days."),
    ] = TOMBSTONE_KEPT_MS / DAY_MS,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Delete merged customers' tombstones that received no new data for 30 days (workers
    also do it about once an hour)."""
    from roster.services.admin.purge import purge_tombstones

    container = open_store("refuse").container
    now = int(time.time() * 1000)
    kept_ms = int(older_than_days * DAY_MS)
    count = purge_tombstones(container.db, now, kept_ms=kept_ms)
    if as_json:
        typer.echo(json.dumps({"purged": count}))
    else:
        out.print(f"purged {count} tombstone{'s' if count != 1 else ''}")


@db_app.command("upgrade")
def db_upgrade(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Apply every schema migration not yet applied (creating a SQLite file if none exists)."""
    opened = open_store("create")
    if as_json:
        typer.echo(json.dumps({"revision": opened.revision, "previous": opened.previous}))
    else:
        out.print(f"schema at revision {opened.revision} (was {opened.previous or 'empty'})")


@ws_app.command("create")
def ws_create(
    name: str,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Create a workspace and print its id and API key (the key is shown only once)."""
    from roster.services.admin import workspace_admin

    container = open_store("create").container
    ws, key = or_exit(
        lambda: workspace_admin.create(
            container.db, name, default_limits=container.settings.default_limits
        )
    )
    _print_workspace(ws, as_json, api_key=key)


@ws_app.command("rotate-key")
def ws_rotate(
    workspace_id: str,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Issue a new API key; the old one stops working at once."""
    from roster.services.admin import workspace_admin

    container = open_store("refuse").container
    key = or_exit(lambda: workspace_admin.rotate_key(container.db, workspace_id))
    if as_json:
        typer.echo(json.dumps({"workspace_id": workspace_id, "api_key": key}))
    else:
        out.print(f"new API key for {workspace_id}: [bold]{key}[/bold] (shown once)")


@ws_app.command("list")
def ws_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List workspaces."""
    from roster.services.admin import workspace_admin

    rows = workspace_admin.list_all(open_store("refuse").container.db)
    if as_json:
        typer.echo(json.dumps([workspace_admin.describe(w) for w in rows]))
        return
    table = Table("workspace_id", "name", "identity resolution", "limits")
    for w in rows:
        table.add_row(w.id, w.name, "on" if w.identity_resolution else "off", _limits_text(w))
    out.print(table)


@ws_app.command("show")
def ws_show(
    workspace_id: str,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Show a workspace's settings."""
    from roster.services.admin import workspace_admin

    container = open_store("refuse").container
    _print_workspace(or_exit(lambda: workspace_admin.show(container.db, workspace_id)), as_json)


@ws_app.command("set")
def ws_set(
    workspace_id: str,
    identity_resolution: Annotated[
        bool | None,
        typer.Option("--identity-resolution/--no-identity-resolution", help="Turn it on or off."),
    ] = None,
    identifiers: Annotated[
        str | None,
        typer.Option(help="Comma-separated identifier attributes, e.g. email,moe_mobile."),
    ] = None,
    limits: Annotated[
        str | None, typer.Option(help="'vendor' (MoEngage's limits) or 'none' (unlimited).")
    ] = None,
    users_per_minute: Annotated[int | None, typer.Option(help="0 means unlimited.")] = None,
    events_per_minute: Annotated[int | None, typer.Option(help="0 means unlimited.")] = None,
    merges_per_minute: Annotated[
        int | None, typer.Option(help="Users merged away per minute; 0 means unlimited.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Change a workspace's identity resolution, identifiers and rate limits."""
    from roster.services.admin import workspace_admin

    container = open_store("refuse").container
    names = (
        None if identifiers is None else [n.strip() for n in identifiers.split(",") if n.strip()]
    )
    ws = or_exit(
        lambda: workspace_admin.configure(
            container.db,
            workspace_id,
            identity_resolution=identity_resolution,
            identifiers=names,
            limits=limits,
            users_per_minute=users_per_minute,
            events_per_minute=events_per_minute,
            merges_per_minute=merges_per_minute,
        )
    )
    _print_workspace(ws, as_json)


@ws_app.command("set-tiers")
def ws_set_tiers(
    workspace_id: str,
    tiers: Annotated[
        list[str] | None,
        typer.Argument(help="NAME=THRESHOLD on lifetime spend, e.g. Bronze=0 Silver=500 Gold=2000"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Set the loyalty tiers (none given: remove them); a profile's tier is the highest
    threshold at or below its lifetime spend_total."""
    from roster.services.admin import workspace_admin

    container = open_store("refuse").container
    pairs = []
    for text in tiers or []:
        name, sep, threshold = text.rpartition("=")
        if not sep:
            typer.echo(f"error: {text!r} must be NAME=THRESHOLD, e.g. Silver=500", err=True)
            raise typer.Exit(2)
        pairs.append((name, threshold))
    ws = or_exit(lambda: workspace_admin.set_tiers(container.db, workspace_id, pairs))
    _print_workspace(ws, as_json)


def _limits_text(ws: Workspace) -> str:
    lim = ws.limits
    if lim.unlimited:
        return "unlimited"
    return (
        f"{lim.users_per_minute or '∞'} users/min, {lim.events_per_minute or '∞'} events/min, "
        f"{lim.merges_per_minute or '∞'} merges/min"
    )


def _print_workspace(ws: Workspace, as_json: bool, api_key: str | None = None) -> None:
    from roster.services.admin import workspace_admin

    data = workspace_admin.describe(ws)
    if api_key is not None:
        data["api_key"] = api_key
    if as_json:
        typer.echo(json.dumps(data))
        return
    tiers = ", ".join(f"{t['name']}={t['threshold']}" for t in data["tiers"])
    lines = {
        "workspace_id": ws.id,
        "name": ws.name,
        "identity resolution": "on" if ws.identity_resolution else "off",
        "identifiers": ", ".join(ws.identifiers) or "none",
        "limits": _limits_text(ws),
        "tiers": tiers or "none",
        **({"api_key": api_key} if api_key is not None else {}),
    }
    for label, text in lines.items():
        out.print(f"{label}: {text}", markup=False, highlight=False)
    if api_key is not None:
        out.print("Keep the API key now: it is stored only as a hash and cannot be shown again.")
