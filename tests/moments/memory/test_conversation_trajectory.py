"""A conversation is remembered by how it ended (peak–end): the sentiment of a chat or call is
its last customer turn's, the first and last kept as the trajectory, agents' turns never read.
Real model, real pipeline: scoring, detection and the default frustration alert."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.models import OrmQ

from customers.channels.conversations import receive_conversation
from customers.models import Conversation, Interaction
from interventions.models import Alert
from moments.models import Moment
from moments.sentiment import services
from moments.sentiment.classifier import Score
from tests.factories import CustomerFactory, UserFactory
from tests.moments.factories import FILLER, stage

FURIOUS = "I am furious and want a refund now. This is unacceptable, the worst service ever!"
GRATEFUL = "Thank you so much, you were wonderful and so helpful! I am really grateful."
AGENT = "I understand. Let me look into this for you right away."


def drain(limit: int = 200) -> None:
    """Play the worker: run every queued task, including those they queue."""
    for _ in range(limit):
        queued = OrmQ.objects.order_by("pk").first()
        if queued is None:
            return
        task = queued.task
        queued.delete()
        import_string(task["func"])(*task.get("args", ()), **task.get("kwargs", {}))
    raise AssertionError("the task queue did not drain")


@pytest.fixture
def owned_customer(db):
    UserFactory(username="a-manager", role="Manager", email="m@example.com")
    return CustomerFactory(owner=UserFactory(role="Agent", email="o@example.com"))


def chat(customer, *customer_turns: str, agent_turns: tuple[str, ...] = (AGENT,)) -> Interaction:
    """A chat in the (critical) complaint stage: customer, agent, customer, … The first
    customer turn carries some neutral words, so that the conversation counts in full."""
    turns = []
    for n, text in enumerate(customer_turns):
        turns.append({"speaker": "customer", "text": text + (FILLER if n == 0 else "")})
        if n < len(customer_turns) - 1:
            turns.append({"speaker": "agent", "text": agent_turns[n % len(agent_turns)]})
    end = timezone.now() - timedelta(minutes=1)
    return receive_conversation(
        customer=customer,
        channel="chat",
        external_id=f"chat-{len(turns)}-{customer_turns[0][:8]}",
        started_at=end - timedelta(minutes=15),
        ended_at=end,
        turns=turns,
        stage=stage("complaint"),
    ).interaction


def scored(customer, *turns: str, django_capture_on_commit_callbacks, **kwargs) -> Interaction:
    with django_capture_on_commit_callbacks(execute=True):
        interaction = chat(customer, *turns, **kwargs)
    drain()
    interaction.refresh_from_db()
    return interaction


def test_furious_then_grateful_is_a_recovery_not_a_complaint(
    owned_customer, sentiment_model, django_capture_on_commit_callbacks
):
    interaction = scored(
        owned_customer,
        FURIOUS,
        GRATEFUL,
        django_capture_on_commit_callbacks=django_capture_on_commit_callbacks,
    )

    conversation = Conversation.objects.get(pk=interaction.pk)
    assert conversation.opening_score < 0 < conversation.ending_score
    assert conversation.trajectory == "negative → positive"
    assert interaction.sentiment_label == "positive"
    assert interaction.sentiment_score == conversation.ending_score
    assert not Moment.objects.filter(interaction=interaction, polarity="negative").exists()
    assert not Alert.objects.exists()


def test_grateful_then_furious_is_a_complaint(
    owned_customer, sentiment_model, django_capture_on_commit_callbacks
):
    interaction = scored(
        owned_customer,
        GRATEFUL,
        FURIOUS,
        django_capture_on_commit_callbacks=django_capture_on_commit_callbacks,
    )

    conversation = Conversation.objects.get(pk=interaction.pk)
    assert conversation.opening_score > 0 > conversation.ending_score
    assert interaction.sentiment_label == "negative"
    moment = Moment.objects.get(interaction=interaction)
    assert moment.polarity == "negative"
    assert Alert.objects.filter(interaction=interaction).exists()  # the frustration alert


def test_agents_turns_never_count_as_the_customers_emotion(
    owned_customer, sentiment_model, django_capture_on_commit_callbacks
):
    """A calm customer with a furious-sounding agent reads as calm: the agent's words are not
    in what is scored."""
    interaction = scored(
        owned_customer,
        "Could you tell me when my parcel will arrive?",
        GRATEFUL,
        agent_turns=(FURIOUS,),
        django_capture_on_commit_callbacks=django_capture_on_commit_callbacks,
    )
    assert FURIOUS not in interaction.text
    assert interaction.sentiment_label == "positive"
    assert not Alert.objects.exists()


def score(value: float) -> Score:
    label = "positive" if value > 0.2 else "negative" if value < -0.2 else "neutral"
    return Score(label, value, 0.9, {})


@pytest.mark.parametrize(
    ("whole", "ending", "expected"),
    [
        (-0.8, 0.7, 0.7),  # ends grateful: the end decides
        (0.6, -0.9, -0.9),  # ends furious: the end decides
        (-0.8, 0.05, -0.8),  # ends on a flat "ok, bye": everything the customer said
    ],
)
def test_a_conversation_is_remembered_by_its_end_unless_the_end_is_flat(whole, ending, expected):
    remembered = services.remembered(score(whole), (score(-0.5), score(ending)))
    assert remembered.score == expected


def test_anything_but_a_conversation_keeps_its_whole_texts_score():
    assert services.remembered(score(-0.8), None).score == -0.8
