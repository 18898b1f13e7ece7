"""The columns an import reads, the words it takes for true and false, and the cell escaping
the export applies against spreadsheet formula injection (see the package docstring)."""

from __future__ import annotations

from customers.models import ImportJob
from customers.services import CUSTOMER_FIELDS

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
