"""Debian's Chromium, driven by Playwright, for the browser tests: a page may reach the server
under test and nothing else (what it tried to reach elsewhere is kept, for the test to check)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, BrowserContext, Route, sync_playwright
from process_kit import Proc

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@contextmanager
def chromium() -> Iterator[Browser]:
    """The machine's Chromium (installed by ``make browser``; never one downloaded)."""
    with sync_playwright() as p:
        # The container has no user namespaces for Chromium's sandbox.
        found = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield found
        finally:
            found.close()


def offline(browser: Browser, api: Proc, outside: list[str]) -> BrowserContext:
    """A browser context that may reach the server under test and nothing else."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    own = api.base_url

    def route(found: Route) -> None:
        if found.request.url.startswith((own, "data:")):
            found.continue_()
        else:
            outside.append(found.request.url)
            found.abort()

    context.route("**/*", route)
    return context
