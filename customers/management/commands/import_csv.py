"""`python manage.py import_csv customers|interactions FILE [--user USERNAME]`.

Runs the same import as the web page, synchronously, with a progress bar. Exit code 0 when the
file was processed (even with bad rows, which are listed), 1 when it was rejected or stopped.
"""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from customers import imports
from customers.models import ImportJob


class Command(BaseCommand):
    help = "Import customers or interactions from a CSV file (see customers/imports/)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=ImportJob.Kind.values)
        parser.add_argument("file", type=Path)
        parser.add_argument("--user", help="Username recorded as the import's author.")

    def handle(self, *args, kind: str, file: Path, user: str | None, **options) -> None:
        author = None
        if user:
            User = get_user_model()
            try:
                author = User.objects.get(**{User.USERNAME_FIELD: user})
            except User.DoesNotExist:
                raise CommandError(f"There is no user named {user}.") from None
        try:
            text = imports.decode_csv(file.read_bytes())
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}") from None
        except imports.ImportRejected as error:
            raise CommandError(f"{file}: {error}") from None
        job = ImportJob.objects.create(
            kind=kind, filename=file.name[:255], content=text, created_by=author
        )
        bars: list[tqdm] = []

        def on_progress(job: ImportJob) -> None:
            if not bars and job.is_finished:  # rejected before any row was read
                return
            if not bars:  # the first call comes once the rows are counted
                bars.append(
                    tqdm(
                        total=job.total_rows,
                        unit="row",
                        disable=options["verbosity"] == 0,
                        file=self.stderr._out,
                    )
                )
            bars[0].update(job.processed_rows - bars[0].n)

        try:
            job = imports.run_import_job(job_id=job.pk, on_progress=on_progress)
        finally:
            for bar in bars:
                bar.close()
        for error in job.errors:
            self.stdout.write(f"line {error['line']}: {error['reason']}")
        if job.error_count > len(job.errors):
            self.stdout.write(f"… and {job.error_count - len(job.errors)} more bad rows.")
        if job.status != ImportJob.Status.DONE:
            raise CommandError(job.message)
        self.stdout.write(self.style.SUCCESS(f"{file.name}: {job.message}"))
