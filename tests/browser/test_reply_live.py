# ruff: noqa: F811  (the cluster fixture imported below is a test argument)
"""Issue 15 end to end: an agent has the customer page open; MemoryCRM sends the customer an
intervention email (to a real SMTP server, aiosmtpd); the customer's reply, built with that
email's Message-ID as In-Reply-To, arrives through the Mailgun inbound webhook (a real HTTP
request with the real HMAC signature) and appears on the open page without a reload, saying
what it answers."""

from __future__ import annotations

import re
import urllib.parse
import urllib.request

import pytest
from django.core.mail import EmailMessage
from playwright.sync_api import expect

from customers.channels.threading import send_threaded
from customers.models import InboundEmail, OutboundEmail
from tests.browser.helpers import login
from tests.browser.test_journey import WAIT, cluster, web  # noqa: F401  (fixtures)
from tests.channels.mail import make_email
from tests.channels.test_webhooks import KEY, MAILGUN, mailgun_fields

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _reply_arrives(page, live_server, customer, smtp_sink, settings):
    """Open the page, send our email, post the customer's reply by webhook; returns the item
    that appeared on the open page."""
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": KEY, "WEBHOOK_SECRET": ""}
    settings.MEMORY_LIVE_SECONDS = 1
    login(page, live_server, "agent")
    page.goto(f"{live_server.url}{customer.get_absolute_url()}")
    page.evaluate("window.__noReload = true")
    expect(page.locator("#timeline-empty")).to_be_visible()

    send_threaded(
        EmailMessage("Thank you <for> your patience", "We sent a new parcel.", to=[customer.email]),
        customer=customer,
        kind=OutboundEmail.Kind.INTERVENTION,
    )
    ((sent, recipients),) = smtp_sink.messages
    assert recipients == [customer.email]
    message_id = sent["Message-ID"]

    raw = make_email(
        sender=f"Ada Lovelace <{customer.email}>",
        subject="Re: Thank you <for> your patience",
        text="Thank you, the new parcel arrived this morning and everything works.",
        headers={"In-Reply-To": message_id, "References": message_id},
    )
    body = urllib.parse.urlencode(mailgun_fields(raw)).encode()
    with urllib.request.urlopen(f"{live_server.url}{MAILGUN}", body, timeout=10) as response:
        assert response.status == 200
    assert InboundEmail.objects.get().answers.message_id == message_id

    item = page.locator("#timeline .interaction").first
    expect(item).to_contain_text("the new parcel arrived this morning", timeout=10_000)
    sent_on = OutboundEmail.objects.get().sent_at.strftime("%Y-%m-%d")
    expect(item.locator(".interaction-reply-to")).to_have_text(
        re.compile(
            rf"^Reply to: .?Thank you <for> your patience.? \(intervention email\) "
            rf"sent {sent_on} \d\d:\d\d$"
        ),
        timeout=1000,
    )
    expect(page.locator("#timeline-empty")).to_have_count(0)
    return item


def test_a_reply_to_our_email_appears_on_the_open_page_linked(
    page, page_errors, live_server, agent, customer, smtp_sink, settings
):
    _reply_arrives(page, live_server, customer, smtp_sink, settings)
    assert page.evaluate("window.__noReload") is True
    assert page_errors == []


@pytest.mark.cluster
def test_with_a_worker_the_reply_that_appeared_is_scored_on_the_open_page(
    page, page_errors, live_server, agent, customer, smtp_sink, settings, cluster
):
    item = _reply_arrives(page, live_server, customer, smtp_sink, settings)
    pk = int(item.get_attribute("id").removeprefix("interaction-"))
    # The real worker scores it; the page learns it through the memory sync.
    expect(page.locator(f"#sentiment-{pk}")).not_to_contain_text("pending", timeout=WAIT * 1000)
    expect(page.locator("#sentiment-chart svg")).to_be_visible()
    assert page.evaluate("window.__noReload") is True
    assert page_errors == []
