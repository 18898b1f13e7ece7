"""GDPR: export everything about one customer as JSON, and erase it (customers/privacy.py),
through the API, Django admin and the management commands."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.apps import apps
from django.contrib.admin.models import CHANGE
from django.contrib.admin.models import LogEntry as AdminLogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.db import models
from django.urls import reverse
from django.utils import timezone

from customers import privacy
from customers.channels.conversations import receive_conversation
from customers.channels.inbound import ingest_email
from customers.models import Customer, ImportJob, Interaction
from interventions.models import Alert, EffectLog, FollowUpTask, Intervention, OutboundEmail, Rule
from moments.memory import recall
from moments.models import CustomerMemory, Moment, MomentTagging, SentimentCorrection
from surveys import services as survey_services
from surveys.models import Invitation, Response, Survey, SurveyHold
from tests.channels.mail import make_email
from tests.factories import CustomerFactory, UserFactory
from tests.moments.factories import MomentFactory, ScoredInteractionFactory, tag

pytestmark = pytest.mark.django_db

NAME = "Zebediah Quillfeather"
EMAIL = "zeb.quill@example.org"
TEXT = "The parcel arrived crushed, MARKERZQ"
WEBHOOK_SECRET = "whsec-never-exported"
MARKERS = (NAME, EMAIL, "MARKERZQ")


def give_data(customer: Customer, *, text: str, staff, rule: Rule) -> dict:
    """One row of every kind MemoryCRM keeps about a customer, made the way the app makes
    them where that is cheap (survey invitation sent by its service, a real email)."""
    interaction = ScoredInteractionFactory(
        customer=customer, subject="Broken parcel", body=text, sentiment_score=-0.9
    )
    moment = MomentFactory(interaction=interaction, polarity="negative")
    MomentTagging.objects.create(moment=moment, tag=tag("broken-promise"), source="agent")
    recall.refresh_customer_memory(customer_id=customer.pk)
    SentimentCorrection.objects.create(interaction=interaction, label="negative", text=text)
    survey = Survey.objects.create(name=f"Survey for {customer.pk}", frequency_limit_days=0)
    invite = survey_services.create_invitation(
        survey=survey, customer=customer, interaction=interaction
    )
    # What the task queued on commit does: the email goes out, the address is recorded.
    assert survey_services.send_invitation_email(invitation_id=invite.invitation.pk) == "sent"
    response, _ = survey_services.submit_response(
        invitation=Invitation.objects.get(pk=invite.invitation.pk), rating=2, answer=text
    )
    response.moments.add(moment)
    intervention = Intervention.objects.create(
        rule=rule,
        event="interaction.scored",
        subject_type=ContentType.objects.get_for_model(interaction),
        subject_id=interaction.pk,
        customer=customer,
        interaction=interaction,
        scheduled_for=timezone.now(),
        why_fired={"payload": {"subject": interaction.subject}},
        result={"emails": [customer.email]},
    )
    OutboundEmail.objects.create(
        key=f"{intervention.pk}:email:{customer.email}",
        intervention=intervention,
        to=customer.email,
        subject=f"Sorry, {customer.name}",
        body=f"Dear {customer.name}, about: {text}",
        status=OutboundEmail.Status.SENT,
    )
    EffectLog.objects.create(
        key=f"{intervention.pk}:webhook",
        intervention=intervention,
        kind="webhook",
        status=EffectLog.Status.DONE,
        detail={"url": "https://hooks.example.com/in", "status": 200},
    )
    Alert.objects.create(
        recipient=staff, customer=customer, intervention=intervention, text=f"{customer.name} …"
    )
    SurveyHold.objects.create(customer=customer, key=f"alert:{intervention.pk}", reason="Open")
    FollowUpTask.objects.create(
        assignee=staff,
        customer=customer,
        intervention=intervention,
        title=f"Call {customer.name}",
        due=timezone.now() + timedelta(days=1),
    )
    AdminLogEntry.objects.create(
        user=staff,
        content_type=ContentType.objects.get_for_model(Customer),
        object_id=str(customer.pk),
        object_repr=str(customer),
        action_flag=CHANGE,
    )
    return {"interaction": interaction, "invitation": invite.invitation, "response": response}


@pytest.fixture
def staff(db):
    return UserFactory(username="staffer", role="Manager")


@pytest.fixture
def webhook_rule(db):
    return Rule.objects.create(
        name="Complaint webhook",
        slug="complaint-webhook",
        event="interaction.scored",
        action=Rule.Action.WEBHOOK,
        action_config={"url": "https://hooks.example.com/in", "secret": WEBHOOK_SECRET},
    )


@pytest.fixture
def zeb(staff, webhook_rule):
    customer = CustomerFactory(name=NAME, email=EMAIL, external_ref="ZQ-1", notes="VIP")
    give_data(customer, text=TEXT, staff=staff, rule=webhook_rule)
    # Their out-of-office reply, received by email (recorded, not an interaction).
    ingest_email(
        make_email(sender=f"{NAME} <{EMAIL}>", subject="Out of office", text=TEXT),
        source="test",
    )
    # A CSV import that held this customer's row and another's; an email log row sent to the
    # address under another customer's intervention.
    ImportJob.objects.create(
        kind="customers",
        filename="batch.csv",
        content=f"name,email,external_ref\n{NAME},{EMAIL.upper()},ZQ-1\nOther One,o@example.com,\n",
        status=ImportJob.Status.DONE,
    )
    return customer


@pytest.fixture
def other(staff, webhook_rule):
    customer = CustomerFactory(name="Olive Other", email="olive@example.com")
    data = give_data(customer, text="All fine, thanks", staff=staff, rule=webhook_rule)
    OutboundEmail.objects.create(
        key="stray:1",
        intervention=Intervention.objects.get(customer=customer),
        to=EMAIL,
        subject="Copy",
        body="A copy sent to Zeb by mistake",
    )
    return customer, data


def rows_of(customer_id: int) -> dict[str, int]:
    """Rows pointing at the customer, by every foreign key to Customer in every app."""
    counts = {}
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, models.ForeignKey) and field.related_model is Customer:
                n = model._base_manager.filter(**{field.attname: customer_id}).count()
                counts[f"{model._meta.label}.{field.name}"] = n
    return counts


def tables_mentioning(*needles: str) -> set[str]:
    """Every table with a text, email or JSON column holding one of the needles."""
    found = set()
    for model in apps.get_models():
        if not model._meta.managed:
            continue
        for field in model._meta.concrete_fields:
            if not isinstance(field, models.CharField | models.TextField | models.JSONField):
                continue
            for needle in needles:
                if model._base_manager.filter(**{f"{field.attname}__icontains": needle}).exists():
                    found.add(model._meta.db_table)
    return found


# --- Export ---------------------------------------------------------------------------------


def test_export_has_every_kind_of_data(zeb):
    document = privacy.export_customer(customer=zeb)
    assert document["format"] == "memorycrm.customer-export"
    assert document["customer"]["email"] == EMAIL
    assert document["customer"]["notes"] == "VIP"
    [interaction] = document["interactions"]
    assert interaction["body"] == TEXT
    assert interaction["sentiment"]["label"] == "negative"
    [moment] = document["moments"]
    assert [t["slug"] for t in moment["tags"]] == ["broken-promise"]
    assert moment["reasons"] == [{"reason": "peak", "detail": "test"}]
    assert set(moment["recall"]) >= {"recall_now", "recall_7", "recall_30", "recall_365"}
    assert document["customer_memory"]["moment_count"] == 1
    assert document["sentiment_corrections"][0]["text"] == TEXT
    [invitation] = document["survey_invitations"]
    assert invitation["sent_to"] == EMAIL
    assert invitation["send_status"] == "sent"
    [response] = document["survey_responses"]
    assert response["answer"] == TEXT
    assert response["moments"] == [moment["id"]]
    [intervention] = document["interventions"]
    assert intervention["rule"] == "Complaint webhook"
    [email] = document["emails"]
    assert email["to"] == EMAIL
    assert TEXT in email["body"]
    assert document["effects"][0]["detail"]["status"] == 200
    assert len(document["alerts"]) == 1
    assert document["follow_up_tasks"][0]["title"] == f"Call {NAME}"
    [thread] = document["email_threads"]  # the survey email, threaded for replies
    assert thread["kind"] == "survey_invitation"
    assert thread["to"] == EMAIL
    assert thread["message_id"].startswith("<")
    assert interaction["conversation"] is None


def test_export_has_a_conversations_transcript(db):
    customer = CustomerFactory()
    receive_conversation(
        customer=customer,
        channel="call",
        external_id="call-1",
        started_at=timezone.now() - timedelta(minutes=3),
        ended_at=timezone.now(),
        turns=[{"speaker": "customer", "text": "Hi"}, {"speaker": "agent", "text": "Hello"}],
        metadata={"line": "support"},
    )
    [interaction] = privacy.export_customer(customer=customer)["interactions"]
    assert interaction["conversation"]["turns"][1] == {"speaker": "agent", "text": "Hello"}
    assert interaction["conversation"]["metadata"] == {"line": "support"}


def test_export_holds_no_secrets(zeb):
    invitation = Invitation.objects.get(customer=zeb)
    assert invitation.token_hash  # the invitation has a link, whose hash must not leave
    text = json.dumps(privacy.export_customer(customer=zeb))
    assert "token_hash" not in text
    assert invitation.token_hash not in text
    assert invitation.previous_token_hash is None or invitation.previous_token_hash not in text
    assert WEBHOOK_SECRET not in text
    assert "password" not in text


def test_export_is_only_about_that_customer(zeb, other):
    text = json.dumps(privacy.export_customer(customer=zeb))
    assert "Olive Other" not in text
    assert "All fine, thanks" not in text


def test_export_command_writes_a_json_file(zeb, tmp_path):
    path = tmp_path / "zeb.json"
    call_command("export_customer", str(zeb.pk), "-o", str(path))
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["customer"]["name"] == NAME
    assert document["interactions"][0]["body"] == TEXT


def test_export_command_refuses_an_unknown_id(db):
    with pytest.raises(CommandError, match="No customer with id 999999"):
        call_command("export_customer", "999999")


# --- Erase ----------------------------------------------------------------------------------


def test_erase_removes_everything_about_the_customer(zeb, other, admin_user):
    customer_id = zeb.pk
    before = tables_mentioning(*MARKERS)
    # The check below can fail: the data really was spread over these tables.
    assert before >= {
        "customers_customer",
        "customers_interaction",
        "customers_importjob",
        "django_admin_log",
        "moments_sentimentcorrection",
        "surveys_invitation",
        "surveys_response",
        "interventions_intervention",
        "interventions_outboundemail",
        "interventions_alert",
        "interventions_followuptask",
    }
    assert set(rows_of(customer_id).values()) == {1}  # a row behind every FK to Customer

    counts = privacy.erase_customer(customer=zeb, actor=admin_user)

    assert tables_mentioning(*MARKERS) == set()
    assert set(rows_of(customer_id).values()) == {0}
    assert not Customer.objects.filter(pk=customer_id).exists()
    assert counts["customer"] == 1
    assert counts["interactions"] == 1
    assert counts["moments"] == 1
    assert counts["survey_responses"] == 1
    assert counts["survey_invitations"] == 1
    assert counts["interventions"] == 1
    assert counts["emails"] == 2  # its own, and the stray copy sent to the address
    assert counts["import_rows"] == 1
    assert counts["email_threads"] == 1


def test_erase_keeps_other_customers_intact(zeb, other):
    other_customer, data = other
    before = rows_of(other_customer.pk)
    privacy.erase_customer(customer=zeb, actor=None)
    assert rows_of(other_customer.pk) == before
    assert Interaction.objects.get(pk=data["interaction"].pk).body == "All fine, thanks"
    assert Response.objects.filter(pk=data["response"].pk).exists()
    assert Moment.objects.filter(customer=other_customer).count() == 1
    assert CustomerMemory.objects.filter(customer=other_customer).exists()
    assert OutboundEmail.objects.filter(intervention__customer=other_customer).count() == 1
    job = ImportJob.objects.get()
    assert job.content == "name,email,external_ref\nOther One,o@example.com,\n"
    assert Rule.objects.filter(slug="complaint-webhook").exists()


def test_erase_of_a_customer_with_no_data(db):
    customer = CustomerFactory(email="", external_ref="")
    counts = privacy.erase_customer(customer=customer, actor=None)
    assert counts.pop("customer") == 1
    assert set(counts.values()) == {0}
    assert not Customer.objects.filter(pk=customer.pk).exists()


def test_erase_writes_an_audit_entry_without_personal_data(zeb, admin_user):
    customer_id = zeb.pk
    counts = privacy.erase_customer(customer=zeb, actor=admin_user)
    entry = LogEntry.objects.get(
        content_type=ContentType.objects.get_for_model(Customer), object_id=customer_id
    )
    assert entry.action == LogEntry.Action.DELETE
    assert entry.actor == admin_user
    assert entry.additional_data == {"erased": counts}
    assert entry.object_repr == f"customer #{customer_id} (erased)"
    stored = json.dumps(
        [entry.object_repr, entry.changes, entry.changes_text, entry.additional_data]
    )
    for marker in (*MARKERS, "ZQ-1", "VIP", "Broken parcel"):
        assert marker.lower() not in stored.lower()


def test_erase_rolls_back_entirely_when_a_part_fails(zeb, monkeypatch):
    """One transaction: if any app's part fails, nothing is erased and nothing is logged."""

    def failing(customer):
        raise RuntimeError("disk full")

    monkeypatch.setitem(
        privacy._parts, "surveys", privacy.Part(app="surveys", export=dict, erase=failing)
    )
    with pytest.raises(RuntimeError):
        privacy.erase_customer(customer=zeb, actor=None)
    assert Customer.objects.filter(pk=zeb.pk).exists()
    assert Interaction.objects.filter(customer=zeb).count() == 1
    assert not LogEntry.objects.filter(object_id=zeb.pk, action=LogEntry.Action.DELETE).exists()


def test_erase_command_asks_for_the_id_again(zeb, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt: "12345678")
    with pytest.raises(CommandError, match="Not confirmed"):
        call_command("erase_customer", str(zeb.pk))
    assert Customer.objects.filter(pk=zeb.pk).exists()


def test_erase_command_erases_with_no_actor(zeb, capsys):
    customer_id = zeb.pk
    call_command("erase_customer", str(customer_id), "--yes")
    assert not Customer.objects.filter(pk=customer_id).exists()
    entry = LogEntry.objects.get(object_id=customer_id, action=LogEntry.Action.DELETE)
    assert entry.actor is None  # shown as "system"
    assert f"Customer {customer_id} erased" in capsys.readouterr().out


# --- API ------------------------------------------------------------------------------------


def export_url(pk: int) -> str:
    return reverse("api-customer-export", args=[pk])


def erase_url(pk: int) -> str:
    return reverse("api-customer-erase", args=[pk])


def test_api_export_for_a_manager(manager_api, zeb):
    response = manager_api.get(export_url(zeb.pk))
    assert response.status_code == 200
    assert response.json()["customer"]["email"] == EMAIL
    assert response.json()["emails"][0]["to"] == EMAIL


def test_api_export_is_forbidden_to_agents(agent_api, zeb):
    assert agent_api.get(export_url(zeb.pk)).status_code == 403


def test_api_export_needs_a_login(api_client, zeb):
    assert api_client.get(export_url(zeb.pk)).status_code == 401


def test_api_export_of_an_unknown_customer_is_404(manager_api):
    assert manager_api.get(export_url(999999)).status_code == 404


def test_api_erase_by_an_admin(api_client, admin_user, zeb):
    customer_id = zeb.pk
    api_client.force_authenticate(admin_user)
    response = api_client.post(erase_url(customer_id), {"confirm": customer_id}, format="json")
    assert response.status_code == 200
    assert response.json()["customer_id"] == customer_id
    assert response.json()["erased"]["interactions"] == 1
    assert not Customer.objects.filter(pk=customer_id).exists()
    entry = LogEntry.objects.get(object_id=customer_id, action=LogEntry.Action.DELETE)
    assert entry.actor == admin_user


@pytest.mark.parametrize("body", [{}, {"confirm": "yes"}, {"confirm": 0}])
def test_api_erase_needs_the_id_as_confirmation(api_client, admin_user, zeb, body):
    api_client.force_authenticate(admin_user)
    response = api_client.post(erase_url(zeb.pk), body, format="json")
    assert response.status_code == 400
    assert "confirm" in response.json()
    assert Customer.objects.filter(pk=zeb.pk).exists()


def test_api_erase_of_an_unknown_customer_is_404(api_client, admin_user):
    api_client.force_authenticate(admin_user)
    assert api_client.post(erase_url(999999), {"confirm": 999999}).status_code == 404


@pytest.mark.parametrize("role", ["agent_api", "manager_api"])
def test_api_erase_is_for_admins_only(request, zeb, role):
    client = request.getfixturevalue(role)
    assert client.post(erase_url(zeb.pk), {"confirm": zeb.pk}).status_code == 403
    assert Customer.objects.filter(pk=zeb.pk).exists()


def test_api_erase_answers_get_with_405(api_client, admin_user, zeb):
    api_client.force_authenticate(admin_user)
    assert api_client.get(erase_url(zeb.pk)).status_code == 405


# --- Django admin ---------------------------------------------------------------------------

CHANGELIST = "admin:customers_customer_changelist"


def test_admin_action_exports_json(client, admin_user, zeb):
    client.force_login(admin_user)
    response = client.post(
        reverse(CHANGELIST), {"action": "export_personal_data", "_selected_action": [zeb.pk]}
    )
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="customer-{zeb.pk}.json"'
    assert json.loads(response.content)["customer"]["email"] == EMAIL


def test_admin_action_erases_after_confirmation(client, admin_user, zeb):
    client.force_login(admin_user)
    url = reverse(CHANGELIST)
    asked = client.post(url, {"action": "erase", "_selected_action": [zeb.pk]})
    assert asked.status_code == 200
    assert b"Yes, erase them" in asked.content
    assert Customer.objects.filter(pk=zeb.pk).exists()  # only asked so far
    done = client.post(url, {"action": "erase", "_selected_action": [zeb.pk], "post": "yes"})
    assert done.status_code == 302
    assert not Customer.objects.filter(pk=zeb.pk).exists()
    entry = LogEntry.objects.get(object_id=zeb.pk, action=LogEntry.Action.DELETE)
    assert entry.actor == admin_user


def test_admin_erase_action_is_not_offered_to_managers(client, zeb):
    manager = UserFactory(username="staff-manager", role="Manager", is_staff=True)
    client.force_login(manager)
    response = client.get(reverse(CHANGELIST))
    actions = [choice[0] for choice in response.context["action_form"].fields["action"].choices]
    assert "export_personal_data" in actions
    assert "erase" not in actions
    client.post(
        reverse(CHANGELIST), {"action": "erase", "_selected_action": [zeb.pk], "post": "yes"}
    )
    assert Customer.objects.filter(pk=zeb.pk).exists()


def test_admin_delete_is_not_offered_to_managers(client, zeb):
    """Deleting is erasing: a staff manager can neither open the delete page nor bulk-delete."""
    manager = UserFactory(username="staff-manager", role="Manager", is_staff=True)
    client.force_login(manager)
    page = reverse("admin:customers_customer_delete", args=[zeb.pk])
    assert client.post(page, {"post": "yes"}).status_code == 403
    client.post(
        reverse(CHANGELIST),
        {"action": "delete_selected", "_selected_action": [zeb.pk], "post": "yes"},
    )
    assert Customer.objects.filter(pk=zeb.pk).exists()


# --- Deleting is erasing ----------------------------------------------------------------------


def test_api_delete_by_an_admin_erases_everything_and_is_audited(api_client, admin_user, zeb):
    # A plain cascade used to leave the customer in stored CSV imports and admin history.
    api_client.force_authenticate(admin_user)
    customer_id = zeb.pk
    response = api_client.delete(f"/api/v1/customers/{customer_id}/")
    assert response.status_code == 204
    assert tables_mentioning(*MARKERS) == set()
    assert set(rows_of(customer_id).values()) == {0}
    entry = LogEntry.objects.get(object_id=customer_id, action=LogEntry.Action.DELETE)
    assert entry.actor == admin_user
    assert entry.additional_data["erased"]["import_rows"] == 1


def test_admin_delete_page_and_bulk_delete_erase(client, admin_user, zeb, other):
    other_customer, _ = other
    client.force_login(admin_user)
    page = reverse("admin:customers_customer_delete", args=[zeb.pk])
    assert client.post(page, {"post": "yes"}).status_code == 302
    assert tables_mentioning(*MARKERS) == set()
    bulk = client.post(
        reverse(CHANGELIST),
        {"action": "delete_selected", "_selected_action": [other_customer.pk], "post": "yes"},
    )
    assert bulk.status_code == 302
    assert not Customer.objects.exists()
    erased = LogEntry.objects.filter(action=LogEntry.Action.DELETE, actor=admin_user)
    assert set(erased.values_list("object_id", flat=True)) == {zeb.pk, other_customer.pk}
