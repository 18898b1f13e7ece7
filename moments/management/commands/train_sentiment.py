"""Train the sentiment model now, in this process (the worker does it in the background on
first run; this is for operators and CI)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from moments import enqueue
from moments.models import SentimentModel
from moments.sentiment import services
from moments.sentiment.evaluation import summary_table


class Command(BaseCommand):
    help = "Train the 3-class sentiment model from the packaged data sets and activate it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--quick",
            action="store_true",
            help="Frozen MiniLM, each text embedded once, a linear head (about a minute on 2 "
            "free cores) instead of fine-tuning (~25 min).",
        )
        parser.add_argument(
            "--with-corrections",
            action="store_true",
            help="Add agents' corrections to the training data.",
        )
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument(
            "--epochs",
            type=int,
            help="Fine-tuning epochs (default 2; 1 is half the time). The quick model has none.",
        )
        parser.add_argument(
            "--fraction",
            type=float,
            default=1.0,
            help="Train on a seeded fraction of the data (smoke tests).",
        )
        parser.add_argument(
            "--no-activate",
            action="store_true",
            help="Record the model as ready but keep scoring with the current one.",
        )

    def handle(self, *args, **options) -> None:
        kind = SentimentModel.Kind.QUICK if options["quick"] else SentimentModel.Kind.FULL
        run = services.create_training_run(kind=kind, with_corrections=options["with_corrections"])
        bar = tqdm(
            total=1000,
            desc=f"{kind} training",
            unit="‰",
            file=self.stderr._out,
            bar_format="{l_bar}{bar}| {elapsed} {postfix}",
        )

        def progress(fraction: float, message: str) -> None:
            bar.n = int(fraction * 1000)
            bar.set_postfix_str(message, refresh=True)

        run = services.train_sentiment_model(
            model=run,
            seed=options["seed"],
            epochs=options["epochs"],
            fraction=options["fraction"],
            activate=not options["no_activate"],
            progress=progress,
        )
        bar.close()
        if run.status != SentimentModel.Status.READY:
            self.stderr.write(self.style.ERROR(f"Training failed: {run.message}"))
            raise SystemExit(1)
        meta = run.metadata
        self.stdout.write(
            self.style.SUCCESS(
                f"Model {run.version} ready in {meta['training_seconds']:.0f} s of training "
                f"({run.path}); {'active' if run.activated_at else 'not activated'}."
            )
        )
        self.stdout.write(summary_table(meta["metrics"], meta["vader"]))
        if "onnx" in meta:
            check = meta["onnx"]
            worst = min(
                check.get("per_split", {}).items(),
                key=lambda item: item[1][1] - item[1][0],
                default=("dev", [check["dev_macro_f1_torch"], check["dev_macro_f1_q8"]]),
            )
            self.stdout.write(
                f"ONNX int8 on the dev split: macro-F1 {check['dev_macro_f1_q8']:.3f} vs torch "
                f"{check['dev_macro_f1_torch']:.3f} (worst split {worst[0]}: "
                f"{worst[1][1]:.3f} vs {worst[1][0]:.3f}): "
                f"{'served' if check['q8_keeps_quality'] else 'not served (fp32 ONNX instead)'}."
            )
        corrections = meta.get("corrections")
        if corrections and "after" in corrections:
            before = corrections.get("before", {}).get("macro_f1")
            self.stdout.write(
                f"corrections held out: n={corrections['after']['n']} macro-F1 before="
                f"{before if before is not None else '-'} after={corrections['after']['macro_f1']}"
            )
        if run.activated_at:
            self.stdout.write(
                "Queued rescoring of pending and older-model interactions "
                "(the cluster will run it)."
            )
            enqueue.score_pending()
