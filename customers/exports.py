"""CSV export of customers and interactions, in exactly the format `customers/imports/` reads.

Rows are streamed from a database iterator, so exporting a million customers needs little
memory. Cells a spreadsheet would run as a formula are escaped with a leading quote
(`imports.escape_cell`); the import removes it again, so export → import changes nothing.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from customers.imports import CUSTOMER_COLUMNS, INTERACTION_COLUMNS, escape_cell
from customers.models import Customer, ImportJob, Interaction

CHUNK_SIZE = 2000


class _Line:
    """A file-like object whose write() returns the line, for csv.writer in a generator."""

    def write(self, value: str) -> str:
        return value


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat()
    return escape_cell(str(value))


def _lines(header: Iterable[str], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([_cell(value) for value in row])


def customer_rows(customers: QuerySet[Customer]) -> Iterator[tuple]:
    return (
        customers.order_by("pk")
        .values_list(
            "name",
            "email",
            "company",
            "phone",
            "external_ref",
            "owner__username",
            "timezone",
            "notes",
            "survey_opt_out",
        )
        .iterator(chunk_size=CHUNK_SIZE)
    )


def interaction_rows(interactions: QuerySet[Interaction]) -> Iterator[tuple]:
    return (
        interactions.order_by("pk")
        .values_list(
            "customer__email",
            "customer__external_ref",
            "channel",
            "direction",
            "occurred_at",
            "stage__slug",
            "subject",
            "body",
            "external_ref",
            "agent__username",
        )
        .iterator(chunk_size=CHUNK_SIZE)
    )


def export_csv(
    *, kind: str, customers: QuerySet[Customer], interactions: QuerySet[Interaction]
) -> Iterator[str]:
    """The CSV lines (header first, "\\r\\n"-terminated) of the customers or the interactions."""
    if kind == ImportJob.Kind.CUSTOMERS:
        return _lines(CUSTOMER_COLUMNS, customer_rows(customers))
    if kind == ImportJob.Kind.INTERACTIONS:
        return _lines(INTERACTION_COLUMNS, interaction_rows(interactions))
    raise ValueError(f"Unknown export kind: {kind}")
