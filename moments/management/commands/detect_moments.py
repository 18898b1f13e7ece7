"""Detect moments again over every customer's history, with the current rules."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Min
from tqdm import tqdm

from customers.models import Interaction
from moments.memory import services


class Command(BaseCommand):
    help = (
        "Run moment detection again over every customer's scored history (after upgrading or "
        "changing the MEMORY_* thresholds): moments that no longer qualify are taken back unless "
        "a person or the customer vouched for them, new ones are made. Real-time alerts and "
        "emails do not fire for it: the interactions are not fresh events."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--chunk", type=int, default=100, help="Customers per transaction.")

    def handle(self, *args, chunk: int, **options) -> None:
        # One scored interaction per customer names the customer: detection covers its history.
        firsts = list(
            Interaction.objects.filter(scored_at__isnull=False)
            .values("customer_id")
            .annotate(first=Min("pk"))
            .order_by("customer_id")
            .values_list("first", flat=True)
        )
        bar = tqdm(total=len(firsts), unit="customer", disable=options["verbosity"] == 0)
        for start in range(0, len(firsts), chunk):
            ids = firsts[start : start + chunk]
            services.detect_moments(interaction_ids=ids)
            bar.update(len(ids))
        bar.close()
        self.stdout.write(f"Detected again over {len(firsts)} customers.")
