"""Every main page, opened by the role that uses it, in a real Chromium: no console error, no
uncaught exception, no failed request and no error response (the page's or a subresource's);
at desktop (1366×768) and phone (390×844) sizes, no serious or critical axe-core violation, no
text overflowing its box and no page scrolling sideways, with a screenshot of each in
var/screenshots/pages-<who>-<page>-<size>.png (a CI artefact). And user text carrying
`<script>` and `hx-*` attributes, typed into a customer's name, an interaction note and a
survey answer, stays text on every page that shows it."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlparse

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from customers.models import Customer, Interaction, JourneyStage
from interventions import engine
from interventions.models import FollowUpTask, Rule
from moments.memory import services as memory_services
from moments.models import MomentTag
from surveys import services as surveys
from surveys.models import Survey
from tests.browser.helpers import (
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    axe_problems,
    layout_problems,
    login,
    new_page,
    screenshot,
)
from tests.moments.factories import ScoredInteractionFactory, long_text

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCRIPT = "<script>alert(1)</script>"
HTMX = '<div hx-get="/x" hx-trigger="load">htmx</div>'
PAYLOAD = f"{SCRIPT}{HTMX}"


def a_customer_with_history(*, name: str, note: str, owner) -> dict:
    """A customer with what every page shows: a negative complaint that fired the frustration
    alert (in-app and by email), a moment, a follow-up task and a survey link, answered or not.
    Built with the services, as the worker would; the pages are what is under test."""
    customer = Customer.objects.create(name=name, email="eve@example.com", owner=owner)
    complaint = ScoredInteractionFactory(
        customer=customer,
        stage=JourneyStage.objects.get(slug="complaint"),
        occurred_at=timezone.now() - timedelta(hours=2),
        sentiment_score=-0.9,
        sentiment_confidence=0.95,
        subject=note,
        body=note,
    )
    for intervention in engine.fire_event(
        event="interaction.scored", subject=complaint, enqueue=False
    ):
        engine.execute(intervention.pk)
    memory_services.promote_interaction(
        interaction=complaint, user=owner, tags=[MomentTag.objects.get(slug="long-wait")]
    )
    FollowUpTask.objects.create(
        assignee=owner, customer=customer, title=f"Call {name} back", due=timezone.now()
    )
    invitation = surveys.create_invitation(
        survey=Survey.objects.get(name="What stood out?"),
        customer=customer,
        interaction=complaint,
        send=False,
    )
    return {"customer": customer, "interaction": complaint, "token": invitation.token}


def test_every_page_loads_cleanly(browser, contexts, live_server, agent, manager, admin_user):
    data = a_customer_with_history(name="Ada Lovelace", note="Parcel lost twice", owner=agent)
    pk = data["customer"].pk
    stage = JourneyStage.objects.get(slug="complaint").pk
    tag = MomentTag.objects.get(slug="long-wait").pk
    rule = Rule.objects.get(slug="frustration-alert").pk
    token = data["token"]
    pages = {
        "agent": [
            "/customers/",
            "/customers/?q=ada",
            "/customers/new/",
            f"/customers/{pk}/",
            f"/customers/{pk}/edit/",
            "/alerts/",
            "/tasks/",
            "/sentiment/status/",
            "/accounts/time-zone/",
        ],
        "manager": [
            f"/customers/{pk}/",
            "/moments/journey/",
            f"/moments/journey/{stage}/{tag}/",
            "/interventions/",
            "/interventions/?tab=scheduled",
            "/interventions/?tab=failed",
            "/interventions/?tab=recent",
            "/rules/",
            "/surveys/report/",
            "/surveys/forecast/",
            "/surveys/invite/",
            "/imports/",
        ],
        "admin": [
            "/admin/",
            "/admin/customers/customer/",
            f"/admin/customers/customer/{pk}/change/",
            "/admin/interventions/rule/",
            f"/admin/interventions/rule/{rule}/change/",
            "/admin/moments/moment/",
            "/admin/surveys/invitation/",
            "/api/docs/",
            "/api/v1/",
        ],
    }
    problems: dict[str, list[str]] = {}
    a11y: dict[str, list[str]] = {}
    layout: dict[str, list[str]] = {}
    for old in SCREENSHOTS.glob("pages-*.png"):
        old.unlink()

    def check(page, who: str, path: str) -> None:
        """axe-core and the layout at both sizes on the page as loaded (resizing reflows the
        same document: one load per page), a screenshot of each."""
        named = path.replace(token, "token").lower()
        slug = re.sub(r"[^a-z0-9]+", "-", re.sub(r"\d+", "n", named)).strip("-")
        original = page.viewport_size
        for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(viewport)
            label = f"{who} {path} ({size})"
            if found := axe_problems(page):
                a11y[label] = found
            if found := layout_problems(page):
                layout[label] = found
            screenshot(page, f"pages-{who}-{slug or 'home'}-{size}")
        page.set_viewport_size(original)

    def visit(page, errors: list, path: str, who: str) -> None:
        seen = len(errors)
        response = page.goto(f"{live_server.url}{path}", wait_until="networkidle")
        assert response.status == 200, path
        if path == "/api/docs/":
            # Swagger UI fetches the schema after its scripts have run, which on a busy machine
            # can be more than networkidle's half second later: wait for the operations it
            # draws from it, or the next page's navigation aborts that fetch ("failed").
            page.locator(".opblock").first.wait_for(timeout=60_000)
        check(page, who, path)
        if errors[seen:]:
            problems[path] = errors[seen:]

    for username, paths in pages.items():
        errors: list[str] = []
        page = new_page(browser, errors, viewport=DESKTOP)
        contexts.append(page)
        login(page, live_server, username)
        for path in paths:
            visit(page, errors, path, username)

    # The customer, on a phone and not logged in: the link, the answer, the opt-out page.
    errors = []
    phone = new_page(browser, errors, phone=True)
    contexts.append(phone)
    visit(phone, errors, "/accounts/login/", "customer")
    visit(phone, errors, f"/s/{token}/", "customer")
    phone.locator(".scale label").nth(2).tap()
    phone.locator(".moments label").first.tap()
    phone.get_by_role("button", name="Send my answer").click()
    expect(phone.locator("h1")).to_have_text("Thank you!")
    phone.wait_for_load_state("networkidle")
    if errors:
        problems["answering the survey"] = list(errors)
    visit(phone, errors, f"/s/{token}/thanks/", "customer")
    visit(phone, errors, f"/s/{token}/opt-out/", "customer")

    for label, found in {**a11y, **layout}.items():
        print(label, *found, sep="\n  ")
    assert problems == {}
    assert a11y == {}, "serious or critical axe-core violations"
    assert layout == {}, "text overflowing its box, or a page scrolling sideways"


def test_user_text_with_script_and_htmx_attributes_stays_text(
    browser, contexts, live_server, agent, manager, admin_user, settings
):
    settings.SURVEY_BASE_URL = live_server.url
    errors: list[str] = []
    dialogs: list[str] = []
    hits: list[str] = []

    def open_page(*, phone: bool = False):
        page = new_page(browser, errors, phone=phone)
        contexts.append(page)
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("request", lambda r: urlparse(r.url).path == "/x" and hits.append(r.url))
        return page

    def inert(page, where: str) -> None:
        """The payload is on the page as text, and nothing ran: no dialog, no request to /x, no
        element carrying its attributes, no script holding its code."""
        page.wait_for_load_state("networkidle")
        expect(page.locator("body")).to_contain_text(SCRIPT)
        assert page.locator('[hx-get="/x"]').count() == 0, where
        assert page.evaluate(
            "[...document.scripts].every(s => !s.textContent.includes('alert(1)'))"
        ), where
        assert (dialogs, hits) == ([], []), where

    # The agent creates the customer and logs an interaction through the forms (the new item
    # is swapped into the timeline by HTMX, which processes hx-* attributes it finds).
    agent_page = open_page()
    login(agent_page, live_server, "agent")
    agent_page.goto(f"{live_server.url}/customers/new/")
    agent_page.fill("#id_name", f"Eve {PAYLOAD}")
    agent_page.fill("#id_email", "eve@example.com")
    agent_page.select_option("#id_owner", label="agent")
    agent_page.click("#customer-form button[type=submit]")
    expect(agent_page.locator("h1")).to_have_text(f"Eve {PAYLOAD}")
    customer = Customer.objects.get(email="eve@example.com")
    customer_url = f"{live_server.url}{customer.get_absolute_url()}"
    agent_page.select_option("#id_channel", "email")
    agent_page.select_option("#id_stage", label="Complaint")
    agent_page.fill("#id_subject", f"Note {PAYLOAD}")
    # Long enough for detection to weigh it in full: it becomes a moment once scored below.
    agent_page.fill("#id_body", long_text(f"Body {PAYLOAD}"))
    agent_page.click("#interaction-form button[type=submit]")
    expect(agent_page.locator("#timeline li.interaction").first).to_contain_text(f"Note {PAYLOAD}")
    inert(agent_page, "timeline after the HTMX swap")

    # What the worker would do next: score it (negative), alert, detect the moment.
    interaction = Interaction.objects.get(customer=customer)
    Interaction.objects.filter(pk=interaction.pk).update(
        sentiment_label="negative",
        sentiment_score=-0.9,
        sentiment_confidence=0.95,
        sentiment_model="test-model",
        scored_at=timezone.now(),
    )
    interaction.refresh_from_db()
    memory_services.detect_moments(interaction_ids=[interaction.pk])
    # The survey link goes out by email (sent here, in-process) before the alert opens (an open
    # alert holds the customer's survey invitations).
    result = surveys.create_invitation(
        survey=Survey.objects.get(name="What stood out?"),
        customer=customer,
        interaction=interaction,
    )
    surveys.send_invitation_email(invitation_id=result.invitation.pk)  # the queued task's work
    for intervention in engine.fire_event(
        event="interaction.scored", subject=interaction, enqueue=False
    ):
        engine.execute(intervention.pk)

    # The customer answers.
    (message,) = [m for m in mail.outbox if m.to == ["eve@example.com"]]
    link = re.search(r"http://\S+/s/[A-Za-z0-9_-]{43}/", message.body).group(0)
    phone = open_page(phone=True)
    phone.goto(link)
    # The public page never shows agent-written text: the moment is labelled by channel and date.
    phone.wait_for_load_state("networkidle")
    expect(phone.locator("body")).not_to_contain_text(SCRIPT)
    expect(phone.locator("body")).to_contain_text("Your email of")
    assert (dialogs, hits) == ([], []), "survey answer page"
    phone.locator(".scale label").nth(1).tap()
    phone.fill("textarea", f"Answer {PAYLOAD}")
    phone.get_by_role("button", name="Send my answer").click()
    expect(phone.locator("h1")).to_have_text("Thank you!")

    for path in (customer_url, f"{live_server.url}/customers/?q=eve"):
        agent_page.goto(path)
        inert(agent_page, path)
    agent_page.goto(f"{live_server.url}/alerts/")
    expect(agent_page.locator("ul.alerts")).to_contain_text(f"Frustrated customer: Eve {SCRIPT}")
    inert(agent_page, "alerts")
    agent_page.goto(customer_url)
    expect(agent_page.locator("#survey-answers")).to_contain_text(f"Answer {PAYLOAD}")
    expect(agent_page.locator("#memory-panel")).to_contain_text(f"Note {SCRIPT}")

    manager_page = open_page()
    login(manager_page, live_server, "manager")
    complaint = JourneyStage.objects.get(slug="complaint").pk
    for path in (
        customer.get_absolute_url(),
        "/interventions/?tab=recent",
        "/surveys/report/",
        f"/moments/journey/{complaint}/0/",  # the complaint stage's untagged moments
    ):
        manager_page.goto(f"{live_server.url}{path}")
        inert(manager_page, path)

    admin_page = open_page()
    login(admin_page, live_server, "admin")
    for path in ("/admin/customers/customer/", "/admin/customers/interaction/"):
        admin_page.goto(f"{live_server.url}{path}")
        inert(admin_page, path)

    assert errors == []
