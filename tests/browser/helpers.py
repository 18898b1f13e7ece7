"""Browser tests: a real Chromium (Debian's) driven by Playwright against the live server.

They never skip silently: without Chromium they fail and say how to install it.
"""

import os
import shutil

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# around it are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: run scripts/ensure-chromium.sh")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page_errors():
    return []


@pytest.fixture
def page(browser, page_errors):
    """A fresh browser context; console errors and failed requests are collected."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and page_errors.append(m.text))
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    page.on("requestfailed", lambda r: page_errors.append(f"failed: {r.url}"))
    yield page
    context.close()


@pytest.fixture
def phone_page(browser, page_errors):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and page_errors.append(m.text))
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    yield page
    context.close()


def login(page, live_server, username: str, password: str = "pw-for-tests") -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/customers/")
