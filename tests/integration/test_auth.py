"""SPEC §2: the three credential forms, 401 for bad or missing credentials, 403 for a mismatch."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from roster.services.admin import workspace_admin
from roster_testkit import Harness, Tenant, basic

BODY = json.dumps(
    {"type": "transition", "elements": [{"type": "customer", "customer_id": "c1"}]}
).encode()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def bearer(key: str) -> str:
    return f"Bearer {key}"


FORMS: dict[str, Callable[[Tenant], str]] = {
    "basic-workspace-and-key": lambda t: basic(t.id, t.key),
    "basic-key-blank-password": lambda t: basic(t.key, ""),
    "bearer-key": lambda t: bearer(t.key),
}


def post(roster: Harness, workspace_id: str, headers: dict[str, Any], **kw: Any) -> httpx.Response:
    headers = {"Content-Type": "application/json", **headers}
    return roster.request(
        "POST", f"/v1/transition/{workspace_id}", content=BODY, headers=headers, **kw
    )


def list_batches(roster: Harness, headers: dict[str, Any], **kw: Any) -> httpx.Response:
    return roster.request("GET", "/v1/batches", headers=headers, **kw)


def batch_ids(roster: Harness, tenant: Tenant) -> list[str]:
    response = roster.get("/v1/batches", tenant)
    assert response.status_code == 200, response.text
    return [b["batch_id"] for b in response.json()["batches"]]


def assert_401(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    error = response.json()["error"]
    assert error["code"] == "authentication_failed"
    assert error["message"]


@pytest.mark.parametrize("form", list(FORMS))
def test_every_credential_form_is_accepted(roster: Harness, form: str) -> None:
    """Basic ws:key, Basic key: and Bearer key all work on transition and on GET /v1/batches."""
    tenant = roster.tenant()
    roster.tenant("other")  # a second workspace: the key must find the right one
    auth = {"Authorization": FORMS[form](tenant)}
    response = post(roster, tenant.id, auth)
    assert response.status_code == 200, response.text
    listed = list_batches(roster, auth)
    assert listed.status_code == 200, listed.text
    assert [b["batch_id"] for b in listed.json()["batches"]] == [response.json()["batch_id"]]


BAD: dict[str, Callable[[Tenant, Tenant], dict[str, Any]]] = {
    "missing-header": lambda t, o: {},
    "empty-header": lambda t, o: {"Authorization": ""},
    "wrong-key": lambda t, o: {"Authorization": basic(t.id, f"rk_{t.id}_" + "x" * 43)},
    "wrong-key-bearer": lambda t, o: {"Authorization": bearer(f"rk_{t.id}_" + "x" * 43)},
    "wrong-key-blank-password": lambda t, o: {"Authorization": basic(f"rk_{t.id}_" + "x" * 43, "")},
    "not-a-roster-key": lambda t, o: {"Authorization": bearer("x" * 60)},
    "key-naming-another-workspace": lambda t, o: {
        "Authorization": bearer(f"rk_{o.id}_" + t.key.rsplit("_", 1)[1])
    },
    "other-workspaces-key": lambda t, o: {"Authorization": basic(t.id, o.key)},
    "unknown-workspace": lambda t, o: {"Authorization": basic("NOSUCHWORKSP", t.key)},
    "workspace-id-as-bearer": lambda t, o: {"Authorization": bearer(t.id)},
    "malformed-base64": lambda t, o: {"Authorization": "Basic !!not*base64"},
    "base64-bad-padding": lambda t, o: {"Authorization": "Basic " + b64(b"a:b")[:-1]},
    "non-utf8-credentials": lambda t, o: {"Authorization": "Basic " + b64(b"\xff\xfe:\xc3(")},
    "non-ascii-password": lambda t, o: {"Authorization": basic(t.id, t.key + "\u00e9")},
    "non-ascii-header": lambda t, o: {"Authorization": "Basic \u00e9t\u00e9".encode()},
    "nul-in-workspace-id": lambda t, o: {"Authorization": basic(t.id + "\x00", t.key)},
    "control-char-in-key": lambda t, o: {"Authorization": basic(t.key + "\n", "")},
    "basic-without-colon": lambda t, o: {"Authorization": "Basic " + b64(t.key.encode())},
    "basic-blank-user": lambda t, o: {"Authorization": basic("", t.key)},
    "basic-no-value": lambda t, o: {"Authorization": "Basic"},
    "bearer-no-value": lambda t, o: {"Authorization": "Bearer "},
    "unknown-scheme": lambda t, o: {"Authorization": f"Token {t.key}"},
    "raw-key": lambda t, o: {"Authorization": t.key},
    "oversized-header": lambda t, o: {"Authorization": bearer(t.key + "x" * 2000)},
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_or_missing_credentials_get_401(roster: Harness, case: str) -> None:
    """Missing, wrong or malformed credentials get 401 with WWW-Authenticate: Basic; nothing
    is stored."""
    tenant, other = roster.tenant(), roster.tenant("other")
    headers = BAD[case](tenant, other)
    assert_401(post(roster, tenant.id, headers))
    assert_401(list_batches(roster, headers))
    assert batch_ids(roster, tenant) == []
    assert batch_ids(roster, other) == []


@pytest.mark.parametrize("form", list(FORMS))
def test_path_workspace_must_match_the_credentials(roster: Harness, form: str) -> None:
    """Valid credentials posting to another workspace's path (or an unknown one) get 403."""
    tenant, other = roster.tenant(), roster.tenant("other")
    auth = {"Authorization": FORMS[form](tenant)}
    for path_id in (other.id, "NOSUCHWORKSP", tenant.id.lower()):
        response = post(roster, path_id, auth)
        assert response.status_code == 403, response.text
        error = response.json()["error"]
        assert error["code"] == "workspace_mismatch"
        assert error["field"] == "workspace_id"
    assert batch_ids(roster, tenant) == []
    assert batch_ids(roster, other) == []


def test_bad_credentials_on_a_foreign_path_are_401_not_403(roster: Harness) -> None:
    """Wrong credentials are 401 even when the path names another workspace."""
    tenant, other = roster.tenant(), roster.tenant("other")
    assert_401(post(roster, other.id, {"Authorization": basic(tenant.id, "rk_wrong")}))


@pytest.mark.parametrize("form", list(FORMS))
def test_rotated_key_stops_working_at_once(roster: Harness, form: str) -> None:
    """After rotate_key the old key gets 401 at once and the new key works."""
    tenant = roster.tenant()
    old_auth = {"Authorization": FORMS[form](tenant)}
    assert list_batches(roster, old_auth).status_code == 200
    new = Tenant(tenant.id, workspace_admin.rotate_key(roster.db, tenant.id))
    assert new.key != tenant.key
    assert_401(post(roster, tenant.id, old_auth))
    assert_401(list_batches(roster, old_auth))
    new_auth = {"Authorization": FORMS[form](new)}
    response = post(roster, tenant.id, new_auth)
    assert response.status_code == 200, response.text
    assert batch_ids(roster, new) == [response.json()["batch_id"]]


def test_api_key_query_parameter_is_not_credentials(roster: Harness) -> None:
    """An api_key (or key) query parameter does not authenticate: no route takes one, so it is
    a 400 naming it; app_id, which Merge Users takes, is no credential either (401)."""
    tenant = roster.tenant()
    for params in ({"api_key": tenant.key}, {"key": tenant.key}):
        name = next(iter(params))
        for response in (
            post(roster, tenant.id, {}, params=params),
            list_batches(roster, {}, params=params),
            roster.request("GET", "/v1/customers/c1", params=params),
        ):
            assert response.status_code == 400, response.text
            assert response.json()["error"]["field"] == name
            assert tenant.key not in response.text  # the value is never echoed
    merge = roster.request("POST", "/v1/customer/merge", params={"app_id": tenant.id}, json={})
    assert_401(merge)
    assert batch_ids(roster, tenant) == []


def test_forwarded_for_is_recorded_but_never_authenticates(roster: Harness) -> None:
    """X-Forwarded-For is recorded on the batch and grants nothing without credentials."""
    tenant = roster.tenant()
    assert_401(post(roster, tenant.id, {"X-Forwarded-For": "127.0.0.1"}))
    response = post(roster, tenant.id, {**tenant.auth, "X-Forwarded-For": "203.0.113.7"})
    assert response.status_code == 200, response.text
    batch = roster.batch(tenant, response.json()["batch_id"])
    assert batch["forwarded_for"] == "203.0.113.7"


@pytest.mark.parametrize(
    "url",
    ["/v1/batches", "/v1/batches/x", "/v1/customers/c1", "/v1/customers/c1/events",
     "/v1/customers/c1/activity", "/v1/customers?uid=1"],
)  # fmt: skip
def test_every_read_endpoint_requires_credentials(roster: Harness, url: str) -> None:
    """Every read endpoint answers 401 with WWW-Authenticate: Basic without credentials."""
    roster.tenant()
    assert_401(roster.request("GET", url))
