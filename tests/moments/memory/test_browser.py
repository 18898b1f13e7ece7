"""The agent's moment actions in a real browser: HTMX swaps the marker, the panel follows."""

import pytest
from playwright.sync_api import expect

from moments.models import Moment
from tests.browser.helpers import login, open_item_menu, settled
from tests.moments.factories import ScoredInteractionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_agent_marks_tags_and_dismisses_a_moment(page, page_errors, live_server, agent, customer):
    interaction = ScoredInteractionFactory(customer=customer, subject="Waited two hours on hold")
    login(page, live_server, "agent")
    page.goto(f"{live_server.url}{customer.get_absolute_url()}")
    page.evaluate("window.__noReload = true")
    marker = page.locator(f"#moment-marker-{interaction.pk}")
    panel = page.locator("#memory-panel")
    expect(panel).to_contain_text("No moments yet")

    # One click (in the item's Actions menu): the interaction becomes a moment, and the panel
    # lists it. The menu stays open while the marker is swapped.
    open_item_menu(page, interaction.pk)
    marker.get_by_role("button", name="Mark as moment").click()
    expect(marker).to_contain_text("★ Moment")
    expect(panel).to_contain_text("Waited two hours on hold")
    settled(page)

    # Choosing a tag adds it at once.
    marker.get_by_label("Add a tag").select_option(label="Long wait")
    expect(marker.locator(".moment-tag")).to_contain_text("Long wait")
    expect(marker).to_contain_text("negative")
    settled(page)

    # Dismiss asks why, in place.
    marker.get_by_role("link", name="Dismiss…").click()
    settled(page)
    marker.get_by_placeholder("Why is this not a moment?").fill("Test call from QA")
    marker.get_by_role("button", name="Dismiss").click()
    expect(marker).to_contain_text("Dismissed: Test call from QA")
    expect(panel).to_contain_text("No moments yet")

    assert page.evaluate("window.__noReload") is True
    moment = Moment.objects.get(interaction=interaction)
    assert moment.dismissed and [t.slug for t in moment.tags.all()] == ["long-wait"]
    assert page_errors == []
