"""``roster load KIND FILE...``: a whole migration from files, as one run (``roster.loader``)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.live import Live
from rich.text import Text

from roster.cli.common import out
from roster.loader.kinds import KINDS, PEOPLE_OPTIONS
from roster.loader.records import InputError
from roster.loader.run import LoadRequest, Outcome, Progress, load
from roster.loader.sender import LoadStopped
from roster.loader.state import StateError

LOG_EVERY = 5.0
KIND_HELP = ", ".join(KINDS)


def command(
    kind: Annotated[str, typer.Argument(help=f"What the files hold: {KIND_HELP}.")],
    files: Annotated[
        list[str], typer.Argument(help="JSON lines, a JSON array or CSV; .gz is read; - is stdin.")
    ],
    url: Annotated[
        str, typer.Option(envvar="ROSTER_URL", help="The target: Roster, or the vendor itself.")
    ] = "http://127.0.0.1:8000",
    workspace: Annotated[
        str, typer.Option(envvar="ROSTER_WORKSPACE", help="The workspace (MoEngage app) id.")
    ] = "",
    key: Annotated[
        str,
        typer.Option(
            envvar="ROSTER_KEY",
            help="The API key. Pass it in ROSTER_KEY: on the command line it shows in the "
            "process list. It never appears in logs or reports.",
            show_default=False,
        ),
    ] = "",
    run: Annotated[
        str | None,
        typer.Option(help="The run's name; by default one derived from the kind and the files."),
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=32, help="Requests in flight.")] = 4,
    report: Annotated[
        Path | None, typer.Option(help="The report's path (default: roster-load-RUN.csv).")
    ] = None,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Stop once every request is accepted.")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Rehearse on Roster: decide the run against the workspace's state, keep only "
            "its ledger, and report what a real run would do; nothing else changes.",
        ),
    ] = False,
    sample: Annotated[
        int,
        typer.Option(min=1, max=50_000, help="A dry run sends at most this many elements."),
    ] = 50_000,
    every_record: Annotated[
        bool,
        typer.Option(
            "--every-record",
            help="List applied records in the report too, each with what it did (created, "
            "updated, unchanged); a dry run's report always does.",
        ),
    ] = False,
    option: Annotated[
        list[str] | None,
        typer.Option(help=f"K=V for a people import: {', '.join(PEOPLE_OPTIONS)}."),
    ] = None,
    state_dir: Annotated[
        Path, typer.Option(help="Where each run keeps what it sent, to resume.")
    ] = Path(".roster-load"),
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print the outcome as one JSON object (progress still goes to standard error).",
        ),
    ] = False,
) -> None:
    """Load files into Roster (or a vendor) as one run: exactly once, paced, resumable.

    Records are packed into requests within the target's limits, each with an Idempotency-Key
    of the run and the chunk: run the same command again after any interruption and it resumes
    where the acknowledged requests end. Unless --no-wait, it waits for the run to be applied
    and writes a report of every record not applied, with its file and line. A migration of
    several kinds is one run in parts: one command per kind, each with the same --run (a dry
    run's last part rehearses them all, in order). Exit status: 0 when no record failed, 1
    when some did (see the report), 2 when the load could not run."""
    if kind not in KINDS:
        _stop(f"unknown KIND {kind!r}: one of {KIND_HELP}")
    if not key:
        _stop("no API key: set ROSTER_KEY (or --key)")
    options = _options(kind, option or [])
    request = LoadRequest(
        kind,
        files,
        url,
        workspace,
        key,
        run=run,
        concurrency=concurrency,
        wait=not no_wait,
        report=report,
        options=options,
        state_dir=state_dir,
        dry_run=dry_run,
        sample=sample,
        every_record=every_record,
    )
    try:
        with _display(live=not as_json) as show:
            outcome = load(request, show)
    except (LoadStopped, StateError, InputError, OSError, httpx.HTTPError) as exc:
        _stop(str(exc))
    if as_json:
        typer.echo(json.dumps(_as_json(outcome)))
        raise typer.Exit(_status(outcome))
    raise typer.Exit(_finish(outcome))


def _options(kind: str, given: list[str]) -> dict[str, str]:
    options: dict[str, str] = {}
    for item in given:
        name, eq, value = item.partition("=")
        if kind != "people":
            _stop(f"--option {item!r}: only a people import takes options")
        if not eq or name not in PEOPLE_OPTIONS:
            _stop(f"--option {item!r}: expected K=V with K one of {', '.join(PEOPLE_OPTIONS)}")
        options[name] = value
    return options


class _display:
    """A live progress line on a terminal; a log line every few seconds elsewhere."""

    def __init__(self, *, live: bool = True) -> None:
        self.live: Live | None = None
        self.last = 0.0
        self.said_done = False
        self.on_terminal = live and out.is_terminal

    def __enter__(self) -> _display:
        if self.on_terminal:
            self.live = Live(Text(""), console=out, refresh_per_second=4, transient=False)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)

    def __call__(self, p: Progress) -> None:
        line = _line(p)
        if self.live is not None:
            self.live.update(Text(line))
        elif time.monotonic() - self.last >= LOG_EVERY or (p.finished and not self.said_done):
            self.last = time.monotonic()
            self.said_done = p.finished
            print(line, file=sys.stderr, flush=True)


def _line(p: Progress) -> str:
    elapsed = max(time.monotonic() - p.started, 1e-6)
    decided = p.applied + p.skipped + p.failed
    rate = decided / elapsed
    eta = ""
    if p.done_sending and rate > 0 and p.elements_total > decided:
        eta = f", ETA {int((p.elements_total - decided) / rate)} s"
    return (
        f"run {p.run}: read {p.records_read:,}, sent {p.records_sent:,}, accepted "
        f"{p.records_accepted:,} records; applied {p.applied:,}, skipped {p.skipped:,}, failed "
        f"{p.failed:,} of {p.elements_total:,} elements ({rate:,.0f}/s{eta}); "
        f"{p.batches_queued} batches queued or in hand"
    )


def _finish(outcome: Outcome) -> int:
    out.print(f"run {outcome.run} (run the same command again to resume it)")
    if outcome.report is None:
        out.print("sent; not waiting (GET /v1/runs/RUN, or `roster runs show` beside the store)")
        return 1 if outcome.refused_chunks else 0
    c, e, s = outcome.counts, outcome.effects, outcome.summary
    if outcome.roster:
        out.print(
            f"applied {c.get('applied', 0):,} (created {e.get('created', 0):,}, updated "
            f"{e.get('updated', 0):,}, unchanged {e.get('unchanged', 0):,}), skipped "
            f"{c.get('skipped', 0):,}, failed {c.get('failed', 0):,} of {c.get('total', 0):,} "
            "elements"
        )
    for (result, code), n in sorted(s.codes.items(), key=lambda kv: -kv[1]):
        out.print(f"  {result} {code}: {n:,}")
    out.print(f"report: {outcome.report}")
    return _status(outcome)


def _status(outcome: Outcome) -> int:
    """0: nothing failed; 1: some records failed (the report names them) or were refused."""
    failed = any(result == "failed" for result, _ in outcome.summary.codes)
    return 1 if failed or outcome.refused_chunks else 0


def _as_json(outcome: Outcome) -> dict[str, Any]:
    """The outcome as ``--json`` prints it."""
    codes = [
        {"result": result, "code": code, "records": n}
        for (result, code), n in sorted(outcome.summary.codes.items(), key=lambda kv: -kv[1])
    ]
    return {
        "run": outcome.run,
        "waited": outcome.report is not None,
        "counts": outcome.counts if outcome.roster else None,
        "effects": outcome.effects if outcome.roster else None,
        "codes": codes,
        "refused_requests": outcome.refused_chunks,
        "report": None if outcome.report is None else str(outcome.report),
    }


def _stop(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)
