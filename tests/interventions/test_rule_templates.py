"""Rule and email templates see an explicit set of fields, never a model instance."""

import pytest
from django.core import mail
from knox.models import AuthToken

from interventions import conditions as cond
from interventions import engine
from interventions.models import Alert, EmailTemplate, FollowUpTask, Intervention, Rule
from tests.factories import CustomerFactory, InteractionFactory

pytestmark = pytest.mark.django_db

SECRETS = (
    "[{{ customer.owner.password }}|{{ customer.owner.auth_token_set.first.token_key }}"
    "|{{ interaction.agent.password }}|{{ rule.interventions.all }}"
    "|{{ customer.notes }}|{{ intervention.customer.owner.password }}]"
)


def fire(customer, action: str, config: dict) -> Intervention:
    rule = Rule(
        name="Templated",
        slug="templated",
        event=cond.INTERACTION_LOGGED,
        action=action,
        action_config=config,
        active=True,
    )
    rule.full_clean()
    rule.save()
    interaction = InteractionFactory(customer=customer, channel="chat", subject="Broken invoice")
    [intervention] = engine.fire_event(event=cond.INTERACTION_LOGGED, subject=interaction)
    engine.execute(intervention.pk)
    intervention.refresh_from_db()
    return intervention


@pytest.fixture
def customer(owner):
    owner.set_password("hunter2")
    owner.first_name, owner.last_name = "Olive", "Owner"
    owner.save()
    AuthToken.objects.create(user=owner)
    return CustomerFactory(name="Ada", email="ada@example.com", owner=owner, notes="VIP notes")


def test_an_alert_cannot_read_the_owners_password_or_token(customer):
    intervention = fire(customer, "alert", {"recipients": ["owner"], "text": SECRETS})
    assert intervention.status == Intervention.Status.DONE
    assert Alert.objects.get().text == "[|||||]"


def test_a_task_title_cannot_read_the_owners_password(customer):
    fire(customer, "task", {"title": "{{ customer.owner.password }}x"})
    assert FollowUpTask.objects.get().title == "x"


def test_an_email_template_cannot_read_the_owners_password(customer):
    EmailTemplate.objects.create(name="leak", subject="Hi", body=SECRETS)
    fire(customer, "email", {"template": "leak"})
    assert mail.outbox[0].body == "[|||||]"


def test_the_documented_fields_still_render(customer):
    text = (
        "{{ rule.name }}: {{ customer.name }} <{{ customer.email }}> "
        "({{ interaction.stage.name }}, {{ interaction.subject }}) "
        "by {{ customer.owner.get_full_name|default:customer.owner.get_username }}"
    )
    fire(customer, "alert", {"recipients": ["owner"], "text": text})
    alert = Alert.objects.get()
    stage = alert.customer.interactions.get().stage
    assert alert.text == (
        f"Templated: Ada <ada@example.com> ({stage.name}, Broken invoice) by Olive Owner"
    )
