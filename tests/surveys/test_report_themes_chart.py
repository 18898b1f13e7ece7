"""The survey report's "what stood out" themes as a chart drawn on the server (bars in inline
SVG, no script): each bar's figures are its text, and the table under it says the same."""

import pytest

from surveys.views import theme_bars
from tests.factories import CustomerFactory
from tests.surveys.test_answer_themes import (  # noqa: F401 (fixtures)
    answer,
    interaction_moment,
    survey,
    tag,
    tagged,
)

pytestmark = pytest.mark.django_db


def test_themes_become_bars_sized_by_answers_and_coloured_by_feeling():
    bars = theme_bars(
        [
            {
                "stage": "Complaint",
                "themes": [
                    {"tag": "Long wait", "n": 4, "mean_rating": 1.5, "mean_sentiment": -0.8},
                    {"tag": "Empathy win", "n": 1, "mean_rating": 5, "mean_sentiment": 0.9},
                ],
            },
            {
                "stage": "Delivery",
                "themes": [{"tag": "Late", "n": 2, "mean_rating": 3, "mean_sentiment": None}],
            },
        ]
    )
    assert [(b.label, b.percent, b.tone) for b in bars] == [
        ("Complaint · Long wait", 100.0, "negative"),
        ("Delivery · Late", 50.0, "neutral"),
        ("Complaint · Empathy win", 25.0, "positive"),
    ]
    assert bars[0].note == "4 answers · mean rating 1.5 · sentiment −0.80"
    assert bars[1].note == "2 answers · mean rating 3"


def test_the_report_draws_the_themes_with_their_figures(manager_client, survey, tag):  # noqa: F811
    customer = CustomerFactory()
    moment = tagged(interaction_moment(customer), tag)
    answer(survey, customer, 2, interaction=moment.interaction)
    html = manager_client.get("/surveys/report/").content.decode()
    chart = html[html.index('<ul class="bar-chart"') : html.index('id="themes-table"')]
    assert "· rude-courier-x" in chart and "1 answer · mean rating 2" in chart
    assert "<svg" in chart and 'aria-hidden="true"' in chart and "<script" not in chart
    assert "rude-courier-x" in html[html.index('id="themes-table"') :]
