"""The answer page offers the interaction's moments; the customer's picks are kept."""

import re
from datetime import timedelta

import pytest

from moments.models import Moment
from surveys import services
from surveys.models import Response, Survey
from tests.factories import InteractionFactory


def make_moment(interaction, impact: float = 1.0, **kwargs) -> Moment:
    return Moment.objects.create(
        customer=interaction.customer,
        interaction=interaction,
        stage=interaction.stage,
        occurred_at=interaction.occurred_at,
        detected_by="test",
        impact=impact,
        **kwargs,
    )


@pytest.fixture
def moments(customer, interaction):
    """The invitation's interaction's moment, a stronger one a few days earlier, one outside
    the window, a dismissed one, and another customer's."""
    own = make_moment(interaction, impact=0.5)
    earlier = InteractionFactory(
        customer=customer,
        subject="Courier was rude",
        occurred_at=interaction.occurred_at - timedelta(days=3),
    )
    nearby = make_moment(earlier, impact=2.0)
    make_moment(
        InteractionFactory(
            customer=customer,
            subject="Ancient history",
            occurred_at=interaction.occurred_at - timedelta(days=90),
        )
    )
    make_moment(
        InteractionFactory(customer=customer, subject="Dismissed one"),
        dismissed=True,
        dismissed_reason="noise",
    )
    make_moment(InteractionFactory(subject="Someone else's moment"))
    return own, nearby


def test_the_page_offers_the_interactions_moments(client, invite, moments):
    own, nearby = moments
    _, token = invite()
    body = client.get(f"/s/{token}/").content.decode()
    assert "Which of these stood out?" in body
    # The invitation's own interaction first; none outside the window, dismissed or another
    # customer's. Labels are channel and date only (tests/surveys/test_answer_page.py).
    assert re.findall(
        r'type="checkbox" name="moments" id="[^"]+" value="(\d+)"> Your email', body
    ) == [
        str(own.pk),
        str(nearby.pk),
    ]


def test_the_customers_picks_are_stored(client, invite, moments):
    own, nearby = moments
    _, token = invite()
    client.post(f"/s/{token}/", {"rating": "2", "moments": [str(nearby.pk)]})
    assert list(Response.objects.get().moments.all()) == [nearby]


def test_a_moment_that_was_not_offered_is_refused_and_the_answer_kept(client, invite, moments):
    other = Moment.objects.exclude(customer=moments[0].customer).get()
    _, token = invite()
    page = client.post(
        f"/s/{token}/", {"rating": "2", "answer": "keep me", "moments": [str(other.pk)]}
    )
    assert page.status_code == 200
    assert "keep me" in page.content.decode()
    assert not Response.objects.exists()


def test_the_service_refuses_moments_that_were_not_offered(invite, moments):
    from django.core.exceptions import ValidationError

    other = Moment.objects.exclude(customer=moments[0].customer).get()
    invitation, _ = invite()
    with pytest.raises(ValidationError):
        services.submit_response(invitation=invitation, rating=3, moment_ids=[other.pk])


def test_no_moment_step_when_the_survey_does_not_ask(client, invite, moments, survey):
    Survey.objects.filter(pk=survey.pk).update(ask_moments=False)
    _, token = invite()
    assert "Which of these stood out?" not in client.get(f"/s/{token}/").content.decode()


def test_no_moment_step_without_an_interaction(client, invite, moments, customer):
    _, token = invite(interaction=None)
    assert "Which of these stood out?" not in client.get(f"/s/{token}/").content.decode()


# --- Agent vs customer memory -----------------------------------------------------------


def _answer_picking(invite, moment, rating: int) -> Response:
    invitation, _ = invite()
    return services.submit_response(invitation=invitation, rating=rating, moment_ids=[moment.pk])[0]


def test_a_customer_recalling_another_moment_than_the_top_scored_is_flagged(
    agent_client, invite, moments, customer
):
    own, nearby = moments  # nearby has the higher impact
    _answer_picking(invite, own, 4)
    body = agent_client.get(customer.get_absolute_url()).content.decode()
    assert 'data-gap="moment"' in body
    assert "Courier was rude" in body  # the moment agents scored highest


def test_recalling_the_top_moment_is_no_gap(agent_client, invite, moments, customer):
    own, nearby = moments
    _answer_picking(invite, nearby, 4)
    body = agent_client.get(customer.get_absolute_url()).content.decode()
    assert 'data-gap="moment"' not in body


def test_a_rating_that_disagrees_with_the_sentiment_is_flagged(manager_client, invite, interaction):
    from customers.models import Interaction

    Interaction.objects.filter(pk=interaction.pk).update(
        sentiment_label="negative", sentiment_score=-0.8
    )
    invitation, _ = invite()
    services.submit_response(invitation=invitation, rating=5)
    page = manager_client.get("/surveys/report/")
    assert 'data-gap="rating"' in page.content.decode()
    assert len(page.context["gaps"]) == 1


def test_an_agreeing_rating_is_not_flagged(manager_client, invite, interaction):
    from customers.models import Interaction

    Interaction.objects.filter(pk=interaction.pk).update(
        sentiment_label="negative", sentiment_score=-0.8
    )
    invitation, _ = invite()
    services.submit_response(invitation=invitation, rating=1)
    assert manager_client.get("/surveys/report/").context["gaps"] == []


def test_signed_ratings_cover_minus_one_to_one():
    from surveys.selectors import signed_rating

    assert [signed_rating(r, "csat") for r in (1, 3, 5)] == [-1, 0, 1]
    assert [signed_rating(r, "nps") for r in (0, 5, 10)] == [-1, 0, 1]


def test_a_validation_error_keeps_the_picked_moments(client, invite, moments):
    own, nearby = moments
    _, token = invite()
    page = client.post(f"/s/{token}/", {"answer": "typed", "moments": [str(nearby.pk)]})
    body = page.content.decode()
    assert "Please choose a rating." in body
    assert f'value="{nearby.pk}" checked' in body
    assert f'value="{own.pk}" checked' not in body


def test_the_answer_page_costs_two_queries(client, invite, moments, django_assert_num_queries):
    _, token = invite()
    with django_assert_num_queries(2):  # the invitation (with survey), the moments offered
        client.get(f"/s/{token}/")
