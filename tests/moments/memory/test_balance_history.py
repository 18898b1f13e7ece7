"""The memory balance over time on the customer page (issue 16): computed from the stored
moments without a query of its own, ending on the stored balance, drawn as an inline SVG with
a text alternative (a title, a description and a table)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from moments.memory import selectors as memory_selectors
from moments.memory import services as memory_services
from moments.models import CustomerMemory, Moment
from tests.factories import CustomerFactory
from tests.moments.factories import ScoredInteractionFactory

pytestmark = pytest.mark.django_db


def _moment(customer, *, score: float, days_ago: float) -> Moment:
    interaction = ScoredInteractionFactory(
        customer=customer,
        sentiment_score=score,
        occurred_at=timezone.now() - timedelta(days=days_ago),
    )
    [moment] = memory_services.detect_moments(interaction_ids=[interaction.pk])
    return moment


def test_history_runs_from_the_first_moment_to_the_stored_balance():
    customer = CustomerFactory()
    first = _moment(customer, score=0.9, days_ago=60)
    _moment(customer, score=-0.95, days_ago=10)

    history = memory_selectors.memory_summary(customer).history

    stored = CustomerMemory.objects.get(customer=customer)
    assert history[0].at == first.occurred_at
    assert history[0].balance > 0  # the good moment alone
    assert history[-1].at == stored.computed_at
    assert history[-1].balance == pytest.approx(stored.balance)
    assert history[-1].balance < 0  # the recent bad one weighs most
    assert [p.at for p in history] == sorted(p.at for p in history)


def test_history_is_empty_without_moments():
    assert memory_selectors.memory_summary(CustomerFactory()).history == []


def test_history_costs_no_query_of_its_own(django_assert_num_queries):
    customer = CustomerFactory()
    for days in (40, 20, 5):
        _moment(customer, score=-0.9, days_ago=days)
    moments = list(Moment.objects.live().filter(customer=customer))
    with django_assert_num_queries(0):
        history = memory_selectors.balance_history(
            moments, end=timezone.now(), params=memory_selectors.parameters.current()
        )
    assert len(history) >= 24


def test_customer_page_draws_the_balance_with_a_text_alternative(agent_client, customer):
    _moment(customer, score=-0.95, days_ago=3)
    html = agent_client.get(reverse("customer-detail", args=[customer.pk])).content.decode()
    chart = html[html.index('id="memory-balance-chart"') :]
    assert '<svg role="img" aria-labelledby="memory-balance-title memory-balance-desc"' in chart
    assert "Memory balance over time" in chart
    assert "<polyline" in chart
    assert "Balance as a table" in chart
    assert chart.count("<tr>") >= 10  # the header and the samples


def test_customer_page_says_so_when_there_is_no_balance_yet(agent_client, customer):
    html = agent_client.get(reverse("customer-detail", args=[customer.pk])).content.decode()
    assert 'id="memory-balance-chart"' not in html
