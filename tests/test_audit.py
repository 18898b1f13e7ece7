"""The audit log (django-auditlog + memorycrm/audit): changes to rules, the tag taxonomy and
weights record who, when and each changed field before/after — from Django admin, the manager
pages, the API (token auth included) and background code (no actor) — and nobody can edit or
delete an entry in admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from customers.models import JourneyStage
from interventions.models import Rule
from moments.models import MomentTag
from surveys import services as survey_services
from surveys.models import Survey, TagWeightProposal
from tests.factories import UserFactory, api_token

pytestmark = pytest.mark.django_db


def entries_for(obj) -> list[LogEntry]:
    return list(
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(obj), object_id=obj.pk
        ).order_by("timestamp", "pk")
    )


def last_entry(obj) -> LogEntry:
    return entries_for(obj)[-1]


@pytest.fixture
def tag(db):
    return MomentTag.objects.get(slug="broken-promise")


def propose(tag: MomentTag, weight: float) -> TagWeightProposal:
    return TagWeightProposal.objects.create(
        tag=tag,
        current_weight=tag.weight,
        proposed_weight=weight,
        n_with=40,
        n_without=60,
        mean_with=-0.6,
        mean_without=0.2,
        effect=-0.8,
        t_stat=-5.0,
    )


def test_tag_weight_changed_in_admin_is_logged(client, admin_user, tag):
    client.force_login(admin_user)
    old = tag.weight
    response = client.post(
        reverse("admin:moments_momenttag_change", args=[tag.pk]),
        {
            "category": tag.category_id,
            "name": tag.name,
            "slug": tag.slug,
            "polarity": tag.polarity,
            "weight": "3.75",
            "colour": tag.colour,
            "description": tag.description,
            "active": "on",
            "order": tag.order,
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    entry = last_entry(tag)
    assert entry.action == LogEntry.Action.UPDATE
    assert entry.actor == admin_user
    assert entry.changes_dict == {"weight": [str(old), "3.75"]}
    assert entry.timestamp is not None


def test_stage_weight_changed_in_the_admin_list_is_logged(client, admin_user):
    stage = JourneyStage.objects.get(slug="complaint")
    client.force_login(admin_user)
    stages = list(JourneyStage.objects.order_by("order", "name"))
    form = {
        "form-TOTAL_FORMS": len(stages),
        "form-INITIAL_FORMS": len(stages),
        "_save": "Save",
    }
    for i, s in enumerate(stages):
        form[f"form-{i}-id"] = s.pk
        form[f"form-{i}-order"] = s.order
        form[f"form-{i}-weight"] = "2.5" if s.pk == stage.pk else s.weight
        if s.is_critical:
            form[f"form-{i}-is_critical"] = "on"
    response = client.post(reverse("admin:customers_journeystage_changelist"), form)
    assert response.status_code == 302
    entry = last_entry(stage)
    assert entry.actor == admin_user
    assert entry.changes_dict == {"weight": [str(1.5), "2.5"]}
    assert len(entries_for(JourneyStage.objects.get(slug="purchase"))) == 0  # unchanged


def test_rule_changed_through_the_api_with_a_token_is_logged(api_client, admin_user):
    """Token auth happens inside the view, after the middleware: the actor is still known."""
    rule = Rule.objects.order_by("pk").first()
    old = rule.description
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(admin_user)}")
    response = api_client.patch(
        reverse("api-rule-detail", args=[rule.pk]),
        {"description": "Only for complaints."},
        format="json",
    )
    assert response.status_code == 200, response.json()
    entry = last_entry(rule)
    assert entry.actor == admin_user
    assert entry.changes_dict == {"description": [old, "Only for complaints."]}


def test_rule_created_through_the_api_keeps_the_webhook_secret_out_of_the_log(
    api_client, admin_user
):
    api_client.force_authenticate(admin_user)
    response = api_client.post(
        reverse("api-rule-list"),
        {
            "name": "Hook",
            "slug": "hook",
            "event": "interaction.scored",
            "action": "webhook",
            "action_config": {"url": "https://hooks.example.com/x", "secret": "s3cr3t-value"},
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    entry = last_entry(Rule.objects.get(slug="hook"))
    assert entry.action == LogEntry.Action.CREATE
    assert entry.actor == admin_user
    _, config = entry.changes_dict["action_config"]
    assert "s3cr3t-value" not in config
    assert "https://hooks.example.com/x" in config  # the rest stays readable


def test_rule_toggled_on_the_manager_page_is_logged(client, manager):
    rule = Rule.objects.order_by("pk").first()
    was_active = rule.active
    client.force_login(manager)
    assert client.post(reverse("rule-toggle", args=[rule.pk])).status_code == 302
    entry = last_entry(rule)
    assert entry.actor == manager
    assert entry.changes_dict == {"active": [str(was_active), str(not was_active)]}


def test_proposal_applied_in_admin_is_logged(client, admin_user, tag):
    old = tag.weight
    proposal = propose(tag, 4.2)
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:surveys_tagweightproposal_changelist"),
        {"action": "apply_selected", "_selected_action": [proposal.pk]},
    )
    assert response.status_code == 302
    weight = last_entry(tag)
    assert weight.actor == admin_user
    assert weight.changes_dict == {"weight": [str(old), "4.2"]}
    applied = last_entry(proposal)
    assert applied.actor == admin_user
    assert applied.changes_dict["status"] == ["proposed", "applied"]


def test_change_made_outside_a_request_has_no_actor(tag):
    """A worker or a management command: recorded, as "system"."""
    proposal = propose(tag, 6.0)
    assert survey_services.apply_proposals(proposals=[proposal], user=None) == 1
    entry = last_entry(tag)
    assert entry.actor is None
    assert entry.changes_dict["weight"][1] == "6.0"


def test_retiring_tags_with_the_admin_action_is_logged(client, admin_user, tag):
    client.force_login(admin_user)
    client.post(
        reverse("admin:moments_momenttag_changelist"),
        {"action": "retire", "_selected_action": [tag.pk]},
    )
    entry = last_entry(tag)
    assert entry.actor == admin_user
    assert entry.changes_dict == {"active": ["True", "False"]}


def test_survey_template_change_is_logged(client, admin_user):
    survey = Survey.objects.get(name="What stood out?")
    survey.open_question = "What do you remember?"
    survey.save()
    entry = last_entry(survey)
    assert entry.actor is None
    assert entry.changes_dict["open_question"][1] == "What do you remember?"


# --- Reading the log in Django admin --------------------------------------------------------


@pytest.fixture
def logged(admin_user, manager, tag):
    """Two changes: one by the admin in a request, one by background code."""
    propose_by_admin = propose(tag, 2.0)
    survey_services.apply_proposals(proposals=[propose_by_admin], user=None)
    stage = JourneyStage.objects.get(slug="onboarding")
    LogEntry.objects.log_create(
        stage, action=LogEntry.Action.UPDATE, changes={"weight": ["1.2", "1.4"]}, actor=admin_user
    )
    return stage


def changelist_rows(client, **params) -> list[LogEntry]:
    response = client.get(reverse("admin:auditlog_logentry_changelist"), params)
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def test_admin_filters_the_log_by_model_user_and_date(client, admin_user, logged):
    client.force_login(admin_user)
    everything = changelist_rows(client)
    assert len(everything) >= 2
    by_admin = changelist_rows(client, actor__id__exact=admin_user.pk)
    assert [e.content_type.model for e in by_admin] == ["journeystage"]
    stage_type = ContentType.objects.get_for_model(JourneyStage)
    by_model = changelist_rows(client, resource_type=stage_type.pk)
    assert {e.content_type_id for e in by_model} == {stage_type.pk}
    # The "Today" link of the date filter.
    midnight = timezone.localtime(by_admin[0].timestamp).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    today = changelist_rows(
        client,
        timestamp__gte=str(midnight),
        timestamp__lt=str(midnight + timedelta(days=1)),
    )
    assert len(today) == len(everything)
    yesterday = changelist_rows(client, timestamp__lt=str(midnight))
    assert yesterday == []


def test_staff_manager_reads_the_log_but_cannot_change_it(client, logged):
    manager = UserFactory(username="staff-manager", role="Manager", is_staff=True)
    client.force_login(manager)
    entry = LogEntry.objects.order_by("pk").first()
    assert client.get(reverse("admin:auditlog_logentry_changelist")).status_code == 200
    page = client.get(reverse("admin:auditlog_logentry_change", args=[entry.pk]))
    assert page.status_code == 200
    assert b'type="submit"' not in page.content.split(b'id="content"')[1]


def test_nobody_can_edit_or_delete_entries_in_admin(client, admin_user, logged):
    """Not even a superuser: the log is append-only as far as admin goes."""
    client.force_login(admin_user)
    entry = LogEntry.objects.order_by("pk").first()
    assert client.get(reverse("admin:auditlog_logentry_delete", args=[entry.pk])).status_code == 403
    response = client.post(
        reverse("admin:auditlog_logentry_change", args=[entry.pk]), {"object_repr": "forged"}
    )
    assert response.status_code == 403
    client.post(
        reverse("admin:auditlog_logentry_changelist"),
        {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"},
    )
    entry.refresh_from_db()
    assert entry.object_repr != "forged"
    assert LogEntry.objects.filter(pk=entry.pk).exists()
    assert client.get(reverse("admin:auditlog_logentry_add")).status_code == 403


def test_agents_cannot_read_the_log(client):
    agent = UserFactory(username="staff-agent", role="Agent", is_staff=True)
    client.force_login(agent)
    assert client.get(reverse("admin:auditlog_logentry_changelist")).status_code == 403


def test_the_demo_manager_opens_the_audit_log(client, logged):
    # seed_demo used to make the manager a non-staff user, who could not open Django admin.
    from io import StringIO

    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("seed_demo", stdout=StringIO())
    manager = get_user_model().objects.get(username="manager")
    client.force_login(manager)
    assert client.get(reverse("admin:auditlog_logentry_changelist")).status_code == 200
    assert client.get(reverse("admin:customers_customer_changelist")).status_code == 200
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 403
