"""The journey map read at a glance: the heatmap's colour bands, legend and one sentence per
cell; moments per week by polarity (an inline SVG chart with its figures in a table); all in a
constant number of queries."""

from datetime import date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from memorycrm.lib import charts
from moments.memory import selectors_journey
from moments.memory import services as memory_services
from moments.models import Moment
from tests.factories import CustomerFactory
from tests.moments.factories import ScoredInteractionFactory, long_text, stage, tag

pytestmark = pytest.mark.django_db

URL = reverse("journey-map")


def _moment(*, score=-0.9, when=None, **kwargs):
    interaction = ScoredInteractionFactory(
        customer=CustomerFactory(),
        sentiment_score=score,
        occurred_at=when or timezone.now() - timedelta(days=1),
        body=long_text(kwargs.pop("body", "Charged twice")),
        **kwargs,
    )
    return memory_services.detect_moments(interaction_ids=[interaction.pk])[0]


def _at(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=timezone.get_default_timezone())


def test_moments_per_week_counts_each_polarity_once_per_moment(manager):
    monday = date(2026, 6, 1)
    _moment(when=_at(monday) + timedelta(hours=9), stage=stage("complaint"))
    _moment(when=_at(monday) + timedelta(days=6, hours=23), stage=stage("complaint"))
    _moment(score=0.95, when=_at(monday) + timedelta(days=7, hours=1), stage=stage("delivery"))
    dismissed = _moment(when=_at(monday) + timedelta(days=2), stage=stage("complaint"))
    Moment.objects.filter(pk=dismissed.pk).update(dismissed=True, dismissed_reason="Not one")
    flt = selectors_journey.HeatmapFilter(date_to=monday + timedelta(days=13))
    trend = selectors_journey.moments_per_week(flt, user=manager, weeks=3)
    assert trend.weeks == [
        (monday - timedelta(weeks=1), {}),
        (monday, {"negative": 2}),
        (monday + timedelta(weeks=1), {"positive": 1}),
    ]
    assert trend.total == 3
    assert trend.by_polarity() == {"positive": 1, "neutral": 0, "negative": 2}
    assert trend.busiest() == (monday, 2)


def test_cells_have_a_colour_band_and_a_sentence(manager):
    for _ in range(2):
        _moment(stage=stage("complaint"))
    _moment(score=0.95, stage=stage("delivery"), body="Arrived early")
    heatmap = selectors_journey.journey_heatmap(selectors_journey.HeatmapFilter(), user=manager)
    shown = {(row["stage"].slug, c["cell"].tag_id): c for row in heatmap.rows for c in row["cells"]}
    complaint = shown[("complaint", tag("billing-shock").pk)]
    assert complaint["tone"] == "strong-negative"
    assert complaint["sentence"].startswith(
        "Complaint, tagged Billing shock: 2 moments that damage memories (mean impact −"
    )
    delivery = [c for (slug, _), c in shown.items() if slug == "delivery" and c["cell"].count]
    assert [c["tone"].endswith("positive") for c in delivery] == [True] * len(delivery) != []
    assert shown[("renewal", None)] == {
        "cell": shown[("renewal", None)]["cell"],
        "tone": "none",
        "sentence": "Renewal, with no tag: no moments.",
    }
    assert [tone for tone, _ in heatmap.legend] == [
        "strong-negative",
        "negative",
        "flat",
        "positive",
        "strong-positive",
    ]


def test_the_page_draws_the_map_the_trend_and_their_text(manager_client):
    _moment(stage=stage("complaint"))
    html = manager_client.get(URL).text
    assert 'class="legend heat-legend"' in html
    assert "strongly damages (≤ −" in html
    assert "Complaint, tagged Billing shock: 1 moment that damages memories" in html
    # The chart is inline SVG with a label; its figures are in a table and a sentence.
    assert '<svg class="chart"' in html and 'role="img"' in html
    assert "1 moment in the 12 weeks to" in html and "1 negative" in html
    assert "The figures, week by week" in html
    # Nothing drawn by a script from elsewhere; no "1 -7.95 · -3.69" cells.
    assert '<script src="http' not in html and "cdn" not in html.lower()
    assert 'mean impact">' not in html


def test_page_query_count_does_not_grow_with_moments_or_weeks(manager_client):
    _moment(stage=stage("complaint"))
    with CaptureQueriesContext(connection) as few:
        manager_client.get(URL)
    for days in range(0, 80, 4):
        _moment(score=0.9, when=timezone.now() - timedelta(days=days), stage=stage("delivery"))
    with CaptureQueriesContext(connection) as many:
        manager_client.get(URL)
    assert len(many) == len(few)


def test_stacked_columns_scale_to_a_round_top():
    chart = charts.stacked_columns(
        [("a", {"negative": 3, "positive": 4}), ("b", {})], ["negative", "positive"]
    )
    assert [v for _, v in chart.ticks] == [0, 5, 10]
    (neg, pos) = chart.columns[0].segments
    assert neg.y + neg.height == chart.plot_bottom and pos.y + pos.height == neg.y
    assert chart.columns[1].segments == [] and not chart.empty
    assert charts.nice_max(0) == 1 and charts.nice_max(11) == 20 and charts.nice_max(50) == 50


def test_the_busiest_tags_come_first_on_the_page(manager):
    _moment(stage=stage("complaint"))
    heatmap = selectors_journey.journey_heatmap(selectors_journey.HeatmapFilter(), user=manager)
    assert heatmap.columns[0] == tag("billing-shock")
    assert heatmap.rows[0]["cells"][0]["cell"].tag_id == tag("billing-shock").pk
    assert sorted(t.pk for t in heatmap.columns) == sorted(t.pk for t in heatmap.tags)
