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

from customers.imports.columns import (
    CUSTOMER_COLUMNS,
    FORMULA_STARTS,
    INTERACTION_COLUMNS,
    ImportRejected,
    escape_cell,
    unescape_cell,
)
from customers.imports.jobs import run_import_job, start_import
from customers.imports.reading import decode_csv

__all__ = [
    "CUSTOMER_COLUMNS",
    "FORMULA_STARTS",
    "INTERACTION_COLUMNS",
    "ImportRejected",
    "decode_csv",
    "escape_cell",
    "run_import_job",
    "start_import",
    "unescape_cell",
]
