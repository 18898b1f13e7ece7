"""`python manage.py export_customer ID [-o FILE]`: everything about one customer as JSON (GDPR
access request), to stdout by default. The format is described in customers/privacy.py."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from customers import privacy
from customers.models import Customer


class Command(BaseCommand):
    help = "Export everything MemoryCRM holds about one customer as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("customer_id", type=int)
        parser.add_argument("-o", "--output", help="File to write (default: standard output).")

    def handle(self, *args, customer_id: int, output: str | None, **options) -> None:
        customer = Customer.objects.filter(pk=customer_id).first()
        if customer is None:
            raise CommandError(f"No customer with id {customer_id}.")
        text = privacy.export_json(customer=customer)
        if output:
            with open(output, "w", encoding="utf-8") as out:
                out.write(text + "\n")
            self.stderr.write(f"Customer {customer_id} exported to {output}.")
        else:
            self.stdout.write(text)
