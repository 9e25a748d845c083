"""Key rotation across API processes (SPEC 2: "the old key stops working at once")."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import httpx
import pytest
from process_kit import Cluster, chaos_elements, client, post_transition, start_all

from roster_testkit import Tenant, basic

pytestmark = pytest.mark.process


def credential_forms(tenant: Tenant) -> dict[str, str]:
    """The three accepted Authorization forms for one key."""
    return {
        "basic_id_key": basic(tenant.id, tenant.key),
        "basic_key_only": "Basic " + base64.b64encode(f"{tenant.key}:".encode()).decode(),
        "bearer": f"Bearer {tenant.key}",
    }


def statuses(http: httpx.Client, tenant: Tenant) -> dict[str, int]:
    """Status of ``GET /v1/batches`` under each credential form."""
    return {
        form: http.get("/v1/batches", headers={"Authorization": header}).status_code
        for form, header in credential_forms(tenant).items()
    }


def test_rotated_key_is_refused_at_once_by_every_api_process(
    pg_cluster: Cluster,
    make_tenant: Callable[[Cluster, str], Tenant],
    figure: Callable[[str], None],
) -> None:
    """After `roster workspace rotate-key`, both APIs refuse the old key at once, take the new."""
    cluster = pg_cluster
    old = make_tenant(cluster, "keys")
    apis = [cluster.api("a1"), cluster.api("a2")]
    start_all(*apis)
    with client(apis[0]) as h1, client(apis[1]) as h2:
        both = (h1, h2)
        for http in both:  # warm: each process has served the old key (nothing is cached)
            assert statuses(http, old) == dict.fromkeys(credential_forms(old), 200)
            assert (
                post_transition(http, old, chaos_elements("k", 0, customers=1)).status_code == 200
            )

        rotated = cluster.cli("workspace", "rotate-key", old.id, "--json")
        assert rotated.returncode == 0, rotated.stderr
        answer = json.loads(rotated.stdout)
        assert answer["workspace_id"] == old.id
        new = Tenant(old.id, answer["api_key"])
        assert new.key != old.key

        old_accepted = 0
        for http in both:  # the very next request with the old key, in each process
            refused = http.post(
                f"/v1/transition/{old.id}",
                content=json.dumps({"type": "transition", "elements": [{"type": "customer"}]}),
                headers=old.json_auth,
            )
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"].lower().startswith("basic")
            codes = statuses(http, old)
            old_accepted += sum(1 for c in codes.values() if c != 401) + (
                refused.status_code != 401
            )
            assert codes == dict.fromkeys(credential_forms(old), 401)
        new_refused = 0
        for http in both:
            codes = statuses(http, new)
            posted = post_transition(http, new, chaos_elements("k", 1, customers=1))
            new_refused += sum(1 for c in codes.values() if c != 200) + (posted.status_code != 200)
            assert codes == dict.fromkeys(credential_forms(new), 200)
            assert posted.status_code == 200, posted.text
    figure(
        f"FIGURE key_rotation store=postgres apis=2 old_key_accepted_after={old_accepted} "
        f"new_key_refused={new_refused}"
    )
