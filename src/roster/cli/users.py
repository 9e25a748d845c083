"""``roster user create|list|delete|set-password``: the operators who sign in to the dashboard
(``/ui/``), apart from workspaces' data keys. A password is read from standard input (one
line: ``echo "$PW" | roster user create a@example.com``), or asked twice on a terminal."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from roster.cli.common import or_exit, out

app = typer.Typer(help="Operators: the people who sign in to the dashboard.", no_args_is_help=True)
Email = Annotated[str, typer.Argument(help="The operator's email, used to sign in.")]


def _password() -> str:
    """One line of standard input, or asked twice (hidden) on a terminal."""
    if sys.stdin.isatty():
        entered: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        return entered
    return sys.stdin.readline().removesuffix("\n").removesuffix("\r")


@app.command("create")
def create(
    email: Email,
    role: Annotated[
        str, typer.Option(help="'viewer' reads every page; 'admin' may also change settings.")
    ] = "viewer",
) -> None:
    """Create an operator (password from standard input)."""
    from roster.cli.startup import open_store
    from roster.services.operators import accounts

    password = _password()
    db = open_store("create").container.db
    found = or_exit(lambda: accounts.create(db, email, password, role))
    out.print(f"operator {found.email} created ({found.role.value})")


@app.command("list")
def list_users(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List operators, their roles and their sign-ins."""
    from roster.cli.startup import open_store
    from roster.services.operators import accounts

    db = open_store("refuse").container.db
    rows = accounts.list_all(db)
    if as_json:
        typer.echo(json.dumps(rows))
        return
    table = Table("email", "role", "created", "last sign-in", "failed sign-ins")
    for r in rows:
        last = r["last_sign_in_at"] or "-"
        table.add_row(r["email"], r["role"], r["created_at"], last, str(r["failed_sign_ins"]))
    out.print(table)


@app.command("delete")
def delete(email: Email) -> None:
    """Delete an operator; its sessions stop working at once."""
    from roster.cli.startup import open_store
    from roster.services.operators import accounts

    db = open_store("refuse").container.db
    address = or_exit(lambda: accounts.delete(db, email))
    out.print(f"operator {address} deleted")


@app.command("set-password")
def set_password(email: Email) -> None:
    """Set an operator's password (from standard input); its sessions stop working."""
    from roster.cli.startup import open_store
    from roster.services.operators import accounts

    password = _password()
    db = open_store("refuse").container.db
    address = or_exit(lambda: accounts.set_password(db, email, password))
    out.print(f"password of {address} set; its sessions are signed out")
