"""POST /api/v1/sentiment/ (ad-hoc scoring) and GET /api/v1/sentiment/status/."""

import pytest

URL = "/api/v1/sentiment/"


def test_scores_a_batch_of_texts(agent_api, sentiment_model):
    response = agent_api.post(
        URL,
        {"texts": ["I hate this, worst support ever, I am furious!", "Thanks, you were great!"]},
        format="json",
    )
    assert response.status_code == 200
    data = response.json()
    assert data["model"] == sentiment_model.version
    assert [r["label"] for r in data["results"]] == ["negative", "positive"]
    assert all(-1 <= r["score"] <= 1 and 0 <= r["confidence"] <= 1 for r in data["results"])


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
    if response.status_code == 404:
        pytest.skip("interactions endpoint not available yet")
    assert response.status_code == 201, response.content
    from customers.models import Interaction

    interaction = Interaction.objects.get()
    assert interaction.sentiment_label == "" and interaction.scored_at is None
