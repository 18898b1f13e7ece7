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


DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


def new_page(browser, errors: list, *, phone: bool = False, viewport: dict | None = None):
    """A page in a browser context of its own (a second user signed in at the same time), with
    the same watchers as the `page` fixture plus error responses. Close it with
    ``page.context.close()``."""
    if phone:
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
        )
    else:
        context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900})
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


def settled(page) -> None:
    """Wait until no HTMX request is in flight and no swap is settling. New content gets its
    HTMX behaviour in the settle step, a moment after it appears: a control used between the
    two (a select changed, a link clicked) does nothing. Humans are slower than that; tests
    on a loaded machine are not always."""
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)


def open_item_menu(page, interaction_pk: int) -> None:
    """Open a timeline item's Actions menu (its tag, moment and correction controls wait
    behind it) unless it is open already."""
    toggle = page.locator(f"#interaction-{interaction_pk} [data-item-menu]")
    if toggle.get_attribute("aria-expanded") != "true":
        toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")


# --- Accessibility and layout checks (tests/browser/test_pages_clean.py) ----------------------

# axe-core as axe-playwright-python bundles it (a pinned axe.min.js inside the wheel): nothing
# is fetched at test time and nothing is committed.
_AXE_SCRIPT: str | None = None
AXE_OPTIONS = {"resultTypes": ["violations"], "runOnly": ["wcag2a", "wcag2aa", "best-practice"]}


def axe_problems(page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now, one line each:
    rule, impact, and the first few offending elements."""
    global _AXE_SCRIPT
    if _AXE_SCRIPT is None:
        from axe_playwright_python.sync_playwright import Axe

        _AXE_SCRIPT = Axe().axe_script
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(_AXE_SCRIPT)
    result = page.evaluate("options => axe.run(document, options)", AXE_OPTIONS)
    problems = []
    for violation in result["violations"]:
        if violation["impact"] not in ("serious", "critical"):
            continue
        targets = [" ".join(map(str, n["target"])) for n in violation["nodes"][:4]]
        problems.append(f"{violation['id']} ({violation['impact']}): {targets}")
    return problems


# Text that overflows its box: an element with text of its own, drawn overflowing (not a box
# that scrolls or clips on purpose), reported innermost only; and a page wider than the window.
_LAYOUT_JS = """
() => {
  const problems = [];
  const doc = document.scrollingElement || document.documentElement;
  if (doc.scrollWidth > window.innerWidth + 1) {
    problems.push(`page scrolls sideways: ${doc.scrollWidth}px wide in ${window.innerWidth}px`);
  }
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + (el.classList.length ? '.' + [...el.classList].join('.') : '');
  const flagged = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (el instanceof SVGElement || !el.clientWidth) continue;
    const style = getComputedStyle(el);
    if (style.overflowX !== 'visible' || style.visibility === 'hidden') continue;
    if (el.closest('[aria-hidden=true], .visually-hidden, .swagger-ui')) continue;
    const ownText = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!ownText) continue;
    if (el.scrollWidth > el.clientWidth + 1) flagged.push(el);
  }
  for (const el of flagged) {
    if (flagged.some(other => other !== el && el.contains(other))) continue;
    problems.push(`text overflows ${name(el)}: "${el.textContent.trim().slice(0, 40)}"`
      + ` (${el.scrollWidth}px in ${el.clientWidth}px)`);
  }
  return problems;
}
"""


def layout_problems(page) -> list[str]:
    return page.evaluate(_LAYOUT_JS)


# Every word of the element's text stays on one line (a Range per word has one line box).
UNBROKEN_WORDS = """
root => {
  const broken = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.parentElement.closest('.visually-hidden, svg')) continue;
    for (const match of node.textContent.matchAll(/\\S+/g)) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
      if (lines.size > 1) broken.push(match[0]);
    }
  }
  return broken;
}
"""
