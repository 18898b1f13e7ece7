"""django-q2 tasks of the customers app: they take ids, load, and call a service."""

from __future__ import annotations

from customers import imports


def run_import(job_id: int) -> None:
    """Run a queued CSV import (enqueued by `imports.start_import` once its job is committed)."""
    imports.run_import_job(job_id=job_id)
