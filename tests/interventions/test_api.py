"""REST API: rules (read; write for admins), interventions (list/filter, cancel, retry),
alerts (list, mark read), tasks (list, done)."""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from interventions import conditions as cond
from interventions import engine
from interventions.models import Alert, FollowUpTask, Intervention, Rule
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db
Status = Intervention.Status


def api_as(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def intervention(frustrated):
    [intervention] = engine.fire_event(event=cond.INTERACTION_SCORED, subject=frustrated)
    return intervention


def test_managers_read_rules(manager_api):
    response = manager_api.get("/api/v1/rules/?active=true")
    assert response.status_code == 200
    assert {r["slug"] for r in response.json()["results"]} == {
        "frustration-alert",
        "escalation-watch",
    }


def test_agents_cannot_read_rules(agent_api):
    assert agent_api.get("/api/v1/rules/").status_code == 403


def test_managers_cannot_write_rules(manager_api):
    rule = Rule.objects.get(slug="recovery-follow-up")
    response = manager_api.patch(f"/api/v1/rules/{rule.pk}/", {"active": True}, format="json")
    assert response.status_code == 403


def test_admins_write_rules_and_the_condition_language_is_validated(admin_user):
    client = api_as(admin_user)
    bad = {
        "name": "Bad",
        "slug": "bad",
        "event": "interaction.scored",
        "conditions": [{"field": "sentiment_label", "op": "gt", "value": "negative"}],
        "action": "alert",
        "action_config": {},
    }
    response = client.post("/api/v1/rules/", bad, format="json")
    assert response.status_code == 400
    assert "allows the ops" in str(response.json()["conditions"])
    good = {**bad, "conditions": [{"field": "sentiment_label", "op": "eq", "value": "negative"}]}
    response = client.post("/api/v1/rules/", good, format="json")
    assert response.status_code == 201, response.json()
    assert Rule.objects.get(slug="bad").conditions == good["conditions"]


def test_a_webhook_secret_is_write_only(admin_user, manager_api):
    client = api_as(admin_user)
    rule = {
        "name": "Hook",
        "slug": "hook",
        "event": "interaction.scored",
        "conditions": [],
        "action": "webhook",
        "action_config": {"url": "https://hooks.example.com/crm", "secret": "s3cr3t-value"},
    }
    response = client.post("/api/v1/rules/", rule, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["action_config"]["secret"] == "***"
    pk = response.json()["id"]
    read = manager_api.get(f"/api/v1/rules/{pk}/").json()
    assert "s3cr3t-value" not in str(read)
    echoed = client.patch(
        f"/api/v1/rules/{pk}/", {"action_config": read["action_config"]}, format="json"
    )
    assert echoed.status_code == 200, echoed.json()
    assert Rule.objects.get(pk=pk).action_config["secret"] == "s3cr3t-value"
    changed = {"url": "https://hooks.example.com/crm", "secret": "new-value"}
    client.patch(f"/api/v1/rules/{pk}/", {"action_config": changed}, format="json")
    assert Rule.objects.get(pk=pk).action_config["secret"] == "new-value"


def test_interventions_list_and_filter(manager_api, intervention):
    response = manager_api.get("/api/v1/interventions/?status=scheduled&rule=frustration-alert")
    [row] = response.json()["results"]
    assert row["id"] == intervention.pk
    assert row["why_fired"]["event"] == "interaction.scored"
    assert manager_api.get("/api/v1/interventions/?status=failed").json()["count"] == 0


def test_agents_do_not_see_interventions(agent_api, intervention):
    assert agent_api.get("/api/v1/interventions/").status_code == 403


def test_cancel_and_retry(manager_api, intervention):
    response = manager_api.post(f"/api/v1/interventions/{intervention.pk}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    response = manager_api.post(f"/api/v1/interventions/{intervention.pk}/cancel/")
    assert response.status_code == 400
    response = manager_api.post(f"/api/v1/interventions/{intervention.pk}/retry/")
    assert response.status_code == 200 and response.json()["status"] == "scheduled"


def test_cancel_unknown_is_404_and_agents_403(manager_api, agent, intervention):
    assert manager_api.post("/api/v1/interventions/999/cancel/").status_code == 404
    assert api_as(agent).post(f"/api/v1/interventions/{intervention.pk}/cancel/").status_code == 403


def test_alerts_are_my_own_and_can_be_marked_read(agent_api, agent):
    mine = Alert.objects.create(recipient=agent, customer=CustomerFactory(), text="Mine")
    other = UserFactory(username="other", role="Agent")
    theirs = Alert.objects.create(recipient=other, customer=CustomerFactory(), text="Theirs")
    response = agent_api.get("/api/v1/alerts/?unread=true")
    assert [a["text"] for a in response.json()["results"]] == ["Mine"]
    assert agent_api.post(f"/api/v1/alerts/{theirs.pk}/read/").status_code == 404
    response = agent_api.post(f"/api/v1/alerts/{mine.pk}/read/")
    assert response.status_code == 200 and response.json()["read_at"]
    assert agent_api.get("/api/v1/alerts/?unread=true").json()["count"] == 0


def test_tasks_list_and_done(agent_api, agent):
    task = FollowUpTask.objects.create(
        assignee=agent, customer=CustomerFactory(), title="Call", due=timezone.now()
    )
    assert agent_api.get("/api/v1/tasks/?open=true").json()["count"] == 1
    response = agent_api.post(f"/api/v1/tasks/{task.pk}/done/")
    assert response.status_code == 200 and response.json()["done_at"]
    assert agent_api.get("/api/v1/tasks/?open=true").json()["count"] == 0


def test_tasks_cannot_be_created_or_deleted_through_the_api(agent_api, agent):
    task = FollowUpTask.objects.create(
        assignee=agent, customer=CustomerFactory(), title="Call", due=timezone.now()
    )
    assert agent_api.delete(f"/api/v1/tasks/{task.pk}/").status_code == 405


def test_anonymous_gets_401_or_403(intervention):
    client = APIClient()
    for url in ["/api/v1/rules/", "/api/v1/interventions/", "/api/v1/alerts/", "/api/v1/tasks/"]:
        assert client.get(url).status_code in (401, 403)
