"""Recalibration on a constructed data set where one tag clearly lowers ratings."""

import random

import pytest
from django.core.management import call_command

from moments.models import Moment, MomentTag, MomentTagging, TagCategory
from surveys import services
from surveys.models import Survey, TagWeightProposal
from tests.factories import CustomerFactory, InteractionFactory


@pytest.fixture
def tags(db):
    category = TagCategory.objects.create(name="Test tags", slug="test-tags")

    def tag(slug: str, polarity: str) -> MomentTag:
        return MomentTag.objects.create(
            category=category, name=slug, slug=slug, polarity=polarity, weight=1.0
        )

    return {
        "broken": tag("broken-promise-x", "negative"),
        "smalltalk": tag("small-talk-x", "either"),
        "wrongway": tag("thank-you-note-x", "positive"),
    }


@pytest.fixture
def dataset(tags):
    """80 answers about tagged moments. "broken" answers rate 1–2; the others 3–5, whatever
    their tag ("smalltalk" has no effect); "wrongway" is a positive tag that lowers ratings a
    little. Seeded, so the figures are stable."""
    rng = random.Random(7)
    survey = Survey.objects.get(name="What stood out?")
    survey.frequency_limit_days = 0
    survey.save()
    for i in range(80):
        customer = CustomerFactory()
        interaction = InteractionFactory(customer=customer)
        moment = Moment.objects.create(
            customer=customer,
            interaction=interaction,
            occurred_at=interaction.occurred_at,
            detected_by="test",
        )
        chosen = []
        if i % 4 == 0:
            chosen.append(tags["broken"])
        if i % 3 == 0:
            chosen.append(tags["smalltalk"])
        if i % 5 == 0:
            chosen.append(tags["wrongway"])
        for tag in chosen:
            MomentTagging.objects.create(moment=moment, tag=tag, source="test")
        if tags["broken"] in chosen:
            rating = rng.choice([1, 2])
        elif tags["wrongway"] in chosen:
            rating = rng.choice([3, 4])
        else:
            rating = rng.choice([3, 4, 5])
        invitation = services.create_invitation(
            survey=survey, customer=customer, interaction=interaction, send=False
        ).invitation
        # Half pick the moment on the page, half leave it to the surveyed interaction.
        services.submit_response(
            invitation=invitation, rating=rating, moment_ids=[moment.pk] if i % 2 else []
        )


def test_the_tag_that_lowers_ratings_gets_the_largest_proposed_weight(tags, dataset):
    proposals = {p.tag_id: p for p in services.recalibrate_tags()}
    broken = proposals[tags["broken"].pk]
    smalltalk = proposals[tags["smalltalk"].pk]
    assert broken.n_with == 20 and broken.n_without == 60
    assert broken.effect < -0.9
    assert broken.t_stat < -5
    assert abs(smalltalk.effect) < abs(broken.effect) / 3
    assert broken.proposed_weight > 1.0 > smalltalk.proposed_weight


def test_proposals_change_no_weight_until_applied(tags, dataset, admin_user):
    proposals = services.recalibrate_tags()
    ours = MomentTag.objects.filter(pk__in=[t.pk for t in tags.values()])
    assert set(ours.values_list("weight", flat=True)) == {1.0}
    broken = next(p for p in proposals if p.tag_id == tags["broken"].pk)
    assert services.apply_proposals(proposals=[broken], user=admin_user) == 1
    tags["broken"].refresh_from_db()
    assert tags["broken"].weight == broken.proposed_weight
    tags["smalltalk"].refresh_from_db()
    assert tags["smalltalk"].weight == 1.0
    # Applying again does nothing.
    assert services.apply_proposals(proposals=[broken], user=admin_user) == 0


def test_a_new_run_supersedes_open_proposals(tags, dataset):
    first = services.recalibrate_tags()
    services.recalibrate_tags()
    assert TagWeightProposal.objects.filter(status="superseded").count() == len(first)
    assert TagWeightProposal.objects.filter(status="proposed").count() == len(first)


def test_too_few_answers_propose_nothing(tags, settings):
    settings.SURVEY_RECALIBRATION_MIN_N = 10
    assert services.recalibrate_tags() == []


def test_the_command_prints_the_evidence(tags, dataset, capsys):
    call_command("recalibrate_tags")
    out = capsys.readouterr().out
    assert "broken-promise-x" in out
    assert "proposals saved" in out


def test_admins_see_proposals_and_apply_them_in_admin(client, admin_user, tags, dataset):
    services.recalibrate_tags()
    client.force_login(admin_user)
    page = client.get("/admin/surveys/tagweightproposal/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "broken-promise-x" in body
    assert "contradicts its positive polarity" in body  # the "wrongway" tag
    broken = TagWeightProposal.objects.get(tag=tags["broken"], status="proposed")
    client.post(
        "/admin/surveys/tagweightproposal/",
        {"action": "apply_selected", "_selected_action": [broken.pk]},
    )
    tags["broken"].refresh_from_db()
    assert tags["broken"].weight == broken.proposed_weight


def test_the_report_shows_the_top_themes_per_stage(manager_client, tags, dataset):
    page = manager_client.get("/surveys/report/")
    themes = page.context["data"]["themes"]
    assert [t["stage"] for t in themes] == ["Support"]
    by_tag = {t["tag"]: t for t in themes[0]["themes"]}
    assert by_tag["broken-promise-x"]["n"] == 20
    assert by_tag["broken-promise-x"]["mean_rating"] < 2.1
    assert "broken-promise-x" in page.content.decode()
