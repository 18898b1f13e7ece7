"""Helpers for browser tests. The fixtures (browser, page, phone_page, page_errors) are in
tests/conftest.py so every test module shares one Chromium."""

import time
from pathlib import Path

from django.conf import settings
from playwright.sync_api import expect

# Screenshots are CI artefacts: var/ is git-ignored, and CI runs from the repository root.
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"


def login(page, live_server, username: str, password: str = "pw-for-tests") -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/customers/")


def watch_responses(page, errors: list) -> None:
    """Record every response with an error status (>= 400) the page receives, the page's own
    and its subresources' (styles, scripts, HTMX requests): the fixtures' watcher sees only
    console errors and requests that never got an answer."""
    page.on("response", lambda r: r.status >= 400 and errors.append(f"{r.status}: {r.url}"))


def new_page(browser, errors: list, *, phone: bool = False):
    """A page in a browser context of its own (a second user signed in at the same time), with
    the same watchers as the `page` fixture plus error responses. Close it with
    ``page.context.close()``."""
    if phone:
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
        )
    else:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: errors.append(f"failed: {r.url}"))
    watch_responses(page, errors)
    return page


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot as var/screenshots/<name>.png (the directory is made here)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def reload_until(page, selector: str, text, *, timeout: float = 60) -> None:
    """Reload the page until `selector` contains `text` (a string or a compiled pattern): for
    work a worker does that the page does not poll for. Bounded by `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            expect(page.locator(selector).first).to_contain_text(text, timeout=1000)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            page.reload()


def open_item_menu(page, interaction_pk: int) -> None:
    """Open a timeline item's Actions menu (its tag, moment and correction controls wait
    behind it) unless it is open already."""
    toggle = page.locator(f"#interaction-{interaction_pk} [data-item-menu]")
    if toggle.get_attribute("aria-expanded") != "true":
        toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
