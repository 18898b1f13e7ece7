"""Without JavaScript nothing on the customer page is folded away: the nav links, the log
form and each item's controls show, and the folding buttons (which need scripts) do not."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.test_pages_clean import a_customer_with_history

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_without_scripts_nothing_is_folded(browser, live_server, agent):
    data = a_customer_with_history(name="Ada Lovelace", note="Parcel lost twice", owner=agent)
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, java_script_enabled=False
    )
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", "agent")
        page.fill("#id_password", "pw-for-tests")
        page.click("button[type=submit]")
        page.goto(f"{live_server.url}{data['customer'].get_absolute_url()}")
        item = page.locator(f"#interaction-{data['interaction'].pk}")
        expect(page.get_by_role("link", name="Customers")).to_be_visible()
        expect(page.locator("#interaction-form")).to_be_visible()
        expect(item.get_by_label("Add a tag")).to_be_visible()
        for hidden in ("Menu", "Actions"):
            expect(page.get_by_role("button", name=hidden)).to_have_count(0)
        expect(page.locator(".log-toggle")).to_be_hidden()
    finally:
        context.close()
