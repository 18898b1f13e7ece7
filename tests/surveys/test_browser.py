"""A customer answers on a phone, from the emailed link (real Chromium, live server)."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from surveys import services
from surveys.models import Response, Survey
from tests.browser.helpers import login
from tests.factories import CustomerFactory, InteractionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def emailed_link(live_server, settings, run_queued):
    settings.SURVEY_BASE_URL = live_server.url
    customer = CustomerFactory(name="Ada Lovelace", email="ada@example.com")
    interaction = InteractionFactory(customer=customer, subject="Broken kettle")
    services.create_invitation(
        survey=Survey.objects.get(name="What stood out?"),
        customer=customer,
        interaction=interaction,
    )
    run_queued()
    return re.search(r"http://\S+/s/[A-Za-z0-9_-]{43}/", mail.outbox[0].body).group(0)


def test_a_customer_answers_on_a_phone(phone_page, page_errors, emailed_link):
    page = phone_page
    page.goto(emailed_link)
    expect(page.locator("legend")).to_have_text("How satisfied were you with this experience?")
    # Fits the phone: nothing to scroll sideways; the rating buttons are big enough to tap.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    box = page.locator(".scale span").first.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44

    # Submitting without a rating shows the error and keeps the text.
    page.fill("textarea", "The agent called me back the same day.")
    page.click("button[type=submit]")
    expect(page.locator(".error")).to_have_text("Please choose a rating.")
    expect(page.locator("textarea")).to_have_value("The agent called me back the same day.")

    page.evaluate("window.__noReload = true")
    page.locator(".scale label").nth(3).tap()  # rating 4
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Thank you!")
    assert page.evaluate("window.__noReload") is True  # HTMX swapped the answer in place
    response = Response.objects.get()
    assert (response.rating, response.answer) == (4, "The agent called me back the same day.")
    assert page_errors == []


def test_a_customer_answers_with_the_keyboard_only(phone_page, page_errors, emailed_link):
    page = phone_page
    page.goto(emailed_link)
    page.keyboard.press("Tab")  # the first rating
    for _ in range(4):
        page.keyboard.press("ArrowRight")  # … to 5
    page.keyboard.press("Tab")
    page.keyboard.type("Quick and kind.")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Thank you!")
    response = Response.objects.get()
    assert (response.rating, response.answer) == (5, "Quick and kind.")
    assert page_errors == []


def test_the_link_works_without_javascript(browser, emailed_link):
    context = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(emailed_link)
        page.locator(".scale label").nth(1).click()
        page.click("button[type=submit]")
        expect(page.locator("h1")).to_have_text("Thank you!")
        assert page.url.endswith("/thanks/")
        assert Response.objects.get().rating == 2
    finally:
        context.close()


def test_an_agent_asks_what_stood_out_from_the_timeline(page, page_errors, live_server, agent):
    customer = CustomerFactory(name="Grace Hopper", email="grace@example.com")
    interaction = InteractionFactory(customer=customer, subject="Late delivery")
    login(page, live_server, "agent")
    page.goto(f"{live_server.url}{customer.get_absolute_url()}")
    page.click(f"#survey-invite-{interaction.pk} button")
    expect(page.locator(f"#survey-invite-{interaction.pk}")).to_contain_text("Survey sending…")
    assert interaction.survey_invitations.count() == 1
    assert page_errors == []


def test_an_agent_copies_the_survey_link_after_asking(page, page_errors, live_server, agent):
    customer = CustomerFactory(name="Grace Hopper", email="grace@example.com")
    interaction = InteractionFactory(customer=customer, subject="Late delivery")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    login(page, live_server, "agent")
    page.goto(f"{live_server.url}{customer.get_absolute_url()}")
    page.click(f"#survey-invite-{interaction.pk} button")
    field = page.locator(f"#survey-invite-{interaction.pk} input[readonly]")
    expect(field).to_have_value(re.compile(r"/s/[A-Za-z0-9_-]{43}/$"))
    page.get_by_role("button", name="Copy link").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == field.input_value()
    assert page_errors == []  # a blocked inline script would be a console error (CSP)


def test_a_manager_bulk_invites_and_reads_the_report(page, page_errors, live_server, manager):
    CustomerFactory.create_batch(3, company="Acme Rockets")
    CustomerFactory(company="Acme Rockets", survey_opt_out=True)
    login(page, live_server, "manager")
    page.click("nav >> text=Surveys")
    expect(page.locator("h1")).to_have_text("Survey report")
    page.click("text=Invite customers")
    page.fill("#id_q", "acme")
    page.click("button:has-text('Preview')")
    expect(page.locator("#bulk-result")).to_contain_text("4 customers match")
    expect(page.locator(".bulk-preview-customer")).to_have_count(4)
    assert "csrfmiddlewaretoken" not in page.url
    page.evaluate("window.__noReload = true")
    page.click("button:has-text('Invite matching customers')")
    expect(page.locator("#bulk-result")).to_contain_text("3 invited")
    expect(page.locator("#bulk-result")).to_contain_text("The customer opted out of surveys")
    assert page.evaluate("window.__noReload") is True

    # Answer one, then filter the report without a reload; the URL keeps the filter.
    from surveys.models import Invitation

    invitation = Invitation.objects.filter(skipped_reason="").first()
    services.submit_response(invitation=invitation, rating=2, answer="Rockets were late")
    page.goto(f"{live_server.url}/surveys/report/")
    expect(page.locator("#answers")).to_contain_text("Rockets were late")
    page.evaluate("window.__noReload = true")
    page.fill("#id_rating_min", "4")
    page.locator("#id_rating_min").press("Enter")
    expect(page.locator("#answers")).to_contain_text("No answers match")
    expect(page).to_have_url(re.compile(r"rating_min=4"))
    assert page.evaluate("window.__noReload") is True
    assert page_errors == []
