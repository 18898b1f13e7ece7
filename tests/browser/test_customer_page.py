"""The customer page as agents use it (issue 16): on a phone the timeline and a "Log
interaction" button come first, logging shows a visible confirmation that screen readers also
hear, the nav folds into a menu, each timeline item keeps its controls one tap away in a
per-item menu, the memory balance over time is a small chart with a text alternative, and the
page never scrolls sideways. On a desktop the page has two columns. Screenshots of the page at
both sizes are saved to var/screenshots/ (CI artefacts)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import login, new_page, screenshot
from tests.browser.test_pages_clean import a_customer_with_history

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 768}
SIZES = {"phone": PHONE, "desktop": DESKTOP}
NO_SIDEWAYS = "document.documentElement.scrollWidth <= window.innerWidth"


def _open(browser, contexts, live_server, user, size: str, customer):
    errors: list[str] = []
    page = new_page(browser, errors, phone=size == "phone")
    page.set_viewport_size(SIZES[size])
    contexts.append(page)
    login(page, live_server, user.username)
    page.goto(f"{live_server.url}{customer.get_absolute_url()}")
    return page, errors


@pytest.fixture
def history(agent):
    return a_customer_with_history(name="Ada Lovelace", note="Parcel lost twice", owner=agent)


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_customer_page_screenshots(browser, contexts, live_server, agent, history, size):
    page, errors = _open(browser, contexts, live_server, agent, size, history["customer"])
    expect(page.locator("#timeline li.interaction")).to_have_count(1)
    view = SIZES[size]
    screenshot(page, f"customer-page-{size}-{view['width']}x{view['height']}")
    assert page.evaluate(NO_SIDEWAYS), "the customer page scrolls sideways"
    assert errors == []


def test_phone_shows_the_timeline_and_the_log_button_first(
    browser, contexts, live_server, agent, history
):
    page, errors = _open(browser, contexts, live_server, agent, "phone", history["customer"])
    item = page.locator("#timeline li.interaction").first
    button = page.get_by_role("button", name="Log interaction")
    for element in (button, item):
        expect(element).to_be_visible()
        box = element.bounding_box()
        assert box["y"] + min(box["height"], 60) <= PHONE["height"], "below the first screen"
    # The form waits behind the button.
    expect(page.locator("#interaction-form")).to_be_hidden()
    assert page.evaluate(NO_SIDEWAYS)
    assert errors == []


def test_phone_nav_is_a_compact_menu(browser, contexts, live_server, manager, history):
    page, errors = _open(browser, contexts, live_server, manager, "phone", history["customer"])
    header = page.locator("header.topbar")
    assert header.bounding_box()["height"] <= 80, "the nav wraps over several lines"
    toggle = page.get_by_role("button", name="Menu")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(page.get_by_role("link", name="Customers")).to_be_hidden()

    # Keyboard: focus the button, Enter opens, Escape closes and gives focus back.
    toggle.focus()
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_role("link", name="Customers")).to_be_visible()
    expect(page.get_by_role("link", name="Journey map")).to_be_visible()
    assert page.evaluate(NO_SIDEWAYS)
    page.keyboard.press("Escape")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(toggle).to_be_focused()
    assert errors == []


def test_desktop_nav_is_one_line_without_a_menu_button(
    browser, contexts, live_server, manager, history
):
    page, errors = _open(browser, contexts, live_server, manager, "desktop", history["customer"])
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    expect(page.get_by_role("link", name="Customers")).to_be_visible()
    assert page.locator("header.topbar").bounding_box()["height"] <= 80
    assert errors == []


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_logging_shows_a_visible_confirmation(browser, contexts, live_server, agent, history, size):
    page, errors = _open(browser, contexts, live_server, agent, size, history["customer"])
    page.evaluate("window.__noReload = true")
    if size == "phone":
        page.get_by_role("button", name="Log interaction").click()
    else:  # two columns: the form is open beside nothing to unfold
        expect(page.get_by_role("button", name="Log interaction", exact=True)).to_have_count(1)
    page.select_option("#id_channel", "call")
    page.fill("#id_subject", "Called back about the parcel")
    page.locator("#interaction-form button[type=submit]").click()

    status = page.locator("#log-status")
    expect(status).to_be_visible()
    expect(status).to_be_in_viewport()
    expect(status).to_contain_text("Interaction logged")
    expect(status).to_have_attribute("role", "status")
    expect(page.locator("#timeline li.interaction").first).to_contain_text(
        "Called back about the parcel"
    )
    assert page.evaluate("window.__noReload") is True
    assert page.evaluate(NO_SIDEWAYS)
    view = SIZES[size]
    screenshot(page, f"customer-page-{size}-{view['width']}x{view['height']}-logged")
    assert errors == []


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_item_menu_opens_by_keyboard_and_its_action_works(
    browser, contexts, live_server, agent, history, size
):
    pk = history["interaction"].pk
    page, errors = _open(browser, contexts, live_server, agent, size, history["customer"])
    page.evaluate("window.__noReload = true")
    item = page.locator(f"#interaction-{pk}")
    # Text first: the controls wait behind the item's menu button.
    expect(item.locator(".interaction-subject")).to_be_visible()
    correct = item.get_by_label("Correct sentiment to positive")
    add_tag = item.get_by_label("Add a tag")
    expect(correct).to_be_hidden()
    expect(add_tag).to_be_hidden()
    toggle = item.get_by_role("button", name="Actions")
    expect(toggle).to_have_attribute("aria-expanded", "false")

    toggle.focus()
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(correct).to_be_visible()
    expect(add_tag).to_be_visible()
    assert page.evaluate(NO_SIDEWAYS)
    view = SIZES[size]
    screenshot(page, f"customer-page-{size}-{view['width']}x{view['height']}-item-menu-open")

    add_tag.select_option(label="Empathy win")
    expect(item.locator(f"#moment-marker-{pk} .moment-tags")).to_contain_text("Empathy win")
    # The menu stays open after the swap: the next action is one tap away still.
    expect(add_tag).to_be_visible()
    page.keyboard.press("Escape")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    assert page.evaluate("window.__noReload") is True
    assert errors == []


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_memory_balance_chart_has_a_text_alternative(
    browser, contexts, live_server, agent, history, size
):
    page, errors = _open(browser, contexts, live_server, agent, size, history["customer"])
    chart = page.locator("#memory-balance-chart")
    expect(chart.locator("svg[role=img]")).to_be_visible()
    label = chart.locator("svg").get_attribute("aria-labelledby")
    assert label
    expect(page.locator(f"#{label.split()[0]}")).to_contain_text("Memory balance")
    box = chart.locator("svg").bounding_box()
    assert box["width"] <= SIZES[size]["width"]
    chart.get_by_text("Balance as a table").click()
    expect(chart.locator("table tbody tr").first).to_be_visible()
    assert errors == []


def test_a_new_items_menu_works_too(browser, contexts, live_server, agent, history):
    """An item HTMX adds after logging has a working menu (one listener on the document)."""
    errors: list[str] = []
    page = new_page(browser, errors, phone=True)
    contexts.append(page)
    login(page, live_server, "agent")
    page.goto(f"{live_server.url}{history['customer'].get_absolute_url()}")
    page.get_by_role("button", name="Log interaction").click()
    expect(page.locator("#id_channel")).to_be_focused()
    page.select_option("#id_channel", "chat")
    page.fill("#id_subject", "A new one")
    page.locator("#interaction-form button[type=submit]").click()
    first = page.locator("#timeline li.interaction").first
    expect(first).to_contain_text("A new one")
    toggle = first.get_by_role("button", name="Actions")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(first.get_by_role("button", name="Mark as moment")).to_be_visible()
    assert errors == []
