"""The Swagger UI (``/docs``) and ReDoc (``/redoc``) pages, opened in a real browser (Debian's
Chromium, driven by Playwright) against a real ``roster serve``, with every request to another
host refused: both render Roster's operations from assets Roster serves itself."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browser_kit import chromium, offline
from playwright.sync_api import Browser, Page
from process_kit import Cluster, Proc, start_all


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as found:
        yield found


def _offline_page(browser: Browser, api: Proc, outside: list[str]) -> Page:
    return offline(browser, api, outside).new_page()


@pytest.fixture
def server(sqlite_cluster: Cluster) -> Proc:
    api = sqlite_cluster.api()
    start_all(api)
    return api


def test_swagger_ui_renders_the_operations_offline(browser: Browser, server: Proc) -> None:
    outside: list[str] = []
    page = _offline_page(browser, server, outside)
    page.goto(f"{server.base_url}/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=15_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v2/batch" in " ".join(paths)
    assert "/v1/transition/{workspace_id}" in " ".join(paths)
    assert outside == []


def test_redoc_renders_the_operations_offline(browser: Browser, server: Proc) -> None:
    outside: list[str] = []
    page = _offline_page(browser, server, outside)
    page.goto(f"{server.base_url}/redoc")
    heading = page.locator("h2", has_text="One operation on a person (Track API v2)")
    heading.wait_for(timeout=15_000)  # the operation, rendered in the page's body
    assert outside == []
