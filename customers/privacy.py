"""GDPR: export everything MemoryCRM holds about one customer as JSON, and erase it.

Each app says what it holds about a customer by calling `register()` from its own `privacy`
module (imported by its AppConfig.ready): a function that exports its part and one that deletes
it, both keyed by kind ("moments", "survey_responses", "emails", …). customers cannot import the
apps to its right (moments ← surveys ← interventions), so they come to it; `export_customer()`
and `erase_customer()` then ask every registered app, in INSTALLED_APPS order.

Never exported: link token hashes, webhook secrets, password hashes. The erasure runs in one
transaction and leaves one audit entry with the customer's id and a count per kind, and no
personal data (memorycrm.audit.services.record_erasure).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.admin.models import LogEntry as AdminLogEntry
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone

from customers.models import (
    Customer,
    ImportJob,
    InboundEmail,
    Interaction,
    OutboundEmail,
    SearchPosting,
    SearchWord,
)
from memorycrm.audit.services import record_erasure

EXPORT_FORMAT = "memorycrm.customer-export"
EXPORT_VERSION = 1


@dataclass(frozen=True)
class Part:
    """One app's share of a customer's data."""

    app: str
    export: Callable[[Customer], dict[str, Any]]
    erase: Callable[[Customer], dict[str, int]]


_parts: dict[str, Part] = {}


def register(
    app: str,
    *,
    export: Callable[[Customer], dict[str, Any]],
    erase: Callable[[Customer], dict[str, int]],
) -> None:
    """Add an app's part: `export(customer)` returns {kind: JSON-ready data}; `erase(customer)`
    deletes those rows (with `delete_rows`) and returns {kind: rows deleted}. Registering the
    same app again replaces its part."""
    _parts[app] = Part(app=app, export=export, erase=erase)


def registered_apps() -> list[str]:
    return list(_parts)


# --- Export ---------------------------------------------------------------------------------


def export_customer(*, customer: Customer) -> dict[str, Any]:
    """Everything about the customer as one JSON-ready document: the customer, their
    interactions with sentiment, then each registered app's kinds (moments, memory, survey
    invitations and responses, interventions, emails, alerts, tasks…)."""
    document: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": timezone.now(),
        "customer": _customer_data(customer),
    }
    for part in _parts.values():
        document.update(part.export(customer))
    # Dates, durations and decimals become strings once, here, for every caller (file, API).
    return json.loads(json.dumps(document, cls=DjangoJSONEncoder))


def export_json(*, customer: Customer) -> str:
    return json.dumps(export_customer(customer=customer), indent=2, ensure_ascii=False)


def values(obj: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """{field: value} for the named attributes of obj: the exports list their fields
    explicitly, so a new field (a secret, say) is never exported by accident."""
    return {name: getattr(obj, name) for name in fields}


def username(user: AbstractBaseUser | None) -> str | None:
    return user.get_username() if user is not None else None


def sentiment(obj: Any) -> dict[str, Any]:
    """The sentiment fields an Interaction and a survey Response share."""
    return {
        "label": obj.sentiment_label,
        "score": obj.sentiment_score,
        "confidence": obj.sentiment_confidence,
        "model": obj.sentiment_model,
        "scored_at": obj.scored_at,
    }


def _customer_data(customer: Customer) -> dict[str, Any]:
    return {
        **values(
            customer,
            [
                "id",
                "name",
                "email",
                "company",
                "phone",
                "external_ref",
                "timezone",
                "notes",
                "survey_opt_out",
                "email_undeliverable_at",
                "created_at",
                "updated_at",
            ],
        ),
        "owner": username(customer.owner),
    }


def _export_interactions(customer: Customer) -> dict[str, Any]:
    rows = customer.interactions.select_related("stage", "agent", "conversation").order_by(
        "occurred_at", "id"
    )
    return {
        "interactions": [
            {
                **values(
                    i,
                    [
                        "id",
                        "occurred_at",
                        "channel",
                        "direction",
                        "subject",
                        "body",
                        "external_ref",
                        "created_at",
                    ],
                ),
                "stage": i.stage.name if i.stage else None,
                "agent": username(i.agent),
                "sentiment": sentiment(i),
                "conversation": _conversation(i),
            }
            for i in rows
        ],
        "email_threads": [
            {
                **values(e, ["message_id", "kind", "to", "subject", "sent_at", "interaction_id"]),
                "about": f"{e.about_type.model} {e.about_id}" if e.about_type else None,
            }
            for e in customer.outbound_emails.select_related("about_type").order_by("sent_at")
        ],
        # Emails received from (or bouncing for) the customer, as recorded (customers/channels).
        "inbound_emails": [
            {
                **values(
                    e,
                    [
                        "id",
                        "received_at",
                        "kind",
                        "reason",
                        "from_address",
                        "subject",
                        "sent_at",
                        "size",
                        "attachments",
                        "interaction_id",
                    ],
                ),
                # The Message-ID of the email in email_threads (above) this one replies to.
                "answers": e.answers.message_id if e.answers else None,
            }
            for e in _inbound_emails(customer)
            .select_related("answers")
            .order_by("received_at", "id")
        ],
    }


def _conversation(interaction: Interaction) -> dict[str, Any] | None:
    """A chat or call's transcript (customers.channels.conversations), or None."""
    conversation = getattr(interaction, "conversation", None)
    if conversation is None:
        return None
    return values(
        conversation,
        ["started_at", "ended_at", "turns", "metadata", "opening_score", "ending_score"],
    )


def _inbound_emails(customer: Customer) -> models.QuerySet:
    """Recorded with the customer, or from their address before they were one."""
    mentions = Q(customer=customer)
    if customer.email:
        mentions |= Q(from_address__iexact=customer.email)
    return InboundEmail.objects.filter(mentions)


# --- Erase ----------------------------------------------------------------------------------


@transaction.atomic
def erase_customer(
    *, customer: Customer, actor: AbstractBaseUser | AnonymousUser | None
) -> dict[str, int]:
    """Delete the customer and everything about them, in one transaction: each registered
    app's rows (apps to the right first), the interactions, the customer's rows in stored CSV
    imports and Django admin's history of the deleted rows, then the customer. Writes one audit
    entry (actor, customer id, counts) and returns the counts per kind."""
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    customer_id = customer.pk
    counts: dict[str, int] = {}
    for part in reversed(list(_parts.values())):
        counts.update(part.erase(customer))
    counts["import_rows"] = _scrub_imports(customer)
    counts["customer"] = delete_rows(Customer.objects.filter(pk=customer_id))
    forget_unused_search_words()
    record_erasure(model=Customer, object_id=customer_id, counts=counts, actor=actor)
    return counts


def forget_unused_search_words() -> None:
    """Take out of the search vocabulary (customers.models.SearchWord) every word no customer
    has: the erased customer's own words went with the delete (migration 0012's trigger), but
    a name, email or company they had before an edit left its words there. Like the trigger:
    the vocabulary is locked against writers (customers being stored wait until the erasure
    commits), and only under READ COMMITTED, where the DELETE sees what they committed."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SHOW transaction_isolation")
        if cursor.fetchone()[0] != "read committed":
            return
        words, postings = SearchWord._meta.db_table, SearchPosting._meta.db_table
        cursor.execute(f"LOCK TABLE {words} IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute(
            f"DELETE FROM {words} w WHERE NOT EXISTS "
            f"(SELECT FROM {postings} p WHERE p.word = w.word)"
        )


def delete_rows(queryset: models.QuerySet) -> int:
    """Delete the rows and Django admin's history of them (its entries repeat the object's
    name, e.g. a customer's); returns how many rows of the queryset's model went."""
    model = queryset.model
    pks = list(queryset.values_list("pk", flat=True))
    if not pks:
        return 0
    content_type = ContentType.objects.get_for_model(model)
    for start in range(0, len(pks), 500):
        AdminLogEntry.objects.filter(
            content_type=content_type,
            object_id__in=[str(pk) for pk in pks[start : start + 500]],
        ).delete()
    _, per_model = model._base_manager.filter(pk__in=pks).delete()
    return per_model.get(model._meta.label, 0)


def _erase_interactions(customer: Customer) -> dict[str, int]:
    return {
        "email_threads": delete_rows(OutboundEmail.objects.filter(customer=customer)),
        # Their conversations go with them (one-to-one, cascade).
        "inbound_emails": delete_rows(_inbound_emails(customer)),
        "interactions": delete_rows(Interaction.objects.filter(customer=customer)),
    }


# The columns of an uploaded CSV that name the customer a row is about (customers/imports/).
_IMPORT_KEYS = {
    ImportJob.Kind.CUSTOMERS: {"email": "email", "external_ref": "external_ref"},
    ImportJob.Kind.INTERACTIONS: {
        "customer_email": "email",
        "customer_external_ref": "external_ref",
    },
}


def _scrub_imports(customer: Customer) -> int:
    """Remove the customer's rows from the CSV files kept with finished import jobs; returns
    how many rows went. (A job still running reads its file: it is left alone.)"""
    keys = {
        "email": customer.email.strip().lower(),
        "external_ref": customer.external_ref.strip(),
    }
    mentions = Q()
    if keys["email"]:
        mentions |= Q(content__icontains=keys["email"])
    if keys["external_ref"]:
        mentions |= Q(content__contains=keys["external_ref"])
    if not mentions:
        return 0
    removed = 0
    # The database finds the files that mention the customer; only those are parsed.
    finished = ImportJob.objects.filter(
        mentions, status__in=[ImportJob.Status.DONE, ImportJob.Status.FAILED]
    )
    for job in finished.select_for_update():
        content, n = _without_rows(job.content, _IMPORT_KEYS[job.kind], keys)
        if n:
            job.content = content
            job.save(update_fields=["content"])
            removed += n
    return removed


def _without_rows(text: str, columns: dict[str, str], keys: dict[str, str]) -> tuple[str, int]:
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error:
        return text, 0  # a file the import rejected as broken CSV: nothing was imported from it
    if not rows:
        return text, 0
    header = [cell.strip().lower() for cell in rows[0]]
    where = {i: columns[name] for i, name in enumerate(header) if name in columns}

    def about_customer(row: list[str]) -> bool:
        for i, key in where.items():
            if i >= len(row) or not keys[key]:
                continue
            cell = row[i].strip()
            if (cell.lower() if key == "email" else cell) == keys[key]:
                return True
        return False

    kept = [rows[0]] + [row for row in rows[1:] if not about_customer(row)]
    if len(kept) == len(rows):
        return text, 0
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\n").writerows(kept)
    return out.getvalue(), len(rows) - len(kept)


register("customers", export=_export_interactions, erase=_erase_interactions)
