"""Moment detection: each of the four reasons, the stored reasons, idempotence, the pipeline
hook (scores written -> detection queued) and recall refresh of earlier moments."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import OrmQ

from moments.memory import services as memory_services
from moments.memory import tasks as memory_tasks
from moments.models import CustomerMemory, Moment
from moments.sentiment.classifier import Score
from moments.sentiment.services import record_scores
from tests.factories import CustomerFactory
from tests.moments.factories import (
    ScoredInteractionFactory,
    TagRuleFactory,
    long_text,
    stage,
    tag,
)

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def _scored(customer, score, *, days_ago=0, confidence=0.9, **kwargs):
    return ScoredInteractionFactory(
        customer=customer,
        sentiment_score=score,
        sentiment_confidence=confidence,
        occurred_at=NOW - timedelta(days=days_ago),
        **kwargs,
    )


_long = long_text


def _detect(*interactions):
    return memory_services.detect_moments(interaction_ids=[i.pk for i in interactions])


def _reasons(interaction):
    return Moment.objects.get(interaction=interaction).reason_codes


def test_sentiment_peak_is_a_moment(customer):
    furious = _scored(customer, -0.95, confidence=0.95)
    _detect(furious)
    moment = Moment.objects.get(interaction=furious)
    assert moment.reason_codes == ["peak"]
    assert "0.90" in moment.reasons[0]["detail"]
    assert moment.polarity == "negative"
    assert moment.impact < 0
    assert moment.detected_by == "peak"


def test_weak_or_unsure_sentiment_is_not_a_moment(customer):
    mild = _scored(customer, 0.5, confidence=0.9)  # 0.45 < 0.6
    unsure = _scored(customer, -0.9, confidence=0.5)  # 0.45 < 0.6
    assert _detect(mild, unsure) == []
    assert not Moment.objects.exists()


def test_peak_threshold_is_a_setting(customer, settings):
    settings.MEMORY_PEAK_THRESHOLD = 0.4
    mild = _scored(customer, 0.5, confidence=0.9)
    _detect(mild)
    assert _reasons(mild) == ["peak"]


def test_swing_from_the_customers_own_baseline(customer):
    for day in (10, 9, 8):
        _scored(customer, 0.5, days_ago=day)  # a happy customer...
    dip = _scored(customer, -0.4, days_ago=1)  # ...suddenly unhappy: 0.9 from baseline
    _detect(dip)
    moment = Moment.objects.get(interaction=dip)
    assert moment.reason_codes == ["swing"]
    assert "baseline +0.50" in moment.reasons[0]["detail"]


def test_no_swing_without_enough_history(customer):
    _scored(customer, 0.5, days_ago=5)
    dip = _scored(customer, -0.4, days_ago=1)
    assert _detect(dip) == []


def test_swing_ignores_later_interactions_and_other_customers(customer):
    other = CustomerFactory()
    for day in (10, 9, 8):
        _scored(other, 0.9, days_ago=day)
        _scored(customer, -0.3, days_ago=day)
    _scored(customer, 0.9, days_ago=0)  # after the one we look at
    steady = _scored(customer, -0.2, days_ago=1)
    assert _detect(steady) == []


def test_critical_stage_raises_the_weight(customer):
    renewal = _scored(customer, 0.5, stage=stage("renewal"))  # 0.45 x 1.5 = 0.68
    support = _scored(customer, 0.5, stage=stage("support"))  # 0.45
    _detect(renewal, support)
    moment = Moment.objects.get(interaction=renewal)
    assert moment.reason_codes == ["peak", "critical_stage"]
    assert "Renewal" in moment.reasons[1]["detail"]
    assert not Moment.objects.filter(interaction=support).exists()


def test_flat_renewal_text_on_a_critical_stage_is_not_a_moment(customer):
    renewal = _scored(
        customer,
        0.35,
        confidence=0.6,
        stage=stage("renewal"),
        subject="Renewal review",
        body=_long("Renewal review call. Usage is steady, 14 of 15 seats. They plan to renew."),
    )
    assert _detect(renewal) == []


def test_critical_stage_with_neutral_sentiment_is_not_a_moment(customer):
    assert _detect(_scored(customer, 0.1, stage=stage("renewal"))) == []


def test_non_critical_stage_is_not_a_reason(customer):
    assert _detect(_scored(customer, 0.35, stage=stage("support"))) == []


def test_tag_rule_match_raises_the_weight_and_tags_the_moment(customer):
    # 0.6 x 0.9 = 0.54 alone; x 1.25 with the rule = 0.68.
    interaction = _scored(customer, -0.6, body=_long("I was charged twice this month."))
    _detect(interaction)
    moment = Moment.objects.get(interaction=interaction)
    assert moment.reason_codes == ["peak", "tag_rule"]
    assert 'rule "Billing shock words" matched "charged twice"' in moment.reasons[1]["detail"]
    assert [t.slug for t in moment.tags.all()] == ["billing-shock"]
    assert moment.polarity == "negative"
    assert moment.detected_by == "peak, Billing shock words"


def test_tag_rule_on_flat_text_is_not_a_moment(customer):
    assert _detect(_scored(customer, 0.0, body=_long("I was charged twice this month."))) == []


def test_tag_rule_needs_whole_words(customer):
    rule = TagRuleFactory(tag=tag("long-wait"), phrases="hold")
    interaction = _scored(customer, -0.6, body=_long("The holder of the account called."))
    assert _detect(interaction) == []  # 0.54: the rule would have made it 0.68
    assert rule.phrase_list == ["hold"]


def test_tag_rule_limited_to_its_stage(customer):
    text = _long("It arrived early, thank you!")
    at_delivery = _scored(customer, 0.6, stage=stage("delivery"), body=text)
    at_support = _scored(customer, 0.6, stage=stage("support"), body=text)
    _detect(at_delivery, at_support)
    assert [t.slug for t in Moment.objects.get(interaction=at_delivery).tags.all()] == [
        "delivery-delight"
    ]
    assert not Moment.objects.filter(interaction=at_support).exists()


def test_inactive_rule_or_retired_tag_does_not_match(customer):
    TagRuleFactory(tag=tag("long-wait"), phrases="forever", active=False)
    retired = tag("fast-resolution")
    retired.active = False
    retired.save()
    TagRuleFactory(tag=retired, phrases="in minutes")
    text = _long("Took forever. Fixed in minutes though.")
    assert _detect(_scored(customer, -0.6, body=text)) == []  # 0.54 < 0.6: no boost


def test_several_reasons_are_all_stored(customer):
    interaction = _scored(
        customer,
        -0.95,
        confidence=0.95,
        stage=stage("complaint"),
        body=_long("You promised a call."),
    )
    _detect(interaction)
    assert _reasons(interaction) == ["peak", "critical_stage", "tag_rule"]


def test_unscored_interactions_are_skipped(customer):
    pending = _scored(customer, -0.95, scored_at=None)
    assert _detect(pending) == []


def test_detection_is_idempotent(customer):
    interaction = _scored(customer, -0.95, body=_long("Charged twice!"))
    _detect(interaction)
    _detect(interaction)
    moment = Moment.objects.get(interaction=interaction)
    assert moment.reason_codes == ["peak", "tag_rule"]
    assert moment.tags.count() == 1


def test_dismissed_moment_is_not_detected_again(customer, agent):
    interaction = _scored(customer, -0.95)
    moment = _detect(interaction)[0]
    memory_services.dismiss_moment(moment=moment, user=agent, reason="sarcasm")
    assert _detect(interaction) == []
    moment.refresh_from_db()
    assert moment.dismissed


def test_detection_stores_recall_and_balance(customer):
    interaction = _scored(customer, -0.95, days_ago=2)
    moment = _detect(interaction)[0]
    moment.refresh_from_db()
    assert 0 < moment.recall_365 < moment.recall_30 < moment.recall_7 < 1
    assert moment.computed_at is not None
    memory = CustomerMemory.objects.get(customer=customer)
    assert memory.balance < 0
    assert memory.moment_count == 1


def test_later_moment_on_same_tag_refreshes_earlier_one(customer):
    first = _scored(customer, -0.9, days_ago=60, body=_long("Still waiting for my refund."))
    _detect(first)
    before = Moment.objects.get(interaction=first)
    assert before.refresh_count == 0
    again = _scored(customer, -0.9, days_ago=1, body=_long("I am still waiting for an answer."))
    _detect(again)
    after = Moment.objects.get(interaction=first)
    assert after.refresh_count == 1
    assert after.refreshed_at == again.occurred_at
    assert after.recall_365 > before.recall_365
    assert after.recall_now > before.recall_now


def test_moment_on_another_tag_does_not_refresh(customer):
    first = _scored(customer, -0.9, days_ago=60, body=_long("Still waiting for my refund."))
    _detect(first)
    _detect(_scored(customer, -0.9, days_ago=1, body=_long("I was charged twice.")))
    assert Moment.objects.get(interaction=first).refresh_count == 0


def test_written_scores_queue_detection_after_commit(customer, django_capture_on_commit_callbacks):
    interaction = _scored(customer, None, scored_at=None, confidence=None, sentiment_label="")
    with django_capture_on_commit_callbacks(execute=True):
        record_scores(
            version="v-test",
            scores={interaction.pk: Score("negative", -0.9, 0.95, {"negative": 0.95})},
        )
    queued = [t for t in OrmQ.objects.all() if t.func() == "moments.memory.tasks.detect_moments"]
    assert len(queued) == 1
    task = queued[0].task() if callable(queued[0].task) else queued[0].task
    assert task["args"] == ([interaction.pk],)


def test_detection_task_creates_moments(customer):
    interaction = _scored(customer, 0.95, confidence=0.95)
    assert memory_tasks.detect_moments([interaction.pk]) == {"moments": 1}
    assert Moment.objects.get(interaction=interaction).polarity == "positive"


def test_refresh_schedule_is_idempotent():
    from django_q.models import Schedule

    memory_tasks.ensure_refresh_schedule()
    memory_tasks.ensure_refresh_schedule()
    assert Schedule.objects.filter(name=memory_tasks.REFRESH_NAME).count() == 1


def test_sentiment_correction_queues_detection(customer, agent, django_capture_on_commit_callbacks):
    from moments.sentiment.services import correct_sentiment

    interaction = _scored(customer, 0.1)
    with django_capture_on_commit_callbacks(execute=True):
        correct_sentiment(interaction=interaction, label="negative", user=agent)
    queued = [t for t in OrmQ.objects.all() if t.func() == "moments.memory.tasks.detect_moments"]
    assert len(queued) == 1
    memory_tasks.detect_moments([interaction.pk])
    assert Moment.objects.get(interaction=interaction).reason_codes == ["peak"]


def _moments_by_interaction():
    return {m.interaction_id: sorted(m.reason_codes) for m in Moment.objects.all()}


def test_detection_does_not_depend_on_the_order_slices_are_scored_in(customer):
    """Workers score slices of a backlog in any order: detecting each slice as it is scored,
    latest slice first, ends where detecting everything at once does (the baseline of a later
    interaction includes earlier ones scored after it)."""
    # Alone, the last slice's baseline is -0.30 and +0.45 is no swing from it; after the
    # first slice, the baseline is -0.41 and it is.
    scores = [-0.5, -0.5, -0.5, -0.5, -0.3, -0.3, -0.3, 0.45]
    history = [
        _scored(customer, score, days_ago=40 - 3 * n, scored_at=None)
        for n, score in enumerate(scores)
    ]
    slices = [history[0:4], history[4:8]]
    for part in reversed(slices):
        for interaction in part:
            interaction.scored_at = interaction.occurred_at
            interaction.save(update_fields=["scored_at"])
        _detect(*part)
    in_slices = _moments_by_interaction()
    Moment.objects.all().delete()
    _detect(*history)
    assert in_slices == _moments_by_interaction()
    assert in_slices  # there is something to compare


def test_a_moment_whose_history_changed_is_taken_back(customer):
    dip = _scored(customer, -0.4, days_ago=1)
    for day in (10, 9, 8):
        _scored(customer, 0.5, days_ago=day, scored_at=None)
    history = list(customer.interactions.filter(scored_at__isnull=True))
    customer.interactions.filter(scored_at__isnull=True).update(scored_at=NOW)
    _detect(*history)  # the baseline is known now: the dip is a swing from it
    assert _reasons(dip) == ["swing"]
    for interaction in history:
        interaction.sentiment_score = -0.4
        interaction.save(update_fields=["sentiment_score"])
    _detect(*history)  # rescored: no swing any more
    assert not Moment.objects.filter(interaction=dip).exists()


def test_an_agents_outbound_note_is_not_the_customers_moment(customer):
    reply = _scored(customer, -0.95, direction="outbound", body=_long("Apologised, refunded."))
    note = _scored(customer, -0.95, direction="internal", body=_long("INTERNAL: very angry."))
    assert _detect(reply, note) == []


def test_agents_notes_are_not_in_the_customers_baseline(customer):
    for day in (10, 9, 8):
        _scored(customer, 0.5, days_ago=day)
        _scored(customer, -0.5, days_ago=day, direction="outbound")
    dip = _scored(customer, -0.4, days_ago=1)  # 0.9 from the customer's own +0.50
    _detect(dip)
    assert "baseline +0.50" in Moment.objects.get(interaction=dip).reasons[0]["detail"]


def test_a_few_words_weigh_less_than_a_story(customer):
    short = _scored(customer, -0.98, confidence=0.99, subject="", body="Ok. Refund noted.")
    assert _detect(short) == []


def test_a_chatty_customer_gets_a_bounded_number_of_moments(customer, settings):
    settings.MEMORY_BUDGET, settings.MEMORY_BUDGET_DAYS = 2, 30
    scores = [-0.7, -0.9, -0.75, 0.8, -0.72, -0.95, 0.7, -0.8]  # all over the peak threshold
    chatty = [_scored(customer, s, days_ago=100 - 2 * n) for n, s in enumerate(scores)]
    _detect(*chatty)
    assert sorted(Moment.objects.values_list("interaction_id", flat=True)) == sorted(
        [chatty[5].pk, chatty[1].pk]  # the two strongest of the month
    )
    later = _scored(customer, -0.7, days_ago=50)  # a month on: room again
    _detect(later)
    assert Moment.objects.filter(interaction=later).exists()
