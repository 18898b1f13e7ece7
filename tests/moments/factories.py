"""Factories for memory moments. Sentiment is set directly on interactions: detection reacts
to the stored scores, so no model is needed."""

from __future__ import annotations

import factory

from customers.models import JourneyStage
from moments.models import Moment, MomentTag, TagCategory, TagRule
from tests.factories import InteractionFactory

FILLER = (
    " I am writing about my account and everything that happened with it over the last few"
    " weeks, so that you have the whole story in one place and can look into it properly."
)


def long_text(text: str) -> str:
    """The text, long enough to count in full for moment detection (MEMORY_FULL_TEXT_WORDS):
    for tests about anything but a text's length."""
    return text + FILLER


class ScoredInteractionFactory(InteractionFactory):
    """An interaction as the scoring pipeline leaves it. ``score`` sets the signed score."""

    sentiment_score = 0.0
    sentiment_confidence = 0.9
    sentiment_label = factory.LazyAttribute(
        lambda o: (
            "positive"
            if o.sentiment_score > 0.2
            else ("negative" if o.sentiment_score < -0.2 else "neutral")
        )
    )
    sentiment_model = "test-model"
    scored_at = factory.LazyAttribute(lambda o: o.occurred_at)
    subject = "A message"
    # Long enough to count in full for moment detection (MEMORY_FULL_TEXT_WORDS): what a test
    # gives as the score is what detection weighs, whatever the text.
    body = (
        "Nothing special to report this time. The customer wrote to us about their account "
        "and the usual things that come up, and we went through each point with them in turn, "
        "as we always do, until every question they had was answered and the case was closed."
    )


class TagCategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TagCategory

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class MomentTagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MomentTag

    category = factory.SubFactory(TagCategoryFactory)
    name = factory.Sequence(lambda n: f"Tag {n}")
    slug = factory.Sequence(lambda n: f"tag-{n}")
    polarity = "either"
    weight = 1.0


class TagRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TagRule

    name = factory.Sequence(lambda n: f"Rule {n}")
    tag = factory.SubFactory(MomentTagFactory)
    phrases = "magic words"


class MomentFactory(factory.django.DjangoModelFactory):
    """A moment as stored (use the services to get scores computed)."""

    class Meta:
        model = Moment

    interaction = factory.SubFactory(ScoredInteractionFactory)
    customer = factory.SelfAttribute("interaction.customer")
    stage = factory.SelfAttribute("interaction.stage")
    occurred_at = factory.SelfAttribute("interaction.occurred_at")
    detected_by = "peak"
    reasons = factory.LazyFunction(lambda: [{"reason": "peak", "detail": "test"}])


def tag(slug: str) -> MomentTag:
    """A tag of the seeded taxonomy."""
    return MomentTag.objects.get(slug=slug)


def stage(slug: str) -> JourneyStage:
    return JourneyStage.objects.get(slug=slug)
