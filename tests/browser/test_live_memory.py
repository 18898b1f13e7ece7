"""The customer page stays consistent without a reload (issue 13, item 4): a sentiment
correction, a tag, a dismissal and a promotion update the marker, the memory panel and the
chart in the same answer; an interaction scored in the background (by a real django-q2 worker)
appears in the panel and the chart through the memory sync."""

# ruff: noqa: F811  (the cluster fixture imported below is a test argument, which ruff sees as a
# redefinition)

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from moments.memory import services as memory_services
from moments.models import Moment
from tests.browser.helpers import login, open_item_menu
from tests.browser.test_journey import WAIT, cluster, web  # noqa: F401  (fixtures)
from tests.moments.factories import ScoredInteractionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _open(page, live_server, customer) -> None:
    login(page, live_server, "agent")
    page.goto(f"{live_server.url}{customer.get_absolute_url()}")
    page.evaluate("window.__noReload = true")


def _no_reload(page) -> None:
    assert page.evaluate("window.__noReload") is True


def _figure(locator) -> str:
    return locator.locator(".recall").first.get_attribute("data-likely-remembered")


def test_a_correction_updates_marker_panel_and_chart(
    page, page_errors, live_server, agent, customer
):
    complaint = ScoredInteractionFactory(
        customer=customer, sentiment_score=-0.95, subject="Charged twice"
    )
    memory_services.detect_moments(interaction_ids=[complaint.pk])
    _open(page, live_server, customer)
    marker = page.locator(f"#moment-marker-{complaint.pk}")
    panel = page.locator("#memory-panel")
    chart = page.locator("#sentiment-chart")
    expect(marker).to_contain_text("★ Moment · negative")
    expect(panel).to_contain_text("Leaning negative")

    open_item_menu(page, complaint.pk)
    page.locator(f"#sentiment-{complaint.pk}").get_by_label("Correct sentiment to positive").click()

    expect(page.locator(f"#sentiment-{complaint.pk}")).to_contain_text("(corrected)")
    expect(marker).to_contain_text("★ Moment · positive")
    expect(marker).not_to_contain_text("negative")
    expect(panel).to_contain_text("Leaning positive")
    expect(chart.locator("title")).to_contain_text("positive (1.00)")
    assert _figure(marker) == _figure(panel)
    _no_reload(page)
    assert page_errors == []


def test_promote_updates_marker_panel_and_chart(page, page_errors, live_server, agent, customer):
    interaction = ScoredInteractionFactory(
        customer=customer, sentiment_score=-0.5, subject="On hold"
    )
    _open(page, live_server, customer)
    marker = page.locator(f"#moment-marker-{interaction.pk}")
    expect(page.locator("#sentiment-chart .moment-mark")).to_have_count(0)

    open_item_menu(page, interaction.pk)
    marker.get_by_role("button", name="Mark as moment").click()

    expect(marker).to_contain_text("★ Moment")
    expect(page.locator("#memory-panel .memory-top")).to_contain_text("On hold")
    expect(page.locator("#memory-panel .memory-balance")).to_contain_text("Leaning negative")
    expect(page.locator("#sentiment-chart .moment-mark")).to_have_count(1)
    assert _figure(marker) == _figure(page.locator("#memory-panel"))
    _no_reload(page)
    assert page_errors == []


def test_a_tag_updates_marker_and_panel(page, page_errors, live_server, agent, customer):
    interaction = ScoredInteractionFactory(
        customer=customer, sentiment_score=-0.5, subject="On hold"
    )
    memory_services.promote_interaction(interaction=interaction, user=agent)
    _open(page, live_server, customer)
    marker = page.locator(f"#moment-marker-{interaction.pk}")
    panel = page.locator("#memory-panel .memory-top")
    before = panel.inner_text()

    open_item_menu(page, interaction.pk)
    marker.get_by_label("Add a tag").select_option(label="Long wait")

    expect(marker.locator(".moment-tag")).to_contain_text("Long wait")
    expect(panel.locator(".moment-tag")).to_contain_text("Long wait")
    moment = Moment.objects.get(interaction=interaction)
    expect(panel).to_contain_text(f"impact {moment.impact:.2f}")
    expect(marker).to_contain_text(f"impact {moment.impact:.2f}")
    assert panel.inner_text() != before
    assert _figure(marker) == _figure(page.locator("#memory-panel"))
    expect(page.locator("#sentiment-chart .moment-mark")).to_have_count(1)
    _no_reload(page)
    assert page_errors == []


def test_dismiss_updates_marker_panel_and_chart(page, page_errors, live_server, agent, customer):
    interaction = ScoredInteractionFactory(
        customer=customer, sentiment_score=-0.5, subject="On hold"
    )
    memory_services.promote_interaction(interaction=interaction, user=agent)
    _open(page, live_server, customer)
    marker = page.locator(f"#moment-marker-{interaction.pk}")
    expect(page.locator("#sentiment-chart .moment-mark")).to_have_count(1)

    open_item_menu(page, interaction.pk)
    marker.get_by_role("link", name="Dismiss…").click()
    marker.get_by_placeholder("Why is this not a moment?").fill("Test call from QA")
    marker.get_by_role("button", name="Dismiss").click()

    expect(marker).to_contain_text("Dismissed: Test call from QA")
    expect(page.locator("#memory-panel")).to_contain_text("No moments yet")
    expect(page.locator("#sentiment-chart .moment-mark")).to_have_count(0)
    _no_reload(page)
    assert page_errors == []


@pytest.mark.cluster
def test_an_interaction_scored_in_the_background_appears_without_reload(
    page,
    page_errors,
    live_server,
    agent,
    customer,
    cluster,
    settings,
):
    settings.MEMORY_LIVE_SECONDS = 1
    _open(page, live_server, customer)
    expect(page.locator("#sentiment-chart")).to_contain_text("No scored interactions yet")

    page.select_option("#id_channel", "email")
    page.select_option("#id_direction", "inbound")
    page.select_option("#id_stage", label="Complaint")
    page.fill("#id_subject", "Order lost, furious")
    page.fill(
        "#id_body",
        "This is unacceptable. I am furious: the order I paid for three weeks ago is lost, the "
        "tracking page has said 'in transit' for ten days, and nobody answers my emails or calls.",
    )
    page.click("#interaction-form button[type=submit]")
    item = page.locator("#timeline li.interaction").first
    expect(item).to_contain_text("sentiment pending")
    pk = int(item.get_attribute("id").removeprefix("interaction-"))

    # The worker scores it and detects the moment; the page learns it through the memory sync.
    timeout = WAIT * 1000
    expect(page.locator("#sentiment-chart svg")).to_be_visible(timeout=timeout)
    expect(page.locator("#memory-panel .memory-top")).to_contain_text(
        "Order lost, furious", timeout=timeout
    )
    expect(page.locator(f"#moment-marker-{pk}")).to_contain_text("★ Moment · negative")
    expect(page.locator("#sentiment-chart .moment-mark")).to_have_count(1)
    expect(page.locator(f"#sentiment-{pk}")).not_to_contain_text("pending")
    _no_reload(page)
    assert page_errors == []
