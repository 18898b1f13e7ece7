"""A customer's email with attachments, on the customer page in Chromium on a phone and a
desktop: each attachment's name and size are read as text (a name carrying HTML and a script
stays text, no dialog opens), a long unbroken name wraps instead of widening the page, and
axe-core finds nothing serious."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from customers.channels.inbound import ingest_email
from tests.browser.helpers import (
    DESKTOP,
    PHONE,
    axe_problems,
    layout_problems,
    login,
    new_page,
    screenshot,
)
from tests.channels.mail import make_email

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
HOSTILE = '<img src=x onerror="alert(1)"><script>alert(2)</script>.pdf'
LONG = "Quarterly-statement-" + "x" * 120 + ".pdf"


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_attachments_read_as_text_on_the_timeline(
    browser, contexts, live_server, agent, customer, size
):
    raw = make_email(
        text="Both statements are attached; the second one is wrong.",
        attachments=[
            (HOSTILE, b"%PDF-1.4 not really", "application/pdf"),
            (LONG, b"x" * 150_000, "application/pdf"),
        ],
    )
    ingest_email(raw, source="test")
    errors: list[str] = []
    dialogs: list[str] = []
    page = new_page(browser, errors, phone=size == "phone")
    page.set_viewport_size(PHONE if size == "phone" else DESKTOP)
    contexts.append(page)
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(page, live_server, agent.username)
    page.goto(f"{live_server.url}{customer.get_absolute_url()}", wait_until="networkidle")

    listed = page.get_by_role("list", name="2 attachments (listed only, not kept):")
    expect(listed.get_by_role("listitem")).to_have_count(2)
    expect(listed.get_by_role("listitem").first).to_have_text(f"{HOSTILE} 19\xa0bytes")
    expect(listed.get_by_role("listitem").last).to_contain_text("146.5\xa0KB")
    expect(listed.get_by_role("link")).to_have_count(0)
    screenshot(page, f"email-attachments-{size}")
    assert axe_problems(page) == []
    assert layout_problems(page) == []
    assert dialogs == [] and errors == []
