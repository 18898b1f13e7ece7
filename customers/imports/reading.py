"""Reading an uploaded file: its text, its records with their starting lines, its header."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from django import forms
from django.conf import settings

from customers.imports.columns import COLUMNS, REQUIRED_COLUMNS, ImportRejected


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


@dataclass
class Row:
    line: int  # physical line where the row starts (header = 1)
    data: dict[str, str]
    problem: str = ""  # why the row cannot even be read
    form: forms.Form | None = None


def read_records(text: str) -> Iterator[tuple[int, list[str]]]:
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


def read_header(kind: str, cells: list[str]) -> tuple[list[str], list[str]]:
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
