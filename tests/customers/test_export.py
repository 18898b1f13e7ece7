"""CSV export: the downloads, the export_csv command, formula escaping and the round trip."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers import imports
from customers.models import Customer, ImportJob, Interaction, JourneyStage
from tests.factories import CustomerFactory, InteractionFactory

pytestmark = pytest.mark.django_db


def download(client, kind: str) -> str:
    response = client.get(f"/exports/{kind}.csv")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{kind}.csv"'
    return b"".join(response.streaming_content).decode("utf-8")


def run(kind: str, text: str) -> ImportJob:
    job = ImportJob.objects.create(kind=kind, filename=f"{kind}.csv", content=text)
    return imports.run_import_job(job_id=job.pk)


def snapshot() -> tuple[list[tuple], list[tuple]]:
    customers = list(
        Customer.objects.order_by("pk").values_list(
            "pk",
            *imports.CUSTOMER_COLUMNS[:5],
            "owner",
            *imports.CUSTOMER_COLUMNS[6:],
            "updated_at",
        )
    )
    interactions = list(
        Interaction.objects.order_by("pk").values_list(
            "pk",
            "customer",
            "channel",
            "direction",
            "occurred_at",
            "stage",
            "subject",
            "body",
            "external_ref",
            "agent",
        )
    )
    return customers, interactions


@pytest.fixture
def tricky_data(agent):
    """Values that break naive CSV code: formulas, quotes, commas, line breaks, accents."""
    support = JourneyStage.objects.get(slug="support")
    ada = CustomerFactory(
        name='=HYPERLINK("http://evil","Ada")',
        email="ada@example.com",
        company='Lovelace, "Analytical" & Co',
        phone="+44 20 7946 0000",
        external_ref="-A1",
        owner=agent,
        timezone="Europe/London",
        notes="  first line\r\nsecond line, with \"quotes\"\n'quoted' @home",
        survey_opt_out=True,
    )
    rene = CustomerFactory(name="René Ünal", email="rene@example.com", phone="@rene", company="")
    ref_only = CustomerFactory(name="Only a ref", email="", external_ref="'=already quoted")
    InteractionFactory(
        customer=ada,
        channel="email",
        subject="=1+2",
        body='Line one\nLine two, "quoted"',
        external_ref="M-1",
        agent=agent,
        stage=support,
        occurred_at=datetime(2026, 3, 1, 9, 15, 30, 123456, tzinfo=UTC),
    )
    InteractionFactory(
        customer=rene,
        channel="call",
        direction="outbound",
        subject="",
        body="-- call notes",
        external_ref="",
        stage=None,
        occurred_at=datetime(2026, 3, 2, 14, 30, tzinfo=UTC),
    )
    InteractionFactory(
        customer=ref_only,
        channel="note",
        direction="internal",
        subject="Ref only",
        body="",
        external_ref="",
        occurred_at=datetime(2026, 3, 3, tzinfo=UTC),
    )


def test_manager_downloads_customers_in_the_import_format(manager_client, agent):
    CustomerFactory(
        name="Ada",
        email="ada@example.com",
        company="Analytical",
        phone="",
        external_ref="A-1",
        owner=agent,
        timezone="Europe/Paris",
        notes="Two\nlines",
        survey_opt_out=True,
    )

    text = download(manager_client, "customers")

    assert text.startswith("\ufeff")  # spreadsheets then read UTF-8
    assert text[1:] == (
        "name,email,company,phone,external_ref,owner,timezone,notes,survey_opt_out\r\n"
        'Ada,ada@example.com,Analytical,,A-1,agent,Europe/Paris,"Two\nlines",true\r\n'
    )


def test_manager_downloads_interactions_in_the_import_format(manager_client, agent, settings):
    settings.TIME_ZONE = "Europe/Paris"
    ada = CustomerFactory(email="ada@example.com", external_ref="A-1")
    InteractionFactory(
        customer=ada,
        channel="chat",
        direction="inbound",
        subject="Hi",
        body="Hello",
        occurred_at=datetime(2026, 7, 1, 10, 0, tzinfo=UTC),
        external_ref="C-9",
        agent=agent,
    )

    text = download(manager_client, "interactions")

    assert text[1:] == (
        "customer_email,customer_external_ref,channel,direction,occurred_at,stage,subject,body,"
        "external_ref,agent\r\n"
        "ada@example.com,A-1,chat,inbound,2026-07-01T12:00:00+02:00,support,Hi,Hello,C-9,agent\r\n"
    )


def test_formula_cells_are_escaped(manager_client, tricky_data):
    rows = list(csv.reader(io.StringIO(download(manager_client, "customers")[1:], newline="")))
    by_email = {row[1]: row for row in rows[1:]}

    assert by_email["ada@example.com"][0] == '\'=HYPERLINK("http://evil","Ada")'
    assert by_email["ada@example.com"][3] == "'+44 20 7946 0000"
    assert by_email["ada@example.com"][4] == "'-A1"
    assert by_email["rene@example.com"][3] == "'@rene"
    assert by_email[""][4] == "''=already quoted"
    for row in rows:
        for cell in row:
            assert not cell.startswith(imports.FORMULA_STARTS), cell


@pytest.mark.parametrize(
    "value",
    ["", "plain", "=1+2", "+33", "-5", "@sum", "\tx", "\rx", "'", "'=x", "''=x", "'plain", "a=b"],
)
def test_escaping_round_trips_every_value(value):
    escaped = imports.escape_cell(value)

    assert not escaped.startswith(imports.FORMULA_STARTS)
    assert imports.unescape_cell(escaped) == value


def test_export_then_import_changes_nothing(manager_client, tricky_data):
    before = snapshot()
    customers_csv = imports.decode_csv(download(manager_client, "customers").encode())
    interactions_csv = imports.decode_csv(download(manager_client, "interactions").encode())

    customers_job = run("customers", customers_csv)
    interactions_job = run("interactions", interactions_csv)

    assert (customers_job.status, customers_job.errors) == (ImportJob.Status.DONE, [])
    assert (customers_job.created_rows, customers_job.updated_rows) == (0, 0)
    assert customers_job.unchanged_rows == 3
    assert (interactions_job.status, interactions_job.errors) == (ImportJob.Status.DONE, [])
    assert (interactions_job.created_rows, interactions_job.updated_rows) == (0, 0)
    assert interactions_job.unchanged_rows == 3
    assert snapshot() == before


def test_export_imports_into_an_empty_database_identically(manager_client, tricky_data):
    customers_csv = download(manager_client, "customers")
    interactions_csv = download(manager_client, "interactions")
    fields = list(imports.CUSTOMER_COLUMNS)
    fields[fields.index("owner")] = "owner__username"
    before_customers = sorted(Customer.objects.values_list(*fields))
    before_interactions = sorted(
        Interaction.objects.values_list(
            "customer__email",
            "channel",
            "direction",
            "occurred_at",
            "stage__slug",
            "subject",
            "body",
            "external_ref",
            "agent__username",
        )
    )
    Customer.objects.all().delete()

    assert run("customers", imports.decode_csv(customers_csv.encode())).created_rows == 3
    assert run("interactions", imports.decode_csv(interactions_csv.encode())).created_rows == 3

    assert sorted(Customer.objects.values_list(*fields)) == before_customers
    assert (
        sorted(
            Interaction.objects.values_list(
                "customer__email",
                "channel",
                "direction",
                "occurred_at",
                "stage__slug",
                "subject",
                "body",
                "external_ref",
                "agent__username",
            )
        )
        == before_interactions
    )


def test_export_runs_a_constant_number_of_queries(manager_client):
    CustomerFactory.create_batch(3)
    with CaptureQueriesContext(connection) as few:
        small = download(manager_client, "customers")
    CustomerFactory.create_batch(60)
    with CaptureQueriesContext(connection) as many:
        large = download(manager_client, "customers")

    assert (small.count("\r\n"), large.count("\r\n")) == (4, 64)
    assert len(few) == len(many)


def test_agents_may_not_export(agent_client):
    assert agent_client.get("/exports/customers.csv").status_code == 403
    assert agent_client.get("/exports/interactions.csv").status_code == 403


def test_anonymous_users_are_sent_to_login(client):
    response = client.get("/exports/customers.csv")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_export_wrong_method_is_405(manager_client):
    assert manager_client.post("/exports/customers.csv").status_code == 405


def test_unknown_export_is_404(manager_client):
    assert manager_client.get("/exports/passwords.csv").status_code == 404


def test_export_links_on_the_import_page(manager_client):
    content = manager_client.get("/imports/").content.decode()
    assert 'href="/exports/customers.csv"' in content
    assert 'href="/exports/interactions.csv"' in content


def test_export_command_writes_to_stdout(capsys, tricky_data):
    call_command("export_csv", "customers")

    out = capsys.readouterr().out
    assert out.startswith("name,email,company,phone,external_ref,owner,timezone,notes,")
    assert "'=HYPERLINK" in out


def test_export_command_writes_a_file_the_import_reads_back(tmp_path, tricky_data):
    path = tmp_path / "interactions.csv"

    call_command("export_csv", "interactions", "-o", str(path))
    job = run("interactions", imports.decode_csv(path.read_bytes()))

    assert (job.created_rows, job.updated_rows, job.unchanged_rows, job.error_count) == (0, 0, 3, 0)
