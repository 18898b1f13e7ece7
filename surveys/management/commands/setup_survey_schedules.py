from django.core.management.base import BaseCommand

from surveys import tasks


class Command(BaseCommand):
    help = (
        "Create or update the surveys schedules: the sweep (reminders, retries, scoring) and "
        "the weekly tag recalibration. Idempotent."
    )

    def handle(self, *args, **options) -> None:
        tasks.ensure_schedules()
        self.stdout.write(f"Schedules {tasks.SWEEP_NAME!r} and {tasks.RECALIBRATE_NAME!r} are set.")
