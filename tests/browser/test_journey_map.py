"""The journey map in a real Chromium, as a manager on a phone and at a desktop: no word broken
inside the heatmap, its legend or the lists; every cell says what it means; tapping a cell
shows its moments in view; the weekly trend chart and its figures are there. Screenshots:
var/screenshots/journey-map-<size>.png and journey-map-<size>-drill-down.png."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from moments.memory import services as memory_services
from tests.browser.helpers import (
    DESKTOP,
    PHONE,
    UNBROKEN_WORDS,
    layout_problems,
    login,
    new_page,
    screenshot,
)
from tests.factories import CustomerFactory
from tests.moments.factories import ScoredInteractionFactory, long_text, stage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _moments():
    for days, score, slug, body in [
        (1, -0.95, "complaint", "Charged twice and still waiting"),
        (3, -0.9, "onboarding", "The setup failed again"),
        (10, 0.95, "delivery", "Arrived early, thank you so much"),
        (20, 0.9, "renewal", "Great call, very helpful"),
    ]:
        interaction = ScoredInteractionFactory(
            customer=CustomerFactory(),
            stage=stage(slug),
            sentiment_score=score,
            occurred_at=timezone.now() - timedelta(days=days),
            body=long_text(body),
        )
        memory_services.detect_moments(interaction_ids=[interaction.pk])


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_the_journey_map_reads_at_a_glance(browser, contexts, live_server, manager, size):
    _moments()
    errors: list[str] = []
    page = new_page(browser, errors, viewport=PHONE if size == "phone" else DESKTOP)
    contexts.append(page)
    login(page, live_server, "manager")
    page.goto(f"{live_server.url}/moments/journey/", wait_until="networkidle")

    for where in (".heatmap thead", ".heatmap tbody", ".heat-legend", "#at-risk", "#journey-trend"):
        assert page.locator(where).evaluate(UNBROKEN_WORDS) == [], where
    cell = page.locator("td.heat-cell a").first
    assert "moment" in cell.locator("xpath=..").get_attribute("title")
    expect(page.locator("#journey-trend svg.chart")).to_be_visible()
    expect(page.locator("#trend-summary")).to_contain_text("moments in the 12 weeks")
    page.locator("#journey-trend summary").click()
    expect(page.locator("#journey-trend table")).to_be_visible()
    screenshot(page, f"journey-map-{size}")

    cell.click()
    heading = page.locator("#cell-moments h2")
    expect(heading).to_be_visible()
    expect(heading).to_be_in_viewport()
    assert layout_problems(page) == []
    screenshot(page, f"journey-map-{size}-drill-down")
    assert errors == []
