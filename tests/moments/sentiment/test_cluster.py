"""End to end with a real django-q2 cluster: an interaction posted to the API gets scored by a
worker process (`manage.py qcluster`, the `cluster` fixture of tests/conftest.py) that loads the
real model itself."""

from __future__ import annotations

import time

import pytest

from customers.models import Interaction

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


def test_interaction_logged_through_the_api_is_scored_by_the_cluster(
    agent_api, customer, sentiment_model, cluster
):
    response = agent_api.post(
        "/api/v1/interactions/",
        {
            "customer": customer.pk,
            "channel": "email",
            "subject": "Complaint",
            "body": "This is unacceptable. I am furious, the order is lost and nobody answers!",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    pk = response.json()["id"]

    deadline = time.monotonic() + 300  # the worker imports torch and loads the model first
    interaction = Interaction.objects.get(pk=pk)
    while interaction.scored_at is None and time.monotonic() < deadline:
        assert cluster.poll() is None, cluster.tail()
        time.sleep(0.5)
        interaction.refresh_from_db()

    assert interaction.scored_at is not None, cluster.tail()
    assert interaction.sentiment_label == "negative"
    assert interaction.sentiment_model == sentiment_model.version


def test_ad_hoc_texts_are_scored_by_a_worker_within_the_bounded_wait(
    agent_api, sentiment_model, cluster, settings
):
    # The worker loads the model on its first task: give it that long (production waits 10 s
    # and answers 202 with the result URL after that).
    settings.SENTIMENT_API_WAIT_SECONDS = 300
    response = agent_api.post(
        "/api/v1/sentiment/",
        {"texts": ["I hate this, worst support ever, I am furious!", "Thanks, you were great!"]},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["model"] == sentiment_model.version
    assert [r["label"] for r in response.json()["results"]] == ["negative", "positive"]
