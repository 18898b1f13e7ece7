"""Run before starting the cluster (`make run`): queues training only when needed and returns
at once. The cluster does the training; the app is usable meanwhile (scores stay pending).
With --follow (run.sh starts it next to the cluster) it then prints the expected wait until
the first model scores, and the fine-tuned model's, as the training progresses."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from moments.sentiment import eta, selectors, services, tasks


class Command(BaseCommand):
    help = "Queue sentiment model training if no (fine-tuned) model exists. Never blocks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--follow",
            action="store_true",
            help="Then print the expected wait until a model scores (every --interval s).",
        )
        parser.add_argument("--interval", type=float, default=20.0)

    def handle(self, *args, **options) -> None:
        if not settings.SENTIMENT_AUTO_TRAIN:
            self.stdout.write("SENTIMENT_AUTO_TRAIN is off: not queueing any training.")
            return
        tasks.ensure_sweep_schedule()
        self.stdout.write(f"Sentiment: {services.ensure_sentiment_model()}")
        if options["follow"]:
            self.follow(options["interval"])

    def follow(self, interval: float) -> None:
        said = ""
        while True:
            active = selectors.active_sentiment_model()
            runs = list(selectors.training_in_progress())
            lines = eta.forecast(active=active, runs=runs, now=timezone.now())
            if active is not None:
                message = f"Sentiment: model {active.version} is scoring interactions."
                if lines:
                    message += f" A fine-tuned model is expected in {lines[-1]['words']}."
                self.stdout.write(message)
                return
            if not runs:
                self.stdout.write("Sentiment: no training under way; see /sentiment/status/.")
                return
            first = lines[0]
            message = f"Sentiment: first scores expected in {first['words']}"
            if first["progress"]:
                message += f" (quick model {first['progress']:.0%} trained)"
            if message != said:
                self.stdout.write(message + ".")
                said = message
            time.sleep(interval)
