"""The answer's hot path stays lean (issue 5's throughput target, bench/survey.py) without
losing a guarantee: a fixed few queries and no queued task per answer, a cached "does a rule
listen?" that a rule change clears at once, and the claim that stores one answer per link."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import OrmQ

from interventions import engine
from interventions.models import Rule
from interventions.services import set_rule_active
from surveys import services
from surveys.models import Invitation, Response
from tests.factories import CustomerFactory


@pytest.fixture
def link(invite):
    """A fresh link for a new customer (the survey's frequency limit allows one per customer)."""

    def make() -> str:
        return invite(customer=CustomerFactory())[1]

    return make


def post(client, token: str, rating: str = "4"):
    return client.post(f"/s/{token}/", {"rating": rating, "answer": "The agent called back."})


def low_rating_rule(**kwargs) -> Rule:
    return Rule.objects.create(
        name="Low rating",
        slug="low-rating",
        event="survey.answered",
        conditions=[{"field": "survey_rating", "op": "lte", "value": 2}],
        action="alert",
        action_config={"recipients": ["owner"], "text": "Low rating"},
        active=True,
        **kwargs,
    )


def fire_tasks() -> list:
    return [row.task for row in OrmQ.objects.all() if row.task["func"].endswith("fire_events")]


def test_an_answer_costs_a_fixed_few_queries_and_queues_nothing(
    client, link, django_assert_num_queries, django_capture_on_commit_callbacks
):
    from django.db import connection

    with django_capture_on_commit_callbacks(execute=True):
        post(client, link())  # the first answer asks whether a rule listens; then it is cached
    token = link()
    # The look-up (with the survey), then, in one transaction (a savepoint inside the test's,
    # because the task queue lives in the database), the claim (a conditional update) and the
    # insert: on PostgreSQL one statement, elsewhere two. Before them, the customer's moments
    # for the forecast's evidence (none here; the parameters in use are cached by the first
    # answer, as is whether a rule listens). No rule listens: nothing is queued,
    # and the scoring waits for the scheduled run.
    expected = 5 if connection.vendor == "postgresql" else 6
    with django_assert_num_queries(expected), django_capture_on_commit_callbacks(execute=True):
        page = post(client, token)
    assert page.status_code == 302
    assert Response.objects.count() == 2
    assert not OrmQ.objects.exists()


def test_whether_a_rule_listens_is_asked_once_then_cached(
    client, link, django_capture_on_commit_callbacks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    asked = []
    for _ in range(3):
        with (
            CaptureQueriesContext(connection) as queries,
            django_capture_on_commit_callbacks(execute=True),
        ):
            post(client, link())
        asked.append(sum('"interventions_rule"' in q["sql"] for q in queries.captured_queries))
    assert asked == [1, 0, 0]


def test_a_rule_created_after_answers_were_cached_fires_for_the_next_answer(
    client, link, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post(client, link(), rating="1")
    assert fire_tasks() == []  # no rule yet, and "no rule" is now cached
    low_rating_rule()
    with django_capture_on_commit_callbacks(execute=True):
        post(client, link(), rating="1")
    assert [t["args"][0] for t in fire_tasks()] == ["survey.answered"]


def test_a_disabled_or_deleted_rule_stops_the_firing_at_once(
    client, link, django_capture_on_commit_callbacks
):
    rule = low_rating_rule()
    with django_capture_on_commit_callbacks(execute=True):
        post(client, link(), rating="1")
    assert len(fire_tasks()) == 1
    set_rule_active(rule=rule, active=False)
    with django_capture_on_commit_callbacks(execute=True):
        post(client, link(), rating="1")
    assert len(fire_tasks()) == 1
    set_rule_active(rule=rule, active=True)
    with django_capture_on_commit_callbacks(execute=True):
        post(client, link(), rating="1")
    assert len(fire_tasks()) == 2
    rule.delete()
    with django_capture_on_commit_callbacks(execute=True):
        post(client, link(), rating="1")
    assert len(fire_tasks()) == 2


def test_the_rules_task_is_queued_in_the_answers_transaction(invite):
    # With the task queue in the database, the survey.answered task is a row written with the
    # answer: a crash right after the commit cannot lose it, a rollback takes both back.
    from django.db import transaction

    low_rating_rule()
    invitation, _ = invite()
    with transaction.atomic():
        services.submit_response(invitation=invitation, rating=1, answer="Slow and rude.")
        assert [t["args"][0] for t in fire_tasks()] == ["survey.answered"]  # before the commit
    again, _ = invite(customer=CustomerFactory())
    with pytest.raises(RuntimeError), transaction.atomic():
        services.submit_response(invitation=again, rating=1, answer="Never mind.")
        raise RuntimeError("the request failed after the answer")
    assert len(fire_tasks()) == 1
    assert not Response.objects.filter(invitation=again).exists()


# --- The claim ----------------------------------------------------------------------------


def test_the_second_submit_finds_the_first_answer(invite):
    invitation, _ = invite()
    stale = Invitation.objects.get(pk=invitation.pk)  # loaded before the first answer
    first, created = services.submit_response(invitation=invitation, rating=5, answer="first")
    again, created_again = services.submit_response(invitation=stale, rating=1, answer="second")
    assert (created, created_again) == (True, False)
    assert again == first
    assert Response.objects.get().answer == "first"


def test_an_expired_link_stores_nothing(invite):
    invitation, _ = invite()
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now())
    with pytest.raises(services.InvitationUnavailable):
        services.submit_response(invitation=invitation, rating=5, answer="late")
    assert not Response.objects.exists()
    assert Invitation.objects.get(pk=invitation.pk).answered_at is None


def test_a_skipped_invitation_stores_nothing(invite):
    invitation, token = invite(customer=CustomerFactory(survey_opt_out=True))
    assert token is None and invitation.skipped_reason
    with pytest.raises(services.InvitationUnavailable):
        services.submit_response(invitation=invitation, rating=5, answer="no")
    assert not Response.objects.exists()


def test_an_invalid_answer_leaves_the_link_unanswered(invite):
    from django.core.exceptions import ValidationError

    invitation, _ = invite()
    with pytest.raises(ValidationError):  # a moment the page did not offer
        services.submit_response(invitation=invitation, rating=5, answer="x", moment_ids=[0])
    assert Invitation.objects.get(pk=invitation.pk).answered_at is None
    services.submit_response(invitation=invitation, rating=5, answer="fine")
    assert Response.objects.get().answer == "fine"


def test_an_answered_link_past_its_expiry_still_finds_its_answer(invite):
    invitation, _ = invite()
    services.submit_response(invitation=invitation, rating=4, answer="in time")
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(days=1)
    )
    response, created = services.submit_response(invitation=invitation, rating=1, answer="again")
    assert (response.answer, created) == ("in time", False)


def test_only_the_public_answer_path_trusts_the_cached_answer(db):
    """Another process may have cached "no rule" just before a rule was switched on: the
    workers' checks read the rules fresh, so their events are not dropped."""
    from django.core.cache import cache

    cache.set(engine._has_rules_key("survey.answered"), False, 60)  # stale, as elsewhere
    low_rating_rule()
    cache.set(engine._has_rules_key("survey.answered"), False, 60)
    assert engine.has_rules("survey.answered") is True
    assert engine.has_rules("survey.answered", cached=True) is False


@pytest.mark.django_db(transaction=True)
def test_a_real_answer_is_announced_before_its_transaction_commits(invite):
    # As in production (no test transaction around it): the announcement, whose receivers queue
    # the rules' task, runs inside the answer's transaction, not after its commit.
    from django.db import connection

    from surveys.signals import survey_answered

    seen = []

    def receiver(sender, response_id, **kwargs):
        seen.append((connection.in_atomic_block, Response.objects.filter(pk=response_id).exists()))

    survey_answered.connect(receiver, dispatch_uid="test-announced-in-transaction")
    try:
        invitation, _ = invite()
        services.submit_response(invitation=invitation, rating=4, answer="Fine.")
    finally:
        survey_answered.disconnect(dispatch_uid="test-announced-in-transaction")
    assert seen == [(True, True)]
