"""Who may GET what: every named route × anonymous / no role / agent / manager / admin.

The table is generated from nothing but the decisions below; the route list comes from the URL
conf, so a new route without a decision here fails `test_every_route_has_a_decision`. Writes
(POST-only routes answer 405 to GET) are tested per app; this pins the read side and the
login/permission wall in front of every route.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from customers.channels.conversations import receive_conversation
from customers.models import ImportJob, JourneyStage
from interventions.models import Alert, FollowUpTask, Intervention, Rule
from moments.models import MomentTag, ScoringRequest, TagCategory
from surveys import services as survey_services
from surveys.models import Survey
from tests.factories import CustomerFactory, UserFactory
from tests.moments.factories import MomentFactory, ScoredInteractionFactory

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "norole", "agent", "manager", "admin")
L, F, N, M, OK, UNAUTH = 302, 403, 404, 405, 200, 401  # L = sent to the login page

# name: (anonymous, no role, agent, manager, admin) for a GET
EXPECTED: dict[str, tuple[int, ...]] = {
    # agent pages
    "home": (L, L, L, L, L),
    "customer-list": (L, F, OK, OK, OK),
    "customer-create": (L, F, OK, OK, OK),
    "customer-detail": (L, F, OK, OK, OK),
    "customer-edit": (L, F, OK, OK, OK),
    "interaction-create": (M, M, M, M, M),
    "import-list": (L, F, F, OK, OK),
    "import-detail": (L, F, F, OK, OK),
    "export-csv": (L, F, F, OK, OK),
    # sentiment and moments
    "sentiment-status": (L, F, OK, OK, OK),
    "sentiment-badge": (L, F, OK, OK, OK),
    "sentiment-correct": (M, M, M, M, M),
    "moment-promote": (M, M, M, M, M),
    "moment-tag-add": (M, M, M, M, M),
    "moment-tag-remove": (M, M, M, M, M),
    "moment-dismiss": (L, F, OK, OK, OK),
    "customer-memory": (L, F, OK, OK, OK),
    "journey-map": (L, F, F, OK, OK),
    "journey-cell": (L, F, F, OK, OK),
    # interventions
    "intervention-queue": (L, F, F, OK, OK),
    "intervention-cancel": (M, M, M, M, M),
    "intervention-retry": (M, M, M, M, M),
    "alert-inbox": (L, F, OK, OK, OK),
    # the badge counts one's own unread alerts: zero for a user with no role, nothing leaks
    "alert-badge": (L, OK, OK, OK, OK),
    "alert-read-all": (M, M, M, M, M),
    "alert-read": (M, M, M, M, M),
    "alert-acknowledge": (M, M, M, M, M),
    "alert-resolve": (M, M, M, M, M),
    "task-list": (L, F, OK, OK, OK),
    "task-done": (M, M, M, M, M),
    "rule-list": (L, F, F, OK, OK),
    "rule-toggle": (M, M, M, M, M),
    # surveys: the public pages need only the token
    "survey-answer": (OK, OK, OK, OK, OK),
    "survey-thanks": (N, N, N, N, N),
    "survey-opt-out": (OK, OK, OK, OK, OK),
    # email providers' inbound webhooks: a 404 until a provider's secret is configured; then
    # its signature decides, not a role (tests/channels/test_webhooks.py)
    "channels-inbound": (N, N, N, N, N),
    "survey-invite-interaction": (M, M, M, M, M),
    "survey-bulk-invite": (L, F, F, OK, OK),
    "survey-report": (L, F, F, OK, OK),
    "survey-report-csv": (L, F, F, OK, OK),
    "forecast-quality": (L, F, F, OK, OK),
    # accounts and API docs
    "login": (OK, L, L, L, L),
    "logout": (M, M, M, M, M),
    "time-zone": (L, OK, OK, OK, OK),  # anyone signed in picks their own zone
    "schema": (UNAUTH, OK, OK, OK, OK),
    "api-docs": (UNAUTH, OK, OK, OK, OK),
    "rest_framework:login": (OK, OK, OK, OK, OK),
    "password_reset": (OK, OK, OK, OK, OK),
    "password_reset_done": (OK, OK, OK, OK, OK),
    "password_reset_confirm": (OK, OK, OK, OK, OK),  # an invalid link says so
    "password_reset_complete": (OK, OK, OK, OK, OK),
    "rest_framework:logout": (M, M, M, M, M),
    # API tokens: POST only (issue: credentials in the body; revoke: the token sent)
    "api-token-list": (M, M, M, M, M),
    "api-token-logout": (M, M, M, M, M),
    "api-token-logout-all": (M, M, M, M, M),
    # For load balancers (statuses only) and Prometheus (token or admin): memorycrm/ops.py.
    "health": (OK, OK, OK, OK, OK),
    "metrics": (UNAUTH, F, F, F, OK),
    "api-root": (UNAUTH, OK, OK, OK, OK),
    # API, customers app
    "api-customer-list": (UNAUTH, F, OK, OK, OK),
    "api-customer-detail": (UNAUTH, F, OK, OK, OK),
    # GDPR: managers and admins export; only admins erase (POST: tests/customers/test_privacy.py)
    "api-customer-export": (UNAUTH, F, F, OK, OK),
    "api-customer-erase": (M, M, M, M, M),
    "api-interaction-list": (UNAUTH, F, OK, OK, OK),
    "api-interaction-detail": (UNAUTH, F, OK, OK, OK),
    "api-conversation-list": (M, M, M, M, M),  # POST only
    "api-conversation-detail": (UNAUTH, F, OK, OK, OK),
    "api-stage-list": (UNAUTH, F, OK, OK, OK),
    "api-stage-detail": (UNAUTH, F, OK, OK, OK),
    # API, moments
    "api-sentiment-list": (UNAUTH, F, M, M, M),  # POST only; a role first (issue 14)
    "api-sentiment-status": (UNAUTH, F, OK, OK, OK),
    # ad-hoc scoring results are the requester's (the agent's, still queued: 202)
    "api-sentiment-results": (UNAUTH, F, 202, N, N),
    "api-moment-list": (UNAUTH, F, OK, OK, OK),
    "api-moment-detail": (UNAUTH, F, OK, OK, OK),
    "api-moment-dismiss": (M, M, M, M, M),
    "api-moment-tag-list": (UNAUTH, F, OK, OK, OK),
    "api-moment-tag-detail": (UNAUTH, F, OK, OK, OK),
    "api-tag-category-list": (UNAUTH, F, OK, OK, OK),
    "api-tag-category-detail": (UNAUTH, F, OK, OK, OK),
    "api-customer-memory-detail": (UNAUTH, F, OK, OK, OK),
    "api-journey-heatmap-list": (UNAUTH, F, F, OK, OK),
    # API, surveys
    "api-survey-list": (UNAUTH, F, OK, OK, OK),
    "api-survey-detail": (UNAUTH, F, OK, OK, OK),
    "api-survey-invitation-list": (UNAUTH, F, OK, OK, OK),
    "api-survey-invitation-detail": (UNAUTH, F, OK, OK, OK),
    "api-survey-response-list": (UNAUTH, F, OK, OK, OK),
    "api-survey-response-detail": (UNAUTH, F, OK, OK, OK),
    "api-survey-report-list": (UNAUTH, F, F, OK, OK),
    "api-forecast-quality-list": (UNAUTH, F, F, OK, OK),
    # API, interventions
    "api-rule-list": (UNAUTH, F, F, OK, OK),
    "api-rule-detail": (UNAUTH, F, F, OK, OK),
    "api-intervention-list": (UNAUTH, F, F, OK, OK),
    "api-intervention-detail": (UNAUTH, F, F, OK, OK),
    "api-intervention-cancel": (M, M, M, M, M),
    "api-intervention-retry": (M, M, M, M, M),
    "api-alert-list": (UNAUTH, F, OK, OK, OK),
    # alerts and tasks are personal: the agent's own, a 404 for everyone else
    "api-alert-detail": (UNAUTH, F, OK, N, N),
    "api-alert-read": (M, M, M, M, M),
    "api-alert-acknowledge": (M, M, M, M, M),
    "api-alert-resolve": (M, M, M, M, M),
    "api-task-list": (UNAUTH, F, OK, OK, OK),
    "api-task-detail": (UNAUTH, F, OK, N, N),
    "api-task-done": (M, M, M, M, M),
}


def named_routes() -> set[str]:
    """Every named route outside Django admin (which has its own permission system)."""

    def walk(patterns, namespace=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.namespace == "admin":
                    continue
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                yield from walk(pattern.url_patterns, inner)
            elif isinstance(pattern, URLPattern) and pattern.name:
                yield namespace + pattern.name

    return set(walk(get_resolver().url_patterns))


def test_every_route_has_a_decision():
    assert named_routes() - set(EXPECTED) == set(), "add the new route to EXPECTED"
    assert set(EXPECTED) - named_routes() == set(), "remove the routes that no longer exist"


@pytest.fixture
def world(agent, manager, admin_user, no_role_user):
    """One object of each kind, visible to the agent (whose customer it is)."""
    customer = CustomerFactory(owner=agent)
    interaction = ScoredInteractionFactory(customer=customer)
    moment = MomentFactory(interaction=interaction)
    stage = JourneyStage.objects.get(slug="complaint")
    tag = MomentTag.objects.order_by("pk").first()
    survey = Survey.objects.get(name="What stood out?")
    invite = survey_services.create_invitation(
        survey=survey, customer=customer, interaction=interaction, send=False
    )
    answered = survey_services.create_invitation(
        survey=Survey.objects.create(name="Second", frequency_limit_days=0),
        customer=CustomerFactory(owner=agent),
        send=False,
    )
    response, _ = survey_services.submit_response(invitation=answered.invitation, rating=5)
    rule = Rule.objects.order_by("pk").first()
    intervention = Intervention.objects.create(
        rule=rule,
        event="interaction.scored",
        subject_type=ContentType.objects.get_for_model(interaction),
        subject_id=interaction.pk,
        customer=customer,
        interaction=interaction,
        scheduled_for=timezone.now() + timedelta(hours=1),
    )
    alert = Alert.objects.create(recipient=agent, customer=customer, text="Frustrated customer")
    task = FollowUpTask.objects.create(
        assignee=agent, customer=customer, title="Call back", due=timezone.now()
    )
    job = ImportJob.objects.create(kind="customers", filename="c.csv", content="name\n")
    scoring = ScoringRequest.objects.create(requested_by=agent, texts=["hello"])
    conversation = receive_conversation(
        customer=customer,
        channel="chat",
        external_id="chat-1",
        started_at=timezone.now() - timedelta(minutes=5),
        ended_at=timezone.now(),
        turns=[{"speaker": "customer", "text": "Hello?"}],
    ).interaction
    return {
        "users": {"norole": no_role_user, "agent": agent, "manager": manager, "admin": admin_user},
        "args": {
            "customer-detail": [customer.pk],
            "customer-edit": [customer.pk],
            "interaction-create": [customer.pk],
            "import-detail": [job.pk],
            "export-csv": ["customers"],
            "sentiment-badge": [interaction.pk],
            "sentiment-correct": [interaction.pk],
            "moment-promote": [interaction.pk],
            "moment-tag-add": [moment.pk],
            "moment-tag-remove": [moment.pk, tag.pk],
            "moment-dismiss": [moment.pk],
            "customer-memory": [customer.pk],
            "journey-cell": [stage.pk, tag.pk],
            "intervention-cancel": [intervention.pk],
            "intervention-retry": [intervention.pk],
            "alert-read": [alert.pk],
            "alert-acknowledge": [alert.pk],
            "alert-resolve": [alert.pk],
            "task-done": [task.pk],
            "rule-toggle": [rule.pk],
            "survey-answer": [invite.token],
            "survey-thanks": [invite.token],
            "survey-opt-out": [invite.token],
            "channels-inbound": ["mailgun"],
            "survey-invite-interaction": [interaction.pk],
            "api-customer-detail": [customer.pk],
            "api-customer-export": [customer.pk],
            "api-customer-erase": [customer.pk],
            "api-interaction-detail": [interaction.pk],
            "api-conversation-detail": [conversation.pk],
            "api-stage-detail": [stage.pk],
            "api-moment-detail": [moment.pk],
            "api-moment-dismiss": [moment.pk],
            "api-moment-tag-detail": [tag.slug],
            "api-tag-category-detail": [TagCategory.objects.order_by("pk").first().slug],
            "api-customer-memory-detail": [customer.pk],
            "api-survey-detail": [survey.pk],
            "api-survey-invitation-detail": [invite.invitation.pk],
            "api-survey-response-detail": [response.pk],
            "api-rule-detail": [rule.pk],
            "api-intervention-detail": [intervention.pk],
            "api-intervention-cancel": [intervention.pk],
            "api-intervention-retry": [intervention.pk],
            "api-alert-detail": [alert.pk],
            "api-alert-read": [alert.pk],
            "api-alert-acknowledge": [alert.pk],
            "api-alert-resolve": [alert.pk],
            "api-task-detail": [task.pk],
            "api-task-done": [task.pk],
            "api-sentiment-results": [str(scoring.pk)],
            "password_reset_confirm": ["MQ", "not-a-token"],
        },
    }


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_get_status_per_role(client, world, name):
    url = reverse(name, args=world["args"].get(name, []))
    seen = []
    for role in ROLES:
        client.logout()
        if role != "anonymous":
            client.force_login(world["users"][role])
        seen.append(client.get(url).status_code)
    assert tuple(seen) == EXPECTED[name], dict(zip(ROLES, seen, strict=True))


# --- Owned mode: filters and writes reveal nothing about other agents' customers --------------

OWNED_FILTERS = [
    ("interactions", "customer"),
    ("moments", "customer"),
    ("survey-invitations", "customer"),
    ("survey-invitations", "interaction"),
    ("survey-responses", "customer"),
    ("survey-responses", "interaction"),
    ("interventions", "customer"),
    ("interventions", "interaction"),
    ("alerts", "customer"),
    ("alerts", "interaction"),
    ("tasks", "customer"),
]


@pytest.mark.parametrize(("resource", "param"), OWNED_FILTERS)
def test_owned_mode_filters_answer_alike_for_anothers_customer_and_none(
    owned_visibility, agent_api, resource, param
):
    """`?customer=<another agent's customer>` answers exactly as `?customer=<no such id>`:
    neither says whether that customer exists."""
    theirs = ScoredInteractionFactory(customer=CustomerFactory(owner=UserFactory(role="Agent")))
    other_id = theirs.customer_id if param == "customer" else theirs.pk
    url = f"/api/v1/{resource}/"
    for_theirs = agent_api.get(url, {param: other_id})
    for_nothing = agent_api.get(url, {param: 99_999_999})
    assert for_theirs.status_code == for_nothing.status_code
    assert for_theirs.json() == for_nothing.json()


def test_owned_mode_an_agent_owns_the_customer_they_create_through_the_api(
    owned_visibility, agent, agent_api
):
    created = agent_api.post("/api/v1/customers/", {"name": "New Customer"}, format="json")
    assert created.status_code == 201
    assert created.json()["owner"] == agent.pk
    assert agent_api.get(f"/api/v1/customers/{created.json()['id']}/").status_code == 200


def test_owned_mode_an_agent_owns_the_customer_they_create_on_the_page(
    owned_visibility, agent, agent_client
):
    response = agent_client.post(reverse("customer-create"), {"name": "New Customer"})
    assert response.status_code == 302
    assert agent_client.get(response["Location"]).status_code == 200


def test_owned_mode_a_named_owner_is_kept(owned_visibility, manager, agent_api):
    created = agent_api.post(
        "/api/v1/customers/", {"name": "Handed over", "owner": manager.pk}, format="json"
    )
    assert created.json()["owner"] == manager.pk


@pytest.mark.parametrize("field", ["email", "external_ref"])
def test_owned_mode_a_duplicate_of_anothers_customer_does_not_say_it_exists(
    owned_visibility, agent_api, agent_client, field
):
    CustomerFactory(
        owner=UserFactory(role="Agent"), email="taken@example.com", external_ref="CRM-7"
    )
    value = {"email": "taken@example.com", "external_ref": "CRM-7"}[field]
    response = agent_api.post("/api/v1/customers/", {"name": "X", field: value}, format="json")
    assert response.status_code == 400
    message = " ".join(response.json()[field])
    assert "exist" not in message and "already" not in message
    page = agent_client.post(reverse("customer-create"), {"name": "X", field: value})
    assert page.status_code == 200
    assert "already exists" not in page.content.decode()
    assert message in page.content.decode()


def test_a_duplicate_email_still_says_so_to_who_sees_every_customer(manager_api):
    CustomerFactory(email="taken@example.com")
    response = manager_api.post(
        "/api/v1/customers/", {"name": "X", "email": "taken@example.com"}, format="json"
    )
    assert response.json()["email"] == ["A customer with this email already exists."]
