"""An email's attachments on the customer's timeline and in the interactions API: name and size,
listed only (their content is not kept, so nothing links to them), names escaped, and only to
those who may see the customer."""

from __future__ import annotations

import os
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.channels.inbound import ingest_email
from customers.models import InboundEmail
from tests.channels.mail import make_email
from tests.factories import CustomerFactory, InteractionFactory, UserFactory

pytestmark = pytest.mark.django_db
HOSTILE = '<img src=x onerror="alert(1)">quote".pdf'


def email_with_attachments(customer) -> InboundEmail:
    raw = make_email(
        sender=f"{customer.name} <{customer.email}>",
        text="The invoice and the photo are attached.",
        attachments=[
            ("invoice.pdf", os.urandom(2 * 1024 * 1024), "application/pdf"),
            (HOSTILE, b"%PDF-1.4", "application/pdf"),
        ],
    )
    result = ingest_email(raw, source="test")
    return InboundEmail.objects.get(pk=result.inbound_email_id)


def attachments_block(page: str) -> str:
    match = re.search(r'<div class="interaction-attachments">.*?</div>', page, re.S)
    assert match, "no attachments on the page"
    return match.group(0)


def test_the_timeline_lists_an_emails_attachments_with_human_sizes(agent_client, customer):
    email_with_attachments(customer)
    block = attachments_block(agent_client.get(customer.get_absolute_url()).content.decode())
    assert "2 attachments" in block
    assert "invoice.pdf" in block and "2.0\xa0MB" in block
    assert "8\xa0bytes" in block


def test_attachment_names_stay_text(agent_client, customer):
    email_with_attachments(customer)
    block = attachments_block(agent_client.get(customer.get_absolute_url()).content.decode())
    assert "<img" not in block and "onerror=&quot;" in block and "&lt;img" in block


def test_attachments_are_listed_not_linked(agent_client, customer):
    """Their content is not stored: there is nothing to download, and nothing links anywhere."""
    email_with_attachments(customer)
    block = attachments_block(agent_client.get(customer.get_absolute_url()).content.decode())
    assert "<a " not in block and "href" not in block


def test_an_interaction_without_an_email_lists_no_attachments(agent_client, customer):
    InteractionFactory(customer=customer, body="Called about the invoice.")
    page = agent_client.get(customer.get_absolute_url()).content.decode()
    assert "interaction-attachments" not in page


def test_another_agents_customer_shows_nothing(client, customer, owned_visibility):
    owner = UserFactory(username="owner", role="Agent")
    customer.owner = owner
    customer.save()
    email_with_attachments(customer)
    client.force_login(UserFactory(username="stranger", role="Agent"))
    assert client.get(customer.get_absolute_url()).status_code == 404
    assert client.get("/api/v1/interactions/").json()["results"] == []


def test_the_api_lists_an_emails_attachments(agent_api, customer):
    row = email_with_attachments(customer)
    body = agent_api.get(f"/api/v1/interactions/{row.interaction_id}/").json()
    assert body["attachments"] == [
        {"name": "invoice.pdf", "size": 2 * 1024 * 1024, "content_type": "application/pdf"},
        {"name": HOSTILE, "size": 8, "content_type": "application/pdf"},
    ]


def test_an_interaction_logged_by_an_agent_has_no_attachments_in_the_api(agent_api, customer):
    response = agent_api.post(
        "/api/v1/interactions/",
        {
            "customer": customer.pk,
            "channel": "call",
            "direction": "inbound",
            "body": "Called about the invoice.",
        },
        format="json",
    )
    assert response.status_code == 201 and response.json()["attachments"] == []


def test_the_interactions_list_reads_attachments_in_the_same_query(agent_api, customer):
    def queries() -> int:
        with CaptureQueriesContext(connection) as counted:
            assert agent_api.get("/api/v1/interactions/").status_code == 200
        return len(counted)

    email_with_attachments(customer)
    queries()  # warm: permissions, content types
    one = queries()
    for n in range(3):
        email_with_attachments(CustomerFactory(email=f"sender{n}@example.com"))
    assert queries() == one
