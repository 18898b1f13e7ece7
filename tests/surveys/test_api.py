from django.core import mail
from django.test import Client

from surveys import services
from surveys.models import Invitation
from tests.factories import CustomerFactory, InteractionFactory, UserFactory

SURVEYS = "/api/v1/surveys/"
INVITATIONS = "/api/v1/survey-invitations/"
RESPONSES = "/api/v1/survey-responses/"
REPORT = "/api/v1/survey-report/"


def answered(survey, customer, rating, text=""):
    survey.frequency_limit_days = 0
    survey.save()
    invitation = services.create_invitation(survey=survey, customer=customer, send=False).invitation
    return services.submit_response(invitation=invitation, rating=rating, answer=text)[0]


def test_agents_read_surveys(agent_api, survey):
    body = agent_api.get(SURVEYS).json()
    assert [s["name"] for s in body["results"]] == [survey.name]
    assert agent_api.get(f"{SURVEYS}{survey.pk}/").json()["open_question"] == survey.open_question


def test_surveys_are_read_only_through_the_api(agent_api, survey):
    assert agent_api.post(SURVEYS, {"name": "x"}).status_code == 405
    assert agent_api.delete(f"{SURVEYS}{survey.pk}/").status_code == 405


def test_anonymous_and_roleless_users_get_nothing(api_client, no_role_user):
    assert api_client.get(SURVEYS).status_code in (401, 403)
    api_client.force_authenticate(no_role_user)
    assert api_client.get(SURVEYS).status_code == 403
    assert api_client.get(INVITATIONS).status_code == 403
    assert api_client.get(RESPONSES).status_code == 403
    assert api_client.get(REPORT).status_code == 403


def test_creating_an_invitation_returns_its_link_once(agent_api, survey, customer):
    created = agent_api.post(
        INVITATIONS, {"survey": survey.pk, "customer": customer.pk, "send": False}, format="json"
    )
    assert created.status_code == 201
    body = created.json()
    assert body["send_status"] == "not_sent"
    assert body["url"] == f"http://testserver/s/{body['token']}/"
    assert Client().get(f"/s/{body['token']}/").status_code == 200
    again = agent_api.get(f"{INVITATIONS}{body['id']}/").json()
    assert "token" not in again and "url" not in again
    listed = agent_api.get(INVITATIONS).json()["results"][0]
    assert "token" not in listed


def test_an_invitation_with_send_is_emailed(
    agent_api, survey, customer, django_capture_on_commit_callbacks, run_queued
):
    with django_capture_on_commit_callbacks(execute=True):
        body = agent_api.post(
            INVITATIONS, {"survey": survey.pk, "customer": customer.pk}, format="json"
        ).json()
    run_queued()
    assert body["send_status"] == "pending"
    assert len(mail.outbox) == 1
    assert Invitation.objects.get().send_status == "sent"


def test_a_skipped_invitation_says_why_and_has_no_link(agent_api, survey):
    opted_out = CustomerFactory(survey_opt_out=True)
    body = agent_api.post(
        INVITATIONS, {"survey": survey.pk, "customer": opted_out.pk}, format="json"
    ).json()
    assert body["skipped_reason"] == "opted_out"
    assert body["token"] is None and body["url"] is None


def test_an_interaction_of_another_customer_is_a_400(agent_api, survey, customer, other_customer):
    interaction = InteractionFactory(customer=other_customer)
    page = agent_api.post(
        INVITATIONS,
        {"survey": survey.pk, "customer": customer.pk, "interaction": interaction.pk},
        format="json",
    )
    assert page.status_code == 400
    assert "interaction" in page.json()


def test_another_agents_customer_cannot_be_invited_or_seen(agent_api, survey, owned_visibility):
    theirs = CustomerFactory(owner=UserFactory(role="Agent"))
    page = agent_api.post(INVITATIONS, {"survey": survey.pk, "customer": theirs.pk}, format="json")
    assert page.status_code == 400
    invitation = services.create_invitation(survey=survey, customer=theirs, send=False).invitation
    assert agent_api.get(f"{INVITATIONS}{invitation.pk}/").status_code == 404
    assert agent_api.get(INVITATIONS).json()["count"] == 0


def test_invitations_cannot_be_changed_or_deleted(manager_api, survey, customer):
    invitation = services.create_invitation(survey=survey, customer=customer, send=False).invitation
    assert manager_api.put(f"{INVITATIONS}{invitation.pk}/", {}).status_code == 405
    assert manager_api.delete(f"{INVITATIONS}{invitation.pk}/").status_code == 405


def test_invitations_filter_by_state(agent_api, survey, customer, other_customer):
    answered(survey, customer, 4)
    services.create_invitation(survey=survey, customer=other_customer, send=False)
    body = agent_api.get(INVITATIONS, {"answered": "true"}).json()
    assert [row["customer"] for row in body["results"]] == [customer.pk]


def test_responses_list_and_filter(agent_api, survey, customer, other_customer):
    answered(survey, customer, 5, "Loved the follow-up call")
    answered(survey, other_customer, 1, "Nobody called back")
    body = agent_api.get(RESPONSES, {"rating_max": 2}).json()
    assert [row["answer"] for row in body["results"]] == ["Nobody called back"]
    body = agent_api.get(RESPONSES, {"q": "follow-up"}).json()
    assert body["count"] == 1
    assert agent_api.get(RESPONSES, {"rating_min": "x"}).status_code == 400


def test_responses_of_another_agents_customer_are_hidden(agent_api, survey, owned_visibility):
    theirs = CustomerFactory(owner=UserFactory(role="Agent"))
    response = answered(survey, theirs, 3)
    assert agent_api.get(RESPONSES).json()["count"] == 0
    assert agent_api.get(f"{RESPONSES}{response.pk}/").status_code == 404


def test_the_response_list_runs_a_constant_number_of_queries(
    agent_api, survey, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    answered(survey, CustomerFactory(), 4)
    agent_api.get(RESPONSES)  # permissions are cached on the user after the first request
    with CaptureQueriesContext(connection) as few:
        agent_api.get(RESPONSES)
    for _ in range(5):
        answered(survey, CustomerFactory(), 2)
    with CaptureQueriesContext(connection) as many:
        agent_api.get(RESPONSES)
    assert len(many) == len(few)


def test_managers_get_the_report_figures(manager_api, survey, customer, other_customer):
    answered(survey, customer, 5)
    answered(survey, other_customer, 3)
    body = manager_api.get(REPORT, {"survey": survey.pk}).json()
    assert body["answered"] == 2
    assert body["response_rate"] == 1.0
    assert body["mean_rating"] == 4.0
    assert [row["n"] for row in body["distribution"]] == [0, 0, 1, 0, 1]


def test_the_report_validates_its_filters(manager_api):
    assert manager_api.get(REPORT, {"since": "not-a-date"}).status_code == 400


def test_agents_may_not_read_the_report(agent_api):
    assert agent_api.get(REPORT).status_code == 403


def test_the_schema_documents_the_survey_endpoints(manager_api):
    schema = manager_api.get("/api/schema/", {"format": "json"}).json()
    assert "/api/v1/survey-invitations/" in schema["paths"]
    assert "/api/v1/survey-report/" in schema["paths"]


def test_admin_lists_surveys_invitations_and_responses(client, admin_user, survey, customer):
    answered(survey, customer, 4, "Fine")
    client.force_login(admin_user)
    for model in ("survey", "invitation", "response"):
        page = client.get(f"/admin/surveys/{model}/")
        assert page.status_code == 200, model
    response_pk = customer.survey_responses.get().pk
    assert client.get(f"/admin/surveys/response/{response_pk}/change/").status_code == 200
    invitation_pk = customer.invitations.get().pk
    assert client.get(f"/admin/surveys/invitation/{invitation_pk}/change/").status_code == 200


def test_creating_an_invitation_needs_the_permission(api_client, no_role_user, survey, customer):
    api_client.force_authenticate(no_role_user)
    page = api_client.post(
        INVITATIONS, {"survey": survey.pk, "customer": customer.pk}, format="json"
    )
    assert page.status_code == 403
    assert not Invitation.objects.exists()


def test_responses_filter_by_interaction_takes_only_an_id(agent_api):
    # A NumberFilter took 1.5 for interaction 1, and an id past 64 bits was a 500 on SQLite.
    for value in ("1.5", str(2**64)):
        response = agent_api.get(RESPONSES, {"interaction": value})
        assert response.status_code == 400 and "interaction" in response.json()


def test_the_schema_allows_what_invitations_and_responses_hold(agent_api, survey, customer):
    # An answer to an invitation without an interaction, not scored yet: the schema said
    # interaction was an integer and the label one of three words; the API answers null and "".
    response = answered(survey, customer, 4)
    body = agent_api.get(f"{RESPONSES}{response.pk}/").json()
    assert body["interaction"] is None and body["sentiment_label"] == ""
    invitation = agent_api.get(f"{INVITATIONS}{response.invitation_id}/").json()
    assert invitation["skipped_reason"] == ""
    schemas = agent_api.get("/api/schema/?format=json").json()["components"]["schemas"]
    blank = {"$ref": "#/components/schemas/BlankEnum"}
    assert schemas["Response"]["properties"]["interaction"]["nullable"] is True
    assert blank in schemas["Response"]["properties"]["sentiment_label"]["oneOf"]
    assert blank in schemas["Invitation"]["properties"]["skipped_reason"]["oneOf"]


def test_the_report_takes_the_first_and_last_calendar_days(
    manager_api, manager_client, survey, customer
):
    answered(survey, customer, 4, "fine")
    bounds = {"since": "0001-01-01", "until": "9999-12-31"}
    response = manager_api.get(REPORT, bounds)
    assert response.status_code == 200
    assert response.json()["answered"] == 1
    assert manager_client.get("/surveys/report/", bounds).status_code == 200
