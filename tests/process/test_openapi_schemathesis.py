"""The published API is the real one: schemathesis (``--checks all``) against a real ``roster
serve``, on PostgreSQL and on SQLite, finds no failure.

It reads ``/openapi.json`` and sends what it generates from it, valid and invalid, with a
workspace's credentials: no 5xx, no undocumented status code, no schema-valid request refused,
no schema-violating request accepted (element shapes marked ``x-roster-ledger`` take any JSON:
their problems go to the batch's ledger), the right ``Allow`` on a 405. The settings it runs
with (the workspace id pinned in paths, the few operations with a rule OpenAPI cannot state)
are in ``schemathesis.toml`` beside this file; docs/api.md shows how to run it by hand.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from process_kit import Cluster, store_of

from roster_testkit import Tenant

pytestmark = pytest.mark.process

CONFIG = Path(__file__).with_name("schemathesis.toml")
#: Test cases per operation and phase: each store's run takes about 30 s on 2 cores.
MAX_EXAMPLES = int(os.environ.get("ROSTER_ST_MAX_EXAMPLES", "10"))
#: A fixed seed by default, so a failure is reproduced by running the test again.
SEED = os.environ.get("ROSTER_ST_SEED", "20240408")


def st_command(base_url: str, tenant: Tenant) -> list[str]:
    """The ``st run`` command line, as docs/api.md gives it."""
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
    return [
        st,
        "--config-file",
        str(CONFIG),
        "run",
        f"{base_url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        SEED,
        # One thread: CPython 3.11 before 3.11.8 counts the recursion depth of ast.parse per
        # interpreter, not per thread (gh-106905), and hypothesis parses sources to describe
        # its filters: two workers parsing at once failed with "AST constructor recursion
        # depth mismatch" in CI.
        "--workers",
        "1",
        "--no-shrink",
        "--request-timeout",
        "10",
        "--auth",
        f"{tenant.id}:{tenant.key}",
    ]


@pytest.mark.timeout(300)
def test_schemathesis_finds_no_failure(
    store_cluster: Cluster,
    make_tenant: Callable[[Cluster, str], Tenant],
    tmp_path: Path,
    figure: Callable[[str], None],
) -> None:
    api = store_cluster.api().start().ready()
    tenant = make_tenant(store_cluster, "schemathesis")
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(
        ROSTER_ST_WORKSPACE=tenant.id,  # schemathesis.toml pins path workspace ids to it
        NO_PROXY="127.0.0.1",  # every request goes to the server under test, never elsewhere
        NO_COLOR="1",
        COLUMNS="120",
    )
    started = time.monotonic()
    run = subprocess.run(
        st_command(api.base_url, tenant),
        cwd=tmp_path,  # where its example database goes
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    seconds = time.monotonic() - started
    figure(f"FIGURE schemathesis store={store_of(store_cluster)} seconds={seconds:.1f}")
    assert run.returncode == 0, f"schemathesis found failures:\n{run.stdout}\n{run.stderr}"
