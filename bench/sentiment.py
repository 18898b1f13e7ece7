"""Benchmark: is the scoring pipeline as fast as the model allows, and how good is the model?

On a throw-away database (on DATABASE_URL's server, else SQLite), same model, same run:

1. Model batch throughput (the limit): the loaded model scores N interaction texts in batches
   of SENTIMENT_BATCH_SIZE, nothing else.
2. Pipeline throughput: N pending interactions are queued exactly as the app queues them
   (`moments.enqueue.score_interactions` -> django-q2 ORM broker), then a worker loop in this
   process takes each task off the broker (dequeue, unsign, run
   `moments.sentiment.tasks.score_interactions`, acknowledge) until every row is scored in the
   database. Interactions scored per second.
   Running in-process keeps the model and the CPU the same as in (1), and (1) and (2)
   alternate over 4 rounds so load from other processes hits both alike; `--cluster` instead
   starts a real `manage.py qcluster` (1 worker, model loaded and warmed before timing).
3. Long texts (whole Amazon reviews / NYT editorials rebuilt from held-out snippets): speed and
   macro-F1 of the strategies considered (sentence split + plain mean of the sentences'
   probabilities - what the app does -, strength-weighted mean, whole text truncated by the
   model, first 100 words only).
4. Quality: macro-F1 on each held-out split next to VADER on the same rows (`--quick`: read
   from the model's metadata instead of recomputed).
5. Survey answers (moments/sentiment/labelled/survey_answers.tsv): macro-F1 of the text alone
   and of text + rating, and the precision / recall of the disagreement flag, old rule and new.
6. torch against flair's ONNX export (the runtime `SENTIMENT_RUNTIME=auto` picks), same model,
   same texts, alternating rounds: short texts/s, long documents/s, macro-F1 on every held-out
   split, and each one's worker RSS (a fresh process per runtime: load, score 64 texts).

    python bench/sentiment.py                     # newest model in SENTIMENT_MODEL_DIR
    python bench/sentiment.py --model PATH.pt     # a given model file
    python bench/sentiment.py --quick             # small N, metrics from metadata (smoke test)
    python bench/sentiment.py --cluster           # the pipeline through a real qcluster

Last lines: `RESULT sentiment pipeline_ratio=<pipeline / model> target>=0.8 PASS|FAIL` and
`RESULT sentiment_onnx speedup=<ONNX / torch short texts/s> target>=3.0 PASS|FAIL`; the exit
status is non-zero if any RESULT line says FAIL.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import _setup

TARGET = 0.8
ONNX_SPEEDUP = 3.0
ONNX_LONG_DOCS = 100.0
ONNX_F1_DROP = 0.01

OPENERS = ["Hi team,", "Hello,", "Call notes:", "Chat transcript summary:", ""]
CLOSERS = ["Thanks, Sam", "Regards", "", "Best, Alex", "Please call me back."]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="model.pt (default: newest in the model dir)")
    parser.add_argument("--n", type=int, default=2000, help="interactions per throughput figure")
    parser.add_argument("--quick", action="store_true", help="small N; metrics from metadata")
    parser.add_argument("--cluster", action="store_true", help="time a real qcluster instead")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--rss-probe", help=argparse.SUPPRESS)  # internal: one runtime's RSS
    args = parser.parse_args(argv)
    if args.quick:
        args.n = 128
    return args


def find_model(explicit: Path | None) -> Path:
    """The given model, else the newest fine-tuned model in SENTIMENT_MODEL_DIR (else quick)."""
    from django.conf import settings

    if explicit:
        return explicit.resolve()
    found = []
    for meta in Path(settings.SENTIMENT_MODEL_DIR).glob("*/metadata.json"):
        data = json.loads(meta.read_text())
        found.append(
            (data.get("mode") == "full", data.get("version", ""), meta.parent / "model.pt")
        )
    if not found:
        raise SystemExit(
            f"bench: no model in {settings.SENTIMENT_MODEL_DIR}; run `manage.py train_sentiment` "
            "(or --quick) first, or pass --model PATH"
        )
    return max(found)[2]


def register(model_path: Path):
    """Make the model the active one in the bench database, as training would."""
    from django.utils import timezone

    from moments.models import SentimentModel
    from moments.sentiment.loader import read_metadata

    metadata = read_metadata(model_path)
    return SentimentModel.objects.create(
        kind=metadata.get("mode", "full"),
        status=SentimentModel.Status.READY,
        version=metadata.get("version") or f"{timezone.now():%Y%m%dT%H%M%SZ}-bench",
        path=str(model_path),
        metadata=metadata,
        progress=1.0,
        finished_at=timezone.now(),
        activated_at=timezone.now(),
    )


def interaction_texts(n: int, rng: random.Random) -> tuple[list[str], object]:
    """Interaction-like texts: held-out snippets (tweets, reviews, editorials) with a greeting
    and a sign-off, the way short emails and chat summaries look. Short texts: a separate
    figure covers long ones."""
    from django.conf import settings

    from moments.sentiment.data import build_dataset

    dataset = build_dataset(Path(settings.SENTIMENT_CACHE_DIR) / "wheels", seed=42)
    pool = [e.text for e in dataset.test + dataset.dev]
    texts = []
    for _ in range(n):
        body = " ".join(rng.sample(pool, rng.choice([1, 1, 2])))
        texts.append("\n".join(p for p in (rng.choice(OPENERS), body, rng.choice(CLOSERS)) if p))
    return texts, dataset


def seed_interactions(texts: list[str]) -> list[int]:
    """Pending interactions, bulk-created (no signal: the bench queues them itself)."""
    from customers.models import Customer, Interaction

    customer, _ = Customer.objects.get_or_create(
        email="bench@example.com", defaults={"name": "Sentiment Bench"}
    )
    rows = Interaction.objects.bulk_create(
        Interaction(customer=customer, channel="email", subject="", body=text) for text in texts
    )
    return [row.pk for row in rows]


def run_queue_in_process() -> tuple[dict[str, int], float]:
    """Take tasks off the real django-q2 broker and run them, as a worker does, until the queue
    is empty; return the count per task function and when the last scoring task finished.

    Other apps' reactions to `interactions_scored` (moment detection, rules) are queued after
    the scoring tasks (higher ids), so they run after them here, untimed: they are not sentiment
    scoring, and a deployment may give them other workers."""
    from pydoc import locate

    from django_q.brokers import get_broker
    from django_q.signing import SignedPackage

    broker = get_broker()
    done: dict[str, int] = {}
    scored_at = 0.0
    while True:
        batch = broker.dequeue()
        if not batch:
            return done, scored_at
        for task_id, payload in batch:
            task = SignedPackage.loads(payload)
            func = task["func"] if callable(task["func"]) else locate(task["func"])
            func(*task["args"], **task["kwargs"])
            name = task["func"] if isinstance(task["func"], str) else func.__name__
            done[name] = done.get(name, 0) + 1
            broker.acknowledge(task_id)
            if name == "moments.sentiment.tasks.score_interactions":
                scored_at = time.perf_counter()


def pipeline_in_process(texts: list[str]) -> float:
    from customers.models import Interaction
    from moments import enqueue

    ids = seed_interactions(texts)
    start = time.perf_counter()
    enqueue.score_interactions(ids)
    done, scored_at = run_queue_in_process()
    elapsed = scored_at - start
    print("tasks run by the in-process worker: " + ", ".join(f"{k} x{v}" for k, v in done.items()))
    left = Interaction.objects.filter(pk__in=ids, scored_at__isnull=True).count()
    assert left == 0, f"{left} interactions left unscored"
    return len(ids) / elapsed


def pipeline_cluster(texts: list[str]) -> float:
    """A real `qcluster` (1 worker): warmed with a small batch, then timed on N."""
    from django.conf import settings
    from django.db import connection

    from customers.models import Interaction
    from moments import enqueue

    env = os.environ | {"Q_WORKERS": "1", "Q_POLL": "0.1", "LOG_LEVEL": "WARNING"}
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    process = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=_setup.ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def drain(ids: list[int], timeout: float) -> None:
            deadline = time.monotonic() + timeout
            while Interaction.objects.filter(pk__in=ids, scored_at__isnull=True).exists():
                if time.monotonic() > deadline:
                    raise SystemExit("bench: the cluster did not score the interactions in time")
                time.sleep(0.05)

        warm = seed_interactions(texts[: settings.SENTIMENT_BATCH_SIZE])
        enqueue.score_interactions(warm)
        drain(warm, 300)  # the worker imports torch and loads the model
        ids = seed_interactions(texts)
        start = time.perf_counter()
        enqueue.score_interactions(ids)
        drain(ids, 1800)
        return len(ids) / (time.perf_counter() - start)
    finally:
        # The parent stops its workers; SIGTERM to the whole group left django-q2 waiting for
        # its own timeout (tests/cluster.py does the same). Anything left is killed.
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def long_text_report(classifier, dataset) -> list[list[object]]:
    """Speed and macro-F1 of each long-text strategy on the rebuilt long documents."""
    from moments.sentiment.data import long_texts
    from moments.sentiment.evaluation import macro_f1, vader_predict

    rows = long_texts(dataset.test)
    gold = [e.label for e in rows]
    texts = [e.text for e in rows]
    words = sum(len(t.split()) for t in texts) / len(texts)
    strategies = {
        "split + strength weights": lambda: [
            s.label for s in classifier.score(texts, aggregation="strength")
        ],
        "split + mean weighted by words (app)": lambda: [
            s.label for s in classifier.score(texts, aggregation="words")
        ],
        "split + plain mean": lambda: [
            s.label for s in classifier.score(texts, aggregation="mean")
        ],
        "split + rising weight to the ending": lambda: [
            s.label for s in classifier.score(texts, aggregation="ending")
        ],
        "whole text (truncated at 512 tokens)": lambda: _labels(
            classifier.predict_probabilities(texts)
        ),
        "first 100 words only": lambda: _labels(
            classifier.predict_probabilities([" ".join(t.split()[:100]) for t in texts])
        ),
    }
    out = []
    for name, run in strategies.items():
        start = time.perf_counter()
        predicted = run()
        rate = len(texts) / (time.perf_counter() - start)
        out.append([name, f"{rate:.1f}", f"{macro_f1(gold, predicted)['macro_f1']:.3f}"])
    out.append(["VADER (baseline)", "-", f"{macro_f1(gold, vader_predict(texts))['macro_f1']:.3f}"])
    print(f"\nLong texts: {len(texts)} documents, {words:.0f} words on average")
    return out


def _labels(probabilities: list[dict]) -> list[str]:
    return [max(p, key=p.get) for p in probabilities]


def quality_report(classifier, dataset, quick: bool) -> list[list[object]]:
    from moments.sentiment.data import evaluation_splits
    from moments.sentiment.evaluation import evaluate_splits, vader_predict

    if quick:
        metrics, vader = (
            classifier.metadata.get("metrics", {}),
            classifier.metadata.get("vader", {}),
        )
    else:
        splits = evaluation_splits(dataset)
        metrics = evaluate_splits(splits, lambda t: [s.label for s in classifier.score(t)])
        vader = evaluate_splits(splits, vader_predict)
    return [
        [
            name,
            row["n"],
            f"{row['macro_f1']:.3f}",
            f"{vader[name]['macro_f1']:.3f}" if name in vader else "-",
            f"{(row['macro_f1'] - vader[name]['macro_f1']) * 100:+.1f}" if name in vader else "-",
        ]
        for name, row in metrics.items()
    ]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.rss_probe:
        import django

        django.setup()  # no database: load the model, score, measure
        return rss_probe(find_model(args.model), args.rss_probe)
    where = _setup.bench_database("sentiment" + ("_quick" if args.quick else ""), keep=args.keep_db)

    from django.conf import settings

    from moments.sentiment.loader import get_classifier

    model_path = find_model(args.model)
    register(model_path)
    load_start = time.perf_counter()
    classifier = get_classifier()
    load_seconds = time.perf_counter() - load_start
    rng = random.Random(20261124)
    texts, dataset = interaction_texts(args.n, rng)
    batch = settings.SENTIMENT_BATCH_SIZE

    print(f"sentiment bench on {where}")
    print(f"machine load average: {os.getloadavg()[0]:.1f} (2 cores)")
    print(
        f"model {classifier.version} ({model_path}, runtime {classifier.runtime}), "
        f"loaded in {load_seconds:.1f} s; "
        f"{args.n} interaction texts, {sum(len(t.split()) for t in texts) / args.n:.0f} words "
        f"on average; batch size {batch}; torch threads {_torch_threads()}"
    )

    classifier.score(texts[:batch], batch_size=batch)  # warm-up
    one_start = time.perf_counter()
    for text in texts[:64]:
        classifier.score([text], batch_size=1)
    single_rate = 64 / (time.perf_counter() - one_start)

    if args.cluster:
        start = time.perf_counter()
        classifier.score(texts, batch_size=batch)
        model_rate = args.n / (time.perf_counter() - start)
        pipeline_rate = pipeline_cluster(texts)
    else:
        # Alternate model-only and pipeline rounds on fresh slices of the texts: a burst of load
        # from other processes then hits both figures alike. Rates = texts / summed seconds.
        model_seconds = pipeline_seconds = 0.0
        rounds = 4
        for index in range(rounds):
            part = texts[index::rounds]
            start = time.perf_counter()
            classifier.score(part, batch_size=batch)
            model_seconds += time.perf_counter() - start
            pipeline_seconds += len(part) / pipeline_in_process(part)
        model_rate = args.n / model_seconds
        pipeline_rate = args.n / pipeline_seconds
    ratio = pipeline_rate / model_rate
    worker = "qcluster" if args.cluster else "in-process worker"
    print()
    print(
        _setup.table(
            ["throughput", "texts/s"],
            [
                ["model, one text at a time", f"{single_rate:.0f}"],
                [f"model, batches of {batch} (the limit)", f"{model_rate:.0f}"],
                [
                    f"pipeline: queue -> model -> database ({worker})",
                    f"{pipeline_rate:.0f}",
                ],
            ],
        )
    )
    print(f"pipeline / model = {ratio:.2f}")

    print(
        _setup.table(
            ["long-text strategy", "texts/s", "macro-F1"], long_text_report(classifier, dataset)
        )
    )
    print(
        "\nMacro-F1 on the held-out splits" + (" (from the model's metadata)" if args.quick else "")
    )
    print(
        _setup.table(
            ["split", "n", "model", "VADER", "points"],
            quality_report(classifier, dataset, args.quick),
        )
    )

    print("\nSurvey answers: text alone vs text + rating (labelled set)")
    print(
        _setup.table(
            ["measure", "text alone / old rule", "with rating / new rule"],
            survey_report(classifier),
        )
    )

    onnx_rows, onnx_checks = onnx_report(model_path, classifier.metadata, texts, dataset, args)
    print(f"\ntorch vs flair's ONNX export, same model, same texts ({cpu_int8()})")
    print(_setup.table(["measure", "torch", "ONNX", "ratio / drop"], onnx_rows))

    ok = ratio >= TARGET
    results = [
        f"RESULT sentiment_onnx_long docs_per_s={onnx_checks['long']:.1f} "
        f"target>={ONNX_LONG_DOCS:.0f} {_verdict(onnx_checks['long'] >= ONNX_LONG_DOCS)}",
        f"RESULT sentiment_onnx_quality max_f1_drop={onnx_checks['drop']:.3f} "
        f"target<={ONNX_F1_DROP} {_verdict(onnx_checks['drop'] <= ONNX_F1_DROP)}",
        f"RESULT sentiment pipeline_ratio={ratio:.2f} target>={TARGET} {_verdict(ok)}",
        f"RESULT sentiment_onnx speedup={onnx_checks['speedup']:.2f} target>={ONNX_SPEEDUP} "
        f"{_verdict(onnx_checks['speedup'] >= ONNX_SPEEDUP)}",
    ]
    print("\n".join(results))
    return 1 if any(line.endswith("FAIL") for line in results) else 0


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def survey_report(classifier) -> list[list[object]]:
    """Macro-F1 on the labelled survey answers, and the disagreement flag's precision/recall:
    the old rule (opposite signs, at least 1.0 apart) against moments.sentiment.survey."""
    import csv

    from moments.sentiment import survey
    from moments.sentiment.evaluation import macro_f1

    path = Path(survey.__file__).parent / "labelled" / "survey_answers.tsv"
    with path.open() as handle:
        rows = list(csv.DictReader((x for x in handle if not x.startswith("#")), delimiter="\t"))
    scores = classifier.score([row["answer"] for row in rows])
    ratings = [(int(row["rating"]) - 3) / 2 for row in rows]
    gold = [row["label"] for row in rows]
    combined = [survey.with_rating(s, r) for s, r in zip(scores, ratings, strict=True)]
    truth = [row["disagree"] == "yes" for row in rows]
    old = [
        r * s.score < 0 and abs(r - s.score) >= 1.0 for s, r in zip(scores, ratings, strict=True)
    ]
    new = [
        survey.disagree(sentiment=s.score, rating=r) for s, r in zip(scores, ratings, strict=True)
    ]

    def precision_recall(flags: list[bool]) -> str:
        hits = sum(f and t for f, t in zip(flags, truth, strict=True))
        precision, recall = hits / max(1, sum(flags)), hits / max(1, sum(truth))
        return f"{precision:.2f} / {recall:.2f} ({sum(flags)} flagged)"

    return [
        [
            f"macro-F1 of the answer's label (n={len(rows)})",
            f"{macro_f1(gold, [s.label for s in scores])['macro_f1']:.3f}",
            f"{macro_f1(gold, [s.label for s in combined])['macro_f1']:.3f}",
        ],
        [
            f"disagreement flag precision / recall ({sum(truth)} true)",
            precision_recall(old),
            precision_recall(new),
        ],
    ]


def rss_probe(model_path: Path, runtime: str) -> int:
    """In a fresh process: load the model with ``runtime``, score 64 texts, print the RSS."""
    from moments.sentiment.classifier import Classifier
    from moments.sentiment.loader import read_metadata

    classifier = Classifier.load(
        model_path, version="probe", metadata=read_metadata(model_path), runtime=runtime
    )
    classifier.score(["The parcel arrived late and the box was damaged, again."] * 64)
    with open("/proc/self/status") as status:
        rss_kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    print(f"RSS {classifier.runtime} {rss_kb}")
    return 0


def _rss_mb(model_path: Path, runtime: str) -> tuple[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--rss-probe", runtime, "--model", str(model_path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=_setup.ROOT,
    ).stdout
    _, chosen, kb = next(line for line in out.splitlines() if line.startswith("RSS ")).split()
    return chosen, int(kb) / 1024


def onnx_report(model_path: Path, metadata: dict, texts: list[str], dataset, args):
    """torch and the ONNX runtime side by side (alternating rounds on the same texts)."""
    from django.conf import settings

    from moments.sentiment.classifier import Classifier
    from moments.sentiment.data import evaluation_splits, long_texts
    from moments.sentiment.evaluation import evaluate_splits

    batch = settings.SENTIMENT_BATCH_SIZE
    runtimes = {
        "torch": Classifier.load(model_path, version="torch", metadata=metadata, runtime="torch"),
        "onnx": Classifier.load(model_path, version="onnx", metadata=metadata, runtime="auto"),
    }
    chosen = runtimes["onnx"].runtime
    seconds = {"torch": 0.0, "onnx": 0.0}
    long_seconds = {"torch": 0.0, "onnx": 0.0}
    docs = [e.text for e in long_texts(dataset.test)]
    for classifier in runtimes.values():  # warm-up
        classifier.score(texts[:batch], batch_size=batch)
    rounds = 3
    for index in range(rounds):
        for name, classifier in runtimes.items():
            start = time.perf_counter()
            classifier.score(texts[index::rounds], batch_size=batch)
            seconds[name] += time.perf_counter() - start
            start = time.perf_counter()
            classifier.score(docs[index::rounds], batch_size=batch)
            long_seconds[name] += time.perf_counter() - start
    rate = {name: len(texts) / seconds[name] for name in runtimes}
    long_rate = {name: len(docs) / long_seconds[name] for name in runtimes}
    if args.quick:  # a smoke test: quality from the dev check in the metadata
        check = metadata.get("onnx", {})
        f1 = {
            "dev (metadata)": (
                check.get("dev_macro_f1_torch", 0),
                check.get("dev_macro_f1_q8" if chosen == "onnx-q8" else "dev_macro_f1_torch", 0),
            )
        }
    else:
        splits = evaluation_splits(dataset)
        splits["long_test"] = long_texts(dataset.test)
        both = {
            name: evaluate_splits(splits, lambda t, c=classifier: [s.label for s in c.score(t)])
            for name, classifier in runtimes.items()
        }
        f1 = {
            split: (both["torch"][split]["macro_f1"], both["onnx"][split]["macro_f1"])
            for split in splits
        }
    rss = {name: _rss_mb(model_path, "auto" if name == "onnx" else "torch") for name in runtimes}
    rows = [
        ["runtime", "torch", chosen, ""],
        [
            "short texts/s",
            f"{rate['torch']:.0f}",
            f"{rate['onnx']:.0f}",
            f"x{rate['onnx'] / rate['torch']:.2f}",
        ],
        [
            f"long documents/s ({len(docs)})",
            f"{long_rate['torch']:.1f}",
            f"{long_rate['onnx']:.1f}",
            f"x{long_rate['onnx'] / long_rate['torch']:.2f}",
        ],
        *[
            [f"macro-F1 {split}", f"{a:.3f}", f"{b:.3f}", f"{a - b:+.3f}"]
            for split, (a, b) in f1.items()
        ],
        [
            "worker RSS (MB)",
            f"{rss['torch'][1]:.0f}",
            f"{rss['onnx'][1]:.0f}",
            f"x{rss['onnx'][1] / rss['torch'][1]:.2f}",
        ],
    ]
    checks = {
        "speedup": rate["onnx"] / rate["torch"],
        "long": long_rate["onnx"],
        "drop": max((a - b for a, b in f1.values()), default=0.0),
    }
    return rows, checks


def cpu_int8() -> str:
    """What this CPU offers int8 matrix products (onnxruntime's int8 kernels use the best):
    VNNI or AMX multiply-add int8 in one instruction; with AVX2 alone, int8 gains far less
    over fp32 (docs/sentiment.md, "Another CPU")."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "CPU flags unknown"
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
    found = [f for f in ("amx_int8", "avx512_vnni", "avx_vnni", "avx512f", "avx2") if f in flags]
    return "CPU: " + (", ".join(found) if found else "no AVX2")


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


if __name__ == "__main__":
    sys.exit(main())
