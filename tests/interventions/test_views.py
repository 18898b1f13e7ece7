"""HTML pages: each works, 404s another's or an unknown object, 405s the wrong method and
sends anonymous visitors to the login page; lists run a constant number of queries."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from interventions import conditions as cond
from interventions import engine
from interventions.models import Alert, FollowUpTask, Intervention, Rule
from tests.factories import CustomerFactory, InteractionFactory, UserFactory

pytestmark = pytest.mark.django_db
Status = Intervention.Status
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def intervention(frustrated):
    [intervention] = engine.fire_event(event=cond.INTERACTION_SCORED, subject=frustrated)
    return intervention


def make_alert(user, **extra):
    fields = {"customer": extra.pop("customer", None) or CustomerFactory(), "text": "Look"}
    return Alert.objects.create(recipient=user, **{**fields, **extra})


def make_task(user, **extra):
    fields = {"customer": CustomerFactory(), "title": "Call back", "due": timezone.now()}
    return FollowUpTask.objects.create(assignee=user, **{**fields, **extra})


def anonymous() -> Client:
    """A fresh client: `client` is the same object agent_client / manager_client logged in."""
    return Client()


def login_redirect(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(reverse("login"))


# --- the queue ----------------------------------------------------------------------------


def test_queue_shows_due_interventions_and_why(manager_client, intervention):
    response = manager_client.get(reverse("intervention-queue"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Frustration alert" in body and "Grace Hopper" in body
    assert "sentiment_confidence gte 0.8" in body


def test_queue_tab_fragment_for_htmx(manager_client, intervention):
    response = manager_client.get(reverse("intervention-queue") + "?tab=failed", **HTMX)
    assert response.status_code == 200
    assert response.content.decode().lstrip().startswith('<section id="intervention-queue">')
    assert "Grace Hopper" not in response.content.decode()


def test_queue_is_for_managers(agent_client):
    assert agent_client.get(reverse("intervention-queue")).status_code == 403


def test_queue_anonymous_goes_to_login(client):
    assert login_redirect(anonymous().get(reverse("intervention-queue")))


def test_queue_wrong_method(manager_client):
    assert manager_client.post(reverse("intervention-queue")).status_code == 405


def test_queue_query_count_does_not_grow(manager_client, frustrated, rule):
    rule("frustration-alert", cooldown=None)
    engine.fire_event(event=cond.INTERACTION_SCORED, subject=frustrated)
    with CaptureQueriesContext(connection) as one:
        manager_client.get(reverse("intervention-queue"))
    for _ in range(5):
        interaction = InteractionFactory(
            customer=CustomerFactory(),
            stage=frustrated.stage,
            sentiment_label="negative",
            sentiment_confidence=0.9,
        )
        engine.fire_event(event=cond.INTERACTION_SCORED, subject=interaction)
    with CaptureQueriesContext(connection) as six:
        manager_client.get(reverse("intervention-queue"))
    assert len(six) == len(one)


def test_cancel_from_htmx_returns_the_row(manager_client, intervention):
    url = reverse("intervention-cancel", args=[intervention.pk])
    response = manager_client.post(url, **HTMX)
    assert response.status_code == 200
    assert f'id="intervention-{intervention.pk}"' in response.content.decode()
    intervention.refresh_from_db()
    assert intervention.status == Status.CANCELLED
    assert intervention.cancelled_by.username == "manager"


def test_cancel_without_htmx_redirects(manager_client, intervention):
    response = manager_client.post(reverse("intervention-cancel", args=[intervention.pk]))
    assert response.status_code == 302


def test_cancel_of_a_finished_intervention_says_why(manager_client, intervention):
    engine.execute(intervention.pk)
    response = manager_client.post(reverse("intervention-cancel", args=[intervention.pk]), **HTMX)
    assert "Only a scheduled intervention can be cancelled" in response.content.decode()


def test_cancel_unknown_is_404(manager_client):
    assert manager_client.post(reverse("intervention-cancel", args=[999])).status_code == 404


def test_cancel_wrong_method(manager_client, intervention):
    url = reverse("intervention-cancel", args=[intervention.pk])
    assert manager_client.get(url).status_code == 405


def test_cancel_anonymous_goes_to_login(client, intervention):
    assert login_redirect(anonymous().post(reverse("intervention-cancel", args=[intervention.pk])))


def test_cancel_is_for_managers(agent_client, intervention):
    url = reverse("intervention-cancel", args=[intervention.pk])
    assert agent_client.post(url).status_code == 403


def test_retry_reschedules_a_failed_one(manager_client, intervention):
    Intervention.objects.filter(pk=intervention.pk).update(status=Status.FAILED)
    response = manager_client.post(reverse("intervention-retry", args=[intervention.pk]), **HTMX)
    assert response.status_code == 200
    intervention.refresh_from_db()
    assert intervention.status == Status.SCHEDULED


def test_retry_unknown_is_404_and_get_is_405(manager_client):
    assert manager_client.post(reverse("intervention-retry", args=[999])).status_code == 404
    assert manager_client.get(reverse("intervention-retry", args=[999])).status_code == 405


def test_manager_sees_only_visible_customers_interventions(client, intervention, owned_visibility):
    """With owned visibility a user with the queue permission but not view_all_customers sees
    only their customers' interventions (another's is a 404)."""
    from django.contrib.auth.models import Permission

    lead = UserFactory(username="lead", role="Agent")
    lead.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_intervention", "change_intervention"],
            content_type__app_label="interventions",
        )
    )
    client.force_login(lead)
    assert client.post(reverse("intervention-cancel", args=[intervention.pk])).status_code == 404


# --- alerts -------------------------------------------------------------------------------


def test_inbox_lists_my_alerts_unread_and_urgent_first(agent_client, agent):
    make_alert(agent, text="old read", read_at=timezone.now())
    make_alert(agent, text="low", priority=1)
    make_alert(agent, text="frustrated", priority=9)
    make_alert(UserFactory(username="other", role="Agent"), text="not mine")
    body = agent_client.get(reverse("alert-inbox")).content.decode()
    body = body[body.index('id="alert-list"') :]  # past the filters ("low" severity)
    assert body.index("frustrated") < body.index("low") < body.index("old read")
    assert "not mine" not in body


def test_inbox_anonymous_and_wrong_method(client, agent_client):
    assert login_redirect(anonymous().get(reverse("alert-inbox")))
    assert agent_client.post(reverse("alert-inbox")).status_code == 405


def test_mark_read(agent_client, agent):
    alert = make_alert(agent)
    response = agent_client.post(reverse("alert-read", args=[alert.pk]), **HTMX)
    assert response.status_code == 200
    assert response["HX-Trigger"] == "alerts-changed"
    alert.refresh_from_db()
    assert alert.read_at is not None


def test_mark_read_of_another_persons_alert_is_404(agent_client):
    alert = make_alert(UserFactory(username="other", role="Agent"))
    assert agent_client.post(reverse("alert-read", args=[alert.pk])).status_code == 404
    assert agent_client.post(reverse("alert-read", args=[999])).status_code == 404


def test_mark_read_wrong_method_and_anonymous(client, agent_client, agent):
    alert = make_alert(agent)
    assert agent_client.get(reverse("alert-read", args=[alert.pk])).status_code == 405
    assert login_redirect(anonymous().post(reverse("alert-read", args=[alert.pk])))


def test_mark_all_read(agent_client, agent):
    make_alert(agent)
    make_alert(agent)
    response = agent_client.post(reverse("alert-read-all"))
    assert response.status_code == 302
    assert not Alert.objects.filter(read_at__isnull=True).exists()


def test_badge_counts_unread(agent_client, agent):
    make_alert(agent)
    make_alert(agent, read_at=timezone.now())
    response = agent_client.get(reverse("alert-badge"), **HTMX)
    assert 'aria-label="1 unread alert"' in response.content.decode()
    assert 'hx-trigger="every 15s' in response.content.decode()


def test_header_polls_the_badge(agent_client, agent):
    make_alert(agent)
    body = agent_client.get(reverse("customer-list")).content.decode()
    assert 'id="alert-badge"' in body and reverse("alert-badge") in body
    assert reverse("intervention-queue") not in body  # agents have no queue


def test_header_links_the_queue_for_managers(manager_client):
    body = manager_client.get(reverse("customer-list")).content.decode()
    assert reverse("intervention-queue") in body and reverse("rule-list") in body


def test_badge_anonymous_and_wrong_method(client, agent_client):
    assert login_redirect(anonymous().get(reverse("alert-badge")))
    assert agent_client.post(reverse("alert-badge")).status_code == 405


def test_inbox_query_count_does_not_grow(agent_client, agent, frustrated, rule):
    rule("frustration-alert", cooldown=None)

    def alert_with_intervention():
        interaction = InteractionFactory(
            customer=CustomerFactory(),
            stage=frustrated.stage,
            sentiment_label="negative",
            sentiment_confidence=0.9,
        )
        [intervention] = engine.fire_event(event=cond.INTERACTION_SCORED, subject=interaction)
        make_alert(agent, intervention=intervention, customer=interaction.customer)

    alert_with_intervention()
    with CaptureQueriesContext(connection) as one:
        agent_client.get(reverse("alert-inbox"))
    for _ in range(5):
        alert_with_intervention()
    with CaptureQueriesContext(connection) as six:
        agent_client.get(reverse("alert-inbox"))
    assert len(six) == len(one)


# --- tasks --------------------------------------------------------------------------------


def test_task_list_shows_my_open_tasks(agent_client, agent):
    make_task(agent, title="Mine")
    make_task(UserFactory(username="other", role="Agent"), title="Theirs")
    body = agent_client.get(reverse("task-list")).content.decode()
    assert "Mine" in body and "Theirs" not in body


def test_task_done(agent_client, agent):
    task = make_task(agent)
    response = agent_client.post(reverse("task-done", args=[task.pk]), **HTMX)
    assert response.status_code == 200 and "Done" in response.content.decode()
    task.refresh_from_db()
    assert task.done_at and task.done_by == agent


def test_task_done_of_another_persons_task_is_404(agent_client):
    task = make_task(UserFactory(username="other", role="Agent"))
    assert agent_client.post(reverse("task-done", args=[task.pk])).status_code == 404


def test_task_views_wrong_method_and_anonymous(client, agent_client, agent):
    task = make_task(agent)
    assert agent_client.post(reverse("task-list")).status_code == 405
    assert agent_client.get(reverse("task-done", args=[task.pk])).status_code == 405
    assert login_redirect(anonymous().get(reverse("task-list")))
    assert login_redirect(anonymous().post(reverse("task-done", args=[task.pk])))


# --- rules --------------------------------------------------------------------------------


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_rules_page_for_managers(manager_client, agent):
    response = manager_client.get(reverse("rule-list"))
    assert response.status_code == 200 and "Frustration alert" in response.content.decode()
    assert logged_in(agent).get(reverse("rule-list")).status_code == 403
    assert login_redirect(anonymous().get(reverse("rule-list")))
    assert manager_client.post(reverse("rule-list")).status_code == 405


def test_manager_enables_and_disables_a_rule(manager_client):
    rule = Rule.objects.get(slug="recovery-follow-up")
    response = manager_client.post(reverse("rule-toggle", args=[rule.pk]), **HTMX)
    assert response.status_code == 200 and "Disable" in response.content.decode()
    rule.refresh_from_db()
    assert rule.active
    manager_client.post(reverse("rule-toggle", args=[rule.pk]))
    rule.refresh_from_db()
    assert not rule.active


def test_an_invalid_rule_cannot_be_enabled(manager_client):
    rule = Rule.objects.get(slug="milestone-thank-you")
    rule.action_config = {"template": "gone"}
    rule.save()
    response = manager_client.post(reverse("rule-toggle", args=[rule.pk]), **HTMX)
    assert "Cannot enable" in response.content.decode()
    rule.refresh_from_db()
    assert not rule.active


def test_rule_toggle_permissions(agent, manager_client):
    rule = Rule.objects.get(slug="recovery-follow-up")
    url = reverse("rule-toggle", args=[rule.pk])
    assert logged_in(agent).post(url).status_code == 403
    assert manager_client.get(url).status_code == 405
    assert manager_client.post(reverse("rule-toggle", args=[999])).status_code == 404
    assert login_redirect(anonymous().post(url))


# --- the customer page --------------------------------------------------------------------


def test_customer_page_shows_its_interventions_to_managers(manager_client, intervention):
    response = manager_client.get(intervention.customer.get_absolute_url())
    body = response.content.decode()
    assert 'id="customer-interventions"' in body and "Frustration alert" in body


def test_customer_page_hides_interventions_from_agents(agent_client, intervention):
    response = agent_client.get(intervention.customer.get_absolute_url())
    assert 'id="customer-interventions"' not in response.content.decode()


def test_due_tab_excludes_future_rows(manager_client, intervention):
    Intervention.objects.filter(pk=intervention.pk).update(
        scheduled_for=timezone.now() + timedelta(hours=3)
    )
    assert "Grace Hopper" not in manager_client.get(reverse("intervention-queue")).content.decode()
    body = manager_client.get(reverse("intervention-queue") + "?tab=scheduled").content.decode()
    assert "Grace Hopper" in body


def test_timeline_shows_interventions_in_line(manager_client, intervention):
    body = manager_client.get(intervention.customer.get_absolute_url()).content.decode()
    assert f'id="timeline-intervention-{intervention.pk}"' in body


def test_timeline_query_count_does_not_grow_with_interventions(manager_client, frustrated, rule):
    rule("frustration-alert", cooldown=None)
    engine.fire_event(event=cond.INTERACTION_SCORED, subject=frustrated)
    url = frustrated.customer.get_absolute_url()
    with CaptureQueriesContext(connection) as one:
        manager_client.get(url)
    for _ in range(4):
        interaction = InteractionFactory(
            customer=frustrated.customer,
            stage=frustrated.stage,
            sentiment_label="negative",
            sentiment_confidence=0.9,
        )
        engine.fire_event(event=cond.INTERACTION_SCORED, subject=interaction)
    with CaptureQueriesContext(connection) as five:
        manager_client.get(url)
    ours = [q for q in five.captured_queries if "interventions_" in q["sql"]]
    assert len([q for q in one.captured_queries if "interventions_" in q["sql"]]) == len(ours)


def test_queue_says_what_it_did(manager_client, intervention):
    engine.execute(intervention.pk)
    body = manager_client.get(reverse("intervention-queue") + "?tab=recent").content.decode()
    assert "alerted owner" in body and "owner@example.com (sent)" in body
