"""Each action type, through the engine: email from a template, alert, task, webhook, survey."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from interventions import conditions as cond
from interventions import engine
from interventions.models import EmailTemplate, FollowUpTask, Intervention, Rule
from tests.factories import CustomerFactory, InteractionFactory

pytestmark = pytest.mark.django_db
Status = Intervention.Status


def make_rule(action: str, config: dict, **extra) -> Rule:
    rule = Rule(
        name=f"Test {action}",
        slug=f"test-{action}",
        event=cond.INTERACTION_LOGGED,
        conditions=[{"field": "channel", "op": "eq", "value": "chat"}],
        action=action,
        action_config=config,
        active=True,
        **extra,
    )
    rule.full_clean()
    rule.save()
    return rule


def fire_and_run(interaction) -> Intervention:
    [intervention] = engine.fire_event(event=cond.INTERACTION_LOGGED, subject=interaction)
    engine.execute(intervention.pk)
    intervention.refresh_from_db()
    return intervention


@pytest.fixture
def chat(owner):
    customer = CustomerFactory(name="Ada", email="ada@example.com", owner=owner)
    return InteractionFactory(customer=customer, channel="chat", subject="Hello")


def test_email_is_rendered_from_the_admin_template(chat):
    EmailTemplate.objects.create(
        name="hello",
        subject="Hi {{ customer.name }}",
        body="About “{{ interaction.subject }}” & more",
    )
    make_rule("email", {"template": "hello"})
    intervention = fire_and_run(chat)
    assert intervention.status == Status.DONE
    [message] = mail.outbox
    assert message.to == ["ada@example.com"]
    assert message.subject == "Hi Ada"
    assert message.body == "About “Hello” & more"  # plain text: not HTML-escaped


def test_email_to_a_customer_without_address_is_skipped(chat):
    chat.customer.email = ""
    chat.customer.save()
    EmailTemplate.objects.create(name="hello", subject="Hi", body="Body")
    make_rule("email", {"template": "hello"})
    intervention = fire_and_run(chat)
    assert intervention.status == Status.SKIPPED
    assert mail.outbox == []


def test_email_template_syntax_is_validated():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        EmailTemplate(name="bad", subject="{% if %}", body="x").full_clean()


def test_email_config_must_name_an_existing_template():
    from interventions.actions import config_errors

    assert config_errors("email", {"template": "nope"}) == ["No email template named 'nope'."]


def test_task_goes_to_the_owner_with_a_due_date(chat, owner):
    make_rule("task", {"title": "Call {{ customer.name }} back", "due_in_hours": 48})
    intervention = fire_and_run(chat)
    task = FollowUpTask.objects.get()
    assert (task.assignee, task.title, task.intervention) == (owner, "Call Ada back", intervention)
    assert task.due > timezone.now() + timedelta(hours=47)
    assert "channel eq 'chat'" in task.notes


def test_task_without_owner_is_skipped_with_a_reason(chat):
    chat.customer.owner = None
    chat.customer.save()
    make_rule("task", {})
    intervention = fire_and_run(chat)
    assert intervention.status == Status.SKIPPED
    assert "no (active) owner" in intervention.result["skipped"]


def test_survey_invitation_goes_through_the_surveys_service(
    chat, django_capture_on_commit_callbacks
):
    from surveys.models import Invitation, Survey

    survey = Survey.objects.get(name="What stood out?")
    make_rule("survey", {"survey": survey.name})
    with django_capture_on_commit_callbacks(execute=True):
        intervention = fire_and_run(chat)
    assert intervention.status == Status.DONE
    invitation = Invitation.objects.get()
    assert (invitation.customer, invitation.interaction) == (chat.customer, chat)
    assert intervention.result["survey"]["invitation"] == invitation.pk


def test_survey_frequency_limit_is_respected(chat):
    from surveys.models import Invitation, Survey
    from surveys.services import create_invitation

    survey = Survey.objects.get(name="What stood out?")
    create_invitation(survey=survey, customer=chat.customer, send=False)
    make_rule("survey", {"survey": survey.name})
    intervention = fire_and_run(chat)
    assert intervention.status == Status.SKIPPED
    assert "too_soon" in intervention.result["skipped"]
    assert Invitation.objects.count() == 2  # the skipped one is kept with its reason


def test_survey_is_invited_once_when_run_twice(chat):
    from surveys.models import Invitation, Survey

    make_rule("survey", {"survey": Survey.objects.get(name="What stood out?").name})
    intervention = fire_and_run(chat)
    Intervention.objects.filter(pk=intervention.pk).update(
        status=Status.RUNNING, started_at=timezone.now() - timedelta(hours=1)
    )
    engine.execute(intervention.pk)
    assert Invitation.objects.count() == 1
