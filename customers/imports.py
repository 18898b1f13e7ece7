"""CSV import of customers and interactions (the web page, the task and `import_csv` share it).

File format (the export in `customers/exports.py` writes exactly this, so a round trip is exact):

- UTF-8, with or without a byte-order mark; comma-separated, `"` quotes (cells may span lines).
- A header row is required. Column names are matched without regard to case or surrounding
  spaces and may come in any order. Unknown columns are ignored and reported once. A missing
  required column rejects the whole file: nothing is imported.
- Customers: `name,email,company,phone,external_ref,owner,timezone,notes,survey_opt_out`.
  Required columns: `name`, and `email` or `external_ref` (every row needs one of them: they are
  what the next import matches on). `owner` is a username, `timezone` an IANA name
  (Europe/Paris), `survey_opt_out` is true/false (also yes/no, 1/0, or empty for false).
- Interactions: `customer_email,customer_external_ref,channel,direction,occurred_at,stage,
  subject,body,external_ref,agent`. Required columns: `customer_email` or
  `customer_external_ref`, `channel`, `occurred_at`, and `subject` or `body`. `channel` is one of
  email, chat, call, meeting, note; `direction` inbound (the default), outbound or internal;
  `occurred_at` is ISO 8601 (2026-03-01T14:30:00+01:00; without an offset it is in
  settings.TIME_ZONE); `stage` a journey stage slug or name; `agent` a username.

Matching, so importing the same file twice creates nothing the second time:

- A customer row matches the customer with its `external_ref`; failing that (or without one),
  the customer with its email, case-insensitively. A match is updated with the columns the file
  has (a blank email or external_ref never erases a stored one); identical rows count as
  unchanged.
- An interaction row matches, for its customer, the interaction with its `external_ref`; without
  one, the interaction with the same occurred_at, channel, subject and body.
- A row that matches the same record as an earlier row of the file is reported as a duplicate.

Each bad row is reported as {"line": n, "reason": "…"}, n being the physical line where the row
starts in the file (the header is line 1; a quoted cell spanning lines counts all its lines).
Good rows are imported whatever the others hold.

Rows are processed in batches of BATCH_SIZE, each in one transaction with its progress counters:
a failing batch rolls back alone and stops the job; the batches before it stay, and importing
the file again resumes without duplicates (by the matching rules above).

Spreadsheet formula injection: the export puts a `'` before a cell that starts with = + - @ tab
or carriage return (or with quotes then one of those); the import removes that one quote.
"""

from __future__ import annotations

import csv
import functools
import io
import logging
import zoneinfo
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from customers.models import Customer, ImportJob, Interaction, JourneyStage
from customers.services import CUSTOMER_FIELDS, announce_interactions
from memorycrm.lib.queue import enqueue

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
MAX_STORED_ERRORS = 1000
ANALYZE_AFTER_ROWS = 1000  # PostgreSQL statistics are refreshed when an import doubles this

# The customer's own fields, in the order services.CUSTOMER_FIELDS gives them.
CUSTOMER_COLUMNS = CUSTOMER_FIELDS
INTERACTION_COLUMNS = (
    "customer_email",
    "customer_external_ref",
    "channel",
    "direction",
    "occurred_at",
    "stage",
    "subject",
    "body",
    "external_ref",
    "agent",
)
COLUMNS = {
    ImportJob.Kind.CUSTOMERS: CUSTOMER_COLUMNS,
    ImportJob.Kind.INTERACTIONS: INTERACTION_COLUMNS,
}
# Each group needs at least one of its columns in the header.
REQUIRED_COLUMNS = {
    ImportJob.Kind.CUSTOMERS: [("name",), ("email", "external_ref")],
    ImportJob.Kind.INTERACTIONS: [
        ("customer_email", "customer_external_ref"),
        ("channel",),
        ("occurred_at",),
        ("subject", "body"),
    ],
}

# A cell starting with one of these is run as a formula by spreadsheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TRUE_WORDS = {"1", "true", "yes", "y", "t", "on"}
FALSE_WORDS = {"", "0", "false", "no", "n", "f", "off"}


class ImportRejected(Exception):
    """The whole file is refused (not UTF-8, no header, a missing column, broken quoting…)."""


def decode_csv(data: bytes) -> str:
    """The text of an uploaded CSV file: UTF-8 with or without a BOM. Raises ImportRejected."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportRejected(
            f"The file is not UTF-8 text (byte {error.start + 1}). Save it as “CSV UTF-8” and try "
            "again."
        ) from None
    if not text.strip():
        raise ImportRejected("The file is empty.")
    return text


def escape_cell(value: str) -> str:
    """Neutralise a cell a spreadsheet would run as a formula by prefixing a quote.

    Cells that already start with quotes followed by a formula character get one more quote,
    so that `unescape_cell(escape_cell(v)) == v` for every string.
    """
    if value.lstrip("'").startswith(FORMULA_STARTS):
        return "'" + value
    return value


def unescape_cell(value: str) -> str:
    """Undo `escape_cell`: drop the one quote it added."""
    if value.startswith("'") and value.lstrip("'").startswith(FORMULA_STARTS):
        return value[1:]
    return value


@functools.cache
def _time_zones() -> frozenset[str]:
    # available_timezones() walks the tz database on every call: far too slow per row.
    return frozenset(zoneinfo.available_timezones())


# --- One form per row: validation only, no database query ------------------------------------


class _SharedFields(dict):
    """The row forms never change their fields, so each form shares them instead of deep-copying
    them (Django copies a form's fields for every instance: a third of an import's time)."""

    def __deepcopy__(self, memo: dict) -> _SharedFields:
        return self


class CustomerRowForm(forms.Form):
    name = forms.CharField(max_length=200)
    email = forms.EmailField(max_length=254, required=False)
    company = forms.CharField(max_length=200, required=False)
    phone = forms.CharField(max_length=40, required=False)
    external_ref = forms.CharField(max_length=100, required=False)
    owner = forms.CharField(required=False)
    timezone = forms.CharField(max_length=64, required=False)
    notes = forms.CharField(required=False, strip=False)
    survey_opt_out = forms.CharField(required=False)

    def __init__(self, data: dict[str, str], *, users: dict[str, AbstractBaseUser]) -> None:
        super().__init__(data)
        self.users = users

    def clean_owner(self) -> AbstractBaseUser | None:
        return _user(self.cleaned_data["owner"], self.users)

    def clean_timezone(self) -> str:
        value = self.cleaned_data["timezone"]
        if value and value not in _time_zones():
            raise ValidationError(f"{value} is not a known time zone (use e.g. Europe/Paris).")
        return value

    def clean_survey_opt_out(self) -> bool:
        value = self.cleaned_data["survey_opt_out"].lower()
        if value in TRUE_WORDS:
            return True
        if value in FALSE_WORDS:
            return False
        raise ValidationError(f"{value} is not true or false.")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not (data.get("email") or data.get("external_ref")) and not self.has_error("email"):
            raise ValidationError(
                "Give an email or an external_ref: the next import matches customers on them."
            )
        return data


class InteractionRowForm(forms.Form):
    customer_email = forms.EmailField(max_length=254, required=False)
    customer_external_ref = forms.CharField(max_length=100, required=False)
    channel = forms.CharField()
    direction = forms.CharField(required=False)
    occurred_at = forms.DateTimeField(
        error_messages={
            "invalid": "Enter a date and time in ISO 8601, e.g. 2026-03-01T14:30:00+01:00."
        }
    )
    stage = forms.CharField(required=False)
    subject = forms.CharField(max_length=200, required=False)
    body = forms.CharField(required=False)
    external_ref = forms.CharField(max_length=100, required=False)
    agent = forms.CharField(required=False)

    def __init__(
        self,
        data: dict[str, str],
        *,
        users: dict[str, AbstractBaseUser],
        stages: dict[str, JourneyStage],
    ) -> None:
        super().__init__(data)
        self.users = users
        self.stages = stages

    def clean_channel(self) -> str:
        return _choice(self.cleaned_data["channel"], Interaction.Channel, "channel")

    def clean_direction(self) -> str:
        value = self.cleaned_data["direction"]
        if not value:
            return Interaction.Direction.INBOUND
        return _choice(value, Interaction.Direction, "direction")

    def clean_stage(self) -> JourneyStage | None:
        value = self.cleaned_data["stage"]
        if not value:
            return None
        stage = self.stages.get(value.lower())
        if stage is None:
            raise ValidationError(f"{value} is not a journey stage (use its slug or its name).")
        return stage

    def clean_agent(self) -> AbstractBaseUser | None:
        return _user(self.cleaned_data["agent"], self.users)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not (
            data.get("customer_email")
            or data.get("customer_external_ref")
            or self.has_error("customer_email")
        ):
            self.add_error(None, "Give the customer_email or the customer_external_ref.")
        if "occurred_at" in data:
            # The same rules as every other write path (something to say, not in the future).
            interaction = Interaction(
                subject=data.get("subject", ""),
                body=data.get("body", ""),
                occurred_at=data["occurred_at"],
            )
            try:
                interaction.clean()
            except ValidationError as error:
                for name, messages in error.message_dict.items():
                    self.add_error(name if name in self.fields else None, messages)
        return data


CustomerRowForm.base_fields = _SharedFields(CustomerRowForm.base_fields)
InteractionRowForm.base_fields = _SharedFields(InteractionRowForm.base_fields)


def _user(username: str, users: dict[str, AbstractBaseUser]) -> AbstractBaseUser | None:
    if not username:
        return None
    user = users.get(username)
    if user is None:
        raise ValidationError(f"There is no user named {username}.")
    return user


def _choice(value: str, choices: type, column: str) -> str:
    by_word = {v: v for v in choices.values} | {
        str(label).lower(): v for v, label in choices.choices
    }
    try:
        return by_word[value.lower()]
    except KeyError:
        raise ValidationError(
            f"{value} is not a {column} (use {', '.join(choices.values)})."
        ) from None


def _reason(form: forms.Form) -> str:
    """One line naming each bad column and what is wrong with it."""
    parts = []
    for name, messages in form.errors.items():
        text = " ".join(message.rstrip(".") + "." for message in messages).rstrip(".")
        parts.append(text if name == "__all__" else f"{name}: {text}")
    return "; ".join(parts) + "."


# --- Reading the file -------------------------------------------------------------------------


@dataclass
class Row:
    line: int  # physical line where the row starts (header = 1)
    data: dict[str, str]
    problem: str = ""  # why the row cannot even be read
    form: forms.Form | None = None


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(starting line, cells) for each non-blank record, header included. Raises ImportRejected."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    end = 0
    while True:
        start = end + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise ImportRejected(
                f"Line {start}: the file is not valid CSV ({error}). Nothing was imported."
            ) from None
        end = reader.line_num
        if any(cell.strip() for cell in cells):
            yield start, cells


def _read_header(kind: str, cells: list[str]) -> tuple[list[str], list[str]]:
    """The normalised column names and the unknown ones. Raises ImportRejected."""
    # Checked first, and everything below is linear: a header of 40k columns once took a
    # minute (header.count per name), and a worker retries a task that times out.
    if len(cells) > settings.IMPORT_MAX_COLUMNS:
        raise ImportRejected(
            f"The header has {len(cells)} columns; at most {settings.IMPORT_MAX_COLUMNS} are "
            "accepted. Nothing was imported."
        )
    header = [cell.strip().lower() for cell in cells]
    duplicated = sorted(name for name, n in Counter(header).items() if name and n > 1)
    if duplicated:
        raise ImportRejected(
            f"Columns appear more than once: {', '.join(duplicated)}. Nothing was imported."
        )
    missing = [
        " or ".join(group)
        for group in REQUIRED_COLUMNS[kind]
        if not any(name in header for name in group)
    ]
    if missing:
        raise ImportRejected(
            f"Missing required column(s): {', '.join(missing)}. The header row must name the "
            f"columns ({', '.join(COLUMNS[kind])}). Nothing was imported."
        )
    unknown = [name or "(blank)" for name in header if name not in COLUMNS[kind]]
    return header, unknown


# --- Running a job ----------------------------------------------------------------------------


@dataclass
class _Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def error(self, line: int, reason: str) -> None:
        self.errors.append({"line": line, "reason": reason})


def start_import(
    *, kind: str, filename: str, text: str, user: AbstractBaseUser | None
) -> ImportJob:
    """Store an uploaded file as a queued ImportJob and run it in django-q2 once committed."""
    job = ImportJob(kind=kind, filename=filename[:255], content=text, created_by=user)
    job.full_clean()
    job.save()
    transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def _enqueue(job_id: int) -> None:
    enqueue("customers.tasks.run_import", job_id, task_name=f"import-{job_id}")


def run_import_job(
    *, job_id: int, on_progress: Callable[[ImportJob], None] | None = None
) -> ImportJob:
    """Import the job's file: validate, match and write it batch by batch, recording progress.

    Safe to run again (tasks are delivered at least once): a finished job is left alone, and an
    interrupted one starts over, matching the rows its committed batches already wrote.
    """
    job = ImportJob.objects.get(pk=job_id)
    if job.is_finished:
        return job
    job.status = ImportJob.Status.RUNNING
    job.started_at = timezone.now()
    job.finished_at = None
    job.total_rows = job.processed_rows = 0
    job.created_rows = job.updated_rows = job.unchanged_rows = job.error_count = 0
    job.errors, job.message = [], ""
    job.save()
    importer_class = {
        ImportJob.Kind.CUSTOMERS: _CustomerImporter,
        ImportJob.Kind.INTERACTIONS: _InteractionImporter,
    }[job.kind]
    with timezone.override(settings.TIME_ZONE):  # naive occurred_at means TIME_ZONE
        try:
            importer_class(job, on_progress).run()
        except ImportRejected as error:
            _finish(job, ImportJob.Status.FAILED, str(error))
        except Exception as error:
            logger.exception("Import job %s failed", job.pk)
            job.refresh_from_db()
            _finish(job, ImportJob.Status.FAILED, _failure_message(job, error))
        else:
            _finish(job, ImportJob.Status.DONE, _summary(job))
    if on_progress:
        on_progress(job)
    return job


def _finish(job: ImportJob, status: str, message: str) -> None:
    job.status, job.message = status, (job.message + "\n" + message).strip()
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "message", "finished_at"])


def _summary(job: ImportJob) -> str:
    return (
        f"{job.processed_rows} rows: {job.created_rows} created, {job.updated_rows} updated, "
        f"{job.unchanged_rows} unchanged, {job.error_count} bad."
    )


def _failure_message(job: ImportJob, error: Exception) -> str:
    return (
        f"Stopped after {job.processed_rows} of {job.total_rows} rows: "
        f"{type(error).__name__}: {error}. The rows of the failed batch were not imported; the "
        "rows before it were. Import the file again once the problem is fixed: rows already "
        "imported are matched, not duplicated."
    )


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
        records = _records(job.content)
        try:
            _, header_cells = next(records)
        except StopIteration:
            raise ImportRejected("The file is empty: a header row is required.") from None
        self.header, unknown = _read_header(self.kind, header_cells)
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
        records = _records(job.content)
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
                counts.error(row.line, _reason(row.form))
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


class _CustomerImporter(_Importer):
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


class _InteractionImporter(_Importer):
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
                if diff & {"subject", "body"}:
                    # The text changed: its old sentiment no longer applies.
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


SENTIMENT_FIELDS = (
    "sentiment_label",
    "sentiment_score",
    "sentiment_confidence",
    "sentiment_model",
    "scored_at",
)
