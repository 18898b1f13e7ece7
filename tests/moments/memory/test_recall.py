"""A customer recalling a moment unprompted (picking it as "this stood out" in a survey answer)
refreshes that moment's memory, like a later moment on the same tag: the recall forecast, the
customer's memory balance and the journey rollup move, once per answer. See
docs/memory-model.md, "Recalled by the customer"."""

# ruff: noqa: F811  (the fixtures imported below are test arguments, which ruff sees as
# redefinitions)

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone
from django_q.models import OrmQ

from moments.memory import recall, scoring
from moments.memory import rollup as memory_rollup
from moments.memory import selectors as memory_selectors
from moments.memory import services as memory_services
from moments.models import CustomerMemory, JourneyRollup, Moment
from surveys import services as survey_services
from surveys import tasks as survey_tasks
from surveys.models import Response, Survey
from tests.factories import CustomerFactory
from tests.moments.factories import ScoredInteractionFactory
from tests.surveys.conftest import _survey_settings, run_queued  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db

PARAMS = scoring.MemoryParams()


def _moment(customer, *, score: float, days_ago: float) -> Moment:
    """A detected moment (a sentiment peak) ``days_ago`` days old, scored by the services."""
    interaction = ScoredInteractionFactory(
        customer=customer,
        sentiment_score=score,
        occurred_at=timezone.now() - timedelta(days=days_ago),
    )
    [moment] = memory_services.detect_moments(interaction_ids=[interaction.pk])
    moment.refresh_from_db()
    return moment


def _in_30_days(moment: Moment) -> float:
    """The one recall figure the customer page ranks by: likely remembered in 30 days."""
    moment.refresh_from_db()
    return moment.likely_remembered


def _balance(customer) -> float:
    return CustomerMemory.objects.get(customer=customer).balance


# --- The scoring function ---------------------------------------------------------------------


def test_recalls_and_later_mentions_are_the_refreshes_in_order():
    t0 = timezone.now() - timedelta(days=100)
    day = timedelta(days=1)
    assert scoring.refresh_times(
        occurred_at=t0,
        now=t0 + 50 * day,
        mentioned_at=[t0 + 30 * day],
        recalled_at=[t0 + 40 * day, t0 + 10 * day, t0 - day, t0 + 60 * day],
    ) == (t0 + 10 * day, t0 + 30 * day, t0 + 40 * day)  # not before the moment, not to come


# --- The service ------------------------------------------------------------------------------


def test_a_recalled_moment_is_forecast_to_be_remembered_longer():
    recalled = _moment(CustomerFactory(), score=0.9, days_ago=40)
    unrecalled = _moment(CustomerFactory(), score=0.9, days_ago=40)
    assert _in_30_days(recalled) == pytest.approx(_in_30_days(unrecalled))

    at = timezone.now() - timedelta(hours=1)
    assert recall.note_recalled(recalls=[(recalled.pk, at)]) == [recalled.pk]

    assert _in_30_days(recalled) > 2 * _in_30_days(unrecalled)
    assert recalled.recall_now > unrecalled.recall_now
    assert (recalled.refresh_count, recalled.refreshed_at) == (1, at)
    assert recall.recall_times(recalled) == [at]
    summary = memory_selectors.memory_summary(recalled.customer)
    assert summary.top[0].likely_remembered == pytest.approx(_in_30_days(recalled))


@pytest.mark.parametrize("pick, direction", [("positive", 1), ("negative", -1)])
def test_a_recall_moves_the_balance_toward_the_recalled_moments_polarity(pick, direction):
    customer = CustomerFactory()
    moments = {
        "positive": _moment(customer, score=0.9, days_ago=60),
        "negative": _moment(customer, score=-0.7, days_ago=45),
    }
    before = _balance(customer)

    recall.note_recalled(recalls=[(moments[pick].pk, timezone.now() - timedelta(minutes=5))])

    assert (_balance(customer) - before) * direction > 0.1


def test_the_same_recall_twice_refreshes_once():
    moment = _moment(CustomerFactory(), score=-0.8, days_ago=20)
    at = timezone.now() - timedelta(hours=2)
    assert recall.note_recalled(recalls=[(moment.pk, at), (moment.pk, at)]) == [moment.pk]
    moment.refresh_from_db()
    once = (moment.refresh_count, moment.recall_now, moment.stability_days)
    balance = _balance(moment.customer)

    assert recall.note_recalled(recalls=[(moment.pk, at)]) == []

    moment.refresh_from_db()
    assert (moment.refresh_count, moment.recall_now, moment.stability_days) == once
    assert _balance(moment.customer) == balance
    assert len(moment.recalled_at) == 1


def test_a_second_recall_at_another_time_refreshes_again():
    moment = _moment(CustomerFactory(), score=0.9, days_ago=90)
    now = timezone.now()
    recall.note_recalled(recalls=[(moment.pk, now - timedelta(days=30))])
    recall.note_recalled(recalls=[(moment.pk, now - timedelta(days=1))])
    moment.refresh_from_db()
    assert moment.refresh_count == 2
    assert moment.refreshed_at == now - timedelta(days=1)


def test_a_recall_not_after_the_moment_is_ignored():
    moment = _moment(CustomerFactory(), score=0.9, days_ago=10)
    assert (
        recall.note_recalled(
            recalls=[(moment.pk, moment.occurred_at - timedelta(days=1)), (0, timezone.now())]
        )
        == []
    )
    moment.refresh_from_db()
    assert (moment.recalled_at, moment.refresh_count) == ([], 0)


def test_a_recall_refreshes_the_journey_rollup():
    moment = _moment(CustomerFactory(), score=0.9, days_ago=50)
    day = JourneyRollup.objects.filter(day=memory_rollup.local_day(moment.occurred_at))
    before = day.aggregate(s=Sum("remembered_sum"))["s"]
    assert before == pytest.approx(moment.impact * moment.recall_now)

    recall.note_recalled(recalls=[(moment.pk, timezone.now() - timedelta(minutes=1))])

    moment.refresh_from_db()
    after = day.aggregate(s=Sum("remembered_sum"))["s"]
    assert after == pytest.approx(moment.impact * moment.recall_now)
    assert after > before


def test_a_dismissed_moment_keeps_its_recall_for_when_it_is_restored(agent):
    moment = _moment(CustomerFactory(), score=0.9, days_ago=30)
    memory_services.dismiss_moment(moment=moment, user=agent, reason="noise")
    at = timezone.now() - timedelta(hours=1)
    assert recall.note_recalled(recalls=[(moment.pk, at)]) == [moment.pk]
    assert CustomerMemory.objects.get(customer=moment.customer).moment_count == 0

    memory_services.promote_interaction(interaction=moment.interaction, user=agent)

    moment.refresh_from_db()
    assert (moment.refresh_count, moment.refreshed_at) == (1, at)


# --- From a survey answer ---------------------------------------------------------------------


@pytest.fixture
def offered(customer):
    """A positive moment 40 days old and the interaction a survey invitation names (so the
    answer page offers the moment), with a survey that may invite the customer again."""
    Survey.objects.filter(name="What stood out?").update(frequency_limit_days=0)
    moment = _moment(customer, score=0.9, days_ago=40)
    _moment(customer, score=-0.7, days_ago=30)
    return moment


def _link(moment: Moment) -> str:
    result = survey_services.create_invitation(
        survey=Survey.objects.get(name="What stood out?"),
        customer=moment.customer,
        interaction=moment.interaction,
        send=False,
    )
    return f"/s/{result.token}/"


def test_picking_a_moment_without_text_queues_the_recall_for_the_worker(
    client, offered, run_queued, django_capture_on_commit_callbacks
):
    before, balance = _in_30_days(offered), _balance(offered.customer)
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(_link(offered), {"rating": "5", "moments": [str(offered.pk)]})
    assert page.status_code == 302
    offered.refresh_from_db()
    assert offered.refresh_count == 0  # nothing in the web request

    assert run_queued() == ["surveys.tasks.note_recalls"]

    response = Response.objects.get()
    offered.refresh_from_db()
    assert offered.refreshed_at == response.created_at
    assert _in_30_days(offered) > before
    assert _balance(offered.customer) > balance
    # The same answer processed again (a duplicated or retried task) refreshes nothing more.
    assert survey_tasks.note_recalls([response.pk]) == {"recalled": 0}
    assert survey_tasks.make_answer_moments([response.pk])["recalled"] == 0
    offered.refresh_from_db()
    assert offered.refresh_count == 1


def test_an_answer_that_picks_nothing_queues_nothing(
    client, offered, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(_link(offered), {"rating": "5"})
    assert page.status_code == 302
    assert not OrmQ.objects.exists()


def test_an_answer_with_text_refreshes_its_pick_once_scored(
    client, offered, sentiment_model, run_queued, django_capture_on_commit_callbacks
):
    """An answer with text is scored by the scheduled run first; the task that follows the
    scoring notes the recall (and queues nothing from the web request)."""
    before = _in_30_days(offered)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            _link(offered),
            {"rating": "5", "answer": "The courier was so kind.", "moments": [str(offered.pk)]},
        )
    assert not OrmQ.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert survey_tasks.score_pending()["scored"] == 1

    assert run_queued() == ["surveys.tasks.make_answer_moments"]

    offered.refresh_from_db()
    assert offered.refresh_count == 1
    assert _in_30_days(offered) > before
    assert Moment.objects.filter(source=Moment.Source.SURVEY).count() == 0  # it named one
    # A rescore queues the task again: the answer's recall is not counted twice.
    response = Response.objects.get()
    assert survey_tasks.make_answer_moments([response.pk]) == {
        "moments": 0,
        "linked": 0,
        "recalled": 0,
    }
    offered.refresh_from_db()
    assert offered.refresh_count == 1


@pytest.mark.cluster
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_notes_the_recall(client, offered, cluster):
    before = _in_30_days(offered)
    page = client.post(_link(offered), {"rating": "4", "moments": [str(offered.pk)]})
    assert page.status_code == 302

    refreshed = Moment.objects.filter(pk=offered.pk, refresh_count=1)
    deadline = time.monotonic() + 120
    while not refreshed.exists() and time.monotonic() < deadline:
        assert cluster.poll() is None, cluster.tail()
        time.sleep(0.3)
    assert refreshed.exists(), cluster.tail()
    assert _in_30_days(offered) > before
