"""Create (or update) the django-q2 schedule that polls the mailboxes configured in admin.
Idempotent: run it at every start (`make run`)."""

from django.core.management.base import BaseCommand

from customers.channels import tasks


class Command(BaseCommand):
    help = "Create or update the schedule that polls the enabled mailboxes (idempotent)."

    def handle(self, *args, **options) -> None:
        tasks.ensure_email_schedule()
        self.stdout.write(f"schedule {tasks.POLL_NAME} ready")
