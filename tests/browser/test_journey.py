"""The whole journey in a real Chromium, with a real django-q2 cluster doing the work.

An admin teaches the taxonomy that "turned it around" means an escalation recovery and a manager
switches on the milestone thank-you (both off by default); an agent logs an angry complaint; the
worker (`manage.py qcluster`, a subprocess on the test database, with the real sentiment model)
scores it and detects the moment; the manager sees the frustration alert; the agent logs the
recovery call, which becomes a positive "Escalation recovery" moment, and the thank-you email is
scheduled for the customer's next 09:00; the manager resolves the alert (an open one holds
survey invitations) and the agent asks what stood out; the customer opens the
link from the email on a phone, without logging in, answers and picks the moment; the customer
page then shows the recalled moment and the memory balance.

Emails are sent by the worker process, so they are not in this process's `mail.outbox`: the
worker uses Django's file backend (tests/interventions/cluster_settings.py) and the test reads
the survey link out of the message the customer received.

Each step leaves a screenshot in var/screenshots/journey-NN-<step>.png (a CI artefact).
"""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from customers.models import Interaction
from interventions.models import Intervention
from moments.models import CustomerMemory, Moment
from surveys.models import Response
from tests import hosts
from tests.browser.helpers import (
    SCREENSHOTS,
    login,
    new_page,
    reload_until,
    screenshot,
    watch_responses,
)
from tests.factories import CustomerFactory

pytestmark = [pytest.mark.browser, pytest.mark.cluster, pytest.mark.django_db(transaction=True)]

WAIT = 60  # seconds: the longest any one step may wait for the worker
# A complaint as customers write one: a few sentences (moment detection weighs a handful of
# words as little evidence: docs/memory-model.md, "Detection").
COMPLAINT = (
    "Order lost, furious",
    "This is unacceptable. I am furious: the order I paid for three weeks ago is lost, the "
    "tracking page has said 'in transit' for ten days, and nobody answers my emails or calls.",
)
RECOVERY = (
    "Replacement delivered",
    "Great job, excellent and friendly: you turned it around in one call. The replacement "
    "arrived this morning, it works perfectly, and I have told my colleagues how well you "
    "handled it.",
)


@pytest.fixture
def web(request, tmp_path):
    """Where the browsers go: pytest-django's live server, or gunicorn with TEST_WEB_WORKERS
    processes (the scaled CI pass: several web processes sharing the Redis cache)."""
    workers = int(os.environ.get("TEST_WEB_WORKERS") or 0)
    if workers < 2:
        return request.getfixturevalue("live_server")
    process, url = hosts.start_gunicorn(tmp_path, {}, workers=workers)
    request.addfinalizer(process.stop)  # before pytest-django empties the tables
    return SimpleNamespace(url=url)


@pytest.fixture
def cluster(start_hosts, web, sentiment_model, tmp_path):
    """`manage.py qcluster` on the test database (one per worker host): one worker, the test
    model, a file mailbox, links pointing at the web server."""
    return start_hosts(
        mail_dir=tmp_path / "mail",
        LOG_LEVEL="WARNING",
        SURVEY_BASE_URL=web.url,
        INTERVENTIONS_SITE_URL=web.url,
    )


def log_interaction(page, *, subject: str, body: str, channel: str, direction: str) -> int:
    """Fill and send the customer page's form; the new item appears on top of the timeline."""
    page.select_option("#id_channel", channel)
    page.select_option("#id_direction", direction)
    page.select_option("#id_stage", label="Complaint")
    page.fill("#id_subject", subject)
    page.fill("#id_body", body)
    page.click("#interaction-form button[type=submit]")
    first = page.locator("#timeline li.interaction").first
    expect(first).to_contain_text(subject)
    return int(first.get_attribute("id").removeprefix("interaction-"))


def balance_shown(page) -> float:
    return float(page.locator("#memory-panel .memory-balance").get_attribute("data-balance"))


def test_the_whole_journey(
    browser,
    page,
    phone_page,
    page_errors,
    web,
    cluster,
    contexts,
    agent,
    manager,
    admin_user,
):
    # The thank-you goes out at the next 09:00 in the customer's time zone; keep clear of the
    # hour before it, when the row could already be due by the time the manager looks.
    zone = "Asia/Tokyo" if time.gmtime().tm_hour == 8 else "UTC"
    customer = CustomerFactory(
        name="Grace Hopper", email="grace@example.com", owner=agent, timezone=zone
    )
    customer_url = f"{web.url}{customer.get_absolute_url()}"
    for p in (page, phone_page):
        watch_responses(p, page_errors)
    for old in SCREENSHOTS.glob("journey-*.png"):
        old.unlink()
    step = iter(range(1, 100))

    def shot(p, name: str) -> None:
        screenshot(p, f"journey-{next(step):02d}-{name}")

    # An admin teaches the taxonomy a phrase for "Escalation recovery" (Django admin).
    admin = new_page(browser, page_errors)
    contexts.append(admin)
    login(admin, web, "admin")
    admin.goto(f"{web.url}/admin/moments/tagrule/add/")
    admin.fill("#id_name", "Recovery words")
    admin.select_option("#id_tag", label="Escalation recovery")
    admin.fill("#id_phrases", "turned it around\nmade it right")
    admin.click("input[name=_save]")
    expect(admin.locator(".messagelist")).to_contain_text("Recovery words")
    shot(admin, "admin-adds-tag-rule")

    # A manager switches on the milestone thank-you rule (off by default).
    boss = new_page(browser, page_errors)
    contexts.append(boss)
    login(boss, web, "manager")
    quiet = boss.locator("#alert-badge")
    expect(quiet).to_have_text("0")
    assert quiet.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(208, 213, 221)"
    boss.click("nav >> text=Rules")
    row = boss.locator("tr", has_text="Milestone thank-you")
    row.get_by_role("button", name="Enable").click()
    expect(row).to_contain_text("Active")
    shot(boss, "manager-enables-thank-you")

    # The agent logs an angry complaint (it happened two hours ago, on the phone).
    login(page, web, "agent")
    page.goto(customer_url)
    two_hours_ago = timezone.localtime() - timedelta(hours=2)
    page.fill("#id_occurred_at", two_hours_ago.strftime("%Y-%m-%dT%H:%M"))
    complaint = log_interaction(
        page, subject=COMPLAINT[0], body=COMPLAINT[1], channel="call", direction="inbound"
    )
    expect(page.locator(f"#sentiment-{complaint}")).to_contain_text("sentiment pending")
    shot(page, "agent-logs-complaint")

    # The worker scores it: the pending badge polls until the sentiment appears, no reload.
    expect(page.locator(f"#sentiment-{complaint} .sentiment-negative")).to_be_visible(
        timeout=WAIT * 1000
    )
    shot(page, "sentiment-appears")

    # … and detects the moment: a negative one, in the marker and the memory panel.
    reload_until(page, f"#moment-marker-{complaint}", "★ Moment · negative", timeout=WAIT)
    expect(page.locator("#memory-panel .memory-top")).to_contain_text(COMPLAINT[0])
    after_complaint = balance_shown(page)
    assert after_complaint < 0
    shot(page, "moment-detected")

    # The manager sees the frustration alert (the header badge polls; the inbox lists it).
    boss.goto(f"{web.url}/customers/")
    reload_until(boss, "#alert-badge", "1", timeout=WAIT)
    expect(boss.locator("#alert-badge")).not_to_have_class(re.compile("badge-zero"))
    boss.click("nav >> text=Alerts")
    alert = boss.locator("ul.alerts li.alert").first
    expect(alert).to_contain_text("Frustrated customer: Grace Hopper (Complaint)")
    expect(alert).to_have_class(re.compile(r"\burgent\b"))
    # Why, in words: what the customer wrote, how negative, which stage.
    expect(alert.locator(".alert-reason")).to_contain_text('Customer wrote "This is unacceptable')
    expect(alert.locator(".alert-reason")).to_contain_text("Complaint stage")
    cluster.wait_for_email("manager@example.com", "Frustrated customer: Grace Hopper", timeout=WAIT)
    shot(boss, "manager-sees-frustration-alert")

    # The customer calls back about the replacement and the agent logs what they said (inbound:
    # the customer's own words; an agent's outbound note is never the customer's moment); the
    # worker scores it positive and the tag rule makes it an "Escalation recovery" moment.
    page.goto(customer_url)
    recovery = log_interaction(
        page, subject=RECOVERY[0], body=RECOVERY[1], channel="call", direction="inbound"
    )
    shot(page, "agent-logs-recovery-call")
    marker = f"#moment-marker-{recovery}"
    reload_until(page, marker, "★ Moment · positive", timeout=WAIT)
    expect(page.locator(f"#sentiment-{recovery} .sentiment-positive")).to_be_visible()
    expect(page.locator(f"{marker} .moment-tag")).to_contain_text("Escalation recovery")
    after_recovery = balance_shown(page)
    assert after_recovery > after_complaint
    shot(page, "recovery-moment-detected")

    # The thank-you email is scheduled for the customer's next 09:00.
    boss.goto(f"{web.url}/interventions/?tab=scheduled")
    reload_until(boss, "#intervention-queue tbody", "Milestone thank-you", timeout=WAIT)
    scheduled = boss.locator("#intervention-queue tbody tr", has_text="Milestone thank-you")
    expect(scheduled).to_contain_text("Grace Hopper")
    expect(scheduled).to_contain_text("Scheduled")
    scheduled.locator("summary").click()
    expect(scheduled).to_contain_text("moment_tags contains_any")
    thank_you = Intervention.objects.get(rule__slug="milestone-thank-you")
    expect(scheduled.locator("time")).to_have_text(
        thank_you.scheduled_for.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    )
    local = thank_you.scheduled_for.astimezone(ZoneInfo(zone))
    assert (local.hour, local.minute) == (9, 0)
    shot(boss, "thank-you-email-scheduled")

    # The recovery worked: the manager resolves the alert (while it is open, survey
    # invitations to the customer would be held).
    boss.goto(f"{web.url}/alerts/")
    alert = boss.locator("ul.alerts li.alert").first
    alert.get_by_role("button", name="Resolve").click()
    expect(boss.locator("ul.alerts li.alert").first).to_contain_text("Resolved by manager")

    # The agent asks the customer what stood out; the worker sends the survey email.
    page.goto(customer_url)
    invite = page.locator(f"#survey-invite-{recovery}")
    invite.get_by_role("button", name="Ask what stood out").click()
    expect(invite).to_contain_text("Survey sending…")
    message = cluster.wait_for_email("grace@example.com", "What stood out for you?", timeout=WAIT)
    reload_until(page, f"#survey-invite-{recovery}", "Survey sent", timeout=WAIT)
    shot(page, "survey-sent")

    # The customer opens the link from the email on a phone, without logging in.
    body = message.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"http://\S+/s/[A-Za-z0-9_-]{43}/", body).group(0)
    assert link.startswith(web.url)
    phone_page.goto(link)
    expect(phone_page.locator("legend").first).to_have_text(
        "How satisfied were you with this experience?"
    )
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(phone_page, "customer-opens-link")
    phone_page.locator(".scale label").nth(4).tap()  # 5 of 5
    # The page labels moments by channel and date only, never by what agents wrote.
    expect(phone_page.locator("form")).not_to_contain_text(RECOVERY[0])
    recovery_choice = phone_page.locator(
        f'input[name="moments"][value="{Moment.objects.get(interaction_id=recovery).pk}"]'
    )
    expect(
        phone_page.locator(f'label[for="{recovery_choice.get_attribute("id")}"]')
    ).to_contain_text("Your call of")
    recovery_choice.check()
    phone_page.fill("textarea", "The call back: you turned it around the same day.")
    shot(phone_page, "customer-answers")
    phone_page.get_by_role("button", name="Send my answer").click()
    expect(phone_page.locator("h1")).to_have_text("Thank you!")
    shot(phone_page, "customer-thanked")

    # The customer page shows what stood out for the customer, and the memory balance.
    recovery_moment = Moment.objects.get(interaction_id=recovery)
    assert list(Response.objects.get().moments.all()) == [recovery_moment]
    page.goto(customer_url)
    answers = page.locator("#survey-answers")
    expect(answers).to_contain_text("Stood out for the customer: Replacement delivered")
    expect(answers).to_contain_text("you turned it around the same day")
    memory = CustomerMemory.objects.get(customer=customer)
    assert balance_shown(page) == round(memory.balance, 2)
    expect(page.locator("#memory-panel .memory-top")).to_contain_text(RECOVERY[0])
    expect(page.locator("#memory-panel .memory-top")).to_contain_text(COMPLAINT[0])
    shot(page, "customer-page-recalled-moment")

    assert Interaction.objects.get(pk=complaint).sentiment_label == "negative"
    thank_you.refresh_from_db()
    assert thank_you.status == Intervention.Status.SCHEDULED
    assert cluster.process.poll() is None, cluster.tail()
    assert page_errors == []
