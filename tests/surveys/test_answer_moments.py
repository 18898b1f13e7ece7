"""Survey answers that name no moment become moments of their own (source: survey), scored by
the real test sentiment model: the surveys task that makes them, idempotency and concurrency,
and how pages, the API, admin, privacy exports and intervention rules see them."""

# ruff: noqa: F811  (the fixtures imported below are test arguments, which ruff sees as
# redefinitions)

from __future__ import annotations

import threading
import time
from importlib import import_module

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone
from django_q.models import OrmQ

from customers import privacy
from customers.models import Customer
from interventions import conditions
from moments.memory import services as memory_services
from moments.models import CustomerMemory, Moment
from surveys import selectors
from surveys import services as survey_services
from surveys.models import Response
from tests.factories import CustomerFactory, InteractionFactory
from tests.moments.factories import (
    ScoredInteractionFactory,
    TagRuleFactory,
    long_text,
    stage,
    tag,
)

pytestmark = pytest.mark.django_db

CHARGED = "I was charged twice on my invoice."  # the test model: negative, |score| x conf 0.85
NEUTRAL = "We got the invoice by email."  # the test model, at 3/5: -0.10 (torch), -0.07 (int8)
TASK = "surveys.tasks.make_answer_moments"


@pytest.fixture
def run_worker(django_capture_on_commit_callbacks):
    """Run what is queued for django-q2 here, as a worker would (oldest first, on-commit
    callbacks included) until the queue is empty; returns the function names that ran."""

    def run(limit: int = 20) -> list[str]:
        ran = []
        for _ in range(limit):
            row = OrmQ.objects.order_by("pk").first()
            if row is None:
                return ran
            task = row.task
            row.delete()
            module, name = task["func"].rsplit(".", 1)
            with django_capture_on_commit_callbacks(execute=True):
                getattr(import_module(module), name)(*task["args"], **task["kwargs"])
            ran.append(task["func"])
        raise AssertionError("the task queue did not drain")

    return run


@pytest.fixture
def open_survey(survey):
    survey.frequency_limit_days = 0  # many invitations to one customer
    survey.save()
    return survey


def _submit(survey, customer, text: str, *, interaction=None, rating=2, moment_ids=()):
    invitation = survey_services.create_invitation(
        survey=survey, customer=customer, interaction=interaction, send=False
    ).invitation
    response, _ = survey_services.submit_response(
        invitation=invitation, rating=rating, answer=text, moment_ids=moment_ids
    )
    return response


@pytest.fixture
def answer(open_survey, customer, django_capture_on_commit_callbacks):
    """Answer a fresh invitation (about ``interaction``, if given) and score the answer as the
    worker does; returns the response. What the scoring queued is left for ``run_worker``."""

    def make(text: str, *, interaction=None, rating: int = 2, moment_ids=(), who=None) -> Response:
        with django_capture_on_commit_callbacks(execute=True):
            response = _submit(
                open_survey,
                who or customer,
                text,
                interaction=interaction,
                rating=rating,
                moment_ids=moment_ids,
            )
        with django_capture_on_commit_callbacks(execute=True):
            survey_services.score_responses(ids=[response.pk])
        response.refresh_from_db()
        return response

    return make


@pytest.fixture
def complaint(customer):
    return InteractionFactory(
        customer=customer, stage=stage("complaint"), subject="Invoice query", body="See invoice."
    )


def _reason_codes(moment: Moment) -> list[str]:
    return [r["reason"] for r in moment.reasons]


def _moment_of(response: Response) -> Moment:
    response.refresh_from_db()
    assert response.moment_id is not None
    return response.moment


# --- Detection ------------------------------------------------------------------------------


def test_a_charged_answer_naming_no_moment_becomes_a_survey_moment(
    sentiment_model, answer, run_worker, complaint, customer
):
    response = answer(CHARGED, interaction=complaint)
    assert response.sentiment_label == "negative"

    assert run_worker() == [TASK]

    moment = Moment.objects.get(customer=customer)
    assert _moment_of(response) == moment
    assert moment.source == "survey"
    assert moment.interaction_id is None
    assert moment.source_text == CHARGED
    assert moment.source_score == response.sentiment_score
    assert moment.source_confidence == response.sentiment_confidence
    assert moment.occurred_at == response.created_at
    assert moment.stage == stage("complaint")  # the surveyed interaction's stage
    assert _reason_codes(moment) == ["peak", "critical_stage", "tag_rule"]
    assert moment.reasons[2]["detail"] == 'rule "Billing shock words" matched "charged twice"'
    assert [t.slug for t in moment.tags.all()] == ["billing-shock"]
    assert moment.taggings.get().source == "Billing shock words"
    # Scored like any moment, from the answer's own sentiment; the balance follows.
    assert moment.polarity == "negative"
    assert moment.intensity == pytest.approx(
        abs(response.sentiment_score) * response.sentiment_confidence
    )
    assert moment.impact < 0
    assert 0 < moment.recall_365 < moment.recall_30 < moment.recall_7 <= 1
    memory = CustomerMemory.objects.get(customer=customer)
    assert memory.moment_count == 1
    assert memory.balance < 0


def test_an_answer_without_an_interaction_has_no_stage(sentiment_model, answer, run_worker):
    response = answer("Thank you so much, the agent was wonderful and so helpful!", rating=5)
    run_worker()
    moment = _moment_of(response)
    assert moment.stage is None
    assert _reason_codes(moment) == ["peak", "tag_rule"]
    assert [t.slug for t in moment.tags.all()] == ["personal-thank-you"]
    assert moment.polarity == "positive"
    assert moment.impact > 0


def test_a_neutral_answer_does_not_become_a_moment(sentiment_model, answer, run_worker, complaint):
    response = answer(NEUTRAL, interaction=complaint, rating=3)
    assert abs(response.sentiment_score) < 0.2  # not even the critical stage counts it
    assert run_worker() == [TASK]
    assert not Moment.objects.exists()
    response.refresh_from_db()
    assert response.moment is None


def test_a_tag_rule_alone_makes_a_moment_of_a_neutral_answer(sentiment_model, answer, run_worker):
    rule = TagRuleFactory(phrases="invoice by email", tag=tag("billing-shock"))
    response = answer(NEUTRAL, rating=3)
    run_worker()
    moment = _moment_of(response)
    assert moment.reasons == [
        {"reason": "tag_rule", "detail": f'rule "{rule.name}" matched "invoice by email"'}
    ]
    assert moment.polarity == "negative"  # from the tag, the text being flat


def test_a_stage_rule_applies_only_to_answers_about_that_stage(
    sentiment_model, answer, run_worker, customer
):
    TagRuleFactory(phrases="invoice by email", stage=stage("delivery"))
    about_support = InteractionFactory(customer=customer)  # the factory's stage: support
    answer(NEUTRAL, interaction=about_support, rating=3)
    run_worker()
    assert not Moment.objects.exists()
    about_delivery = InteractionFactory(customer=customer, stage=stage("delivery"))
    response = answer(NEUTRAL, interaction=about_delivery, rating=3)
    run_worker()
    assert Moment.objects.get() == _moment_of(response)


def test_an_answer_that_picked_a_moment_does_not_become_another(
    sentiment_model, answer, run_worker, customer
):
    interaction = ScoredInteractionFactory(
        customer=customer, sentiment_score=-0.9, body=long_text("Charged twice")
    )
    (picked,) = memory_services.detect_moments(interaction_ids=[interaction.pk])
    response = answer(CHARGED, interaction=interaction, moment_ids=[picked.pk])
    run_worker()
    assert list(Moment.objects.all()) == [picked]
    assert list(response.moments.all()) == [picked]
    response.refresh_from_db()
    assert response.moment is None


def test_rescoring_updates_the_moment_and_never_duplicates_it(
    sentiment_model, answer, run_worker, complaint, django_capture_on_commit_callbacks
):
    response = answer(CHARGED, interaction=complaint)
    run_worker()
    moment = Moment.objects.get()
    # A newer model version (or `rescore`) scores the answer again: queued again.
    Response.objects.filter(pk=response.pk).update(sentiment_model="", sentiment_score=0.1)
    Moment.objects.filter(pk=moment.pk).update(source_score=0.1)
    with django_capture_on_commit_callbacks(execute=True):
        assert survey_services.score_responses(ids=[response.pk])["scored"] == 1
    assert run_worker() == [TASK]
    assert list(Moment.objects.all()) == [moment]
    again = Moment.objects.get()
    assert again.reasons == moment.reasons
    assert again.source_score == moment.source_score  # the new score (the same model here)
    assert again.tags.count() == 1
    assert _moment_of(response) == moment
    # A duplicated task changes nothing either.
    assert survey_services.make_answer_moments(ids=[response.pk, response.pk]) == {
        "moments": 1,
        "linked": 0,
    }
    assert Moment.objects.count() == 1


def test_a_retried_scoring_task_queues_nothing(sentiment_model, answer, run_worker):
    response = answer(CHARGED)
    run_worker()
    assert survey_services.score_responses(ids=[response.pk])["scored"] == 0
    assert not OrmQ.objects.exists()


def test_a_dismissed_survey_moment_stays_dismissed(
    sentiment_model, answer, run_worker, agent, django_capture_on_commit_callbacks
):
    response = answer(CHARGED)
    run_worker()
    moment = memory_services.dismiss_moment(
        moment=Moment.objects.get(), user=agent, reason="Not about us"
    )
    Response.objects.filter(pk=response.pk).update(sentiment_model="")
    with django_capture_on_commit_callbacks(execute=True):
        survey_services.score_responses(ids=[response.pk])
    run_worker()
    moment.refresh_from_db()
    assert moment.dismissed
    assert Moment.objects.count() == 1
    assert _moment_of(response) == moment


def test_the_database_keeps_a_survey_moment_consistent(
    sentiment_model, answer, run_worker, customer
):
    response = answer(CHARGED)
    run_worker()
    moment = _moment_of(response)
    interaction = InteractionFactory(customer=customer)
    with pytest.raises(IntegrityError), transaction.atomic():  # a survey moment: no interaction
        Moment.objects.filter(pk=moment.pk).update(interaction=interaction)
    with pytest.raises(IntegrityError), transaction.atomic():  # …and the answer's text
        Moment.objects.filter(pk=moment.pk).update(source_text="")
    other = answer(NEUTRAL, rating=3)
    with pytest.raises(IntegrityError), transaction.atomic():  # one answer per moment
        Response.objects.filter(pk=other.pk).update(moment=moment)


def test_deleting_the_answer_keeps_its_moment(sentiment_model, answer, run_worker):
    response = answer(CHARGED)
    run_worker()
    moment = _moment_of(response)
    response.delete()
    moment.refresh_from_db()  # the customer's memory stays, with the words they wrote
    assert moment.source_text == CHARGED


def test_the_survey_moment_is_announced_as_created(sentiment_model, answer, run_worker):
    from moments.signals import moments_created

    created = []

    def listen(sender, moment_ids, **kwargs):
        created.extend(moment_ids)

    moments_created.connect(listen)
    try:
        answer(CHARGED)
        run_worker()
    finally:
        moments_created.disconnect(listen)
    assert created == [Moment.objects.get().pk]


def test_other_customers_answers_stay_theirs(sentiment_model, answer, run_worker, customer):
    other = CustomerFactory()
    mine = answer(CHARGED)
    theirs = answer(CHARGED, who=other)
    run_worker()
    assert _moment_of(mine).customer == customer
    assert _moment_of(theirs).customer == other
    assert Customer.objects.get(pk=other.pk).memory.moment_count == 1


def test_a_later_survey_does_not_offer_a_survey_moment(
    sentiment_model, answer, run_worker, open_survey, customer, complaint
):
    (ours,) = memory_services.detect_moments(
        interaction_ids=[
            ScoredInteractionFactory(
                customer=customer, sentiment_score=-0.9, occurred_at=complaint.occurred_at
            ).pk
        ]
    )
    answer(CHARGED, interaction=complaint)
    run_worker()
    assert Moment.objects.filter(source="survey").exists()
    invitation = survey_services.create_invitation(
        survey=open_survey, customer=customer, interaction=complaint, send=False
    ).invitation
    assert [choice.moment for choice in selectors.moment_choices(invitation)] == [ours]


def test_rules_on_a_survey_moment_read_the_answers_sentiment(sentiment_model, answer, run_worker):
    response = answer(CHARGED)
    run_worker()
    facts = conditions.Facts(event=conditions.MOMENT_CREATED, subject=_moment_of(response))
    assert facts.value("sentiment_label") == "negative"
    assert facts.value("sentiment_score") == response.sentiment_score
    assert facts.value("sentiment_confidence") == response.sentiment_confidence


def test_the_privacy_export_has_the_survey_moment(sentiment_model, answer, run_worker, customer):
    response = answer(CHARGED)
    run_worker()
    document = privacy.export_customer(customer=customer)
    [moment] = document["moments"]
    assert moment["source"] == "survey"
    assert moment["source_text"] == CHARGED
    assert moment["interaction_id"] is None
    [exported] = document["survey_responses"]
    assert exported["moment_id"] == moment["id"] == _moment_of(response).pk
    assert exported["moments"] == []


# --- Two tasks at once (PostgreSQL: SQLite runs one write transaction at a time) -----------


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks and concurrent writers: PostgreSQL"
)
@pytest.mark.django_db(transaction=True)
def test_two_tasks_at_once_make_one_moment(open_survey, customer):
    response = _submit(open_survey, customer, CHARGED, rating=1)
    # Scored as the model would: the tag rule alone makes it a moment.
    Response.objects.filter(pk=response.pk).update(
        sentiment_label="negative",
        sentiment_score=-0.9,
        sentiment_confidence=0.95,
        sentiment_model="test",
        scored_at=response.created_at,
    )
    start = threading.Barrier(2)
    outcomes: list = []

    def task() -> None:
        try:
            start.wait()
            outcomes.append(survey_services.make_answer_moments(ids=[response.pk]))
        except Exception as exc:  # recorded, so the test fails with it
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=task) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(o["linked"] for o in outcomes) == [0, 1], outcomes
    assert Moment.objects.count() == 1
    assert _moment_of(response) == Moment.objects.get()


# --- Pages, API and admin -------------------------------------------------------------------

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def survey_moment(sentiment_model, answer, run_worker, complaint) -> Moment:
    answer(CHARGED, interaction=complaint)
    run_worker()
    return Moment.objects.get()


def test_the_customer_page_shows_the_survey_moment(agent_client, survey_moment, customer):
    # An interaction of the customer's with a moment too: the chart, timeline and panel all
    # render, and the survey moment is in the panel, pointing at the survey answers.
    ScoredInteractionFactory(customer=customer, sentiment_score=-0.9, body="Still waiting")
    memory_services.detect_moments(
        interaction_ids=list(customer.interactions.values_list("pk", flat=True))
    )
    response = agent_client.get(customer.get_absolute_url())
    assert response.status_code == 200
    text = response.text
    assert "“I was charged twice on my invoice.”" in text
    assert 'href="#survey-answers"' in text
    assert "survey answer</span>" in text
    assert 'id="sentiment-chart' in text
    assert 'href="#interaction-None"' not in text
    # The survey answers card marks the answer that became a moment.
    assert text.count("became a moment</span>") == 1


def test_the_answers_card_does_not_mark_a_dismissed_moment(
    agent_client, agent, survey_moment, customer
):
    memory_services.dismiss_moment(moment=survey_moment, user=agent, reason="Noise")
    assert "became a moment" not in agent_client.get(customer.get_absolute_url()).text


def test_the_memory_panel_fragment_shows_the_survey_moment(agent_client, survey_moment):
    url = reverse("customer-memory", args=[survey_moment.customer_id])
    response = agent_client.get(url, **HTMX)
    assert response.status_code == 200
    assert "charged twice on my invoice" in response.text
    assert "Billing shock" in response.text


def test_the_journey_cell_lists_the_survey_moment(manager_client, survey_moment):
    url = reverse("journey-cell", args=[stage("complaint").pk, tag("billing-shock").pk])
    response = manager_client.get(url)
    assert response.status_code == 200
    assert "“I was charged twice on my invoice.”" in response.text
    assert "#survey-answers" in response.text


def test_an_agent_dismisses_a_survey_moment_without_javascript(agent_client, survey_moment):
    url = reverse("moment-dismiss", args=[survey_moment.pk])
    page = agent_client.get(url)
    assert page.status_code == 200
    assert "charged twice on my invoice" in page.text
    assert "#memory-panel" in page.text
    response = agent_client.post(url, {"reason": "Not about our service"})
    assert response.status_code == 302
    assert response["Location"] == f"{survey_moment.customer.get_absolute_url()}#memory-panel"
    survey_moment.refresh_from_db()
    assert survey_moment.dismissed


def test_htmx_actions_on_a_survey_moment_redirect_to_the_customer(agent_client, survey_moment):
    get = agent_client.get(reverse("moment-dismiss", args=[survey_moment.pk]), **HTMX)
    assert get.status_code == 200  # no timeline marker to swap: the dismiss page itself
    url = reverse("moment-tag-add", args=[survey_moment.pk])
    response = agent_client.post(url, {"tag": tag("long-wait").pk}, **HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"].endswith("#memory-panel")
    assert {t.slug for t in survey_moment.tags.all()} == {"billing-shock", "long-wait"}


def test_the_api_shows_the_source_and_filters_by_it(agent_api, survey_moment, customer):
    interaction = ScoredInteractionFactory(customer=customer, sentiment_score=-0.9)
    (from_interaction,) = memory_services.detect_moments(interaction_ids=[interaction.pk])

    rows = agent_api.get("/api/v1/moments/", {"source": "survey"}).json()["results"]
    assert [r["id"] for r in rows] == [survey_moment.pk]
    assert rows[0]["source"] == "survey"
    assert rows[0]["source_text"] == CHARGED
    assert rows[0]["interaction"] is None
    assert "response" not in rows[0]
    assert rows[0]["tags"] == ["billing-shock"]
    assert rows[0]["stage"] == "complaint"

    rows = agent_api.get("/api/v1/moments/", {"source": "interaction"}).json()["results"]
    assert [(r["id"], r["source"], r["source_text"]) for r in rows] == [
        (from_interaction.pk, "interaction", "")
    ]
    assert agent_api.get("/api/v1/moments/", {"source": "agent"}).status_code == 400


def test_the_responses_api_links_the_answer_to_its_moment(agent_api, survey_moment):
    rows = agent_api.get("/api/v1/survey-responses/").json()["results"]
    assert [(r["answer"], r["moment"], r["moments"]) for r in rows] == [
        (CHARGED, survey_moment.pk, [])
    ]


def test_the_api_memory_summary_and_dismiss_handle_a_survey_moment(agent_api, survey_moment):
    summary = agent_api.get(f"/api/v1/customer-memory/{survey_moment.customer_id}/").json()
    assert [r["moment"]["source"] for r in summary["top"]] == ["survey"]
    response = agent_api.post(
        f"/api/v1/moments/{survey_moment.pk}/dismiss/", {"reason": "Noise"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["dismissed"] is True


def test_the_api_list_query_count_does_not_grow_with_survey_moments(
    agent_api, customer, open_survey, django_assert_max_num_queries
):
    def add(n: int) -> None:
        ids = [_submit(open_survey, customer, "Overcharged again", rating=1).pk for _ in range(n)]
        Response.objects.filter(pk__in=ids).update(
            sentiment_label="negative",
            sentiment_score=-0.9,
            sentiment_confidence=0.9,
            sentiment_model="test",
            scored_at=timezone.now(),
        )
        assert survey_services.make_answer_moments(ids=ids)["linked"] == n

    add(2)
    with django_assert_max_num_queries(8) as few:
        assert len(agent_api.get("/api/v1/moments/").json()["results"]) == 2
    add(8)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(agent_api.get("/api/v1/moments/").json()["results"]) == 10


def test_admin_lists_filters_and_opens_survey_moments(client, admin_user, survey_moment):
    client.force_login(admin_user)
    changelist = reverse("admin:moments_moment_changelist")
    response = client.get(changelist, {"source__exact": "survey"})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [survey_moment]
    assert '<td class="field-source">Survey answer</td>' in response.text
    assert not client.get(changelist, {"source__exact": "interaction"}).context["cl"].result_count
    found = client.get(changelist, {"q": "charged twice"}).context["cl"].result_list
    assert list(found) == [survey_moment]
    change = client.get(reverse("admin:moments_moment_change", args=[survey_moment.pk]))
    assert change.status_code == 200


# --- In a real worker -----------------------------------------------------------------------


@pytest.mark.cluster
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_scores_the_answer_and_makes_the_moment(
    client, open_survey, customer, sentiment_model, cluster
):
    """The public page stores the answer and nothing else; a `qcluster` process scores it,
    queues the answer's moment task and runs it."""
    from django_q.tasks import async_task

    complaint = InteractionFactory(customer=customer, stage=stage("complaint"))
    result = survey_services.create_invitation(
        survey=open_survey, customer=customer, interaction=complaint, send=False
    )
    page = client.post(f"/s/{result.token}/", {"rating": 1, "answer": CHARGED})
    assert page.status_code == 302  # to the thank-you page
    assert not Moment.objects.exists()
    response = Response.objects.get()
    async_task("surveys.tasks.score_responses", [response.pk], group="sentiment")

    deadline = time.monotonic() + 300  # the worker imports torch and loads the model first
    while not Moment.objects.exists() and time.monotonic() < deadline:
        assert cluster.poll() is None, cluster.tail()
        time.sleep(0.5)
    moment = Moment.objects.filter(source_response=response).first()
    assert moment is not None, cluster.tail()
    assert moment.source == "survey"
    assert [r["reason"] for r in moment.reasons] == ["peak", "critical_stage", "tag_rule"]
    assert [t.slug for t in moment.tags.all()] == ["billing-shock"]
