"""What a command does before its work: read the settings, find the store, open it, say so.

A bad setting, a database that cannot be reached or opened, or a TLS file that cannot be read
is one line on stderr (``error: ...``) and exit status 2, never a traceback. Where no SQLite
file exists yet, a command either creates it and says so (``serve`` in its start-up line,
``db upgrade`` and ``workspace create`` on stderr) or refuses, naming the file it would have
created (``worker``, and every command that reads or changes what a store already holds): see
docs/operating.md, "Where there is no database".
"""

from __future__ import annotations

import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn

import typer

from roster import __version__

if TYPE_CHECKING:
    from roster.bootstrap import Container
    from roster.settings import Settings
    from roster.store.database import Database

Missing = Literal["create", "refuse"]
EXIT_USAGE = 2


def fail(message: str) -> NoReturn:
    """One line on stderr, exit status 2."""
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    raise typer.Exit(EXIT_USAGE)


def show_version(value: bool) -> None:
    """``roster --version``."""
    if value:
        typer.echo(f"roster {__version__}")
        raise typer.Exit()


def settings_or_exit() -> Settings:
    """``Settings()``; a value that breaks a bound names its variable, on one line."""
    from pydantic import SecretStr, ValidationError

    from roster.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            info = Settings.model_fields.get(field)
            secret = info is not None and SecretStr in getattr(info.annotation, "__args__", ())
            given = "" if secret else f"={str(error.get('input'))[:80]}"
            problems.append(f"ROSTER_{field.upper()}{given}: {error['msg']}")
        fail("bad setting: " + "; ".join(problems))


def masked(url: str) -> str:
    """The store's URL as it may be shown: its password, if any, as ``***``."""
    import sqlalchemy as sa

    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(an unreadable URL)"


def sqlite_path(url: str) -> Path | None:
    """The file a ``sqlite://`` URL names (absolute), or ``None`` for any other store."""
    import sqlalchemy as sa

    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        return None
    name = parsed.database or ""
    if (
        parsed.get_backend_name() != "sqlite"
        or name in ("", ":memory:")
        or name.startswith("file:")
    ):
        return None
    return Path(name).absolute()


@dataclass(frozen=True, slots=True)
class Opened:
    """A store opened by a command: its container, the schema revision it is at, the revision
    it was at before (when migrations ran), and whether the SQLite file was created now."""

    container: Container
    revision: str | None
    previous: str | None
    created: bool

    def fields(self) -> dict[str, Any]:
        """What the start-up log line says of the store."""
        settings = self.container.settings
        found: dict[str, Any] = {
            "version": __version__,
            "store": masked(settings.database_url),
            "revision": self.revision,
        }
        path = sqlite_path(settings.database_url)
        if path is not None:
            found["path"] = str(path)
        if self.previous != self.revision:
            found["upgraded_from"] = self.previous
        if self.created:
            found["created"] = True
        return found


def open_store(
    missing: Missing,
    *,
    settings: Settings | None = None,
    announce: bool = True,
) -> Opened:
    """Read the settings (unless given), open the store and migrate it.

    Where the SQLite file does not exist, ``missing`` says whether to create it (said on
    stderr when ``announce``) or to refuse, naming it."""
    settings = settings or settings_or_exit()
    path = sqlite_path(settings.database_url)
    created = path is not None and not path.exists()
    if created and missing == "refuse":
        fail(
            f"no database at {path} (ROSTER_DATABASE_URL={masked(settings.database_url)}); "
            "create it with `roster db upgrade` (or `roster serve`), or point "
            "ROSTER_DATABASE_URL at the store you meant"
        )
    if created and path is not None:
        _check_can_create(path)
        if announce:
            typer.echo(f"note: no database at {path}: creating it", err=True)
    return _opened(settings, created=created)


def _check_can_create(path: Path) -> None:
    """The SQLite file's directory exists and this process may write in it."""
    where = f"cannot create the database {path}: unable to open database file"
    if not path.parent.is_dir():
        fail(f"{where} ({path.parent} is not a directory)")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        fail(f"{where} ({path.parent} is not writable)")


def _opened(settings: Settings, *, created: bool) -> Opened:
    import sqlalchemy as sa
    from alembic.util import CommandError

    from roster.bootstrap import bootstrap
    from roster.store import migrations

    container = None
    try:
        container = bootstrap(settings)
        previous = migrations.current_revision(container.db)
        migrations.upgrade(container.db)
        revision = migrations.current_revision(container.db)
    except (sa.exc.SQLAlchemyError, CommandError, OSError, ValueError) as exc:
        if container is not None:
            container.db.dispose()
        fail(f"cannot open the database {masked(settings.database_url)}: {_reason(exc, settings)}")
    _open.append(container.db)
    return Opened(container, revision, previous, created)


#: The stores the running command opened, closed when it ends (``close_stores``).
_open: list[Database] = []


def close_stores() -> None:
    """Close the connections of every store this command opened (the CLI's root context
    calls it when the command ends, however it ends)."""
    while _open:
        _open.pop().dispose()


def _reason(exc: BaseException, settings: Settings) -> str:
    """The cause, in words, without the password and without SQLAlchemy's links."""
    import sqlalchemy as sa

    cause = exc.orig if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None else exc
    text = " ".join(str(cause).split()) or type(cause).__name__
    try:
        password = sa.make_url(settings.database_url).password
    except sa.exc.ArgumentError:
        password = None
    if password:
        text = text.replace(str(password), "***")
    return text.replace(settings.database_url, masked(settings.database_url))


def check_tls(cert: str | None, key: str | None) -> None:
    """Both TLS files or neither, and readable as a certificate and its key."""
    if (cert is None) != (key is None):
        fail("HTTPS needs both a certificate and its key (--tls-cert, --tls-key)")
    if cert is None or key is None:
        return
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        fail(f"cannot use the TLS certificate {cert} with the key {key}: {exc}")


def listening_server(config: Any, started: dict[str, Any]) -> Any:
    """A uvicorn server that logs ``serve.started`` (``started`` and the address it listens
    on) once its socket is bound."""
    import structlog
    import uvicorn

    log = structlog.get_logger("roster.serve")

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                log.info("serve.started", listening=_addresses(self), **started)

    return Server(config)


def _addresses(server: Any) -> list[str]:
    scheme = "https" if server.config.ssl else "http"
    found = []
    for bound in server.servers:
        for sock in bound.sockets or ():
            host, port = sock.getsockname()[:2]
            found.append(
                f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"
            )
    return found
