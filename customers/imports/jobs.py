"""Running an import job: queue it, run it, record how it ended."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from customers.imports.columns import ImportRejected
from customers.imports.importers import CustomerImporter, InteractionImporter
from customers.models import ImportJob
from memorycrm.lib.queue import enqueue

logger = logging.getLogger(__name__)


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
        ImportJob.Kind.CUSTOMERS: CustomerImporter,
        ImportJob.Kind.INTERACTIONS: InteractionImporter,
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
