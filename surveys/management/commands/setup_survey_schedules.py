from django.core.management.base import BaseCommand

from surveys import tasks


class Command(BaseCommand):
    help = (
        "Create or update the surveys schedules: the scoring of new answers, the sweep "
        "(reminders, retries, anything left unscored) and the weekly tag recalibration. "
        "Idempotent."
    )

    def handle(self, *args, **options) -> None:
        tasks.ensure_schedules()
        names = (tasks.SCORING_NAME, tasks.SWEEP_NAME, tasks.RECALIBRATE_NAME)
        self.stdout.write(f"Schedules {', '.join(map(repr, names))} are set.")
