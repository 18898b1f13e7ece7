"""Tagging counts: an agent adding `fast-resolution` or `escalation-recovery` to a moment that
was detected without it schedules the milestone thank-you, exactly once (docs/interventions.md,
"Tagging counts")."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone
from django_q.models import OrmQ

from interventions import engine
from interventions.models import Intervention, Rule
from moments.memory import services as memory_services
from moments.models import Moment
from tests.factories import CustomerFactory
from tests.moments.factories import ScoredInteractionFactory, tag

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
API = "/api/v1/moments/"


@pytest.fixture
def thank_you(rule) -> Rule:
    return rule("milestone-thank-you", active=True)


@pytest.fixture
def detected(run_queued, django_capture_on_commit_callbacks):
    """Detect a moment (a sentiment peak, no tags) as the pipeline does, and run what its
    creation queued; returns it."""

    def make(score: float = 0.9) -> Moment:
        interaction = ScoredInteractionFactory(
            customer=CustomerFactory(email="linus@example.com"), sentiment_score=score
        )
        with django_capture_on_commit_callbacks(execute=True):
            [moment] = memory_services.detect_moments(interaction_ids=[interaction.pk])
        run_queued()
        return moment

    return make


def _tag_on_page(client, moment: Moment, slug: str, capture) -> None:
    with capture(execute=True):
        page = client.post(
            reverse("moment-tag-add", args=[moment.pk]), {"tag": tag(slug).pk}, **HTMX
        )
    assert page.status_code == 200


def _thank_yous(thank_you: Rule):
    return Intervention.objects.filter(rule=thank_you)


def test_adding_the_tag_on_the_page_schedules_the_thank_you_once(
    agent_client, thank_you, detected, run_queued, django_capture_on_commit_callbacks
):
    moment = detected()
    assert not _thank_yous(thank_you).exists()  # detected without the tag: nothing

    _tag_on_page(agent_client, moment, "fast-resolution", django_capture_on_commit_callbacks)
    run_queued()

    intervention = _thank_yous(thank_you).get()
    assert (intervention.subject_id, intervention.event) == (moment.pk, "moment.created")
    assert intervention.scheduled_for > timezone.now()  # the next morning, 09:00
    assert intervention.status == Intervention.Status.SCHEDULED
    checked = {c["field"]: c["actual"] for c in intervention.why_fired["conditions"]}
    assert checked["moment_tags"] == ["fast-resolution"]  # why: the tag the agent added

    # The same tag again adds nothing and announces nothing; another milestone tag, or
    # removing and re-adding the first, finds the intervention already there.
    _tag_on_page(agent_client, moment, "fast-resolution", django_capture_on_commit_callbacks)
    assert not OrmQ.objects.exists()
    _tag_on_page(agent_client, moment, "escalation-recovery", django_capture_on_commit_callbacks)
    memory_services.remove_tag(moment=moment, tag=tag("fast-resolution"), user=None)
    _tag_on_page(agent_client, moment, "fast-resolution", django_capture_on_commit_callbacks)
    run_queued()
    assert _thank_yous(thank_you).count() == 1


def test_adding_the_tag_through_the_api_schedules_the_thank_you_once(
    agent_api, thank_you, detected, run_queued, django_capture_on_commit_callbacks
):
    moment = detected()
    for tags in (["fast-resolution"], ["fast-resolution"], ["fast-resolution", "empathy-win"]):
        with django_capture_on_commit_callbacks(execute=True):
            response = agent_api.patch(f"{API}{moment.pk}/", {"tags": tags}, format="json")
        assert response.status_code == 200, response.json()
        run_queued()
        assert _thank_yous(thank_you).count() == 1


def test_a_moment_created_with_the_tag_is_not_thanked_again_when_tagged(
    agent, thank_you, run_queued, django_capture_on_commit_callbacks
):
    interaction = ScoredInteractionFactory(sentiment_score=0.9)
    with django_capture_on_commit_callbacks(execute=True):
        moment = memory_services.promote_interaction(
            interaction=interaction, user=agent, tags=[tag("fast-resolution")]
        )
    run_queued()
    assert _thank_yous(thank_you).count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        memory_services.add_tag(moment=moment, tag=tag("escalation-recovery"), user=agent)
    run_queued()
    assert _thank_yous(thank_you).count() == 1


def test_tagging_a_negative_moment_thanks_nobody(
    agent_client, thank_you, detected, run_queued, django_capture_on_commit_callbacks
):
    moment = detected(score=-0.9)
    _tag_on_page(agent_client, moment, "fast-resolution", django_capture_on_commit_callbacks)
    run_queued()
    assert not _thank_yous(thank_you).exists()  # the rule's polarity condition still holds


def test_tagging_a_dismissed_moment_announces_nothing(
    agent, thank_you, detected, django_capture_on_commit_callbacks
):
    moment = detected()
    memory_services.dismiss_moment(moment=moment, user=agent, reason="not memorable")
    with django_capture_on_commit_callbacks(execute=True):
        memory_services.add_tag(moment=moment, tag=tag("fast-resolution"), user=agent)
    assert not OrmQ.objects.exists()


def test_tagging_queues_nothing_when_no_rule_listens(
    agent, detected, django_capture_on_commit_callbacks
):
    assert not Rule.objects.active().filter(event="moment.created").exists()
    engine.forget_rules()
    moment = detected()
    with django_capture_on_commit_callbacks(execute=True):
        memory_services.add_tag(moment=moment, tag=tag("fast-resolution"), user=agent)
    assert not OrmQ.objects.exists()
