"""Recompute the journey map's daily rollup from the moments, month by month. The scheduled
memory refresh does this after every run; run it by hand after changing TIME_ZONE (the
rollup's days are TIME_ZONE days) or restoring moments from elsewhere. Safe while the site runs."""

from django.core.management.base import BaseCommand

from moments.memory import rollup


class Command(BaseCommand):
    help = "Recompute the journey map's daily rollup from the moments."

    def handle(self, *args, **options) -> None:
        rebuilt = rollup.rebuild()
        self.stdout.write(
            f"journey rollup rebuilt: {rebuilt.rows} rows over {rebuilt.months} months "
            f"in {rebuilt.seconds:.1f} s"
        )
