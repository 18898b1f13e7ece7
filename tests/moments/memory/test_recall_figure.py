"""One recall figure, "likely remembered in 30 days", the same on the timeline marker, the
memory panel, the journey drill-down and the API (the forecast's other figures only in a
tooltip or the API's detail object)."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from moments.memory import services as memory_services
from tests.moments.factories import ScoredInteractionFactory, long_text, stage, tag

pytestmark = pytest.mark.django_db

FIGURE = re.compile(r'data-likely-remembered="(\d+)"[^>]*>likely remembered in 30 days (\d+)%')


def _figures(html: str) -> list[int]:
    found = FIGURE.findall(html)
    assert found, "no recall figure shown"
    assert all(a == b for a, b in found)
    return [int(a) for a, _ in found]


def _section(html: str, element_id: str, end: str) -> str:
    start = html.index(f'id="{element_id}"')
    return html[start : html.index(end, start)]


@pytest.fixture
def moment(customer):
    interaction = ScoredInteractionFactory(
        customer=customer,
        sentiment_score=-0.9,
        body=long_text("Charged twice for one order"),
        stage=stage("complaint"),
        occurred_at=timezone.now() - timedelta(days=20),
    )
    [moment] = memory_services.detect_moments(interaction_ids=[interaction.pk])
    moment.refresh_from_db()
    return moment


def test_the_same_recall_figure_on_marker_panel_drill_down_and_api(
    manager_client, manager_api, customer, moment
):
    figure = moment.likely_remembered_percent
    # The three figures the pages used to show differ from it (and from each other).
    others = {round(100 * moment.recall_now), round(100 * moment.recall_30)}
    assert figure not in others and len(others) == 2
    assert 0 < figure < 100

    page = manager_client.get(customer.get_absolute_url()).content.decode()
    assert _figures(_section(page, f"moment-marker-{moment.interaction_id}", "</div>")) == [figure]
    assert _figures(_section(page, "memory-panel", "</section>")) == [figure]

    cell = reverse("journey-cell", args=[stage("complaint").pk, tag("billing-shock").pk])
    assert _figures(manager_client.get(cell).content.decode()) == [figure]

    detail = manager_api.get(f"/api/v1/moments/{moment.pk}/").json()
    assert round(100 * detail["likely_remembered_in_30_days"]) == figure
    assert set(detail["recall"]) == {"now", "day_7", "day_30", "day_365", "stability_days"}
    summary = manager_api.get(f"/api/v1/customer-memory/{customer.pk}/").json()
    assert round(100 * summary["top"][0]["likely_remembered_in_30_days"]) == figure


def test_other_recall_figures_only_in_the_tooltip(manager_client, customer, moment):
    page = manager_client.get(customer.get_absolute_url()).content.decode()
    visible = re.sub(r'title="[^"]*"', "", page)
    for old in ("recall at 30 days", "recall in 30 days", "Recall now", "recall now"):
        assert old not in visible
    assert f"recall now {round(100 * moment.recall_now)}%" in page  # in a title


def test_the_panel_tells_the_balance_in_a_sentence(manager_client, customer, moment):
    page = manager_client.get(customer.get_absolute_url()).content.decode()
    panel = _section(page, "memory-panel", "</section>")
    assert "Leaning negative: one bad moment on" in panel
    # No bare "Memory balance -7.78" figure: the only mention is the chart's title.
    assert "Memory balance" not in re.sub(r'title="[^"]*"|Memory balance over time', "", panel)
