"""The client commands against a real ``roster serve``: ``roster export customers`` writes every
customer, one JSON line each, as the listing shows them, and a refused export leaves no file
behind; ``roster load --json`` prints its outcome as one JSON object."""

from __future__ import annotations

import json
from collections.abc import Callable

from process_kit import Cluster, client, drain, opened, post_transition, start_all

from roster_testkit import Tenant


def test_export_writes_every_customer_once_and_whole(
    store_cluster: Cluster, make_tenant: Callable[[Cluster, str], Tenant]
) -> None:
    api = store_cluster.api()
    start_all(api, store_cluster.worker("worker"))
    tenant = make_tenant(store_cluster, "export")
    with client(api) as http:
        for batch in range(3):  # 2,500 customers: the server streams them 1,000 a transaction
            elements = [
                {"type": "customer", "customer_id": f"c{batch}-{n}", "attributes": {"n": n}}
                for n in range(batch * 1000, min(batch * 1000 + 1000, 2500))
            ]
            assert post_transition(http, tenant, elements).status_code == 200
    with opened(store_cluster.url) as db:
        drain(db)
    target = store_cluster.dir / "out" / "customers.jsonl"
    target.parent.mkdir()
    env = ["--url", api.base_url, "--workspace", tenant.id, "--key", tenant.key]
    done = store_cluster.cli("export", "customers", *env, "-o", str(target), "--quiet")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2500 customers written" in done.stdout
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert len(lines) == 2500
    assert len({c["uid"] for c in lines}) == 2500
    assert [c["uid"] for c in lines] == sorted(c["uid"] for c in lines)
    assert {c["attributes"]["n"] for c in lines} == set(range(2500))
    picked = store_cluster.cli(
        "export", "customers", *env, "-o", str(target), "--attribute", "n", "--value", "7", "--json"
    )
    assert picked.returncode == 0, picked.stdout + picked.stderr
    assert json.loads(picked.stdout) == {"customers": 1, "path": str(target)}
    assert [json.loads(x)["attributes"] for x in target.read_text().splitlines()] == [{"n": 7}]
    wrong = ["--url", api.base_url, "--workspace", tenant.id, "--key", "wrong"]
    refused = store_cluster.cli("export", "customers", *wrong, "-o", str(target.with_name("x")))
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: the server answered 401")
    assert refused.stdout == ""
    assert sorted(p.name for p in target.parent.iterdir()) == ["customers.jsonl"]


def test_load_prints_its_outcome_as_json(
    store_cluster: Cluster, make_tenant: Callable[[Cluster, str], Tenant]
) -> None:
    """``roster load --json``: one JSON object on standard output (progress on standard error),
    the exit status saying whether a record failed."""
    api = store_cluster.api()
    start_all(api, store_cluster.worker("worker"))
    tenant = make_tenant(store_cluster, "load-json")
    path = store_cluster.dir / "people.jsonl"
    lines = [{"type": "customer", "customer_id": f"c{n}"} for n in range(3)]
    lines.append({"type": "customer", "customer_id": "  "})  # blank: failed
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    env = ["--url", api.base_url, "--workspace", tenant.id, "--key", tenant.key]
    done = store_cluster.cli("load", "transition", str(path), *env, "--run", "j1", "--json")
    assert done.returncode == 1, done.stdout + done.stderr  # a record failed
    outcome = json.loads(done.stdout)
    assert outcome["run"] == "j1"
    assert outcome["counts"]["applied"] == 3
    assert outcome["counts"]["failed"] == 1
    assert outcome["effects"]["created"] == 3
    assert [c["result"] for c in outcome["codes"]] == ["failed"]
    assert outcome["report"].endswith(".csv")
