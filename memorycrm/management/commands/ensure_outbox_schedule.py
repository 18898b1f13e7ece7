from django.core.management.base import BaseCommand

from memorycrm import tasks


class Command(BaseCommand):
    help = "Create (idempotently) the schedule that relays the task outbox every minute."

    def handle(self, *args, **options) -> None:
        tasks.ensure_outbox_schedule()
        self.stdout.write("Outbox relay scheduled every minute.")
