"""`python manage.py erase_customer ID [--yes]`: delete one customer and everything about them
(GDPR erasure request), in one transaction, leaving an audit entry with counts and no personal
data. Asks for the id again unless --yes is given."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from customers import privacy
from customers.models import Customer


class Command(BaseCommand):
    help = "Erase one customer and all their data (interactions, moments, surveys, emails…)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("customer_id", type=int)
        parser.add_argument(
            "--yes", action="store_true", help="Do not ask for confirmation (scripts)."
        )

    def handle(self, *args, customer_id: int, yes: bool, **options) -> None:
        customer = Customer.objects.filter(pk=customer_id).first()
        if customer is None:
            raise CommandError(f"No customer with id {customer_id}.")
        if not yes:
            answer = input(
                f"This deletes customer {customer_id} and all their data for good. "
                "Type the id again to confirm: "
            )
            if answer.strip() != str(customer_id):
                raise CommandError("Not confirmed: nothing was erased.")
        counts = privacy.erase_customer(customer=customer, actor=None)
        summary = ", ".join(f"{kind} {n}" for kind, n in counts.items() if n)
        self.stdout.write(f"Customer {customer_id} erased ({summary}).")
