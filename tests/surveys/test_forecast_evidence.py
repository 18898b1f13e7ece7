"""Every survey answer keeps the memory forecast's evidence: the customer's moments then, each
with its forecast recall and features, whether the page offered it and whether it was picked."""

from datetime import timedelta

import pytest

from moments.memory import fitting, parameters, scoring
from moments.memory.recall import refresh_customer_memory
from moments.models import Moment, MomentTag, MomentTagging
from surveys.models import ForecastEvidence, Response
from tests.factories import InteractionFactory


def make_moment(interaction, **kwargs) -> Moment:
    return Moment.objects.create(
        customer=interaction.customer,
        interaction=interaction,
        stage=interaction.stage,
        occurred_at=interaction.occurred_at,
        detected_by="test",
        **kwargs,
    )


@pytest.fixture
def moments(customer, interaction):
    """The surveyed interaction's moment (tagged), one a few days before it (offered too), one
    long before (not offered), a dismissed one and another customer's (no evidence)."""
    interaction.sentiment_score, interaction.sentiment_confidence = -0.9, 0.9
    interaction.save()
    own = make_moment(interaction)
    MomentTagging.objects.create(moment=own, tag=MomentTag.objects.get(slug="broken-promise"))
    nearby = make_moment(
        InteractionFactory(
            customer=customer,
            subject="Courier was rude",
            occurred_at=interaction.occurred_at - timedelta(days=3),
            sentiment_score=-0.6,
            sentiment_confidence=0.8,
        )
    )
    old = make_moment(
        InteractionFactory(
            customer=customer,
            subject="Ancient history",
            occurred_at=interaction.occurred_at - timedelta(days=90),
            sentiment_score=0.7,
            sentiment_confidence=0.9,
        )
    )
    make_moment(
        InteractionFactory(customer=customer, subject="Dismissed one"),
        dismissed=True,
        dismissed_reason="noise",
    )
    make_moment(InteractionFactory(subject="Someone else's moment"))
    refresh_customer_memory(customer_id=customer.pk)
    return own, nearby, old


def test_an_answer_records_the_forecasts_evidence(client, invite, moments):
    own, nearby, old = moments
    _, token = invite()
    client.post(f"/s/{token}/", {"rating": "2", "moments": [str(nearby.pk)]})
    response = Response.objects.get()
    rows = {e.moment_id: e for e in ForecastEvidence.objects.filter(response=response)}
    assert set(rows) == {own.pk, nearby.pk, old.pk}
    assert [rows[m.pk].picked for m in (own, nearby, old)] == [False, True, False]
    assert [rows[m.pk].offered for m in (own, nearby, old)] == [True, True, False]
    assert rows[own.pk].tag_weights == [MomentTag.objects.get(slug="broken-promise").weight]
    assert rows[nearby.pk].polarity == "negative"


def test_the_recorded_recall_is_the_products_forecast_at_the_answer(client, invite, moments):
    _, token = invite()
    client.post(f"/s/{token}/", {"rating": "4"})
    params = parameters.current()
    for row in ForecastEvidence.objects.select_related("moment"):
        moment = row.moment
        # The moment's own forecast (as recall.py stored it), carried to the answer's time.
        expected = scoring.recall_after(
            age_days=row.age_days,
            stability_days=moment.stability_days,
            refresh_count=moment.refresh_count,
            last_refresh_age=0.0,
            params=params,
        )
        assert row.recall == pytest.approx(expected, rel=1e-9)
        candidate = fitting.Candidate.from_dict(row.as_candidate())
        assert row.recall == pytest.approx(fitting.forecast_recall(candidate, params))
    assert ForecastEvidence.objects.count() == 3


def test_an_answer_of_a_customer_without_moments_records_none(client, invite):
    _, token = invite()
    client.post(f"/s/{token}/", {"rating": "5", "answer": "Fine."})
    assert Response.objects.count() == 1
    assert not ForecastEvidence.objects.exists()


def test_a_rejected_answer_records_no_evidence(client, invite, moments):
    _, token = invite()
    page = client.post(f"/s/{token}/", {"rating": "2", "moments": [str(moments[2].pk)]})
    assert page.status_code == 200  # the old moment was not offered
    assert not Response.objects.exists()
    assert not ForecastEvidence.objects.exists()
