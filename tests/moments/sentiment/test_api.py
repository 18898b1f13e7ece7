"""POST /api/v1/sentiment/ (ad-hoc scoring) and GET /api/v1/sentiment/status/."""

import uuid

import pytest
from django.utils.module_loading import import_string
from django_q.models import OrmQ
from rest_framework.throttling import ScopedRateThrottle

from customers.models import Interaction
from moments.models import ScoringRequest, SentimentModel
from moments.sentiment import loader, services
from tests.factories import CustomerFactory, UserFactory
from tests.moments.factories import MomentFactory, ScoredInteractionFactory

URL = "/api/v1/sentiment/"


def run_worker_tasks() -> None:
    """Play the worker: run the queued ad-hoc scoring tasks in this process."""
    for queued in OrmQ.objects.order_by("pk"):
        task = queued.task
        queued.delete()
        if task["func"] == "moments.sentiment.tasks.score_request":
            import_string(task["func"])(*task["args"])


def test_texts_are_scored_by_a_worker_and_collected_at_the_result_url(
    agent_api, sentiment_model, monkeypatch
):
    def no_model_in_the_web_process():
        raise AssertionError("the web process loaded the model")

    monkeypatch.setattr(loader, "get_classifier", no_model_in_the_web_process)
    monkeypatch.setattr(services, "get_classifier", no_model_in_the_web_process)
    texts = ["I hate this, worst support ever, I am furious!", "Thanks, you were great!"]
    response = agent_api.post(URL, {"texts": texts}, format="json")
    assert response.status_code == 202  # no worker answered within the wait (0 s in tests)
    pending = response.json()
    assert pending["status"] == "queued"
    assert response["Location"] == pending["url"]
    assert agent_api.get(pending["url"]).status_code == 202

    monkeypatch.undo()
    run_worker_tasks()
    response = agent_api.get(pending["url"])
    assert response.status_code == 200
    data = response.json()
    assert data["model"] == sentiment_model.version
    assert [r["label"] for r in data["results"]] == ["negative", "positive"]
    assert all(-1 <= r["score"] <= 1 and 0 <= r["confidence"] <= 1 for r in data["results"])
    # The texts are not kept once scored.
    assert ScoringRequest.objects.get(pk=pending["id"]).texts == []


def test_results_are_only_for_the_requester(agent_api, api_client, sentiment_model):
    pending = agent_api.post(URL, {"texts": ["hello"]}, format="json").json()
    other = UserFactory(username="other-agent", role="Agent")
    api_client.force_authenticate(other)
    assert api_client.get(pending["url"]).status_code == 404
    assert agent_api.get(URL + f"results/{uuid.uuid4()}/").status_code == 404


def test_a_request_the_model_cannot_score_is_503_at_the_result_url(agent_api, sentiment_model):
    pending = agent_api.post(URL, {"texts": ["hello"]}, format="json").json()
    SentimentModel.objects.update(status=SentimentModel.Status.FAILED)  # the model went away
    run_worker_tasks()
    response = agent_api.get(pending["url"])
    assert response.status_code == 503
    assert "unavailable" in response.json()["detail"]


@pytest.mark.parametrize(
    "payload",
    [{}, {"texts": []}, {"texts": "just a string"}, {"texts": [""]}, {"texts": [{"a": 1}]}],
)
def test_bad_input_is_400_with_field_messages(agent_api, payload):
    response = agent_api.post(URL, payload, format="json")
    assert response.status_code == 400
    assert "texts" in response.json()


def test_batch_size_is_capped(agent_api, settings):
    settings.SENTIMENT_API_MAX_TEXTS = 3
    response = agent_api.post(URL, {"texts": ["a", "b", "c", "d"]}, format="json")
    assert response.status_code == 400
    assert "At most 3 texts" in str(response.json()["texts"])


def test_text_length_is_capped(agent_api, settings):
    settings.SENTIMENT_API_MAX_CHARS = 10
    response = agent_api.post(URL, {"texts": ["short", "x" * 11]}, format="json")
    assert response.status_code == 400
    assert "1" in response.json()["texts"]


def test_total_characters_are_capped(agent_api, settings):
    """64 texts of 20,000 characters each once held a web worker past its timeout."""
    settings.SENTIMENT_API_MAX_CHARS = 100
    settings.SENTIMENT_API_MAX_TOTAL_CHARS = 250
    response = agent_api.post(URL, {"texts": ["x" * 100, "y" * 100, "z" * 51]}, format="json")
    assert response.status_code == 400
    assert response.json()["texts"] == [
        "At most 250 characters in all per request (these have 251)."
    ]


def test_scoring_needs_a_role(api_client, no_role_user):
    api_client.force_authenticate(no_role_user)
    assert api_client.post(URL, {"texts": ["hello"]}, format="json").status_code == 403


def test_scoring_is_throttled_per_user(agent_api, monkeypatch):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "sentiment", "2/min")
    codes = [agent_api.post(URL, {"texts": ["hello"]}, format="json").status_code for _ in "abc"]
    assert codes == [503, 503, 429]


def test_without_a_model_it_is_503(agent_api, db):
    response = agent_api.post(URL, {"texts": ["hello"]}, format="json")
    assert response.status_code == 503
    assert "unavailable" in response.json()["detail"]


def test_anonymous_is_rejected(api_client, db):
    assert api_client.post(URL, {"texts": ["hello"]}, format="json").status_code in (401, 403)


def test_status_endpoint(agent_api, sentiment_model):
    response = agent_api.get(URL + "status/")
    assert response.status_code == 200
    data = response.json()
    assert data["state"] == "ready"
    assert data["active"]["version"] == sentiment_model.version
    assert "hutto3_test" in data["active"]["metrics"]
    assert "hutto3_test" in data["active"]["vader"]


def test_status_endpoint_needs_the_view_permission(api_client, no_role_user):
    api_client.force_authenticate(no_role_user)
    assert api_client.get(URL + "status/").status_code == 403


def test_interaction_sentiment_fields_are_read_only(agent_api, customer):
    response = agent_api.post(
        "/api/v1/interactions/",
        {
            "customer": customer.pk,
            "channel": "email",
            "subject": "Hi",
            "body": "Hello",
            "sentiment_label": "positive",
            "sentiment_score": 1,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    interaction = Interaction.objects.get()
    assert interaction.sentiment_label == "" and interaction.scored_at is None


def test_a_slug_no_tag_can_have_is_a_json_404(agent_api):
    # A NUL byte reached the slug lookup: a 500 on PostgreSQL.
    for url in ("/api/v1/moment-tags/%00/", "/api/v1/tag-categories/%00/"):
        response = agent_api.get(url)
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found."}


def test_promoting_with_a_nul_byte_in_a_tag_is_a_400(agent_api, agent):
    # The NUL byte reached the tag lookup: a 500 on PostgreSQL.
    interaction = ScoredInteractionFactory(customer=CustomerFactory(owner=agent))
    response = agent_api.post(
        "/api/v1/moments/", {"interaction": interaction.pk, "tags": ["\x00"]}, format="json"
    )
    assert response.status_code == 400 and "tags" in response.json()


def test_the_schema_says_a_moment_may_have_no_stage_and_no_dismisser(agent_api, agent):
    interaction = ScoredInteractionFactory(customer=CustomerFactory(owner=agent), stage=None)
    body = agent_api.get(f"/api/v1/moments/{MomentFactory(interaction=interaction).pk}/").json()
    assert body["stage"] is None and body["dismissed_by"] is None
    schemas = agent_api.get("/api/schema/?format=json").json()["components"]["schemas"]
    fields = schemas["Moment"]["properties"]
    assert fields["stage"]["nullable"] is True and fields["dismissed_by"]["nullable"] is True


def test_the_schema_says_the_heatmap_is_one_object(manager_api):
    # The viewset's action is `list`, so the schema said an array of heatmaps.
    operation = manager_api.get("/api/schema/?format=json").json()["paths"][
        "/api/v1/journey-heatmap/"
    ]["get"]
    body = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Heatmap"}
    assert set(manager_api.get("/api/v1/journey-heatmap/").json()) == {"stages", "tags", "cells"}
