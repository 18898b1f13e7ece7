"""The importers: validate a batch of rows, match them to stored records, write the batch."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import DatabaseError, connection, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from customers.imports.columns import COLUMNS, CUSTOMER_COLUMNS, ImportRejected, unescape_cell
from customers.imports.forms import CustomerRowForm, InteractionRowForm, error_reason
from customers.imports.reading import Row, read_header, read_records
from customers.models import SENTIMENT_FIELDS, Customer, ImportJob, Interaction, JourneyStage
from customers.services import announce_interactions

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
MAX_STORED_ERRORS = 1000
ANALYZE_AFTER_ROWS = 1000  # PostgreSQL statistics are refreshed when an import doubles this


@dataclass
class _Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def error(self, line: int, reason: str) -> None:
        self.errors.append({"line": line, "reason": reason})


class _Importer:
    kind: str
    table: str

    def __init__(self, job: ImportJob, on_progress: Callable[[ImportJob], None] | None) -> None:
        self.job = job
        self.on_progress = on_progress
        self.users: dict[str, AbstractBaseUser] = {}
        self.seen: dict[Any, int] = {}  # matching key -> line of the first row with it
        self.written = self.analyzed = 0  # rows created, and when statistics were refreshed

    def run(self) -> None:
        job = self.job
        records = read_records(job.content)
        try:
            _, header_cells = next(records)
        except StopIteration:
            raise ImportRejected("The file is empty: a header row is required.") from None
        self.header, unknown = read_header(self.kind, header_cells)
        self.present = set(self.header)
        if unknown:
            job.message = f"Ignored unknown column(s): {', '.join(unknown)}."
        # A first pass counts the rows (for the progress bar) and finds broken quoting before
        # anything is written.
        job.total_rows = sum(1 for _ in records)
        job.save(update_fields=["total_rows", "message"])
        if self.on_progress:
            self.on_progress(job)
        batch: list[Row] = []
        records = read_records(job.content)
        next(records)
        for line, cells in records:
            batch.append(self._row(line, cells))
            if len(batch) >= BATCH_SIZE:
                self._process(batch)
                batch = []
        if batch:
            self._process(batch)

    def _row(self, line: int, cells: list[str]) -> Row:
        if len(cells) != len(self.header):
            return Row(line, {}, f"The row has {len(cells)} cells, the header {len(self.header)}.")
        data = {
            name: unescape_cell(cell)
            for name, cell in zip(self.header, cells, strict=True)
            if name in COLUMNS[self.kind]
        }
        return Row(line, data)

    def _process(self, batch: list[Row]) -> None:
        counts = _Counts()
        self._load_users(batch)
        good = []
        for row in batch:
            if row.problem:
                counts.error(row.line, row.problem)
                continue
            row.form = self.make_form(row.data)
            if row.form.is_valid():
                good.append(row)
            else:
                counts.error(row.line, error_reason(row.form))
        job = self.job
        with transaction.atomic():
            self.write(good, counts)
            counts.errors.sort(key=lambda error: error["line"])
            job.processed_rows += len(batch)
            job.created_rows += counts.created
            job.updated_rows += counts.updated
            job.unchanged_rows += counts.unchanged
            job.error_count += len(counts.errors)
            room = MAX_STORED_ERRORS - len(job.errors)
            if room > 0:
                job.errors = job.errors + counts.errors[:room]
            job.save(
                update_fields=[
                    "processed_rows",
                    "created_rows",
                    "updated_rows",
                    "unchanged_rows",
                    "error_count",
                    "errors",
                ]
            )
        self._refresh_statistics(counts.created)
        if self.on_progress:
            self.on_progress(job)

    def _refresh_statistics(self, created: int) -> None:
        """On PostgreSQL, ANALYZE the table each time an import has doubled what it wrote.

        An import can grow a table from nothing to 100,000 rows in a minute, long before
        autovacuum updates the planner's statistics: with the stale ones, the lookups of each
        batch scan the whole table instead of using the unique indexes, and batches get slower
        and slower.
        """
        self.written += created
        threshold = max(ANALYZE_AFTER_ROWS, 2 * self.analyzed)
        if connection.vendor != "postgresql" or self.written < threshold:
            return
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(self.table)}")
        except DatabaseError:  # e.g. not the table's owner: only slower
            logger.warning("Could not ANALYZE %s during an import", self.table, exc_info=True)
            self.analyzed = 10**12
        else:
            self.analyzed = self.written

    def _load_users(self, batch: list[Row]) -> None:
        names = (
            {row.data.get(column, "").strip() for row in batch for column in ("owner", "agent")}
            - set(self.users)
            - {""}
        )
        if names:
            User = get_user_model()
            for user in User.objects.filter(**{f"{User.USERNAME_FIELD}__in": names}):
                self.users[user.get_username()] = user

    def _duplicate(self, key: Any, row: Row, what: str, counts: _Counts) -> bool:
        """Whether an earlier good row of the file had this key (the row is then reported)."""
        first = self.seen.get(key)
        if first is not None:
            counts.error(row.line, f"Duplicate of line {first} (same {what}); row skipped.")
            return True
        return False

    def make_form(self, data: dict[str, str]) -> forms.Form:
        raise NotImplementedError

    def write(self, rows: list[Row], counts: _Counts) -> None:
        raise NotImplementedError


class CustomerImporter(_Importer):
    kind = ImportJob.Kind.CUSTOMERS
    table = Customer._meta.db_table

    def make_form(self, data: dict[str, str]) -> forms.Form:
        return CustomerRowForm(data, users=self.users)

    def write(self, rows: list[Row], counts: _Counts) -> None:
        refs = {row.form.cleaned_data["external_ref"] for row in rows} - {""}
        emails = {row.form.cleaned_data["email"].lower() for row in rows} - {""}
        by_ref = {
            c.external_ref: c
            for c in Customer.objects.filter(external_ref__in=refs)
            .exclude(external_ref="")
            .order_by()
        }
        by_email = {
            c.email.lower(): c
            for c in Customer.objects.alias(email_ci=Lower("email"))
            .filter(email_ci__in=emails)
            .exclude(email="")
            .order_by()
        }
        fields = [name for name in CUSTOMER_COLUMNS if name in self.present]
        new, changed, changed_fields = [], [], set()
        for row in rows:
            data = row.form.cleaned_data
            ref, email = data["external_ref"], data["email"].lower()
            if (ref and self._duplicate(("ref", ref), row, "external_ref", counts)) or (
                email and self._duplicate(("email", email), row, "email", counts)
            ):
                continue
            customer = by_ref.get(ref) if ref else None
            owner_of_email = by_email.get(email) if email else None
            if customer is None and owner_of_email is not None:
                if ref and owner_of_email.external_ref:
                    counts.error(
                        row.line,
                        f"email: {data['email']} belongs to the customer with external_ref "
                        f"{owner_of_email.external_ref}.",
                    )
                    continue
                customer = owner_of_email
            elif owner_of_email is not None and owner_of_email.pk != customer.pk:
                counts.error(row.line, f"email: {data['email']} belongs to another customer.")
                continue
            for key in (("ref", ref), ("email", email)):
                if key[1]:
                    self.seen[key] = row.line
            if customer is None:
                new.append(Customer(**{name: data[name] for name in CUSTOMER_COLUMNS}))
                continue
            diff = {
                name
                for name in fields
                if _differs(customer, name, data[name])
                and not (name in ("email", "external_ref") and not data[name])
            }
            if diff:
                for name in diff:
                    setattr(customer, name, data[name])
                changed.append(customer)
                changed_fields |= diff
            else:
                counts.unchanged += 1
        if new:
            Customer.objects.bulk_create(new)
        if changed:
            stamp = timezone.now()
            for customer in changed:
                customer.updated_at = stamp
            Customer.objects.bulk_update(changed, [*sorted(changed_fields), "updated_at"])
        counts.created += len(new)
        counts.updated += len(changed)


def _differs(instance: Any, name: str, value: Any) -> bool:
    if name in ("owner", "agent", "stage"):
        return getattr(instance, f"{name}_id") != (value.pk if value is not None else None)
    return getattr(instance, name) != value


class InteractionImporter(_Importer):
    kind = ImportJob.Kind.INTERACTIONS
    table = Interaction._meta.db_table
    FIELDS = ("channel", "direction", "occurred_at", "stage", "subject", "body", "agent")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stages: dict[str, JourneyStage] = {}
        for stage in JourneyStage.objects.all():
            self.stages.setdefault(stage.name.lower(), stage)
            self.stages[stage.slug.lower()] = stage  # a slug wins over another stage's name

    def make_form(self, data: dict[str, str]) -> forms.Form:
        return InteractionRowForm(data, users=self.users, stages=self.stages)

    def write(self, rows: list[Row], counts: _Counts) -> None:
        customer_ids = self._customer_ids(rows)
        resolved = []
        for row in rows:
            data = row.form.cleaned_data
            customer_id = customer_ids.get(("ref", data["customer_external_ref"])) or (
                customer_ids.get(("email", data["customer_email"].lower()))
            )
            if customer_id is None:
                given = [
                    f"{name} {data[name]}"
                    for name in ("customer_external_ref", "customer_email")
                    if data[name]
                ]
                counts.error(row.line, f"Unknown customer: no customer with {' or '.join(given)}.")
                continue
            if data["external_ref"]:
                key = ("ref", customer_id, data["external_ref"])
                what = "customer and external_ref"
            else:
                key = ("natural", customer_id, data["occurred_at"], data["channel"])
                key += (data["subject"], data["body"])
                what = "customer, occurred_at, channel, subject and body"
            if not self._duplicate(key, row, what, counts):
                self.seen[key] = row.line
                resolved.append((row, customer_id, key))
        existing = self._existing([key for _, _, key in resolved])
        fields = [name for name in self.FIELDS if name in self.present]
        new, changed, changed_fields = [], [], set()
        for row, customer_id, key in resolved:
            data = row.form.cleaned_data
            interaction = existing.get(key)
            if interaction is None:
                new.append(
                    Interaction(
                        customer_id=customer_id,
                        external_ref=data["external_ref"],
                        imported=True,
                        **{name: data[name] for name in self.FIELDS},
                    )
                )
                continue
            diff = {name for name in fields if _differs(interaction, name, data[name])}
            if diff:
                for name in diff:
                    setattr(interaction, name, data[name])
                if diff & {"subject", "body", "direction"}:
                    # The text changed, or whose words they are (customer words only: an
                    # agent's reply keeps no score; the customer's now wait for the sweep):
                    # the old sentiment no longer applies.
                    interaction.sentiment_label = interaction.sentiment_model = ""
                    interaction.sentiment_score = interaction.sentiment_confidence = None
                    interaction.scored_at = None
                    diff |= set(SENTIMENT_FIELDS)
                changed.append(interaction)
                changed_fields |= diff
            else:
                counts.unchanged += 1
        if new:
            Interaction.objects.bulk_create(new)
            announce_interactions([interaction.pk for interaction in new])
        if changed:
            Interaction.objects.bulk_update(changed, sorted(changed_fields))
        counts.created += len(new)
        counts.updated += len(changed)

    def _customer_ids(self, rows: list[Row]) -> dict[tuple[str, str], int]:
        refs = {row.form.cleaned_data["customer_external_ref"] for row in rows} - {""}
        emails = {row.form.cleaned_data["customer_email"].lower() for row in rows} - {""}
        ids: dict[tuple[str, str], int] = {}
        if refs:
            for ref, pk in (
                Customer.objects.filter(external_ref__in=refs)
                .exclude(external_ref="")
                .order_by()
                .values_list("external_ref", "pk")
            ):
                ids[("ref", ref)] = pk
        if emails:
            for email, pk in (
                Customer.objects.alias(email_ci=Lower("email"))
                .filter(email_ci__in=emails)
                .exclude(email="")
                .order_by()
                .values_list("email", "pk")
            ):
                ids[("email", email.lower())] = pk
        return ids

    def _existing(self, keys: list[tuple]) -> dict[tuple, Interaction]:
        """The stored interactions matching the keys, in two queries."""
        found: dict[tuple, Interaction] = {}
        by_ref = [key for key in keys if key[0] == "ref"]
        if by_ref:
            wanted = set(by_ref)
            for interaction in Interaction.objects.filter(
                customer_id__in={key[1] for key in by_ref},
                external_ref__in={key[2] for key in by_ref},
            ).order_by():
                key = ("ref", interaction.customer_id, interaction.external_ref)
                if key in wanted:
                    found[key] = interaction
        natural = [key for key in keys if key[0] == "natural"]
        if natural:
            wanted = set(natural)
            for interaction in Interaction.objects.filter(
                customer_id__in={key[1] for key in natural},
                occurred_at__in={key[2] for key in natural},
            ).order_by("id"):
                key = (
                    "natural",
                    interaction.customer_id,
                    interaction.occurred_at,
                    interaction.channel,
                    interaction.subject,
                    interaction.body,
                )
                if key in wanted:
                    found.setdefault(key, interaction)
        return found
