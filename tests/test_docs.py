"""The documentation says what the code does: settings, commands and links are checked here."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main
from typer.core import TyperGroup

from roster.cli.main import app
from roster.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
SETTINGS_DOC = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")
#: Environment variables the tests read that are not ``Settings`` fields.
NOT_SETTINGS = {"ROSTER_TEST_PG_ADMIN_URL"}


def env_name(field: str) -> str:
    return "ROSTER_" + field.upper()


def settings_table() -> dict[str, str]:
    """``{field: env var}`` from the rows of the table in docs/settings.md."""
    rows = {}
    for line in SETTINGS_DOC.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 2 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells[1].strip("`")
    return rows


def code_text(markdown: str) -> str:
    """The text of every fenced block and inline code span of a Markdown document."""
    fenced = re.findall(r"^```[^\n]*\n(.*?)^```", markdown, flags=re.S | re.M)
    outside = re.sub(r"^```[^\n]*\n.*?^```", "", markdown, flags=re.S | re.M)
    return "\n".join(fenced + re.findall(r"`([^`\n]+)`", outside))


def cli_commands() -> TyperGroup:
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    return group


def test_every_setting_is_documented_with_its_environment_variable() -> None:
    """Each Settings field has a row in docs/settings.md naming its ROSTER_ variable."""
    table = settings_table()
    for field in Settings.model_fields:
        assert table.get(field) == env_name(field), f"{field} missing from docs/settings.md"


def test_settings_doc_names_no_setting_that_does_not_exist() -> None:
    """Every row of the settings table is a real Settings field."""
    assert set(settings_table()) <= set(Settings.model_fields)


def cli_environment() -> set[str]:
    """The environment variables the CLI's options read (``ROSTER_KEY`` for ``roster load``)."""
    found: set[str] = set()
    groups = [cli_commands()]
    while groups:
        for command in groups.pop().commands.values():
            if isinstance(command, TyperGroup):
                groups.append(command)
            for param in command.params:
                envvar = getattr(param, "envvar", None)
                found.update([envvar] if isinstance(envvar, str) else envvar or [])
    return found


def test_readme_names_only_real_environment_variables() -> None:
    """Every ROSTER_ variable in README.md is a setting, one a CLI option reads, or one the
    tests read."""
    known = {env_name(f) for f in Settings.model_fields} | NOT_SETTINGS | cli_environment()
    assert set(re.findall(r"ROSTER_[A-Z_]+", README)) <= known


def test_readme_set_up_commands_are_makefile_targets() -> None:
    """README.md gives `make run` and `make test`, and both are targets in the Makefile."""
    for target in ("run", "test"):
        assert f"make {target}" in README
        assert re.search(rf"^{target}:", MAKEFILE, flags=re.M), f"no '{target}:' in Makefile"


def test_ci_runs_make_test() -> None:
    """The CI script runs `make test`, the command the README gives."""
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert "make test" in [line.strip() for line in lines]


def test_every_roster_command_in_the_readme_exists() -> None:
    """Each `roster COMMAND [SUBCOMMAND]` in README.md's code is a command of the CLI."""
    root = cli_commands()
    named = re.findall(r"\broster ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?", code_text(README))
    assert named, "README.md names no roster command"
    for command, sub in named:
        assert command in root.commands, f"roster {command}: no such command"
        group = root.commands[command]
        if isinstance(group, TyperGroup) and sub:  # a group may be named on its own
            assert sub in group.commands, f"roster {command} {sub}: no such command"


def test_every_roster_option_in_the_readme_exists() -> None:
    """Each option given to a roster command in README.md's code is an option of that command."""
    root = cli_commands()
    pattern = r"\broster ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?((?: [^\s`]+)*)"
    for command, sub, rest in re.findall(pattern, code_text(README)):
        cmd = root.commands.get(command)
        if isinstance(cmd, TyperGroup):
            cmd = cmd.commands.get(sub)
        if cmd is None:  # an unknown command or a bare group: the test above reports those
            continue
        options = {o for p in cmd.params for o in [*p.opts, *p.secondary_opts]}
        for option in re.findall(r"(?<!\S)(--[a-z][a-z-]*)", rest):
            assert option in options, f"roster {command} {sub}: no option {option}"


def test_readme_links_to_docs_point_to_files() -> None:
    """Every docs/*.md link in README.md names a file that exists."""
    links = re.findall(r"\]\((docs/[^)#\s]+)", README)
    assert links
    for link in links:
        assert (ROOT / link).is_file(), f"README.md links to missing {link}"


def test_links_between_docs_point_to_files() -> None:
    """Every relative .md link inside docs/ names a file that exists."""
    for doc in (ROOT / "docs").glob("*.md"):
        for link in re.findall(r"\]\(([^):#\s]+\.md)", doc.read_text(encoding="utf-8")):
            assert (doc.parent / link).is_file(), f"{doc.name} links to missing {link}"


def test_files_the_readme_posts_exist() -> None:
    """Every `--data @FILE` in README.md names a file in the repository."""
    files = re.findall(r"--data @(\S+)", README)
    assert files
    for name in files:
        assert (ROOT / name).is_file(), f"README.md posts missing {name}"
