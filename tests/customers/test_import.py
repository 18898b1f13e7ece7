"""CSV import: the service rules, the manager page and the import_csv command."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django_q.models import OrmQ

from customers import imports, tasks
from customers.imports import importers
from customers.models import Customer, ImportJob, Interaction, JourneyStage
from customers.signals import interactions_logged
from tests.factories import CustomerFactory, InteractionFactory, UserFactory

pytestmark = pytest.mark.django_db

CUSTOMERS_HEADER = "name,email,company,phone,external_ref,owner,timezone,notes,survey_opt_out\n"
INTERACTIONS_HEADER = (
    "customer_email,customer_external_ref,channel,direction,occurred_at,stage,subject,body,"
    "external_ref,agent\n"
)


def run(kind: str, text: str) -> ImportJob:
    job = ImportJob.objects.create(kind=kind, filename=f"{kind}.csv", content=text)
    return imports.run_import_job(job_id=job.pk)


def counts(job: ImportJob) -> tuple[int, int, int, int]:
    return job.created_rows, job.updated_rows, job.unchanged_rows, job.error_count


# --- Customers --------------------------------------------------------------------------


def test_good_customer_rows_are_imported_and_bad_ones_reported_with_line_and_reason(agent):
    text = CUSTOMERS_HEADER + (
        "Ada Lovelace,ada@example.com,Analytical,+44 1,A-1,agent,Europe/London,Likes tea,yes\n"
        "No Email,not-an-email,,,A-2,,,,\n"
        ",nameless@example.com,,,A-3,,,,\n"
        "Grace Hopper,grace@example.com,Navy,,,,,,\n"
        "Bad Zone,zone@example.com,,,,,Mars/Olympus,,\n"
        "Bad Owner,owner@example.com,,,,nobody,,,\n"
        "No Key,,,,,,,,\n"
    )
    job = run("customers", text)

    assert job.status == ImportJob.Status.DONE
    assert counts(job) == (2, 0, 0, 5)
    assert job.errors == [
        {"line": 3, "reason": "email: Enter a valid email address."},
        {"line": 4, "reason": "name: This field is required."},
        {
            "line": 6,
            "reason": "timezone: Mars/Olympus is not a known time zone (use e.g. Europe/Paris).",
        },
        {"line": 7, "reason": "owner: There is no user named nobody."},
        {
            "line": 8,
            "reason": "Give an email or an external_ref: the next import matches customers on "
            "them.",
        },
    ]
    ada = Customer.objects.get(external_ref="A-1")
    assert (ada.name, ada.email, ada.company, ada.phone) == (
        "Ada Lovelace",
        "ada@example.com",
        "Analytical",
        "+44 1",
    )
    assert (ada.owner, ada.timezone, ada.notes, ada.survey_opt_out) == (
        agent,
        "Europe/London",
        "Likes tea",
        True,
    )
    assert Customer.objects.filter(email="grace@example.com", external_ref="").exists()


def test_reimporting_the_same_customers_file_creates_nothing():
    text = CUSTOMERS_HEADER + (
        "Ada Lovelace,ada@example.com,Analytical,,A-1,,,,\n"
        "Grace Hopper,grace@example.com,Navy,,,,,,\n"
        "Alan Turing,,Bletchley,,A-3,,,,\n"
    )
    assert counts(run("customers", text)) == (3, 0, 0, 0)

    again = run("customers", text)

    assert counts(again) == (0, 0, 3, 0)
    assert Customer.objects.count() == 3
    assert again.message == "3 rows: 0 created, 0 updated, 3 unchanged, 0 bad."


def test_customers_match_on_external_ref_then_on_email_ignoring_case():
    by_ref = CustomerFactory(name="Old name", email="old@example.com", external_ref="A-1")
    by_email = CustomerFactory(name="Grace", email="Grace@Example.com", company="Old")
    text = CUSTOMERS_HEADER + (
        "New name,new@example.com,,,A-1,,,,\nGrace,grace@example.COM,Navy,,G-1,,,,\n"
    )

    job = run("customers", text)

    assert counts(job) == (0, 2, 0, 0)
    by_ref.refresh_from_db()
    by_email.refresh_from_db()
    assert (by_ref.name, by_ref.email) == ("New name", "new@example.com")
    # The email matched; the row's spelling and its new external_ref are stored.
    assert (by_email.email, by_email.company, by_email.external_ref) == (
        "grace@example.COM",
        "Navy",
        "G-1",
    )


def test_a_file_without_some_columns_leaves_those_fields_alone(agent):
    ada = CustomerFactory(
        name="Ada", email="ada@example.com", company="Analytical", notes="VIP", owner=agent
    )

    job = run("customers", "email,name\nada@example.com,Ada Lovelace\n")

    assert counts(job) == (0, 1, 0, 0)
    ada.refresh_from_db()
    assert (ada.name, ada.company, ada.notes, ada.owner) == (
        "Ada Lovelace",
        "Analytical",
        "VIP",
        agent,
    )


def test_an_email_that_belongs_to_another_customer_is_a_bad_row():
    CustomerFactory(email="taken@example.com", external_ref="B-1")
    ada = CustomerFactory(email="ada@example.com", external_ref="A-1")
    text = CUSTOMERS_HEADER + (
        "Ada,taken@example.com,,,A-1,,,,\nSomeone,taken@example.com,,,C-1,,,,\n"
    )

    job = run("customers", text)

    assert counts(job) == (0, 0, 0, 2)
    assert job.errors == [
        {"line": 2, "reason": "email: taken@example.com belongs to another customer."},
        {
            "line": 3,
            "reason": "email: taken@example.com belongs to the customer with external_ref B-1.",
        },
    ]
    ada.refresh_from_db()
    assert ada.email == "ada@example.com"


def test_duplicate_customer_rows_within_one_file_are_reported():
    text = CUSTOMERS_HEADER + (
        "Ada,ada@example.com,,,A-1,,,,\n"
        "Ada again,other@example.com,,,A-1,,,,\n"
        "Ada by email,ADA@example.com,,,,,,,\n"
    )

    job = run("customers", text)

    assert counts(job) == (1, 0, 0, 2)
    assert job.errors == [
        {"line": 3, "reason": "Duplicate of line 2 (same external_ref); row skipped."},
        {"line": 4, "reason": "Duplicate of line 2 (same email); row skipped."},
    ]
    assert Customer.objects.get().name == "Ada"


def test_missing_required_column_rejects_the_whole_file():
    job = run("customers", "email,company,colour\nada@example.com,Analytical,blue\n")

    assert job.status == ImportJob.Status.FAILED
    assert "Missing required column(s): name." in job.message
    assert "Nothing was imported" in job.message
    assert job.processed_rows == 0
    assert not Customer.objects.exists()


def test_unknown_columns_are_reported_once_and_ignored():
    job = run(
        "customers", "name,email,colour,size\nAda,ada@example.com,blue,L\nB,b@example.com,red,M\n"
    )

    assert job.status == ImportJob.Status.DONE
    assert counts(job) == (2, 0, 0, 0)
    assert job.message.count("Ignored unknown column(s): colour, size.") == 1


def test_byte_order_mark_and_header_spelling_are_accepted():
    text = imports.decode_csv("\ufeff Name , EMAIL\r\nAda,ada@example.com\r\n".encode())

    job = run("customers", text)

    assert counts(job) == (1, 0, 0, 0)
    assert Customer.objects.get().name == "Ada"


def test_multi_line_quoted_cells_keep_line_numbers_right():
    text = CUSTOMERS_HEADER + (
        'Ada,ada@example.com,,,,,,"first line\nsecond line\nthird line",\n'
        "Bad,bad-email,,,,,,,\n"
        '"Grace\r\nHopper",grace@example.com,,,,,,,nope\n'
        "\n"
        "Also bad,also-bad,,,,,,,\n"
    )

    job = run("customers", text)

    assert [error["line"] for error in job.errors] == [5, 6, 9]
    assert (
        Customer.objects.get(email="ada@example.com").notes == "first line\nsecond line\nthird line"
    )


def test_a_row_with_the_wrong_number_of_cells_is_a_bad_row():
    job = run("customers", "name,email\nAda,ada@example.com,extra\nGrace,grace@example.com\n")

    assert counts(job) == (1, 0, 0, 1)
    assert job.errors == [{"line": 2, "reason": "The row has 3 cells, the header 2."}]


def test_broken_quoting_rejects_the_whole_file():
    job = run("customers", 'name,email\nAda,ada@example.com\n"Grace,grace@example.com\n')

    assert job.status == ImportJob.Status.FAILED
    assert job.message.startswith("Line 3: the file is not valid CSV")
    assert not Customer.objects.exists()


def test_duplicated_columns_reject_the_whole_file():
    job = run("customers", "name,email,Email \nAda,ada@example.com,ada@example.com\n")

    assert job.status == ImportJob.Status.FAILED
    assert "Columns appear more than once: email." in job.message


def test_a_header_with_too_many_columns_is_refused_quickly(settings):
    """40k columns used to take a minute (a quadratic duplicate check); the cap answers at once."""
    settings.IMPORT_MAX_COLUMNS = 200
    header = ",".join(["name", "email"] + [f"c{i}" for i in range(40_000)])
    started = time.monotonic()
    job = run("customers", header + "\nAda,ada@example.com\n")

    assert time.monotonic() - started < 5
    assert job.status == ImportJob.Status.FAILED
    assert job.message == (
        "The header has 40002 columns; at most 200 are accepted. Nothing was imported."
    )
    assert not Customer.objects.exists()


def test_a_header_at_the_column_cap_is_read(settings):
    settings.IMPORT_MAX_COLUMNS = 5
    job = run("customers", "name,email,a,b,c\nAda,ada@example.com,1,2,3\n")

    assert job.status == ImportJob.Status.DONE
    assert Customer.objects.get().name == "Ada"


def test_not_utf8_or_empty_files_are_refused():
    with pytest.raises(imports.ImportRejected, match="not UTF-8"):
        imports.decode_csv("name\nRené\n".encode("latin-1"))
    with pytest.raises(imports.ImportRejected, match="empty"):
        imports.decode_csv(b"\xef\xbb\xbf \n")


def test_stored_errors_are_capped_but_the_count_is_true(monkeypatch):
    monkeypatch.setattr(importers, "MAX_STORED_ERRORS", 3)
    monkeypatch.setattr(importers, "BATCH_SIZE", 2)
    text = "name,email\n" + "".join(f"Bad {n},bad-{n}\n" for n in range(7))

    job = run("customers", text)

    assert job.error_count == 7
    assert [error["line"] for error in job.errors] == [2, 3, 4]


def test_progress_is_recorded_after_each_batch(monkeypatch):
    monkeypatch.setattr(importers, "BATCH_SIZE", 2)
    text = "name,email\n" + "".join(f"C {n},c{n}@example.com\n" for n in range(5))
    seen = []
    job = ImportJob.objects.create(kind="customers", filename="c.csv", content=text)

    imports.run_import_job(
        job_id=job.pk,
        on_progress=lambda j: seen.append(ImportJob.objects.get(pk=j.pk).processed_rows),
    )

    assert seen == [0, 2, 4, 5, 5]
    job.refresh_from_db()
    assert (job.total_rows, job.processed_rows, job.percent) == (5, 5, 100)


def test_statistics_refresh_during_a_long_import_does_not_disturb_it(monkeypatch):
    """On PostgreSQL the import ANALYZEs the table as it grows (a no-op elsewhere)."""
    monkeypatch.setattr(importers, "BATCH_SIZE", 2)
    monkeypatch.setattr(importers, "ANALYZE_AFTER_ROWS", 2)
    text = "name,email\n" + "".join(f"C {n},c{n}@example.com\n" for n in range(9))

    job = run("customers", text)

    assert counts(job) == (9, 0, 0, 0)
    assert counts(run("customers", text)) == (0, 0, 9, 0)


def test_a_failing_batch_rolls_back_alone_and_a_rerun_resumes(monkeypatch):
    monkeypatch.setattr(importers, "BATCH_SIZE", 2)
    text = "name,email\n" + "".join(f"C {n},c{n}@example.com\n" for n in range(5))
    real_write = importers.CustomerImporter.write
    calls = []

    def failing_second_batch(self, rows, counts):
        calls.append(len(rows))
        real_write(self, rows, counts)
        if len(calls) == 2:
            raise RuntimeError("disk full")

    monkeypatch.setattr(importers.CustomerImporter, "write", failing_second_batch)
    job = run("customers", text)

    assert job.status == ImportJob.Status.FAILED
    assert "disk full" in job.message
    assert job.processed_rows == 2
    assert sorted(Customer.objects.values_list("email", flat=True)) == [
        "c0@example.com",
        "c1@example.com",
    ]

    monkeypatch.setattr(importers.CustomerImporter, "write", real_write)
    again = run("customers", text)

    assert counts(again) == (3, 0, 2, 0)
    assert Customer.objects.count() == 5


def test_a_finished_job_is_not_run_twice():
    job = run("customers", "name,email\nAda,ada@example.com\n")
    Customer.objects.all().delete()

    tasks.run_import(job.pk)

    assert not Customer.objects.exists()


# --- Interactions -----------------------------------------------------------------------


@pytest.fixture
def people(db):
    return {
        "ada": CustomerFactory(name="Ada", email="ada@example.com", external_ref="A-1"),
        "grace": CustomerFactory(name="Grace", email="grace@example.com"),
    }


def test_good_interaction_rows_are_imported_and_bad_ones_reported(people, agent):
    text = INTERACTIONS_HEADER + (
        ",A-1,email,inbound,2026-03-01T09:15:00+01:00,onboarding,Welcome,Thanks!,M-1,agent\n"
        "GRACE@example.com,,Call,outbound,2026-03-02 14:30,Complaint,Late,Where is it?,,\n"
        "ada@example.com,,fax,inbound,2026-03-03T10:00:00Z,,Fax,Hello,,\n"
        "nobody@example.com,,email,inbound,2026-03-03T10:00:00Z,,Who,Hello,,\n"
        "ada@example.com,,email,inbound,yesterday,,When,Hello,,\n"
        "ada@example.com,,email,inbound,2026-03-03T10:00:00Z,billing,Stage,Hello,,\n"
        "ada@example.com,,email,inbound,2026-03-03T10:00:00Z,,,,,\n"
        "ada@example.com,,email,sideways,2099-01-01T00:00:00Z,,Future,Hello,,\n"
    )

    job = run("interactions", text)

    assert counts(job) == (2, 0, 0, 6)
    assert job.errors == [
        {
            "line": 4,
            "reason": "channel: fax is not a channel (use email, chat, call, meeting, note).",
        },
        {
            "line": 5,
            "reason": "Unknown customer: no customer with customer_email nobody@example.com.",
        },
        {
            "line": 6,
            "reason": "occurred_at: Enter a date and time in ISO 8601, e.g. "
            "2026-03-01T14:30:00+01:00.",
        },
        {"line": 7, "reason": "stage: billing is not a journey stage (use its slug or its name)."},
        {
            "line": 8,
            "reason": "body: Write a subject or a body: an empty interaction says nothing.",
        },
        {
            "line": 9,
            "reason": "direction: sideways is not a direction (use inbound, outbound, internal); "
            "occurred_at: An interaction cannot happen more than a day in the future.",
        },
    ]
    welcome = Interaction.objects.get(external_ref="M-1")
    assert welcome.customer == people["ada"]
    assert welcome.occurred_at == datetime(2026, 3, 1, 8, 15, tzinfo=UTC)
    assert (welcome.channel, welcome.stage.slug, welcome.agent) == ("email", "onboarding", agent)
    assert welcome.sentiment_label == ""  # pending
    late = Interaction.objects.get(customer=people["grace"])
    assert (late.channel, late.direction, late.stage.slug) == ("call", "outbound", "complaint")


def test_naive_times_are_in_the_server_time_zone(people, settings):
    settings.TIME_ZONE = "Europe/Paris"
    text = INTERACTIONS_HEADER + "ada@example.com,,note,,2026-07-01 12:00,,Noon,,,\n"

    run("interactions", text)

    assert Interaction.objects.get().occurred_at == datetime(2026, 7, 1, 10, 0, tzinfo=UTC)


def test_reimporting_the_same_interactions_file_creates_no_duplicates(people):
    text = INTERACTIONS_HEADER + (
        ",A-1,email,inbound,2026-03-01T09:15:00+01:00,,Welcome,Thanks!,M-1,\n"
        'grace@example.com,,call,outbound,2026-03-02 14:30,,Late,"Where\nis it?",,\n'
        "grace@example.com,,note,internal,2026-03-02 14:30,,,Called back,,\n"
    )
    assert counts(run("interactions", text)) == (3, 0, 0, 0)

    again = run("interactions", text)

    assert counts(again) == (0, 0, 3, 0)
    assert Interaction.objects.count() == 3


def test_an_interaction_with_an_external_ref_is_updated_in_place(people):
    InteractionFactory(
        customer=people["ada"],
        external_ref="M-1",
        subject="Old",
        body="Old text",
        sentiment_label="negative",
        sentiment_score=-0.8,
        sentiment_confidence=0.9,
    )
    text = INTERACTIONS_HEADER + ",A-1,email,inbound,2026-03-01T09:15:00Z,,New,New text,M-1,\n"

    job = run("interactions", text)

    assert counts(job) == (0, 1, 0, 0)
    interaction = Interaction.objects.get()
    assert (interaction.subject, interaction.body) == ("New", "New text")
    assert interaction.sentiment_label == "" and interaction.sentiment_score is None


def test_duplicate_interaction_rows_within_one_file_are_reported(people):
    text = INTERACTIONS_HEADER + (
        ",A-1,email,inbound,2026-03-01T09:15:00Z,,Welcome,Thanks!,M-1,\n"
        "ada@example.com,,chat,inbound,2026-03-01T10:00:00Z,,Other,Text,M-1,\n"
        "grace@example.com,,call,inbound,2026-03-02T14:30:00Z,,Late,Where is it?,,\n"
        "grace@example.com,,call,inbound,2026-03-02T15:30:00+01:00,,Late,Where is it?,,\n"
    )

    job = run("interactions", text)

    assert counts(job) == (2, 0, 0, 2)
    assert job.errors == [
        {"line": 3, "reason": "Duplicate of line 2 (same customer and external_ref); row skipped."},
        {
            "line": 5,
            "reason": "Duplicate of line 4 (same customer, occurred_at, channel, subject and "
            "body); row skipped.",
        },
    ]


def test_new_interactions_are_announced_once_per_batch_after_commit(
    people, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(importers, "BATCH_SIZE", 2)
    announced = []

    def receiver(sender, interaction_ids, **kwargs):
        announced.append(sorted(interaction_ids))

    interactions_logged.connect(receiver)
    text = INTERACTIONS_HEADER + "".join(
        f"ada@example.com,,note,,2026-03-0{n}T10:00:00Z,,Note {n},,,\n" for n in range(1, 4)
    )
    try:
        with django_capture_on_commit_callbacks(execute=True):
            run("interactions", text)
    finally:
        interactions_logged.disconnect(receiver)

    ids = sorted(Interaction.objects.values_list("pk", flat=True))
    assert announced == [ids[:2], ids[2:]]


def test_interactions_file_without_a_customer_column_is_rejected(people):
    job = run("interactions", "channel,occurred_at,subject\nemail,2026-03-01T10:00:00Z,Hi\n")

    assert job.status == ImportJob.Status.FAILED
    assert "Missing required column(s): customer_email or customer_external_ref." in job.message
    assert not Interaction.objects.exists()


def test_stage_matches_slug_or_name_in_any_case(people):
    JourneyStage.objects.create(name="Second Purchase", slug="repeat", order=99)
    text = INTERACTIONS_HEADER + (
        "ada@example.com,,note,,2026-03-01T10:00:00Z,SECOND PURCHASE,One,,,\n"
        "ada@example.com,,note,,2026-03-01T11:00:00Z,Repeat,Two,,,\n"
    )

    run("interactions", text)

    assert set(Interaction.objects.values_list("stage__slug", flat=True)) == {"repeat"}


# --- The page -------------------------------------------------------------------------------


def upload(client, text: str, kind: str = "customers", name: str = "people.csv", **extra):
    data = {"kind": kind, "file": SimpleUploadedFile(name, text.encode(), "text/csv")}
    return client.post("/imports/", data, **extra)


def test_manager_uploads_a_file_and_follows_the_job(
    manager_client, manager, django_capture_on_commit_callbacks
):
    text = CUSTOMERS_HEADER + "Ada,ada@example.com,,,,,,,\nBad,bad-email,,,,,,,\n"

    with django_capture_on_commit_callbacks(execute=True):
        response = upload(manager_client, text)

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/imports/{job.pk}/"
    assert (job.kind, job.filename, job.content, job.created_by) == (
        "customers",
        "people.csv",
        text,
        manager,
    )
    assert job.status == ImportJob.Status.QUEUED
    assert OrmQ.objects.count() == 1  # enqueued for the django-q2 cluster

    page = manager_client.get(f"/imports/{job.pk}/")
    assert page.status_code == 200
    assert b'hx-trigger="every 1s"' in page.content
    assert b"Queued" in page.content

    tasks.run_import(job.pk)  # what the cluster does

    page = manager_client.get(f"/imports/{job.pk}/")
    assert b'hx-trigger="every 1s"' not in page.content  # finished: polling stops
    assert b"1 created" in page.content
    assert b"<td>3</td><td>email: Enter a valid email address.</td>" in page.content
    assert Customer.objects.get().email == "ada@example.com"

    listing = manager_client.get("/imports/")
    assert listing.status_code == 200
    assert b"people.csv" in listing.content


def test_nothing_is_enqueued_before_the_upload_commits(manager_client):
    upload(manager_client, CUSTOMERS_HEADER + "Ada,ada@example.com,,,,,,,\n")

    assert ImportJob.objects.count() == 1
    assert not OrmQ.objects.exists()


def test_the_progress_fragment_for_htmx(manager_client):
    job = ImportJob.objects.create(
        kind="customers",
        filename="big.csv",
        content="name,email\n",
        status=ImportJob.Status.RUNNING,
        total_rows=200,
        processed_rows=50,
        created_rows=40,
        error_count=10,
    )

    response = manager_client.get(f"/imports/{job.pk}/", HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    content = response.content.decode()
    assert content.lstrip().startswith('<section id="import-job"')
    assert "<html" not in content
    assert 'hx-trigger="every 1s"' in content
    assert 'value="25"' in content
    assert "50 of 200 (25%)" in content


def test_invalid_uploads_are_form_errors(manager_client, settings):
    settings.IMPORT_MAX_BYTES = 50
    latin1 = {
        "kind": "customers",
        "file": SimpleUploadedFile("l.csv", "name\nRené\n".encode("latin-1")),
    }
    empty = {"kind": "customers", "file": SimpleUploadedFile("e.csv", b"\xef\xbb\xbf\n")}
    big = {"kind": "customers", "file": SimpleUploadedFile("b.csv", b"name\n" + b"x" * 100)}

    for data, message in [(latin1, "not UTF-8"), (empty, "empty"), (big, "larger than")]:
        response = manager_client.post("/imports/", data)
        assert response.status_code == 200
        assert message in response.content.decode()
    assert not ImportJob.objects.exists()


def test_agents_may_not_import(agent_client):
    assert agent_client.get("/imports/").status_code == 403
    assert upload(agent_client, "name,email\nAda,ada@example.com\n").status_code == 403
    job = ImportJob.objects.create(kind="customers", filename="c.csv", content="name\n")
    assert agent_client.get(f"/imports/{job.pk}/").status_code == 403
    assert not Customer.objects.exists()


def test_anonymous_users_are_sent_to_login(client):
    job = ImportJob.objects.create(kind="customers", filename="c.csv", content="name\n")
    for url in ["/imports/", f"/imports/{job.pk}/"]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_wrong_method_is_405(manager_client):
    job = ImportJob.objects.create(kind="customers", filename="c.csv", content="name\n")
    assert manager_client.put("/imports/").status_code == 405
    assert manager_client.post(f"/imports/{job.pk}/").status_code == 405


def test_unknown_job_is_404(manager_client):
    assert manager_client.get("/imports/999999/").status_code == 404


def test_import_link_in_the_header_only_for_managers(manager_client, agent):
    assert b'href="/imports/"' in manager_client.get("/customers/").content
    manager_client.force_login(agent)
    assert b'href="/imports/"' not in manager_client.get("/customers/").content


# --- The command -----------------------------------------------------------------------------


def test_command_imports_and_prints_bad_rows(tmp_path, capsys, manager):
    path = tmp_path / "people.csv"
    path.write_text(CUSTOMERS_HEADER + "Ada,ada@example.com,,,,,,,\nBad,bad-email,,,,,,,\n")

    call_command("import_csv", "customers", str(path), "--user", "manager")

    out = capsys.readouterr().out
    assert "line 3: email: Enter a valid email address." in out
    assert "2 rows: 1 created, 0 updated, 0 unchanged, 1 bad." in out
    assert ImportJob.objects.get().created_by == manager
    assert Customer.objects.get().email == "ada@example.com"


def test_command_fails_when_the_file_is_rejected(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("email\nada@example.com\n")

    with pytest.raises(CommandError, match="Missing required column"):
        call_command("import_csv", "customers", str(path))
    assert not Customer.objects.exists()


def test_command_exit_codes(tmp_path):
    """manage.py turns a CommandError into its returncode (1); returning normally is 0."""
    good = tmp_path / "good.csv"
    good.write_text("name,email\nAda,ada@example.com\nBad,bad\n")
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("name\nRené\n".encode("latin-1"))

    call_command("import_csv", "customers", str(good))  # bad rows, but processed: exit 0
    with pytest.raises(CommandError, match="not UTF-8") as rejected:
        call_command("import_csv", "customers", str(latin1))
    assert rejected.value.returncode == 1
    with pytest.raises(CommandError, match="no user named nobody") as unknown_user:
        call_command("import_csv", "customers", str(good), "--user", "nobody")
    assert unknown_user.value.returncode == 1
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_csv", "customers", str(tmp_path / "missing.csv"))


def test_the_sample_files_import(manager):
    from pathlib import Path

    samples = Path(__file__).resolve().parents[2] / "docs" / "samples"
    customers = run("customers", imports.decode_csv((samples / "customers.csv").read_bytes()))
    interactions = run(
        "interactions", imports.decode_csv((samples / "interactions.csv").read_bytes())
    )

    assert customers.status == interactions.status == ImportJob.Status.DONE
    assert customers.created_rows > 0 and customers.error_count > 0
    assert interactions.created_rows > 0 and interactions.error_count > 0


def test_users_are_looked_up_once_per_batch(django_assert_max_num_queries, agent):
    UserFactory(username="other")
    text = CUSTOMERS_HEADER + "".join(
        f"C{n},c{n}@example.com,,,,{'agent' if n % 2 else 'other'},,,\n" for n in range(50)
    )
    job = ImportJob.objects.create(kind="customers", filename="c.csv", content=text)

    # job load + running + total, users, lookups by ref and email, insert, progress, finish
    # (+ savepoint bookkeeping): constant, whatever the number of rows.
    with django_assert_max_num_queries(12):
        imports.run_import_job(job_id=job.pk)
    assert Customer.objects.count() == 50


def test_a_row_reimported_as_outbound_loses_its_customer_sentiment(people):
    """Customer words only: a row corrected to an agent's reply keeps no customer score."""
    InteractionFactory(
        customer=people["ada"],
        external_ref="M-1",
        subject="Re: refund",
        body="Sent the label",
        sentiment_label="negative",
        sentiment_score=-0.8,
        sentiment_confidence=0.9,
        scored_at=datetime(2026, 3, 1, 10, tzinfo=UTC),
        sentiment_model="20260101T000000Z-full-minilm",
    )
    text = (
        INTERACTIONS_HEADER
        + ",A-1,email,outbound,2026-03-01T09:15:00Z,,Re: refund,Sent the label,M-1,\n"
    )

    assert counts(run("interactions", text)) == (0, 1, 0, 0)
    interaction = Interaction.objects.get()
    assert interaction.direction == "outbound"
    assert interaction.scored_at is None and interaction.sentiment_label == ""
    assert interaction.sentiment_state == "not_scored"
