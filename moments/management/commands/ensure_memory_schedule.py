"""Create (or update) the django-q2 schedule that refreshes every customer's recall and memory
balance, then rebuilds the journey map's rollup. Idempotent: run it at every start (`make run`)."""

from django.core.management.base import BaseCommand

from moments.memory import tasks


class Command(BaseCommand):
    help = "Create or update the periodic memory refresh schedule (idempotent)."

    def handle(self, *args, **options) -> None:
        tasks.ensure_refresh_schedule()
        self.stdout.write(f"schedule {tasks.REFRESH_NAME} ready")
