"""Keyboard only: an agent searches for a customer and logs an interaction, and a customer
answers the survey, with Tab, arrows, typing and Enter; no mouse, no tap."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import DESKTOP, login, new_page
from tests.browser.test_pages_clean import a_customer_with_history
from tests.moments.factories import long_text

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def tab_to(page, selector: str, *, limit: int = 80) -> None:
    """Press Tab until the focused element matches `selector`: it is reachable by keyboard."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => !!document.activeElement?.matches(s)", selector):
            return
    raise AssertionError(f"{selector} is not reached with Tab")


def test_search_and_log_an_interaction_with_the_keyboard(browser, contexts, live_server, agent):
    data = a_customer_with_history(name="Ada Lovelace", note="Parcel lost twice", owner=agent)
    url = data["customer"].get_absolute_url()
    errors: list[str] = []
    page = new_page(browser, errors, viewport=DESKTOP)
    contexts.append(page)
    login(page, live_server, "agent")

    tab_to(page, "#id_q")
    page.keyboard.type("ada")
    # The list showed Ada before the search too: wait for the search's answer (its URL is
    # pushed once the list is swapped), or Enter below leaves while it is in flight and
    # Chromium reports the abandoned request as failed.
    expect(page).to_have_url(re.compile(r"/customers/\?q=ada$"))
    expect(page.locator("#customer-list")).to_contain_text("Ada Lovelace")
    tab_to(page, f'#customer-list a[href="{url}"]')
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Ada Lovelace")

    tab_to(page, "#id_channel")
    page.keyboard.press("ArrowDown")  # a closed select changes with the arrows
    assert page.input_value("#id_channel") == "email"
    tab_to(page, "#id_stage")
    page.keyboard.press("ArrowDown")
    assert page.input_value("#id_stage") != ""
    tab_to(page, "#id_subject")
    page.keyboard.type("Called about the refund")
    tab_to(page, "#id_body")
    page.keyboard.type(long_text("She asked when the refund arrives."))
    tab_to(page, "#interaction-form button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.locator("#timeline li.interaction").first).to_contain_text(
        "Called about the refund"
    )
    assert errors == []


def test_answer_the_survey_with_the_keyboard(browser, contexts, live_server, agent):
    token = a_customer_with_history(name="Ada Lovelace", note="Parcel lost", owner=agent)["token"]
    errors: list[str] = []
    page = new_page(browser, errors, viewport=DESKTOP)
    contexts.append(page)
    page.goto(f"{live_server.url}/s/{token}/")

    tab_to(page, "input[name=rating]")
    page.keyboard.press("ArrowRight")  # arrows move the choice within the scale
    page.keyboard.press("ArrowRight")
    assert page.locator("input[name=rating]:checked").count() == 1
    tab_to(page, "input[name=moments]")
    page.keyboard.press("Space")
    tab_to(page, "textarea")
    page.keyboard.type("The courier was kind.")
    tab_to(page, "button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Thank you!")
    assert errors == []
