"""Alert state (open → acknowledged → resolved, with who and when) through the services, the
inbox's HTMX buttons and the API; the inbox's order and filters; the header's count."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from interventions import conditions as cond
from interventions import engine, services
from interventions.models import Alert
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def make_alert(user, **extra):
    fields = {"customer": extra.pop("customer", None) or CustomerFactory(), "text": "Look"}
    return Alert.objects.create(recipient=user, **{**fields, **extra})


@pytest.fixture
def fanned_out(frustrated, owner, manager, run_queued, django_capture_on_commit_callbacks):
    """One frustration alert, copied to the owner and the manager."""
    with django_capture_on_commit_callbacks(execute=True):
        engine.fire_event(event=cond.INTERACTION_SCORED, subject=frustrated)
    run_queued()
    return Alert.objects.get(recipient=owner), Alert.objects.get(recipient=manager)


def test_acknowledge_records_who_and_when_for_every_copy(fanned_out, owner):
    mine, managers = fanned_out
    alert = services.acknowledge_alert(alert=mine, by=owner)
    assert alert.state == Alert.State.ACKNOWLEDGED
    assert alert.acknowledged_by == owner and alert.acknowledged_at is not None
    assert alert.read_at is not None
    managers.refresh_from_db()
    assert managers.state == Alert.State.ACKNOWLEDGED and managers.acknowledged_by == owner


def test_resolve_records_who_and_when_for_every_copy(fanned_out, owner, manager):
    mine, managers = fanned_out
    services.acknowledge_alert(alert=mine, by=owner)
    services.resolve_alert(alert=managers, by=manager)
    mine.refresh_from_db()
    assert mine.state == Alert.State.RESOLVED
    assert mine.resolved_by == manager and mine.resolved_at is not None
    assert mine.acknowledged_by == owner


def test_a_resolved_alert_cannot_be_acknowledged(fanned_out, owner):
    mine, _ = fanned_out
    services.resolve_alert(alert=mine, by=owner)
    with pytest.raises(ValidationError):
        services.acknowledge_alert(alert=mine, by=owner)


def test_acknowledge_and_resolve_buttons_in_the_inbox(agent_client, agent):
    alert = make_alert(agent)
    body = agent_client.get(reverse("alert-inbox")).content.decode()
    assert reverse("alert-acknowledge", args=[alert.pk]) in body
    response = agent_client.post(reverse("alert-acknowledge", args=[alert.pk]), **HTMX)
    assert response.status_code == 200
    assert response["HX-Trigger"] == "alerts-changed"
    html = response.content.decode()
    assert f'id="alert-{alert.pk}"' in html and "Acknowledged by agent" in html
    response = agent_client.post(reverse("alert-resolve", args=[alert.pk]))
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.state == Alert.State.RESOLVED and alert.resolved_by.username == "agent"


def test_state_buttons_404_405_and_login(agent_client, agent, client):
    theirs = make_alert(UserFactory(username="other", role="Agent"))
    mine = make_alert(agent)
    for name in ("alert-acknowledge", "alert-resolve"):
        assert agent_client.post(reverse(name, args=[theirs.pk])).status_code == 404
        assert agent_client.get(reverse(name, args=[mine.pk])).status_code == 405
    agent_client.logout()
    response = client.post(reverse("alert-resolve", args=[mine.pk]))
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_api_acknowledge_and_resolve(agent):
    api = APIClient()
    api.force_authenticate(agent)
    alert = make_alert(agent)
    data = api.post(f"/api/v1/alerts/{alert.pk}/acknowledge/").json()
    assert data["state"] == "acknowledged" and data["acknowledged_by"] == "agent"
    data = api.post(f"/api/v1/alerts/{alert.pk}/resolve/").json()
    assert data["state"] == "resolved" and data["resolved_by"] == "agent"
    assert data["resolved_at"] is not None
    assert api.get("/api/v1/alerts/?state=resolved").json()["count"] == 1
    assert api.get("/api/v1/alerts/?state=open").json()["count"] == 0


def test_api_state_actions_need_the_change_permission(agent):
    reader = UserFactory(username="reader")
    reader.user_permissions.add(
        *Group.objects.get(name="Agent").permissions.filter(codename="view_alert")
    )
    alert = make_alert(reader)
    api = APIClient()
    api.force_authenticate(reader)
    assert api.get("/api/v1/alerts/").status_code == 200
    assert api.post(f"/api/v1/alerts/{alert.pk}/resolve/").status_code == 403
    theirs = make_alert(agent)
    assert api.get(f"/api/v1/alerts/{theirs.pk}/").status_code == 404


def test_inbox_orders_by_priority_times_recency(agent_client, agent):
    now = timezone.now()
    make_alert(agent, text="urgent two days ago", priority=9, created_at=now - timedelta(days=2))
    make_alert(agent, text="routine just now", priority=0, created_at=now)
    make_alert(agent, text="urgent a month ago", priority=9, created_at=now - timedelta(days=30))
    body = agent_client.get(reverse("alert-inbox")).content.decode()
    assert (
        body.index("urgent two days ago")
        < body.index("routine just now")
        < body.index("urgent a month ago")
    )


def test_inbox_filters_by_state_severity_and_customer(agent_client, agent):
    grace = CustomerFactory(name="Grace")
    make_alert(agent, text="grace urgent", priority=9, customer=grace)
    make_alert(agent, text="other low", priority=1)
    make_alert(agent, text="done one", priority=9, state=Alert.State.RESOLVED)
    body = agent_client.get(reverse("alert-inbox")).content.decode()
    assert "grace urgent" in body and "other low" in body and "done one" not in body
    body = agent_client.get(reverse("alert-inbox") + "?state=resolved").content.decode()
    assert "done one" in body and "grace urgent" not in body
    body = agent_client.get(reverse("alert-inbox") + "?severity=high").content.decode()
    assert "grace urgent" in body and "other low" not in body
    body = agent_client.get(reverse("alert-inbox") + f"?customer={grace.pk}").content.decode()
    assert "grace urgent" in body and "other low" not in body
    fragment = agent_client.get(reverse("alert-inbox") + "?severity=low", **HTMX)
    assert "<html" not in fragment.content.decode() and "other low" in fragment.content.decode()


def test_header_count_is_one_query_per_page(agent_client, agent):
    make_alert(agent)
    make_alert(agent, state=Alert.State.RESOLVED)
    with CaptureQueriesContext(connection) as queries:
        body = agent_client.get(reverse("alert-inbox")).content.decode()
    counts = [
        q["sql"] for q in queries if "COUNT(" in q["sql"] and "interventions_alert" in q["sql"]
    ]
    assert len(counts) == 1
    assert 'aria-label="1 unread alert"' in body


def test_acknowledged_alerts_leave_the_header_count(agent_client, agent):
    alert = make_alert(agent)
    services.acknowledge_alert(alert=alert, by=agent)
    response = agent_client.get(reverse("alert-badge"), **HTMX)
    assert 'aria-label="0 unread alerts"' in response.content.decode()


def test_rank_follows_priority(agent):
    with time_machine.travel(timezone.now(), tick=False):
        alert = make_alert(agent, priority=2)
        assert alert.rank_at == alert.created_at + timedelta(hours=12)
