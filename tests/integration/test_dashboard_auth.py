"""The dashboard's rules of access, in process: sessions, sign-in throttling, CSRF, roles."""

from __future__ import annotations

import re
from dataclasses import replace

import httpx
import pytest
from pydantic import SecretStr

from roster.bootstrap import Container
from roster.domain.operators import PER_EMAIL
from roster.services.operators import accounts
from roster.store import batch_reads
from roster_testkit import Harness

PASSWORD = "correct horse battery"


def sign_in(
    roster: Harness, email: str, password: str = PASSWORD, **headers: str
) -> httpx.Response:
    return roster.request(
        "POST", "/ui/login", data={"email": email, "password": password}, headers=headers
    )


def session(roster: Harness, email: str, password: str = PASSWORD) -> dict[str, str]:
    """The Cookie header of a fresh session of ``email``."""
    response = sign_in(roster, email, password)
    assert response.status_code == 303, response.text
    value = response.cookies["roster_ui"]
    return {"Cookie": f"roster_ui={value}"}


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert found, "the page has no CSRF field"
    return found.group(1)


@pytest.fixture
def admin(roster: Harness) -> dict[str, str]:
    accounts.create(roster.db, "Admin@Example.com", PASSWORD, "admin")
    return session(roster, "admin@example.com")


@pytest.fixture
def viewer(roster: Harness) -> dict[str, str]:
    accounts.create(roster.db, "viewer@example.com", PASSWORD, "viewer")
    return session(roster, "viewer@example.com")


def test_a_page_without_a_session_redirects_to_sign_in(roster: Harness) -> None:
    """Every dashboard page answers a request without a session with a redirect to /ui/login
    that comes back to the page afterwards."""
    tenant = roster.tenant()
    for path in ("/ui/", f"/ui/w/{tenant.id}/batches", f"/ui/w/{tenant.id}/settings"):
        response = roster.request("GET", path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/ui/login?next=%2Fui%2F")
    fragment = roster.request("GET", "/ui/", headers={"HX-Request": "true"})
    assert fragment.headers["HX-Redirect"].startswith("/ui/login")


def test_signing_in_sets_a_signed_httponly_samesite_cookie(roster: Harness) -> None:
    """A right email (any case) and password start a session: a cookie limited to /ui, HttpOnly,
    SameSite=Lax, with an expiry; the redirect goes where the sign-in page was asked to."""
    accounts.create(roster.db, "ops@example.com", PASSWORD)
    response = roster.request(
        "POST",
        "/ui/login",
        data={"email": " OPS@example.com", "password": PASSWORD, "next": "/ui/workspaces"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/workspaces"
    cookie = response.headers["set-cookie"].lower()
    for attribute in ("httponly", "samesite=lax", "path=/ui", "max-age=43200"):
        assert attribute in cookie
    page = roster.request("GET", "/ui/workspaces", headers=session(roster, "ops@example.com"))
    assert page.status_code == 200
    assert "ops@example.com" in page.text


def test_sign_in_never_redirects_to_another_site(roster: Harness) -> None:
    """A ``next`` outside the dashboard is replaced by the overview."""
    accounts.create(roster.db, "ops@example.com", PASSWORD)
    for target in ("https://evil.example/", "//evil.example/ui/", "/docs"):
        response = roster.request(
            "POST",
            "/ui/login",
            data={"email": "ops@example.com", "password": PASSWORD, "next": target},
        )
        assert response.headers["location"] == "/ui/"


def test_wrong_credentials_are_refused_alike(roster: Harness) -> None:
    """A wrong password and an unknown email get the same 401 and no cookie."""
    accounts.create(roster.db, "ops@example.com", PASSWORD)
    wrong = sign_in(roster, "ops@example.com", "not the password")
    unknown = sign_in(roster, "nobody@example.com", PASSWORD)
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "set-cookie" not in response.headers
        assert "wrong email or password" in response.text


def test_repeated_failures_block_the_email_even_for_the_right_password(roster: Harness) -> None:
    """After the free failures, the email is blocked for a while (429 with Retry-After), the
    right password included, and the block is in the database: another process sees it."""
    accounts.create(roster.db, "ops@example.com", PASSWORD)
    for _ in range(PER_EMAIL.free + 1):
        assert sign_in(roster, "ops@example.com", "guess").status_code == 401
    blocked = sign_in(roster, "ops@example.com", PASSWORD)
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) >= 1
    other_process = Harness(roster.container)
    assert sign_in(other_process, "ops@example.com", PASSWORD).status_code == 429
    listed = accounts.list_all(roster.db)
    assert listed[0]["failed_sign_ins"] == PER_EMAIL.free + 1


def test_the_throttle_doubles_and_is_capped() -> None:
    """Each failure past the free ones doubles the block, up to 15 minutes."""
    delays = [PER_EMAIL.block_ms(n) for n in range(1, PER_EMAIL.free + 4)]
    assert delays[: PER_EMAIL.free] == [0] * PER_EMAIL.free
    assert delays[PER_EMAIL.free :] == [1000, 2000, 4000]
    assert PER_EMAIL.block_ms(1000) == 15 * 60_000


def test_a_cross_site_sign_in_is_refused(roster: Harness) -> None:
    """A sign-in form posted from another origin is refused (login CSRF)."""
    accounts.create(roster.db, "ops@example.com", PASSWORD)
    response = sign_in(roster, "ops@example.com", Origin="https://evil.example")
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


def test_a_tampered_cookie_is_no_session(roster: Harness, admin: dict[str, str]) -> None:
    """A cookie whose signature does not match is ignored: back to the sign-in page."""
    forged = admin["Cookie"][:-3] + ("AAA" if not admin["Cookie"].endswith("AAA") else "BBB")
    assert roster.request("GET", "/ui/", headers={"Cookie": forged}).status_code == 303


def test_forms_without_their_csrf_token_are_refused(roster: Harness, admin: dict[str, str]) -> None:
    """A change without the session's CSRF token (or with another's) is refused with 403 and
    changes nothing; with it, the change is made."""
    tenant = roster.tenant()
    url = f"/ui/w/{tenant.id}/settings"
    form = {"identity_resolution": "on", "identifiers": "email"}
    missing = roster.request("POST", url, data=form, headers=admin)
    wrong = roster.request("POST", url, data={**form, "csrf": "0" * 64}, headers=admin)
    assert (missing.status_code, wrong.status_code) == (403, 403)
    assert "CSRF" in missing.text
    assert not roster.get("/v1/workspace", tenant).json()["identity_resolution"]
    token = csrf_of(roster.request("GET", url, headers=admin))
    done = roster.request("POST", url, data={**form, "csrf": token}, headers=admin)
    assert done.status_code == 303
    assert roster.get("/v1/workspace", tenant).json()["identity_resolution"] is True
    signed_out = roster.request("POST", "/ui/logout", headers=admin)
    assert signed_out.status_code == 403


def test_a_viewer_reads_settings_but_cannot_change_them(
    roster: Harness, viewer: dict[str, str]
) -> None:
    """A viewer sees the settings (no save buttons) and is refused a change with 403, even
    with its own valid CSRF token; rotating the key is refused too."""
    tenant = roster.tenant()
    url = f"/ui/w/{tenant.id}/settings"
    page = roster.request("GET", url, headers=viewer)
    assert page.status_code == 200
    assert "Save settings" not in page.text
    token = csrf_of(page)
    form = {"identity_resolution": "on", "csrf": token}
    assert roster.request("POST", url, data=form, headers=viewer).status_code == 403
    rotate = roster.request(
        "POST", f"/ui/w/{tenant.id}/rotate-key", data={"csrf": token}, headers=viewer
    )
    assert rotate.status_code == 403
    assert roster.get("/v1/workspace", tenant).status_code == 200  # the key still works


def test_an_admin_rotates_a_key_and_sets_tiers(roster: Harness, admin: dict[str, str]) -> None:
    """An admin's new key is shown once and the old one stops working; tiers are saved."""
    tenant = roster.tenant()
    page = roster.request("GET", f"/ui/w/{tenant.id}/settings", headers=admin)
    token = csrf_of(page)
    seen = re.search(r'name="rotated_at" value="(\d+)"', page.text)
    assert seen, "the form says which key it saw"
    form = {"csrf": token, "rotated_at": seen.group(1)}
    rotated = roster.request("POST", f"/ui/w/{tenant.id}/rotate-key", data=form, headers=admin)
    new_key = re.search(r'class="new-key">([^<]+)<', rotated.text)
    assert new_key
    assert roster.get("/v1/workspace", tenant).status_code == 401
    fresh = replace(tenant, key=new_key.group(1))
    assert roster.get("/v1/workspace", fresh).status_code == 200
    again = roster.request("POST", f"/ui/w/{tenant.id}/rotate-key", data=form, headers=admin)
    assert again.status_code == 400  # the same form sent again (a reload) rotates nothing
    assert "rotated since this page was shown" in again.text
    assert roster.get("/v1/workspace", fresh).status_code == 200
    tiers = roster.request(
        "POST",
        f"/ui/w/{tenant.id}/tiers",
        data={"csrf": token, "tiers": "Gold=2000\nBronze=0\n"},
        headers=admin,
    )
    assert tiers.status_code == 303
    bad = roster.request(
        "POST", f"/ui/w/{tenant.id}/tiers", data={"csrf": token, "tiers": "x"}, headers=admin
    )
    assert bad.status_code == 400
    settings = roster.request("GET", f"/ui/w/{tenant.id}/settings", headers=admin).text
    assert "Bronze=0" in settings
    assert "Gold=2000" in settings


def test_a_new_password_or_deletion_ends_sessions(roster: Harness, admin: dict[str, str]) -> None:
    """Setting a password signs the operator out everywhere; deleting it too."""
    accounts.set_password(roster.db, "admin@example.com", "another password")
    assert roster.request("GET", "/ui/", headers=admin).status_code == 303
    fresh = session(roster, "admin@example.com", "another password")
    assert roster.request("GET", "/ui/", headers=fresh).status_code == 200
    accounts.delete(roster.db, "admin@example.com")
    assert roster.request("GET", "/ui/", headers=fresh).status_code == 303


def test_sessions_survive_a_restart_and_follow_the_secret(
    roster: Harness, admin: dict[str, str]
) -> None:
    """Without ROSTER_UI_SECRET the key is kept in the database (a new process accepts the
    cookie); with one, cookies signed by another key are refused."""
    restarted = Harness(roster.container)
    assert restarted.request("GET", "/ui/", headers=admin).status_code == 200
    settings = roster.container.settings.model_copy(update={"ui_secret": SecretStr("s" * 40)})
    configured = Harness(Container(settings, roster.db))
    assert configured.request("GET", "/ui/", headers=admin).status_code == 303
    fresh = session(configured, "admin@example.com")  # signed with the configured key
    assert configured.request("GET", "/ui/", headers=fresh).status_code == 200
    assert roster.request("GET", "/ui/", headers=fresh).status_code == 303  # not the stored key


def test_pages_escape_what_clients_sent(roster: Harness, viewer: dict[str, str]) -> None:
    """A value a client stored is shown as text, never as markup."""
    tenant = roster.tenant()
    evil = "<script>alert(1)</script>"
    element = {"type": "customer", "customer_id": "c<b>1", "attributes": {"name": evil}}
    assert roster.transition(tenant, [element]).status_code == 200
    roster.drain()
    page = roster.request(
        "GET", f"/ui/w/{tenant.id}/customers", params={"q": "c<b>1"}, headers=viewer
    )
    assert page.status_code == 303
    profile = roster.request("GET", page.headers["location"], headers=viewer)
    assert profile.status_code == 200
    assert evil not in profile.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in profile.text
    assert "c&lt;b&gt;1" in profile.text
    assert profile.headers["Content-Security-Policy"].startswith("default-src 'self'")


def test_a_batch_page_counts_issues_by_code_and_exports_them(
    roster: Harness, viewer: dict[str, str]
) -> None:
    """A batch's page shows its issues by code with links to their customers, and its CSV
    holds every issue; an unknown batch is a 404 page."""
    tenant = roster.tenant()
    good = {"type": "customer", "customer_id": "c1", "attributes": {"a": 1}}
    bad = {"type": "customer", "customer_id": " ", "attributes": {}}
    response = roster.transition(tenant, [good, bad, bad])
    batch_id = response.json()["batch_id"]
    roster.drain()
    page = roster.request("GET", f"/ui/w/{tenant.id}/batches/{batch_id}", headers=viewer)
    assert page.status_code == 200
    with roster.db.read() as conn:
        issues = batch_reads.issues_of(conn, batch_id)
    assert len(issues) == 2
    assert f'<code>{issues[0].code}</code></td><td class="num">2</td>' in page.text
    csv = roster.request("GET", f"/ui/w/{tenant.id}/batches/{batch_id}/issues.csv", headers=viewer)
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().splitlines()
    assert lines[0].startswith("batch_id,kind,index,severity")
    assert len(lines) == 3
    missing = roster.request("GET", f"/ui/w/{tenant.id}/batches/nope", headers=viewer)
    assert missing.status_code == 404


def test_dashboard_routes_stay_out_of_the_openapi_document(roster: Harness) -> None:
    """The API's OpenAPI document lists no /ui/ path."""
    paths = roster.request("GET", "/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith("/ui")]


def test_htmx_is_served_by_roster(roster: Harness) -> None:
    """The page's script is Roster's own copy of htmx (no CDN)."""
    page = roster.request("GET", "/ui/login")
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources
    assert all(s.startswith("/ui/") for s in sources)
    script = roster.request("GET", "/ui/static/htmx-2.0.11.min.js")
    assert script.status_code == 200
    assert "htmx" in script.text[:2000]


def test_operator_accounts_check_their_input(container: Container) -> None:
    """Emails are checked and stored lower-cased, roles are admin or viewer, passwords have
    at least 8 characters, and an email is taken once."""
    from roster.domain.errors import Conflict, InvalidSetting

    db = container.db
    with pytest.raises(InvalidSetting):
        accounts.create(db, "not-an-email", PASSWORD)
    with pytest.raises(InvalidSetting):
        accounts.create(db, "a@b.c", PASSWORD, "owner")
    with pytest.raises(InvalidSetting):
        accounts.create(db, "a@b.c", "short")
    created = accounts.create(db, "A@B.C", PASSWORD)
    assert replace(created, id=0).email == "a@b.c"
    with pytest.raises(Conflict):
        accounts.create(db, "a@b.c", PASSWORD)


def test_the_customers_page_lists_everyone_a_page_at_a_time(
    roster: Harness, viewer: dict[str, str]
) -> None:
    tenant = roster.tenant()
    elements = [{"type": "customer", "customer_id": f"c{n}"} for n in range(55)]
    assert roster.transition(tenant, elements).status_code == 200
    roster.drain()
    first = roster.request("GET", f"/ui/w/{tenant.id}/customers", headers=viewer)
    assert first.status_code == 200, first.text
    assert ">c0<" in first.text
    assert ">c49<" in first.text
    assert ">c50<" not in first.text
    more = re.search(r'href="\?([^"]*after=[^"]*)"', first.text)
    assert more, "no link to the next page"
    query = more.group(1).replace("&amp;", "&")
    second = roster.request("GET", f"/ui/w/{tenant.id}/customers?{query}", headers=viewer)
    assert ">c50<" in second.text
    assert ">c54<" in second.text
    assert ">c0<" not in second.text


def test_the_overview_shows_the_apply_rate(roster: Harness, viewer: dict[str, str]) -> None:
    tenant = roster.tenant()
    elements = [{"type": "customer", "customer_id": f"c{n}"} for n in range(30)]
    assert roster.transition(tenant, elements).status_code == 200
    roster.drain()
    page = roster.request("GET", "/ui/", headers=viewer)
    assert page.status_code == 200, page.text
    assert "apply rate, last 5 min<b>0.1 elements/s</b>" in page.text  # 30 in 300 s


def test_the_runs_page_pages_older_runs(roster: Harness, viewer: dict[str, str]) -> None:
    tenant = roster.tenant()
    for n in range(51):
        element = {"type": "customer", "customer_id": f"c{n}"}
        roster.transition(tenant, [element], **{"X-Roster-Run": f"run-{n:02d}"})
    first = roster.request("GET", f"/ui/w/{tenant.id}/runs", headers=viewer)
    assert ">run-50<" in first.text
    assert ">run-00<" not in first.text
    older = re.search(r'href="\?(after=\d+)">Older runs', first.text)
    assert older, "no link to older runs"
    second = roster.request("GET", f"/ui/w/{tenant.id}/runs?{older.group(1)}", headers=viewer)
    assert ">run-00<" in second.text
    assert ">run-50<" not in second.text
