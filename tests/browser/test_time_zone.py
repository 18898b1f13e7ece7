"""The browser names its time zone on the first page (the login page); from then on the app
shows and pre-fills times in it and says which zone that is, until the user picks another zone
from the footer's link (their choice wins over the browser's)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.helpers import login
from tests.factories import CustomerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_times_follow_the_browsers_zone(browser, live_server, agent):
    customer = CustomerFactory(name="Ada Lovelace", owner=agent)
    context = browser.new_context(timezone_id="America/Los_Angeles")
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        login(page, live_server, "agent")
        page.goto(f"{live_server.url}{customer.get_absolute_url()}")
        expect(page.locator(".zone-note")).to_contain_text("Times in America/Los_Angeles.")
        prefill = datetime.fromisoformat(page.locator("#id_occurred_at").input_value())
        la_now = timezone.now().astimezone(ZoneInfo("America/Los_Angeles")).replace(tzinfo=None)
        assert abs(prefill - la_now) < timedelta(minutes=2)

        # The agent picks Tokyo: back on the same page, in Tokyo time, the choice named.
        page.get_by_role("link", name="Change time zone").click()
        page.select_option("#id_time_zone", "Asia/Tokyo")
        page.get_by_role("button", name="Save").click()
        page.wait_for_url(f"{live_server.url}{customer.get_absolute_url()}")
        expect(page.locator(".zone-note")).to_contain_text("Times in Asia/Tokyo (your choice).")
        prefill = datetime.fromisoformat(page.locator("#id_occurred_at").input_value())
        tokyo_now = timezone.now().astimezone(ZoneInfo("Asia/Tokyo")).replace(tzinfo=None)
        assert abs(prefill - tokyo_now) < timedelta(minutes=2)
        assert errors == []
    finally:
        context.close()
