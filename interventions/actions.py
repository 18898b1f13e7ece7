"""What a rule does. Each action validates its JSON config (shown in admin) and runs once per
intervention: every side effect is keyed by the intervention id under a unique constraint.

    email    {"template": "<EmailTemplate name>", "to": "customer" | "owner"}
    alert    {"recipients": ["owner", "managers"], "text": "<template>", "email": true,
              "priority": 0-9}
    task     {"title": "<template>", "due_in_hours": 24}            (assigned to the owner)
    webhook  {"url": "https://…", "secret": "<optional, else INTERVENTIONS_WEBHOOK_SECRET>"}
    survey   {"survey": "<Survey name>"}
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.template import TemplateSyntaxError
from django.utils import timezone

from customers.channels.threading import send_threaded
from customers.models import OutboundEmail as ThreadedEmail
from interventions import explain, rendering, webhooks
from interventions.holds import hold_surveys_for_alert
from interventions.models import (
    Alert,
    EffectLog,
    EmailTemplate,
    FollowUpTask,
    Intervention,
    OutboundEmail,
)
from surveys.models import Survey
from surveys.services import create_invitation

logger = logging.getLogger(__name__)


class ActionError(Exception):
    """The action could not do its work; the intervention fails with this message."""


class RetryLater(ActionError):
    """The action failed in a way that may pass: the engine schedules the intervention again
    `delay` from now (the claimer's sweep queues it when due) instead of failing it."""

    def __init__(self, message: str, *, delay: timedelta) -> None:
        super().__init__(message)
        self.delay = delay


# --- helpers ------------------------------------------------------------------------------


def render_string(text: str, context: dict) -> str:
    return rendering.render(text, context).strip()


def _template_error(text: Any, label: str) -> list[str]:
    if not isinstance(text, str) or not text.strip():
        return [f"{label} must be a non-empty string."]
    try:
        rendering.compile_template(text)
    except TemplateSyntaxError as error:
        return [f"{label}: template error: {error}"]
    return []


def send_email_once(
    *, intervention: Intervention, purpose: str, to: str, subject: str, body: str
) -> str:
    """Send one email at most once per (intervention, purpose, address); returns its status.

    The row is written (pending) and claimed (sending) in their own commits before the message
    goes out, so a second execution — a re-delivered task, a second thread, a reclaimed row after
    a worker died — finds it and does not send again.
    """
    key = f"{intervention.pk}:{purpose}:{to.lower()}"[:200]
    email, _ = OutboundEmail.objects.get_or_create(
        key=key,
        defaults={
            "intervention": intervention,
            "to": to,
            "subject": subject[:300],
            "body": body,
        },
    )
    if email.status in (OutboundEmail.Status.SENT, OutboundEmail.Status.SENDING):
        return email.status
    claimed = OutboundEmail.objects.filter(
        pk=email.pk, status__in=(OutboundEmail.Status.PENDING, OutboundEmail.Status.FAILED)
    ).update(status=OutboundEmail.Status.SENDING)
    if not claimed:
        return OutboundEmail.objects.get(pk=email.pk).status
    message = EmailMessage(email.subject, email.body, settings.DEFAULT_FROM_EMAIL, [email.to])
    customer = intervention.customer
    try:
        if customer.email and email.to.lower() == customer.email.lower():
            # To the customer: threaded, so their reply links back to this intervention.
            send_threaded(
                message,
                customer=customer,
                kind=ThreadedEmail.Kind.INTERVENTION,
                about=intervention,
                interaction=intervention.interaction,
            )
        else:  # to staff (an alert, an owner's copy): replies are not the customer speaking
            message.send()
    except Exception as error:
        OutboundEmail.objects.filter(pk=email.pk).update(
            status=OutboundEmail.Status.FAILED, error=str(error)[:2000]
        )
        raise ActionError(f"Sending to {to} failed: {error}") from error
    OutboundEmail.objects.filter(pk=email.pk).update(
        status=OutboundEmail.Status.SENT, sent_at=timezone.now()
    )
    return OutboundEmail.Status.SENT


def _check_emails(statuses: dict[str, str]) -> None:
    unknown = [to for to, status in statuses.items() if status == OutboundEmail.Status.SENDING]
    if unknown:
        # A worker died between claiming and recording the send: it may have gone out.
        raise ActionError(
            "A previous attempt died while sending to "
            + ", ".join(unknown)
            + "; not re-sent automatically (it may have been delivered)."
        )


# --- email --------------------------------------------------------------------------------


def _email_errors(config: dict) -> list[str]:
    errors = []
    name = config.get("template")
    if not isinstance(name, str) or not name:
        errors.append('"template" must name an email template.')
    elif not EmailTemplate.objects.filter(name=name).exists():
        errors.append(f"No email template named {name!r}.")
    if config.get("to", "customer") not in ("customer", "owner"):
        errors.append('"to" must be "customer" or "owner".')
    return errors


def run_email(intervention: Intervention, config: dict) -> dict:
    template = EmailTemplate.objects.filter(name=config["template"]).first()
    if template is None:
        raise ActionError(f"The email template {config['template']!r} no longer exists.")
    customer = intervention.customer
    to = customer.email if config.get("to", "customer") == "customer" else ""
    if config.get("to") == "owner":
        to = customer.owner.email if customer.owner and customer.owner.email else ""
    if not to:
        return {"skipped": f"No address to send to ({config.get('to', 'customer')})."}
    subject, body = template.render(rendering.context_for(intervention))
    status = send_email_once(
        intervention=intervention, purpose="email", to=to, subject=subject, body=body
    )
    _check_emails({to: status})
    return {"emails": [{"to": to, "subject": subject, "status": status}]}


# --- alert --------------------------------------------------------------------------------

DEFAULT_ALERT_TEXT = "{{ rule.name }}: {{ customer.name }}"


def _alert_errors(config: dict) -> list[str]:
    errors = []
    recipients = config.get("recipients", ["owner", "managers"])
    if (
        not isinstance(recipients, list)
        or not recipients
        or not set(recipients) <= {"owner", "managers"}
    ):
        errors.append('"recipients" must be a list of "owner" and/or "managers".')
    errors += _template_error(config.get("text", DEFAULT_ALERT_TEXT), '"text"')
    if not isinstance(config.get("email", True), bool):
        errors.append('"email" must be true or false.')
    priority = config.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool) or not 0 <= priority <= 9:
        errors.append('"priority" must be a whole number from 0 to 9.')
    return errors


def alert_recipients(intervention: Intervention, recipients: list[str]) -> list:
    User = get_user_model()
    people = []
    owner = intervention.customer.owner
    if "owner" in recipients and owner is not None and owner.is_active:
        people.append(owner)
    if "managers" in recipients:
        people += list(User.objects.filter(groups__name="Manager", is_active=True).order_by("pk"))
    unique = {person.pk: person for person in people}
    return list(unique.values())


def _record_alert(intervention: Intervention, person, text: str, reason: str, priority: int):
    """This person's alert for this intervention, or None when they already have one about the
    same interaction from another rule: one alert per person and event."""
    interaction_id = intervention.interaction_id
    if interaction_id is not None:
        other = (
            Alert.objects.filter(recipient=person, interaction_id=interaction_id)
            .exclude(intervention=intervention)
            .exists()
        )
        if other:
            return None
    try:
        with transaction.atomic():
            alert, _ = Alert.objects.get_or_create(
                intervention=intervention,
                recipient=person,
                defaults={
                    "customer": intervention.customer,
                    "interaction_id": interaction_id,
                    "text": text,
                    "excerpt": explain.excerpt(explain.what_was_said(intervention.interaction), 200)
                    if interaction_id
                    else "",
                    "reason": reason[:500],
                    "priority": priority,
                },
            )
    except IntegrityError:  # another rule's alert about the same interaction, just now
        return None
    return alert


def run_alert(intervention: Intervention, config: dict) -> dict:
    context = rendering.context_for(intervention)
    text = render_string(config.get("text", DEFAULT_ALERT_TEXT), context)[:500]
    people = alert_recipients(intervention, config.get("recipients", ["owner", "managers"]))
    if not people:
        return {"skipped": "Nobody to alert: the customer has no owner and there are no managers."}
    reason = explain.reason_for(intervention)
    alerted = []
    link = ""
    for person in people:
        alert = _record_alert(intervention, person, text, reason, config.get("priority", 0))
        if alert is not None:
            alerted.append(person)
            link = alert.get_absolute_url()
    if not alerted:
        return {"skipped": "Already alerted about this interaction (another rule)."}
    hold_surveys_for_alert(intervention)
    statuses = {}
    if config.get("email", True):
        subject = f"[MemoryCRM] {text}"[:300]
        body = f"{text}\n\n{reason}\n\n{settings.INTERVENTIONS_SITE_URL.rstrip('/')}{link}\n"
        for person in alerted:
            if person.email:
                statuses[person.email] = send_email_once(
                    intervention=intervention,
                    purpose="alert",
                    to=person.email,
                    subject=subject,
                    body=body,
                )
    _check_emails(statuses)
    return {
        "alerts": [person.get_username() for person in alerted],
        "emails": [{"to": to, "status": status} for to, status in statuses.items()],
    }


# --- follow-up task -----------------------------------------------------------------------

DEFAULT_TASK_TITLE = "Follow up with {{ customer.name }}"


def _task_errors(config: dict) -> list[str]:
    errors = _template_error(config.get("title", DEFAULT_TASK_TITLE), '"title"')
    hours = config.get("due_in_hours", 24)
    if not isinstance(hours, int) or isinstance(hours, bool) or not 0 <= hours <= 24 * 90:
        errors.append('"due_in_hours" must be a whole number of hours (0 to 2160).')
    return errors


def run_task(intervention: Intervention, config: dict) -> dict:
    owner = intervention.customer.owner
    if owner is None or not owner.is_active:
        return {"skipped": "The customer has no (active) owner to give the task to."}
    title = render_string(
        config.get("title", DEFAULT_TASK_TITLE), rendering.context_for(intervention)
    )
    task, _ = FollowUpTask.objects.get_or_create(
        intervention=intervention,
        defaults={
            "assignee": owner,
            "customer": intervention.customer,
            "title": title[:200],
            "notes": explain.describe_why(intervention.why_fired),
            "due": timezone.now() + timedelta(hours=config.get("due_in_hours", 24)),
        },
    )
    return {"task": task.pk, "assignee": owner.get_username(), "title": task.title}


# --- webhook ------------------------------------------------------------------------------


def _webhook_errors(config: dict) -> list[str]:
    url = config.get("url")
    errors = []
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        errors.append('"url" must be an http:// or https:// address.')
    else:
        errors += webhooks.url_errors(url)
    if "secret" in config and not isinstance(config["secret"], str):
        errors.append('"secret" must be a string.')
    return errors


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_body(intervention: Intervention) -> bytes:
    customer = intervention.customer
    payload = {
        "intervention": intervention.pk,
        "rule": intervention.rule.slug,
        "event": intervention.event,
        "customer": {"id": customer.pk, "name": customer.name, "email": customer.email},
        "interaction": intervention.interaction_id,
        "subject": {"type": intervention.subject_type.model, "id": intervention.subject_id},
        "why_fired": intervention.why_fired,
    }
    return json.dumps(payload, cls=DjangoJSONEncoder, sort_keys=True).encode()


WEBHOOK_FAILED = "Webhook delivery failed (details in the server log)."


def _retry_webhook(status: int | None) -> bool:
    """Whether another attempt may help: no answer, a 5xx, 408 or 429 (a refused address, a
    redirect or another 4xx will answer the same)."""
    return status is None or status >= 500 or status in (408, 429)


def run_webhook(intervention: Intervention, config: dict) -> dict:
    """POST the JSON body, signed with HMAC-SHA256 (X-MemoryCRM-Signature), to a checked public
    address (interventions/webhooks.py). One call per execution: a failure that may pass is
    retried later through the queue (RetryLater, back-off doubling from
    INTERVENTIONS_WEBHOOK_BACKOFF), never slept on in the worker. Receivers should
    de-duplicate on the Idempotency-Key header: a worker that dies after the call but before
    recording it makes the next attempt call again.

    What went wrong (refused address, connection refused, HTTP 401…) goes to the server log
    only: managers read last_error, and telling those apart would make rules a port scanner."""
    log, _ = EffectLog.objects.get_or_create(
        key=f"{intervention.pk}:webhook", defaults={"intervention": intervention, "kind": "webhook"}
    )
    if log.status == EffectLog.Status.DONE:
        return {"webhook": log.detail}
    body = webhook_body(intervention)
    secret = config.get("secret") or settings.INTERVENTIONS_WEBHOOK_SECRET
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "MemoryCRM-interventions",
        "Idempotency-Key": f"memorycrm-intervention-{intervention.pk}",
    }
    if secret:
        headers["X-MemoryCRM-Signature"] = sign(body, secret)
    attempt, url = intervention.attempts, config["url"]
    status: int | None = None
    try:
        status = webhooks.post(
            url, body=body, headers=headers, timeout=settings.INTERVENTIONS_WEBHOOK_TIMEOUT
        )
    except webhooks.Refused as error:
        logger.warning("webhook of intervention %s to %s refused: %s", intervention.pk, url, error)
        retry = False
    except (OSError, http.client.HTTPException) as error:
        logger.warning("webhook of intervention %s to %s failed: %r", intervention.pk, url, error)
        retry = True
    else:
        if 200 <= status < 300:
            detail = {"url": url, "status": status, "attempts": attempt}
            EffectLog.objects.filter(pk=log.pk).update(
                status=EffectLog.Status.DONE, detail=detail, finished_at=timezone.now()
            )
            return {"webhook": detail}
        logger.warning("webhook of intervention %s to %s: HTTP %s", intervention.pk, url, status)
        retry = _retry_webhook(status)
    if retry and attempt <= settings.INTERVENTIONS_WEBHOOK_RETRIES:
        delay = settings.INTERVENTIONS_WEBHOOK_BACKOFF * 2 ** (attempt - 1)
        raise RetryLater(WEBHOOK_FAILED, delay=timedelta(seconds=delay))
    EffectLog.objects.filter(pk=log.pk).update(
        status=EffectLog.Status.FAILED,
        detail={"url": url, "error": WEBHOOK_FAILED, "attempts": attempt},
        finished_at=timezone.now(),
    )
    raise ActionError(WEBHOOK_FAILED)


# --- survey invitation --------------------------------------------------------------------


def _survey_errors(config: dict) -> list[str]:
    name = config.get("survey")
    if not isinstance(name, str) or not name:
        return ['"survey" must name a survey.']
    if not Survey.objects.filter(name=name).exists():
        return [f"No survey named {name!r}."]
    return []


def run_survey(intervention: Intervention, config: dict) -> dict:
    """Invite through surveys.services.create_invitation (which applies opt-out and the
    frequency limit). The EffectLog row and the invitation commit together: exactly once."""
    survey = Survey.objects.filter(name=config["survey"]).first()
    if survey is None:
        raise ActionError(f"The survey {config['survey']!r} no longer exists.")
    existing = EffectLog.objects.filter(key=f"{intervention.pk}:survey").first()
    if existing is not None:
        return {"survey": existing.detail}
    try:
        with transaction.atomic():
            log = EffectLog.objects.create(
                key=f"{intervention.pk}:survey", intervention=intervention, kind="survey"
            )
            result = create_invitation(
                survey=survey,
                customer=intervention.customer,
                interaction=intervention.interaction,
                send=True,
            )
            detail = {
                "invitation": result.invitation.pk,
                "survey": survey.name,
                "skipped_reason": result.invitation.skipped_reason,
            }
            log.status = EffectLog.Status.DONE
            log.detail = detail
            log.finished_at = timezone.now()
            log.save(update_fields=["status", "detail", "finished_at"])
    except IntegrityError:
        return {"survey": EffectLog.objects.get(key=f"{intervention.pk}:survey").detail}
    if detail["skipped_reason"]:
        return {"survey": detail, "skipped": f"Invitation skipped: {detail['skipped_reason']}"}
    return {"survey": detail}


# --- registry -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionType:
    errors: Callable[[dict], list[str]]
    run: Callable[[Intervention, dict], dict]


ACTIONS: dict[str, ActionType] = {
    "email": ActionType(_email_errors, run_email),
    "alert": ActionType(_alert_errors, run_alert),
    "task": ActionType(_task_errors, run_task),
    "webhook": ActionType(_webhook_errors, run_webhook),
    "survey": ActionType(_survey_errors, run_survey),
}


def config_errors(action: str, config: Any) -> list[str]:
    if action not in ACTIONS:
        return [f"Unknown action {action!r}."]
    if not isinstance(config, dict):
        return ["The action config must be a JSON object."]
    return ACTIONS[action].errors(config)


def run(intervention: Intervention) -> dict:
    rule = intervention.rule
    return ACTIONS[rule.action].run(intervention, rule.action_config or {})
