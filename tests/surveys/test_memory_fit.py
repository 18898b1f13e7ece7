"""fit_memory_model learns the forecast's parameters from the answers' evidence and proposes
them; only an admin applying the proposal (audited) changes the recall forecast."""

import dataclasses
from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone
from django_q.models import OrmQ

from moments.memory import parameters, scoring, simulation
from moments.memory.recall import refresh_customer_memory
from moments.models import MemoryFitProposal, Moment
from tests.factories import InteractionFactory

# Customers who forget far more slowly than the settings' defaults say.
TRUE = dataclasses.replace(scoring.MemoryParams(), base_stability_days=40.0, impact_gain=0.3)


@pytest.fixture
def evidence(store_evidence):
    return store_evidence(simulation.simulate(150, params=TRUE, pick_rate=0.7, seed=3))


@pytest.fixture
def moment(customer):
    interaction = InteractionFactory(
        customer=customer,
        occurred_at=timezone.now() - timedelta(days=20),
        sentiment_score=-0.8,
        sentiment_confidence=0.9,
    )
    return Moment.objects.create(
        customer=customer,
        interaction=interaction,
        occurred_at=interaction.occurred_at,
        detected_by="test",
    )


def fit(**kwargs) -> str:
    from io import StringIO

    out = StringIO()
    call_command("fit_memory_model", stdout=out, **kwargs)
    return out.getvalue()


def recall_30(moment: Moment) -> float:
    refresh_customer_memory(customer_id=moment.customer_id)
    moment.refresh_from_db()
    return moment.recall_30


def test_fit_memory_model_proposes_and_changes_nothing(evidence, moment):
    before = recall_30(moment)
    out = fit()
    proposal = MemoryFitProposal.objects.get()
    assert proposal.status == MemoryFitProposal.Status.PROPOSED
    assert proposal.n_answers == 150
    assert proposal.current["base_stability_days"] == 7.0
    assert proposal.base_stability_days > 15  # toward the customers' 40 days
    assert proposal.log_likelihood_gain > 0
    assert proposal.auc_proposed >= proposal.auc_current - 0.01
    assert f"Proposal {proposal.pk} saved" in out
    assert parameters.current() == scoring.MemoryParams.from_settings()
    assert recall_30(moment) == before


def test_too_little_evidence_makes_no_proposal(store_evidence):
    store_evidence(simulation.simulate(5, params=TRUE, pick_rate=0.7, seed=3))
    with pytest.raises(CommandError, match="at least 30"):
        fit()
    assert not MemoryFitProposal.objects.exists()


def test_a_new_fit_supersedes_the_open_proposal(evidence):
    fit()
    fit()
    statuses = list(MemoryFitProposal.objects.order_by("pk").values_list("status", flat=True))
    assert statuses == ["superseded", "proposed"]


def test_applying_in_admin_changes_the_forecast_and_is_audited(
    client, admin_user, evidence, moment, django_capture_on_commit_callbacks
):
    before = recall_30(moment)
    fit()
    proposal = MemoryFitProposal.objects.get()
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(
            reverse("admin:moments_memoryfitproposal_changelist"),
            {"action": "apply_selected", "_selected_action": [proposal.pk]},
        )
    assert page.status_code == 302
    proposal.refresh_from_db()
    assert proposal.status == MemoryFitProposal.Status.APPLIED
    assert proposal.applied_by == admin_user
    assert parameters.current().base_stability_days == proposal.base_stability_days
    assert recall_30(moment) > before  # slower forgetting: better remembered at 30 days
    entry = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(MemoryFitProposal), object_id=proposal.pk
    ).latest("timestamp")
    assert entry.action == LogEntry.Action.UPDATE
    assert entry.actor == admin_user
    assert entry.changes_dict["status"] == ["proposed", "applied"]
    # Every customer's forecast is recomputed under the new parameters, in the background.
    assert [row.task["func"] for row in OrmQ.objects.all()] == [
        "moments.memory.tasks.refresh_all_memory"
    ]


def test_applying_a_newer_fit_retires_the_old_and_retiring_restores_the_settings(
    evidence, django_capture_on_commit_callbacks
):
    fit()
    first = MemoryFitProposal.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        assert parameters.apply(proposal=first, user=None)
    fit()
    second = MemoryFitProposal.objects.get(status="proposed")
    with django_capture_on_commit_callbacks(execute=True):
        assert parameters.apply(proposal=second, user=None)
    first.refresh_from_db()
    assert first.status == MemoryFitProposal.Status.RETIRED
    assert not parameters.apply(proposal=first, user=None)  # no longer open
    with django_capture_on_commit_callbacks(execute=True):
        assert parameters.retire(proposal=second)
    assert parameters.current() == scoring.MemoryParams.from_settings()


def test_an_agent_cannot_open_the_proposals_in_admin(agent_client):
    page = agent_client.get(reverse("admin:moments_memoryfitproposal_changelist"))
    assert page.status_code == 302  # not staff: sent to the admin login


def test_the_admin_shows_current_vs_proposed(client, admin_user, evidence):
    fit()
    proposal = MemoryFitProposal.objects.get()
    client.force_login(admin_user)
    page = client.get(reverse("admin:moments_memoryfitproposal_change", args=[proposal.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert "Current vs proposed" in body
    assert "<td>7.000</td>" in body  # the settings' base stability
    assert f"<td>{proposal.base_stability_days:.3f}</td>" in body
    assert f"<td>{proposal.auc_proposed:.3f}</td>" in body
