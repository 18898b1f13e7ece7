"""Run before starting the cluster (`make run`): queues training only when needed and returns
at once. The cluster does the training; the app is usable meanwhile (scores stay pending)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from moments.sentiment import services, tasks


class Command(BaseCommand):
    help = "Queue sentiment model training if no (fine-tuned) model exists. Never blocks."

    def handle(self, *args, **options) -> None:
        if not settings.SENTIMENT_AUTO_TRAIN:
            self.stdout.write("SENTIMENT_AUTO_TRAIN is off: not queueing any training.")
            return
        tasks.ensure_sweep_schedule()
        self.stdout.write(f"Sentiment: {services.ensure_sentiment_model()}")
