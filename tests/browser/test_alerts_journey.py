"""Alerts are timely and specific, in a real Chromium: a backfill fires nothing; a fresh
complaint right after it fires exactly one alert, which names the interaction and says why;
a more furious complaint within the cool-down re-alerts (escalation).

The queued work (sentiment scoring with the real test model, moment detection, the rules) runs
in this process between the steps (`drain`), as a worker would; the full cluster is exercised
by test_journey.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.models import OrmQ
from playwright.sync_api import expect

from customers.models import Interaction
from interventions.models import Alert
from tests.browser.helpers import login, screenshot
from tests.factories import CustomerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Both negative and confident enough for the frustration alert with the test model; the
# second is clearly the more furious (its score is checked below, not assumed).
LATE = ("Late again", "My order is late again. This is bad service.")
FURIOUS = (
    "Refund now",
    "I am furious and want a refund now. This is unacceptable, the worst service ever!",
)


def drain(limit: int = 200) -> None:
    """Run every queued task here, including the ones they queue."""
    for _ in range(limit):
        queued = OrmQ.objects.order_by("pk").first()
        if queued is None:
            return
        task = queued.task
        queued.delete()
        func = task["func"]
        func = import_string(func) if isinstance(func, str) else func
        func(*task.get("args", ()), **task.get("kwargs", {}))
    raise AssertionError("the task queue did not drain")


def log(page, subject: str, body: str, *, when=None) -> None:
    items = page.locator("#timeline li.interaction")
    before = items.count()
    page.select_option("#id_channel", "email")
    page.select_option("#id_stage", label="Complaint")
    if when is not None:
        page.fill("#id_occurred_at", timezone.localtime(when).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#id_subject", subject)
    page.fill("#id_body", body)
    page.click("#interaction-form button[type=submit]")
    expect(items).to_have_count(before + 1)
    drain()


def test_backfill_is_quiet_fresh_complaint_alerts_once_escalation_re_alerts(
    page, page_errors, live_server, agent, manager, sentiment_model
):
    customer = CustomerFactory(name="Grace Hopper", email="grace@example.com", owner=agent)
    login(page, live_server, "agent")
    page.goto(f"{live_server.url}{customer.get_absolute_url()}")

    # A backfill: two furious complaints from seven weeks ago. No alert, no storm.
    for weeks in (7, 7):
        log(page, *FURIOUS, when=timezone.now() - timedelta(weeks=weeks))
    assert Interaction.objects.filter(sentiment_label="negative").count() == 2
    page.goto(f"{live_server.url}/alerts/")
    expect(page.locator("#alert-list")).to_contain_text("No alerts.")
    expect(page.locator("#alert-badge")).to_have_text("0")

    # A fresh complaint right after the backfill: exactly one alert, naming it, in words.
    page.goto(f"{live_server.url}{customer.get_absolute_url()}")
    log(page, *LATE)
    late = Interaction.objects.get(subject=LATE[0])
    page.goto(f"{live_server.url}/alerts/")
    alerts = page.locator("#alert-list li.alert")
    expect(alerts).to_have_count(1)
    expect(alerts.first).to_contain_text('Customer wrote "My order is late again')
    expect(alerts.first).to_contain_text("Complaint stage")
    expect(page.locator("#alert-badge")).to_have_text("1")
    assert Alert.objects.filter(recipient=agent).count() == 1

    # Within the 1-hour cool-down, a more furious complaint re-alerts.
    page.goto(f"{live_server.url}{customer.get_absolute_url()}")
    log(page, *FURIOUS)
    furious = Interaction.objects.filter(subject=FURIOUS[0]).order_by("-occurred_at").first()
    assert furious.sentiment_score < late.sentiment_score  # the premise: it is worse
    page.goto(f"{live_server.url}/alerts/")
    expect(alerts).to_have_count(2)
    newest = page.locator(f"#alert-list li.alert:has(a[href$='#interaction-{furious.pk}'])")
    expect(newest).to_contain_text("worse than the last alert")
    screenshot(page, "alerts-escalation")

    # The alert links the interaction's anchor on the timeline.
    newest.locator(f"a[href$='#interaction-{furious.pk}']").click()
    expect(page.locator(f"#interaction-{furious.pk}")).to_be_visible()
    assert page.url.endswith(f"#interaction-{furious.pk}")
    assert page_errors == []
