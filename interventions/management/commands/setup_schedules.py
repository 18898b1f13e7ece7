from django.core.management.base import BaseCommand

from interventions.tasks import ensure_schedules


class Command(BaseCommand):
    help = "Create or update the interventions schedules (claimer every minute, daily events)."

    def handle(self, *args, **options) -> None:
        ensure_schedules()
        self.stdout.write("Interventions schedules are in place.")
