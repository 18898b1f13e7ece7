"""The open customer page's live refresh: what is stored after it was opened (an email, the
API, another agent) comes to the top of its timeline without a reload."""

from __future__ import annotations

import pytest

from tests.factories import CustomerFactory, InteractionFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def poll(client, customer, **params):
    return client.get(customer.get_absolute_url(), params, **HTMX)


def test_the_page_carries_its_poller_with_the_newest_id(agent_client, customer):
    newest = InteractionFactory(customer=customer)
    page = agent_client.get(customer.get_absolute_url()).content.decode()
    assert 'id="timeline-sync"' in page
    assert f'name="after" value="{newest.pk}"' in page


def test_nothing_new_is_204(agent_client, customer):
    newest = InteractionFactory(customer=customer)
    assert poll(agent_client, customer, after=newest.pk).status_code == 204


def test_new_interactions_come_newest_first_with_the_next_poller(agent_client, customer):
    old = InteractionFactory(customer=customer)
    first = InteractionFactory(customer=customer, body="First <b>new</b> one")
    second = InteractionFactory(customer=customer, body="Second new one")
    InteractionFactory(customer=CustomerFactory(), body="Someone else's")
    response = poll(agent_client, customer, after=old.pk)
    html = response.content.decode()
    assert response.status_code == 200
    assert f'name="after" value="{second.pk}"' in html
    assert 'hx-swap-oob="afterbegin:#timeline"' in html
    assert f'id="interaction-{old.pk}"' not in html and "Someone else" not in html
    assert "First &lt;b&gt;new&lt;/b&gt; one" in html
    # Newest (by when it happened) first, as the timeline.
    newer, older = sorted([first, second], key=lambda i: (i.occurred_at, i.pk), reverse=True)
    assert html.index(f'id="interaction-{newer.pk}"') < html.index(f'id="interaction-{older.pk}"')


def test_items_the_page_added_itself_are_not_sent_again(agent_client, customer):
    old = InteractionFactory(customer=customer)
    mine = InteractionFactory(customer=customer)
    html = poll(agent_client, customer, after=old.pk, logged=mine.pk).content.decode()
    assert f'id="interaction-{mine.pk}"' not in html
    assert f'name="after" value="{mine.pk}"' in html


def test_a_bad_after_is_400(agent_client, customer):
    assert poll(agent_client, customer, after="x").status_code == 400


def test_another_agents_customer_is_not_polled(client, agent, owned_visibility):
    hidden = CustomerFactory()
    InteractionFactory(customer=hidden)
    client.force_login(agent)
    assert poll(client, hidden, after=0).status_code == 404


def test_logging_adds_the_item_to_the_pollers_known_ids(agent_client, customer):
    from customers.models import Interaction

    response = agent_client.post(
        f"{customer.get_absolute_url()}interactions/",
        {
            "channel": "call",
            "direction": "inbound",
            "occurred_at": "2026-12-01T10:00",
            "body": "Called about the parcel.",
        },
        **HTMX,
    )
    logged = Interaction.objects.get(customer=customer)
    assert f'<input type="hidden" name="logged" value="{logged.pk}">' in response.content.decode()
