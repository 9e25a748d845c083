"""What the command groups share: the console, and how a refused action ends a command."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from roster.domain.errors import RosterError

out = Console()
T = TypeVar("T")

#: ``--workspace``, the option of every command about one workspace's batches or runs.
Workspace = Annotated[
    str, typer.Option("--workspace", envvar="ROSTER_WORKSPACE", help="The workspace id.")
]


def or_exit(action: Callable[[], T]) -> T:
    """``action()``; a refusal (``RosterError``) is printed and ends the command with 2."""
    try:
        return action()
    except RosterError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
