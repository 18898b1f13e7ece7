"""The survey report's themes chart in a real Chromium, at desktop and phone sizes: drawn, no
serious or critical axe-core violation, nothing overflowing; screenshots
var/screenshots/survey-report-themes-<size>.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from surveys import services as surveys
from surveys.models import Invitation
from tests.browser.helpers import (
    DESKTOP,
    PHONE,
    UNBROKEN_WORDS,
    axe_problems,
    layout_problems,
    login,
    new_page,
    screenshot,
)
from tests.browser.test_pages_clean import a_customer_with_history

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_themes_chart_reads_on_a_phone_and_a_desktop(
    browser, contexts, live_server, agent, manager
):
    data = a_customer_with_history(name="Ada Lovelace", note="Parcel lost twice", owner=agent)
    invitation = Invitation.objects.get(interaction=data["interaction"])
    surveys.submit_response(invitation=invitation, rating=2, answer="The wait.", moment_ids=[])
    errors: list[str] = []
    page = new_page(browser, errors, viewport=DESKTOP)
    contexts.append(page)
    login(page, live_server, "manager")
    page.goto(f"{live_server.url}/surveys/report/", wait_until="networkidle")
    expect(page.locator("#themes .bar-chart li").first).to_contain_text("Complaint · Long wait")
    expect(page.locator("#themes .bar-chart li").first).to_contain_text("1 answer")
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        assert axe_problems(page) == [], size
        assert layout_problems(page) == [], size
        for where in ("#themes", "#answers"):
            assert page.locator(where).evaluate(UNBROKEN_WORDS) == [], (size, where)
        screenshot(page, f"survey-report-themes-{size}")
    assert errors == []
