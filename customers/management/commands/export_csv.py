"""`python manage.py export_csv customers|interactions [-o FILE]`: the import format, to stdout
by default."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from customers.exports import export_csv
from customers.models import Customer, ImportJob, Interaction


class Command(BaseCommand):
    help = "Export customers or interactions as CSV, in the format import_csv reads."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=ImportJob.Kind.values)
        parser.add_argument("-o", "--output", help="File to write (default: standard output).")

    def handle(self, *args, kind: str, output: str | None, **options) -> None:
        lines = export_csv(
            kind=kind, customers=Customer.objects.all(), interactions=Interaction.objects.all()
        )
        if output:
            with open(output, "w", encoding="utf-8", newline="") as out:
                out.writelines(lines)
        else:
            for line in lines:
                self.stdout.write(line, ending="")
