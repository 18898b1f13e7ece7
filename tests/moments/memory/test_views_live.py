"""Live consistency of the customer page (HTMX): every agent action answers with the memory
panel, the chart and the markers out-of-band, and the memory sync sends fresh fragments only
when something changed."""

import re

import pytest
from django.urls import reverse

from moments.memory import selectors as memory_selectors
from moments.memory import services as memory_services
from moments.models import Moment
from tests.factories import CustomerFactory, UserFactory
from tests.moments.factories import ScoredInteractionFactory, tag

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def complaint(customer):
    interaction = ScoredInteractionFactory(
        customer=customer, sentiment_score=-0.95, subject="Charged twice"
    )
    memory_services.detect_moments(interaction_ids=[interaction.pk])
    return interaction


def _oob(html: str, element_id: str) -> str:
    """The out-of-band element with this id (up to the next out-of-band one)."""
    match = re.search(rf'<[^>]*id="{element_id}"[^>]*hx-swap-oob="true"', html)
    assert match, f"no out-of-band #{element_id}"
    rest = html[match.end() :]
    following = re.search(r'hx-swap-oob="true"', rest)
    return html[match.start() : match.end() + (following.start() if following else len(rest))]


def _sync(client, customer, since: str, shown=()) -> object:
    url = reverse("customer-memory", args=[customer.pk])
    return client.get(url, {"since": since, "shown": list(shown)}, **HTMX)


# --- Agent actions ------------------------------------------------------------------------------


def test_a_correction_updates_the_marker_panel_and_chart_at_once(agent_client, complaint):
    response = agent_client.post(
        reverse("sentiment-correct", args=[complaint.pk]), {"label": "positive"}, **HTMX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Positive" in html and "(corrected)" in html
    marker = _oob(html, f"moment-marker-{complaint.pk}")
    assert "★ Moment · positive" in marker
    assert "negative" not in marker
    assert Moment.objects.get(interaction=complaint).impact > 0
    assert "Leaning positive" in _oob(html, "memory-panel-body")
    assert "positive (1.00)" in _oob(html, "sentiment-chart")
    assert response["HX-Trigger-After-Settle"] == "memory-changed"


def test_an_invalid_correction_sends_no_fragments(agent_client, complaint):
    response = agent_client.post(
        reverse("sentiment-correct", args=[complaint.pk]), {"label": "furious"}, **HTMX
    )
    assert 'hx-swap-oob="true"' not in response.content.decode()
    assert "HX-Trigger-After-Settle" not in response


@pytest.mark.parametrize("action", ["promote", "tag", "dismiss"])
def test_moment_actions_answer_with_the_panel_and_chart(agent_client, customer, action):
    interaction = ScoredInteractionFactory(customer=customer, sentiment_score=-0.5, subject="Hold")
    if action == "promote":
        url, data = reverse("moment-promote", args=[interaction.pk]), {}
    else:
        moment = memory_services.promote_interaction(interaction=interaction, user=None)
        if action == "tag":
            url, data = reverse("moment-tag-add", args=[moment.pk]), {"tag": tag("long-wait").pk}
        else:
            url, data = reverse("moment-dismiss", args=[moment.pk]), {"reason": "QA call"}
    html = agent_client.post(url, data, **HTMX).content.decode()
    panel = _oob(html, "memory-panel-body")
    chart = _oob(html, "sentiment-chart")
    if action == "dismiss":
        assert "No moments yet" in panel and 'class="moment-mark"' not in chart
    else:
        assert "Hold" in panel and 'class="moment-mark"' in chart
    if action == "tag":
        assert "Long wait" in panel


# --- The memory sync ----------------------------------------------------------------------------


def test_sync_sends_nothing_when_nothing_changed(agent_client, customer, complaint):
    version = memory_selectors.memory_version(customer)
    response = _sync(agent_client, customer, version, shown=[complaint.pk])
    assert response.status_code == 204
    assert response.content == b""


def test_sync_sends_the_fragments_once_something_changed(agent_client, customer, complaint):
    version = memory_selectors.memory_version(customer)
    fresh = ScoredInteractionFactory(customer=customer, sentiment_score=0.95, subject="Thanks!")
    memory_services.detect_moments(interaction_ids=[fresh.pk])
    new_version = memory_selectors.memory_version(customer)
    assert new_version != version

    response = _sync(agent_client, customer, version, shown=[complaint.pk, fresh.pk])
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<span id="memory-sync"')
    assert f'value="{new_version}"' in html
    assert "Thanks!" in _oob(html, "memory-panel-body")
    assert "★ Moment · positive" in _oob(html, f"moment-marker-{fresh.pk}")
    assert _oob(html, f"sentiment-{fresh.pk}")
    assert _oob(html, "sentiment-chart").count('class="moment-mark"') == 2
    assert _sync(agent_client, customer, new_version).status_code == 204


def test_sync_refreshes_only_the_customers_visible_items(agent_client, customer, complaint):
    other = ScoredInteractionFactory(customer=CustomerFactory(), subject="Someone else")
    html = _sync(agent_client, customer, "stale", shown=[other.pk, "x", ""]).content.decode()
    assert f"moment-marker-{other.pk}" not in html
    assert f"moment-marker-{complaint.pk}" not in html  # not shown by the page


def test_sync_of_another_agents_customer_is_404(agent_client, owned_visibility):
    hidden = CustomerFactory(owner=UserFactory(role="Agent"))
    assert _sync(agent_client, hidden, "stale").status_code == 404


def test_the_customer_page_carries_the_sync_with_its_version(agent_client, customer, complaint):
    html = agent_client.get(customer.get_absolute_url()).content.decode()
    version = memory_selectors.memory_version(customer)
    assert 'id="memory-sync"' in html and f'value="{version}"' in html
    assert f'name="shown" value="{complaint.pk}:' in html


def test_sync_replaces_only_the_items_that_changed(agent_client, customer, complaint):
    calm = ScoredInteractionFactory(customer=customer, sentiment_score=0.1, subject="Calm")
    page = agent_client.get(customer.get_absolute_url()).content.decode()
    shown = re.findall(r'name="shown" value="([^"]+)"', page)
    assert len(shown) == 2
    memory_services.promote_interaction(interaction=calm, user=None)

    html = _sync(agent_client, customer, "stale", shown=shown).content.decode()
    assert "★ Moment" in _oob(html, f"moment-marker-{calm.pk}")
    assert f"moment-marker-{complaint.pk}" not in html  # what it shows did not change


def test_an_unchanged_sync_costs_a_few_queries_whatever_the_page_shows(
    agent_client, customer, complaint, django_assert_max_num_queries
):
    items = ScoredInteractionFactory.create_batch(30, customer=customer)
    page = agent_client.get(customer.get_absolute_url()).content.decode()
    shown = re.findall(r'name="shown" value="([^"]+)"', page)
    assert len(shown) >= 20
    version = memory_selectors.memory_version(customer)
    # session, user, groups and permissions, the customer, the version's three aggregates: 8
    with django_assert_max_num_queries(8):
        assert _sync(agent_client, customer, version, shown=shown).status_code == 204
    # Changed: the panel, the chart and the changed items' markers and badges (19 here)
    memory_services.promote_interaction(interaction=items[0], user=None)
    with django_assert_max_num_queries(25):
        response = _sync(agent_client, customer, version, shown=shown)
    assert response.status_code == 200
