"""Agents' and managers' pages: invite from the timeline, bulk invite, the report, CSV."""

import csv
import io

import pytest
from django.core import mail

from surveys import services
from surveys.models import Invitation, Response
from tests.factories import CustomerFactory, InteractionFactory, UserFactory


def invite_url(interaction) -> str:
    return f"/surveys/invite/interaction/{interaction.pk}/"


def answer(survey, customer, rating, text="", interaction=None):
    survey.frequency_limit_days = 0
    survey.save()
    invitation = services.create_invitation(
        survey=survey, customer=customer, interaction=interaction, send=False
    ).invitation
    return services.submit_response(invitation=invitation, rating=rating, answer=text)[0]


# --- Invite from the timeline --------------------------------------------------------------


def test_the_timeline_offers_to_ask_what_stood_out(agent_client, interaction):
    page = agent_client.get(interaction.customer.get_absolute_url())
    body = page.content.decode()
    assert "Ask what stood out" in body
    assert invite_url(interaction) in body


def test_the_timeline_shows_an_invitation_state(agent_client, interaction, survey):
    services.create_invitation(
        survey=survey, customer=interaction.customer, interaction=interaction
    )
    body = agent_client.get(interaction.customer.get_absolute_url()).content.decode()
    assert "Survey sending…" in body


def test_the_invite_buttons_cost_one_query_per_page(
    agent_client, customer, survey, django_assert_num_queries
):
    InteractionFactory.create_batch(3, customer=customer)
    agent_client.get(customer.get_absolute_url())

    def count() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            agent_client.get(customer.get_absolute_url())
        return len(ctx)

    few = count()
    InteractionFactory.create_batch(10, customer=customer)
    assert count() == few


def test_an_agent_invites_from_htmx_and_sees_the_sent_state(
    agent_client, interaction, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        page = agent_client.post(invite_url(interaction), headers={"HX-Request": "true"})
    assert page.status_code == 200
    body = page.content.decode()
    assert f'id="survey-invite-{interaction.pk}"' in body
    assert "Survey sending…" in body
    invitation = Invitation.objects.get()
    assert invitation.interaction == interaction
    assert invitation.created_by.username == "agent"


def test_without_htmx_a_sent_invite_shows_its_link_and_the_way_back(agent_client, interaction):
    # Not a redirect: the link's token is not stored, so it can only be shown in this answer.
    page = agent_client.post(invite_url(interaction))
    assert page.status_code == 200
    assert f'href="{interaction.customer.get_absolute_url()}"' in page.content.decode()


def test_without_htmx_a_skipped_invite_redirects_to_the_customer(agent_client, interaction):
    interaction.customer.survey_opt_out = True
    interaction.customer.save()
    page = agent_client.post(invite_url(interaction))
    assert page.status_code == 302
    assert page["Location"] == interaction.customer.get_absolute_url()


def test_an_opted_out_customer_shows_why_nothing_was_sent(agent_client, survey):
    interaction = InteractionFactory(customer=CustomerFactory(survey_opt_out=True))
    page = agent_client.post(invite_url(interaction), headers={"HX-Request": "true"})
    assert "opted out" in page.content.decode()
    assert not mail.outbox


def test_invite_for_another_agents_customer_is_404(agent_client, owned_visibility):
    someone = UserFactory(role="Agent")
    interaction = InteractionFactory(customer=CustomerFactory(owner=someone))
    assert agent_client.post(invite_url(interaction)).status_code == 404
    assert not Invitation.objects.exists()


def test_invite_with_get_is_405(agent_client, interaction):
    assert agent_client.get(invite_url(interaction)).status_code == 405


def _link_in(body: str) -> str:
    import re

    match = re.search(r'value="(http://testserver/s/[A-Za-z0-9_-]{43}/)"', body)
    assert match, body
    return match.group(1)


def test_inviting_from_the_timeline_shows_the_link_to_copy(agent_client, interaction, survey):
    from surveys import tokens

    page = agent_client.post(invite_url(interaction), headers={"HX-Request": "true"})
    body = page.content.decode()
    link = _link_in(body)
    invitation = Invitation.objects.get()
    assert tokens.hash_token(link.rstrip("/").rsplit("/", 1)[1]) == invitation.token_hash
    assert 'data-copy="#survey-link-' in body
    assert "<script" not in body  # the copy button's script is a static file (CSP)
    # The link opens the survey.
    assert agent_client.get(link.removeprefix("http://testserver")).status_code == 200


def test_inviting_without_javascript_shows_the_link_in_the_message(
    agent_client, interaction, survey
):
    page = agent_client.post(invite_url(interaction), follow=True)
    body = page.content.decode()
    _link_in(body)
    assert 'data-copy="#survey-link-' in body


def test_a_skipped_invitation_shows_no_link(agent_client, interaction, survey):
    interaction.customer.survey_opt_out = True
    interaction.customer.save()
    body = agent_client.post(invite_url(interaction), headers={"HX-Request": "true"}).content
    assert b"/s/" not in body


def test_invite_anonymous_goes_to_login(client, interaction):
    page = client.post(invite_url(interaction))
    assert page.status_code == 302
    assert page["Location"].startswith("/accounts/login/")


def test_invite_without_the_permission_is_403(client, no_role_user, interaction):
    client.force_login(no_role_user)
    assert client.post(invite_url(interaction)).status_code == 403


# --- Bulk invite ------------------------------------------------------------------------------

BULK = "/surveys/invite/"


def test_a_manager_previews_how_many_customers_match(manager_client, survey):
    CustomerFactory.create_batch(2, company="Acme")
    CustomerFactory(company="Other")
    page = manager_client.get(BULK, {"survey": survey.pk, "q": "acme"})
    assert page.status_code == 200
    assert "<strong>2</strong> customers match" in page.content.decode()
    assert not Invitation.objects.exists()


def test_the_bulk_preview_lists_the_matching_customers(manager_client, survey, settings):
    CustomerFactory(name="Ada Lovelace", company="Acme")
    CustomerFactory(name="Grace Hopper", company="Acme")
    CustomerFactory(name="Alan Turing", company="Other")
    body = manager_client.get(BULK, {"survey": survey.pk, "q": "acme"}).content.decode()
    assert "Ada Lovelace" in body and "Grace Hopper" in body
    assert "Alan Turing" not in body


def test_the_bulk_preview_says_how_many_more_it_does_not_list(manager_client, survey):
    from surveys.views import BULK_PREVIEW_ROWS

    CustomerFactory.create_batch(BULK_PREVIEW_ROWS + 3, company="Acme")
    body = manager_client.get(BULK, {"survey": survey.pk, "q": "acme"}).content.decode()
    assert body.count('class="bulk-preview-customer"') == BULK_PREVIEW_ROWS
    assert "and 3 more" in body


def test_the_bulk_preview_puts_no_csrf_token_in_the_url(manager_client, survey, customer):
    import re

    page = manager_client.get(BULK, {"survey": survey.pk}).content.decode()
    filter_form = re.search(r'<form[^>]*id="bulk-filter".*?</form>', page, re.S).group(0)
    assert 'method="get"' in filter_form
    assert "csrfmiddlewaretoken" not in filter_form
    # Inviting is a POST form of its own, with the token in its body and the same filters.
    invite_form = re.search(r'<form[^>]*id="bulk-invite".*?</form>', page, re.S).group(0)
    assert 'method="post"' in invite_form
    assert "csrfmiddlewaretoken" in invite_form
    assert f'name="survey" value="{survey.pk}"' in invite_form


def test_the_bulk_preview_runs_a_constant_number_of_queries(
    manager_client, survey, django_assert_max_num_queries
):
    CustomerFactory.create_batch(30, company="Acme")
    with django_assert_max_num_queries(15):
        manager_client.get(BULK, {"survey": survey.pk, "q": "acme"})


def test_a_manager_bulk_invites_and_sees_a_summary(manager_client, survey, run_queued):
    CustomerFactory.create_batch(2, company="Acme")
    CustomerFactory(company="Acme", survey_opt_out=True)
    page = manager_client.post(BULK, {"survey": survey.pk, "q": "acme"})
    body = page.content.decode()
    assert "<strong>2</strong> invited" in body
    assert "<strong>1</strong> skipped" in body
    assert "The customer opted out of surveys" in body


def test_bulk_invite_filters_by_stage(manager_client, survey, customer):
    from customers.models import JourneyStage

    complaint = JourneyStage.objects.get(slug="complaint")
    InteractionFactory(customer=customer, stage=complaint)
    InteractionFactory(customer=CustomerFactory())  # support stage
    manager_client.post(BULK, {"survey": survey.pk, "stage": complaint.pk})
    assert list(Invitation.objects.values_list("customer", flat=True)) == [customer.pk]


def test_bulk_invite_from_htmx_returns_the_result_fragment(manager_client, survey, customer):
    page = manager_client.post(BULK, {"survey": survey.pk}, headers={"HX-Request": "true"})
    body = page.content.decode()
    assert body.lstrip().startswith('<section id="bulk-result"')


def test_bulk_invite_is_capped(manager_client, survey, settings):
    settings.SURVEY_BULK_MAX = 2
    CustomerFactory.create_batch(3)
    page = manager_client.post(BULK, {"survey": survey.pk})
    assert Invitation.objects.count() == 2
    assert "Only the first 2 of 3" in page.content.decode()


def test_agents_may_not_bulk_invite(agent_client, survey):
    assert agent_client.get(BULK).status_code == 403
    assert agent_client.post(BULK, {"survey": survey.pk}).status_code == 403


def test_bulk_invite_anonymous_goes_to_login(client):
    assert client.get(BULK)["Location"].startswith("/accounts/login/")


def test_bulk_invite_put_is_405(manager_client):
    assert manager_client.put(BULK).status_code == 405


# --- Report ------------------------------------------------------------------------------

REPORT = "/surveys/report/"


@pytest.fixture
def answers(survey, customer, other_customer):
    return [
        answer(survey, customer, 5, "The agent remembered my name"),
        answer(survey, other_customer, 1, "=HYPERLINK(evil)"),
    ]


def test_the_report_shows_rate_distribution_and_answers(manager_client, survey, answers):
    services.create_invitation(survey=survey, customer=CustomerFactory(), send=False)
    page = manager_client.get(REPORT)
    assert page.status_code == 200
    body = page.content.decode()
    assert "67%" in body  # 2 answered of 3 reached
    assert "The agent remembered my name" in body
    data = page.context["data"]
    assert data["answered"] == 2 and data["reached"] == 3
    assert [row["n"] for row in data["distribution"]] == [1, 0, 0, 0, 1]
    assert data["weekly"][0]["n"] == 2


def test_the_report_filters_answers(manager_client, answers):
    page = manager_client.get(REPORT, {"rating_min": 4})
    assert [r.rating for r, _ in page.context["rows"]] == [5]
    page = manager_client.get(REPORT, {"q": "remembered"})
    assert len(page.context["rows"]) == 1


def test_the_report_from_htmx_returns_its_body(manager_client, answers):
    page = manager_client.get(REPORT, {"rating_max": 2}, headers={"HX-Request": "true"})
    assert page.content.decode().lstrip().startswith('<div id="report-body">')


def test_the_report_runs_a_constant_number_of_queries(manager_client, survey, answers):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            manager_client.get(REPORT)
        return len(ctx)

    first = CustomerFactory()
    answer(survey, first, 4, "ok", interaction=InteractionFactory(customer=first))
    few = count()
    for _ in range(5):
        someone = CustomerFactory()
        answer(survey, someone, 3, "fine", interaction=InteractionFactory(customer=someone))
    assert count() == few


def test_the_csv_export_has_the_filtered_answers_and_defuses_formulas(manager_client, answers):
    page = manager_client.get("/surveys/report/answers.csv")
    assert page["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(page.streaming_content).decode())))
    assert rows[0][0] == "response_id"
    assert len(rows) == 3
    assert "'=HYPERLINK(evil)" in [row[8] for row in rows]
    page = manager_client.get("/surveys/report/answers.csv", {"rating_min": 5})
    assert len(list(csv.reader(io.StringIO(b"".join(page.streaming_content).decode())))) == 2


def test_the_report_hides_answers_of_customers_the_manager_cannot_see(
    client, owned_visibility, survey, customer
):
    # A manager sees every customer; an agent given the report permission sees only theirs.
    from django.contrib.auth.models import Permission

    agent = UserFactory(role="Agent")
    agent.user_permissions.add(Permission.objects.get(codename="view_report"))
    answer(survey, customer, 4, "not yours")
    client.force_login(agent)
    page = client.get(REPORT)
    assert page.status_code == 200
    assert "not yours" not in page.content.decode()


def test_agents_may_not_see_the_report(agent_client):
    assert agent_client.get(REPORT).status_code == 403
    assert agent_client.get("/surveys/report/answers.csv").status_code == 403


def test_the_report_anonymous_goes_to_login(client):
    assert client.get(REPORT)["Location"].startswith("/accounts/login/")


def test_the_report_post_is_405(manager_client):
    assert manager_client.post(REPORT).status_code == 405


def test_managers_see_a_surveys_link(manager_client, agent, client):
    assert 'href="/surveys/report/"' in manager_client.get("/customers/").content.decode()
    client.force_login(agent)
    assert 'href="/surveys/report/"' not in client.get("/customers/").content.decode()


# --- Customer page ------------------------------------------------------------------------


def test_the_customer_page_shows_their_answers(agent_client, survey, customer, interaction):
    answer(survey, customer, 2, "Waiting on hold <forever>", interaction=interaction)
    body = agent_client.get(customer.get_absolute_url()).content.decode()
    assert "What stood out" in body
    assert "Waiting on hold &lt;forever&gt;" in body


def test_responses_keep_the_invitations_customer(survey, customer):
    response = answer(survey, customer, 3)
    assert Response.objects.get().customer == customer == response.invitation.customer


def test_the_timeline_shows_sent_once_the_email_went_out(
    agent_client, interaction, django_capture_on_commit_callbacks, run_queued
):
    with django_capture_on_commit_callbacks(execute=True):
        agent_client.post(invite_url(interaction), headers={"HX-Request": "true"})
    run_queued()
    body = agent_client.get(interaction.customer.get_absolute_url()).content.decode()
    assert "Survey sent" in body
    assert len(mail.outbox) == 1
