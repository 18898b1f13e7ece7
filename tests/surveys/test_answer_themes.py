"""Which moments an answer is about, for the report's themes and the recalibration's evidence:
the moments picked; else the moment the answer itself became (its own words); else the surveyed
interaction's (surveys.selectors.ANSWER_MOMENT_PATHS). Each answer counts once per tag."""

import pytest
from django.utils import timezone

from moments.models import Moment, MomentTag, MomentTagging, TagCategory
from surveys import selectors_report, services
from surveys.models import Response, Survey
from tests.factories import CustomerFactory, InteractionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey(db):
    survey = Survey.objects.get(name="What stood out?")
    survey.frequency_limit_days = 0
    survey.save()
    return survey


@pytest.fixture
def tag(db):
    category = TagCategory.objects.create(name="Theme tags", slug="theme-tags")
    return MomentTag.objects.create(
        category=category, name="rude-courier-x", slug="rude-courier-x", polarity="negative"
    )


def tagged(moment: Moment, tag: MomentTag) -> Moment:
    MomentTagging.objects.create(moment=moment, tag=tag, source="test")
    return moment


def interaction_moment(customer, **kwargs) -> Moment:
    interaction = InteractionFactory(customer=customer, **kwargs)
    return Moment.objects.create(
        customer=customer,
        interaction=interaction,
        occurred_at=interaction.occurred_at,
        detected_by="test",
    )


def answer(survey, customer, rating: int, *, interaction=None, picks=(), text="") -> Response:
    invitation = services.create_invitation(
        survey=survey, customer=customer, interaction=interaction, send=False
    ).invitation
    return services.submit_response(
        invitation=invitation, rating=rating, answer=text, moment_ids=picks
    )[0]


def own_moment(response: Response) -> Moment:
    """What the worker makes of a charged answer that named no moment (source: survey)."""
    moment = Moment.objects.create(
        customer_id=response.customer_id,
        source=Moment.Source.SURVEY,
        source_text=response.answer,
        occurred_at=timezone.now(),
        detected_by="test",
    )
    response.moment = moment
    response.save(update_fields=["moment"])
    return moment


def themes() -> dict[str, dict]:
    rows = selectors_report.stage_themes(Response.objects.all())
    return {t["tag"]: t for stage in rows for t in stage["themes"]}


def evidence_of(tag) -> tuple[list[float], list[float]]:
    found = next(e for e in services.tag_evidence() if e.tag_id == tag.pk)
    return found.with_tag, found.without_tag


def test_an_answer_in_its_own_words_gives_the_theme_of_the_moment_it_became(survey, tag):
    # No interaction, no pick: before, such an answer counted for no theme and no tag.
    response = answer(survey, CustomerFactory(), 1, text="The courier was rude to me.")
    tagged(own_moment(response), tag)
    assert themes()["rude-courier-x"]["n"] == 1
    assert themes()["rude-courier-x"]["mean_rating"] == 1
    with_tag, without_tag = evidence_of(tag)
    assert with_tag == [-1.0] and without_tag == []


def test_its_own_words_come_before_the_interaction_and_picks_before_both(survey, tag):
    customer = CustomerFactory()
    other = MomentTag.objects.create(
        category=tag.category, name="late-x", slug="late-x", polarity="negative"
    )
    about = tagged(interaction_moment(customer), other)
    response = answer(survey, customer, 2, interaction=about.interaction, text="Rude courier.")
    tagged(own_moment(response), tag)
    assert set(themes()) == {"rude-courier-x"}  # not also "late-x": one source per answer
    picker = CustomerFactory()
    picked = tagged(interaction_moment(picker), other)
    reply = answer(survey, picker, 4, interaction=picked.interaction, picks=[picked.pk], text="x")
    tagged(own_moment(reply), tag)
    assert themes()["late-x"]["n"] == 1 and themes()["rude-courier-x"]["n"] == 1


def test_two_answers_about_one_interaction_both_count(survey, tag):
    customer = CustomerFactory()
    moment = tagged(interaction_moment(customer), tag)
    answer(survey, customer, 1, interaction=moment.interaction)
    answer(survey, customer, 2, interaction=moment.interaction)  # a second invitation
    with_tag, _ = evidence_of(tag)
    assert sorted(with_tag) == [-1.0, -0.5]
    assert themes()["rude-courier-x"]["n"] == 2


def test_picking_two_moments_with_one_tag_counts_the_answer_once(survey, tag, settings):
    settings.SURVEY_MOMENT_WINDOW_DAYS = 30
    customer = CustomerFactory()
    first = tagged(interaction_moment(customer), tag)
    second = tagged(interaction_moment(customer), tag)
    answer(survey, customer, 1, interaction=first.interaction, picks=[first.pk, second.pk])
    answer(survey, CustomerFactory(), 5)  # no moment: no theme
    assert themes()["rude-courier-x"] == {
        "tag": "rude-courier-x",
        "n": 1,
        "mean_rating": 1.0,
        "mean_sentiment": None,
    }
