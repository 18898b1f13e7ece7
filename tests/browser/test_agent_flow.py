import re

import pytest
from playwright.sync_api import expect

from customers.models import Interaction
from tests.browser.helpers import login
from tests.factories import CustomerFactory, InteractionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_agent_searches_a_customer_and_logs_an_interaction(page, page_errors, live_server, agent):
    CustomerFactory(name="Grace Hopper", email="grace@cobol.example", company="Compiler Works")
    CustomerFactory.create_batch(5)
    login(page, live_server, "agent")

    # Live search: the list narrows as the agent types, and the URL keeps the query.
    page.fill("#id_q", "hopper")
    expect(page.locator("#customer-list tbody tr")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"\?q=hopper"))
    page.click("text=Grace Hopper")
    expect(page.locator("h1")).to_have_text("Grace Hopper")

    # Log an interaction: it appears at the top of the timeline without a page reload.
    page.evaluate("window.__noReload = true")
    page.select_option("#id_channel", "call")
    page.select_option("#id_stage", label="Complaint")
    page.fill("#id_subject", "Parcel arrived damaged")
    page.fill("#id_body", "The box was crushed and the customer is upset.")
    page.click("#interaction-form button[type=submit]")
    first = page.locator("#timeline li.interaction").first
    expect(first).to_contain_text("Parcel arrived damaged")
    assert page.evaluate("window.__noReload") is True
    expect(page.locator("#id_subject")).to_have_value("")
    assert Interaction.objects.get().subject == "Parcel arrived damaged"

    # An invalid entry shows its error inline and keeps what was typed.
    page.fill("#id_subject", "")
    page.fill("#id_body", "")
    page.click("#interaction-form button[type=submit]")
    expect(page.locator("#interaction-form .error")).to_contain_text("Write a subject or a body")
    assert Interaction.objects.count() == 1
    assert page_errors == []


def test_timeline_loads_older_pages_on_scroll(page, page_errors, live_server, agent, settings):
    settings.TIMELINE_PAGE_SIZE = 10
    customer = CustomerFactory(name="Long History")
    InteractionFactory.create_batch(25, customer=customer)
    login(page, live_server, "agent")
    page.goto(f"{live_server.url}{customer.get_absolute_url()}")
    items = page.locator("#timeline li.interaction")
    expect(items).to_have_count(10)
    for expected in (20, 25):
        page.locator("#timeline li").last.scroll_into_view_if_needed()
        expect(items).to_have_count(expected)
    assert page_errors == []


def test_pages_work_on_a_phone(phone_page, page_errors, live_server, agent):
    customer = CustomerFactory(name="Mobile Customer")
    login(phone_page, live_server, "agent")
    phone_page.goto(f"{live_server.url}{customer.get_absolute_url()}")
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the customer page scrolls sideways on a phone"
    assert page_errors == []
