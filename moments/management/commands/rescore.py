"""Rescore interactions with the active model, in this process, with a progress bar."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from customers.models import Interaction
from moments.sentiment import selectors, services
from moments.sentiment.classifier import ModelUnavailable
from moments.sentiment.loader import get_classifier


def _date(value: str) -> dt.datetime:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--since wants YYYY-MM-DD, got {value!r}") from exc
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


class Command(BaseCommand):
    help = (
        "Score interactions with the active sentiment model. Default: pending ones and those "
        "scored by an older model. Agents' corrections are never overwritten; agents' replies "
        "and internal notes are never scored (customer words only)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group()
        which.add_argument(
            "--all",
            action="store_true",
            help="Every interaction (even those scored by the active model).",
        )
        which.add_argument("--pending", action="store_true", help="Only pending interactions.")
        which.add_argument("--since", type=_date, help="Interactions since this date (YYYY-MM-DD).")
        parser.add_argument("--chunk", type=int, default=512)

    def handle(self, *args, **options) -> None:
        try:
            version = get_classifier().version
        except ModelUnavailable as exc:
            raise CommandError(f"Sentiment model unavailable: {exc.reason}") from exc
        if options["pending"]:
            queryset = Interaction.objects.sentiment_pending()
        elif options["all"] or options["since"]:
            services.mark_for_rescoring(since=options["since"])
            queryset = selectors.interactions_to_score(version=version)
            if options["since"]:
                queryset = queryset.filter(occurred_at__gte=options["since"])
        else:
            queryset = selectors.interactions_to_score(version=version)
        ids = list(queryset.order_by("pk").values_list("pk", flat=True))
        scored = 0
        with tqdm(
            total=len(ids),
            desc=f"rescoring with {version}",
            unit="interaction",
            file=self.stderr._out,
        ) as bar:
            for start in range(0, len(ids), options["chunk"]):
                chunk = ids[start : start + options["chunk"]]
                run = services.score_interactions(ids=chunk)
                scored += run.scored
                bar.update(len(chunk))
        self.stdout.write(self.style.SUCCESS(f"Scored {scored} of {len(ids)} interactions."))
