"""The dashboard in a real browser (Debian's Chromium, driven by Playwright, every request to
another host refused) against a real ``roster serve``, on PostgreSQL and SQLite: sign in, watch
a batch and a run finish live, follow an issue to its customer and back, find a customer; and
the refusals: no session, no CSRF token, a viewer's change.

With ``DASHBOARD_SCREENSHOTS=docs`` the SQLite run also saves the main pages as
``docs/dashboard-*.png`` (docs/dashboard.md shows them)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from browser_kit import chromium, offline
from playwright.sync_api import Browser, Page, expect
from process_kit import Cluster, Proc, client, opened, post_transition, start_all, store_of

from roster.services.operators import accounts
from roster_testkit import Tenant

PASSWORD = "a long pass phrase"
SHOTS = os.environ.get("DASHBOARD_SCREENSHOTS")
LONG = "x" * 600  # longer than ROSTER_MAX_STRING_LENGTH: a value_too_long warning
pytestmark = pytest.mark.process


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as found:
        yield found


def sign_in(page: Page, api: Proc, email: str, path: str = "/ui/") -> None:
    page.goto(f"{api.base_url}{path}")
    expect(page).to_have_url(re.compile(r"/ui/login"))
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("header .who")).to_contain_text(email)


def user_create(cluster: Cluster, email: str, role: str) -> None:
    """``echo PASSWORD | roster user create EMAIL --role ROLE``."""
    done = subprocess.run(
        [sys.executable, "-m", "roster", "user", "create", email, "--role", role],
        input=f"{PASSWORD}\n",
        env=cluster.env,
        cwd=cluster.dir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def shot(page: Page, cluster: Cluster, name: str) -> None:
    if SHOTS and store_of(cluster) == "sqlite":
        page.screenshot(path=str(Path(SHOTS) / f"dashboard-{name}.png"), full_page=True)


def test_watch_a_batch_finish_follow_an_issue_and_find_a_customer(
    browser: Browser, store_cluster: Cluster, make_tenant: Callable[[Cluster, str], Tenant]
) -> None:
    """Signed in, an operator watches a queued batch and its run finish without a reload,
    follows the batch's issue to its customer and back, and finds a customer by email."""
    api = store_cluster.api()
    start_all(api)  # no worker yet: the batches wait in the queue
    tenant = make_tenant(store_cluster, "shop")
    user_create(store_cluster, "admin@example.com", "admin")
    customers = [
        {"type": "customer", "customer_id": "c-1", "attributes": {"email": "ann@example.com"}},
        {"type": "customer", "customer_id": "c-2", "attributes": {"note": LONG, "plan": "gold"}},
    ]
    with client(api) as http:
        sent = http.post(
            f"/v1/transition/{tenant.id}",
            content=json.dumps({"type": "transition", "elements": customers}),
            headers={**tenant.json_auth, "X-Roster-Run": "crm-1"},
        )
        assert sent.status_code == 200, sent.text
        batch_id = sent.json()["batch_id"]
        assert post_transition(http, tenant, customers[:1]).status_code == 200
        blank = {"type": "customer", "customer_id": " ", "attributes": {}}  # fails
        failing = post_transition(http, tenant, [blank]).json()["batch_id"]

    outside: list[str] = []
    context = offline(browser, api, outside)
    page = context.new_page()
    sign_in(page, api, "admin@example.com", f"/ui/w/{tenant.id}/batches/{batch_id}")
    progress = page.locator("#progress")
    expect(progress).to_have_attribute("data-status", "queued")
    expect(progress.locator(".ahead")).to_contain_text("0 batches")
    run_page = context.new_page()
    run_page.goto(f"{api.base_url}/ui/w/{tenant.id}/runs/crm-1")
    expect(run_page.locator("#progress")).to_have_attribute("data-status", "running")
    page.evaluate("window.notReloaded = true")

    worker = store_cluster.worker("worker")
    start_all(worker)
    expect(progress).to_have_attribute("data-status", "done", timeout=30_000)
    expect(progress.locator(".applied")).to_have_text("2")
    expect(progress.locator("table.codes")).to_contain_text("value_too_long")
    assert page.evaluate("window.notReloaded") is True  # updated in place, never reloaded
    expect(run_page.locator("#progress")).to_have_attribute("data-status", "finished")
    shot(run_page, store_cluster, "run")

    page.reload()
    shot(page, store_cluster, "batch")
    page.locator("a.customer-link", has_text="c-2").first.click()
    expect(page.locator("h1 .customer-id")).to_have_text("c-2")
    expect(page.locator("table.attributes")).to_contain_text("gold")
    shot(page, store_cluster, "customer")
    page.click("a.back")
    expect(page).to_have_url(re.compile(f"/batches/{batch_id}"))

    page.goto(f"{api.base_url}/ui/w/{tenant.id}/customers")
    page.fill("#q", "ann@example.com")
    page.click("form[role=search] button")
    expect(page.locator("h1 .customer-id")).to_have_text("c-1")

    page.goto(f"{api.base_url}/ui/")
    section = page.locator(f"section[data-workspace='{tenant.id}']")
    expect(section.locator("table.runs")).to_contain_text("crm-1")
    expect(section.locator("table.batches").first).to_contain_text(failing)
    shot(page, store_cluster, "overview")
    assert outside == []
    context.close()


def test_refusals_no_session_no_csrf_token_and_a_viewer(
    browser: Browser, store_cluster: Cluster, make_tenant: Callable[[Cluster, str], Tenant]
) -> None:
    """A page without a session leads to sign-in (and back); a form sent without its CSRF
    token is refused with 403; a viewer sees settings it cannot change."""
    api = store_cluster.api()
    start_all(api)
    tenant = make_tenant(store_cluster, "shop")
    with opened(store_cluster.url) as db:
        accounts.create(db, "admin@example.com", PASSWORD, "admin")
    user_create(store_cluster, "viewer@example.com", "viewer")
    settings = f"/ui/w/{tenant.id}/settings"
    outside: list[str] = []

    admin = offline(browser, api, outside)
    page = admin.new_page()
    page.goto(f"{api.base_url}{settings}")
    expect(page).to_have_url(re.compile(r"/ui/login\?next="))
    sign_in(page, api, "admin@example.com", settings)
    expect(page).to_have_url(re.compile(re.escape(settings) + "$"))
    shot(page, store_cluster, "settings")
    page.select_option("#identity_resolution", "on")
    page.locator("#identity input[name=csrf]").evaluate("input => input.remove()")
    page.click("#identity button[type=submit]")
    expect(page.locator("p.problem")).to_contain_text("CSRF")
    page.goto(f"{api.base_url}{settings}")
    expect(page.locator("#identity_resolution")).to_have_value("off")  # nothing changed
    page.select_option("#identity_resolution", "on")
    page.click("#identity button[type=submit]")
    expect(page.locator("p.flash")).to_contain_text("Saved")
    expect(page.locator("#identity_resolution")).to_have_value("on")

    viewer = offline(browser, api, outside)
    seen = viewer.new_page()
    sign_in(seen, api, "viewer@example.com", settings)
    expect(seen.locator("#identity_resolution")).to_be_disabled()
    expect(seen.locator("#identity button[type=submit]")).to_have_count(0)
    token = seen.locator("#identity input[name=csrf]").get_attribute("value")
    refused = seen.request.post(
        f"{api.base_url}{settings}",
        form={"csrf": token or "", "identity_resolution": "off"},
        headers={"Origin": api.base_url},
    )
    assert refused.status == 403
    seen.goto(f"{api.base_url}{settings}")
    expect(seen.locator("#identity_resolution")).to_have_value("on")
    assert outside == []
    admin.close()
    viewer.close()
