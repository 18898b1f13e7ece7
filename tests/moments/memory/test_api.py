"""The memory moments API: list/filter, promote, tags, dismiss, taxonomy, summary, heatmap."""

from datetime import timedelta

import pytest
from django.utils import timezone

from moments.memory import services as memory_services
from moments.models import Moment
from tests.factories import CustomerFactory, UserFactory
from tests.moments.factories import ScoredInteractionFactory, long_text, stage, tag

pytestmark = pytest.mark.django_db

URL = "/api/v1/moments/"


def _moment(customer, score=-0.9, **kwargs):
    if "body" in kwargs:
        kwargs["body"] = long_text(kwargs["body"])
    interaction = ScoredInteractionFactory(customer=customer, sentiment_score=score, **kwargs)
    return memory_services.detect_moments(interaction_ids=[interaction.pk])[0]


def test_list_moments(agent_api, customer):
    moment = _moment(customer, body="Charged twice")
    response = agent_api.get(URL)
    assert response.status_code == 200
    row = response.json()["results"][0]
    assert row["id"] == moment.pk
    assert row["tags"] == ["billing-shock"]
    assert [r["reason"] for r in row["reasons"]] == ["peak", "tag_rule"]
    assert set(row["recall"]) == {"now", "day_7", "day_30", "day_365", "stability_days"}
    assert row["polarity"] == "negative"


def test_filter_by_customer_tag_stage_polarity_and_date(agent_api, customer):
    other = CustomerFactory()
    billing = _moment(customer, body="Charged twice")
    happy = _moment(customer, score=0.95, stage=stage("delivery"))
    old = _moment(other, occurred_at=timezone.now() - timedelta(days=40))

    def ids(**params):
        response = agent_api.get(URL, params)
        assert response.status_code == 200, response.json()
        return {r["id"] for r in response.json()["results"]}

    assert ids(customer=customer.pk) == {billing.pk, happy.pk}
    assert ids(tag="billing-shock") == {billing.pk}
    assert ids(stage="delivery") == {happy.pk}
    assert ids(polarity="negative") == {billing.pk, old.pk}
    since = (timezone.now() - timedelta(days=7)).isoformat()
    assert ids(occurred_after=since) == {billing.pk, happy.pk}


def test_bad_filter_is_400(agent_api):
    assert agent_api.get(URL, {"polarity": "sideways"}).status_code == 400
    assert agent_api.get(URL, {"occurred_after": "yesterday"}).status_code == 400


def test_list_query_count_is_constant(agent_api, customer, django_assert_max_num_queries, settings):
    settings.MEMORY_BUDGET = 100  # many moments of one customer at once: not what is tested
    for _ in range(3):
        _moment(customer, body="Charged twice")
    with django_assert_max_num_queries(8) as few:
        agent_api.get(URL)
    for _ in range(12):
        _moment(customer, body="Charged twice")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(agent_api.get(URL).json()["results"]) == 15


def test_another_agents_moments_are_hidden(agent_api, owned_visibility):
    owner = UserFactory(role="Agent")
    moment = _moment(CustomerFactory(owner=owner))
    assert agent_api.get(URL).json()["results"] == []
    assert agent_api.get(f"{URL}{moment.pk}/").status_code == 404
    assert agent_api.post(f"{URL}{moment.pk}/dismiss/", {"reason": "x"}).status_code == 404


def test_create_promotes_an_interaction(agent_api, customer):
    interaction = ScoredInteractionFactory(customer=customer)
    response = agent_api.post(
        URL,
        {"interaction": interaction.pk, "tags": ["empathy-win"], "note": "lovely call"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["tags"] == ["empathy-win"]
    assert body["reasons"][0]["reason"] == "agent"
    assert "lovely call" in body["reasons"][0]["detail"]
    assert body["detected_by"] == "agent"


def test_create_for_an_invisible_interaction_is_400(agent_api, owned_visibility):
    other = ScoredInteractionFactory(customer=CustomerFactory(owner=UserFactory(role="Agent")))
    response = agent_api.post(URL, {"interaction": other.pk}, format="json")
    assert response.status_code == 400
    assert not Moment.objects.exists()


def test_create_with_a_retired_tag_is_400(agent_api, customer):
    retired = tag("long-wait")
    retired.active = False
    retired.save()
    interaction = ScoredInteractionFactory(customer=customer)
    response = agent_api.post(
        URL, {"interaction": interaction.pk, "tags": ["long-wait"]}, format="json"
    )
    assert response.status_code == 400
    assert "Retired" in str(response.json())


def test_patch_sets_the_tags(agent_api, customer):
    moment = _moment(customer, body="Charged twice")
    response = agent_api.patch(
        f"{URL}{moment.pk}/", {"tags": ["long-wait", "repeated-contact"]}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert sorted(response.json()["tags"]) == ["long-wait", "repeated-contact"]


def test_put_and_delete_are_405(agent_api, customer):
    moment = _moment(customer)
    assert agent_api.put(f"{URL}{moment.pk}/", {"tags": []}, format="json").status_code == 405
    assert agent_api.delete(f"{URL}{moment.pk}/").status_code == 405


def test_dismiss_action(agent_api, customer):
    moment = _moment(customer)
    response = agent_api.post(f"{URL}{moment.pk}/dismiss/", {"reason": "not about us"})
    assert response.status_code == 200
    assert response.json()["dismissed"] is True
    assert response.json()["dismissed_by"] == "agent"
    assert agent_api.post(f"{URL}{moment.pk}/dismiss/", {}).status_code == 400


def test_anonymous_and_no_role_get_nothing(api_client, no_role_user, customer):
    _moment(customer)
    assert api_client.get(URL).status_code in (401, 403)
    api_client.force_authenticate(no_role_user)
    assert api_client.get(URL).status_code == 403


def test_tags_and_categories_are_read_only(agent_api):
    tags = agent_api.get("/api/v1/moment-tags/").json()
    assert len(tags) == 10
    assert {t["slug"] for t in tags} >= {"empathy-win", "billing-shock", "delivery-delight"}
    assert agent_api.get("/api/v1/tag-categories/").status_code == 200
    assert agent_api.post("/api/v1/moment-tags/", {"name": "x"}).status_code == 405


def test_customer_memory_summary(agent_api, customer):
    _moment(customer, body="Charged twice")
    response = agent_api.get(f"/api/v1/customer-memory/{customer.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body["balance"] < 0
    assert body["moment_count"] == 1
    assert body["top"][0]["moment"]["tags"] == ["billing-shock"]
    assert 0 < body["top"][0]["likely_remembered_in_30_days"] < 1
    assert body["story"].startswith("Leaning negative: one bad moment on ")
    assert body["leaning"] == "negative"


def test_customer_memory_of_invisible_customer_is_404(agent_api, owned_visibility):
    other = CustomerFactory(owner=UserFactory(role="Agent"))
    assert agent_api.get(f"/api/v1/customer-memory/{other.pk}/").status_code == 404
    assert agent_api.get("/api/v1/customer-memory/999999/").status_code == 404


def test_heatmap_for_managers(manager_api, customer):
    _moment(customer, body="Charged twice", stage=stage("complaint"))
    response = manager_api.get("/api/v1/journey-heatmap/", {"polarity": "negative"})
    assert response.status_code == 200
    body = response.json()
    cell = next(c for c in body["cells"] if c["tag"] is not None)
    assert cell["stage"] == stage("complaint").pk
    assert cell["count"] == 1 and cell["mean_impact"] < 0
    assert manager_api.get("/api/v1/journey-heatmap/", {"polarity": "x"}).status_code == 400


def test_heatmap_is_for_managers_only(agent_api):
    assert agent_api.get("/api/v1/journey-heatmap/").status_code == 403
