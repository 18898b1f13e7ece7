from importlib import import_module

import pytest
from django.core.cache import cache
from django_q.models import OrmQ

from surveys import services
from surveys.models import Survey
from tests.factories import CustomerFactory, InteractionFactory
from tests.moments.conftest import sentiment_model, trained_model_path  # noqa: F401


@pytest.fixture(autouse=True)
def _survey_settings(settings):
    # Emailed links point at the test client's host, so a test can open them; every test
    # starts with a fresh rate-limit budget.
    settings.SURVEY_BASE_URL = "http://testserver"
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def survey(db):
    """The default survey seeded by the data migration (CSAT 1–5, 30-day frequency limit)."""
    return Survey.objects.get(name="What stood out?")


@pytest.fixture
def nps_survey(db):
    return Survey.objects.create(name="NPS", rating_kind=Survey.RatingKind.NPS)


@pytest.fixture
def interaction(customer):
    return InteractionFactory(customer=customer, subject="Refund for the broken kettle")


@pytest.fixture
def other_customer(db):
    return CustomerFactory(name="Grace Hopper", email="grace@example.com")


@pytest.fixture
def run_queued():
    """Run what was queued for django-q2 in this process, as a worker would (oldest first),
    until nothing is left; returns the function names that ran."""

    def run(max_rounds: int = 5) -> list[str]:
        ran = []
        for _ in range(max_rounds):
            rows = list(OrmQ.objects.order_by("id"))
            if not rows:
                break
            for row in rows:
                task = row.task
                row.delete()
                module, name = task["func"].rsplit(".", 1)
                getattr(import_module(module), name)(*task["args"], **task["kwargs"])
                ran.append(task["func"])
        return ran

    return run


@pytest.fixture
def invite(survey, customer, interaction):
    """A fresh invitation (not emailed): returns (invitation, raw token)."""

    def make(**kwargs):
        kwargs.setdefault("survey", survey)
        kwargs.setdefault("customer", customer)
        kwargs.setdefault("interaction", interaction if kwargs["customer"] == customer else None)
        kwargs.setdefault("send", False)
        result = services.create_invitation(**kwargs)
        return result.invitation, result.token

    return make


@pytest.fixture
def store_evidence(survey):
    """Store survey answers (moments.memory.fitting.Answer, e.g. simulation.simulate's) as the
    forecast's evidence: one response per answer, a row per candidate, every candidate offered
    (its recall recorded under the settings' parameters). Returns the answers."""
    from datetime import timedelta

    from django.utils import timezone

    from moments.memory import fitting, scoring
    from surveys.models import ForecastEvidence, Invitation, Response

    def store(answers) -> list:
        params = scoring.MemoryParams.from_settings()
        customer = CustomerFactory()
        rows = []
        for answer in answers:
            invitation = Invitation.objects.create(
                survey=survey,
                customer=customer,
                expires_at=timezone.now() + timedelta(days=1),
                answered_at=timezone.now(),
            )
            response = Response.objects.create(
                invitation=invitation, survey=survey, customer=customer, rating=3
            )
            rows += [
                ForecastEvidence(
                    response=response,
                    recall=fitting.forecast_recall(c, params),
                    age_days=c.age_days,
                    intensity=c.intensity,
                    polarity=c.polarity,
                    tag_weights=list(c.tag_weights),
                    stage_weight=c.stage_weight,
                    refresh_ages=list(c.refresh_ages),
                    offered=True,
                    picked=c.picked,
                )
                for c in answer.candidates
            ]
        ForecastEvidence.objects.bulk_create(rows)
        return answers

    return store
