"""Benchmark: how long from an angry interaction logged through the API to the manager's
frustration alert row, through a real django-q2 cluster on the ORM broker?

On a throw-away database (on DATABASE_URL's server, else SQLite), N times, one after the other:
an agent POSTs a furious complaint-stage interaction for a fresh customer (owner: the agent) to
/api/v1/interactions/; the clock stops when the manager's Alert row exists. In between, all of
it is the app's own path: interactions_logged → scoring task (the flair model, in the cluster)
→ interactions_scored → interventions firing task → the frustration alert rule → Alert rows.

Budget: the broker's poll interval + the sentiment batch time (one text, measured here with the
same model) + 1 s. Last line:
`RESULT interventions p95_over_budget=<p95 / budget> target<=1.0 PASS|FAIL`.

    python bench/interventions.py                 # newest model in SENTIMENT_MODEL_DIR
    python bench/interventions.py --model PATH.pt
    python bench/interventions.py --quick         # N=10
    python bench/interventions.py --scores-only   # no model: the bench writes the scores through
                                                  # moments.sentiment.services.record_scores (what
                                                  # the scoring task does) — times the interventions
                                                  # leg only; budget = poll + 1 s
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import _setup

TARGET = 1.0
ANGRY = [
    "This is absolutely unacceptable. Third time I write and nobody answers. I am furious.",
    "Worst service ever. You broke my order again and I want a refund immediately.",
    "I am extremely angry, your support is useless and rude. Terrible, terrible experience.",
    "Disgusting. The product arrived broken, nobody cares, and I am done with this company.",
]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100, help="interactions timed")
    parser.add_argument("--quick", action="store_true", help="N=10 (smoke test)")
    parser.add_argument("--model", type=Path, help="model.pt (default: newest in the model dir)")
    parser.add_argument("--scores-only", action="store_true", help="no model; see the docstring")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per interaction")
    return parser.parse_args(argv)


def start_cluster() -> subprocess.Popen:
    from django.db import connection

    env = os.environ | {"LOG_LEVEL": "WARNING"}
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=_setup.ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_cluster(process: subprocess.Popen) -> None:
    """SIGTERM the cluster's process group; SIGKILL it if it has not stopped in 20 s (a cluster
    still starting up may not have its signal handling in place yet)."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)


def people():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from rest_framework.test import APIClient

    User = get_user_model()
    agent = User.objects.create_user(username="bench-agent", email="agent@example.com")
    agent.groups.add(Group.objects.get(name="Agent"))
    manager = User.objects.create_user(username="bench-manager", email="manager@example.com")
    manager.groups.add(Group.objects.get(name="Manager"))
    client = APIClient()
    client.force_authenticate(agent)
    return client, agent, manager


def batch_time(model_path: Path | None) -> float:
    """Seconds the model takes for one interaction's batch (median of 5, after a warm-up)."""
    if model_path is None:
        return 0.0
    from moments.sentiment.loader import get_classifier

    classifier = get_classifier()
    classifier.score([ANGRY[0]])
    samples = []
    for text in ANGRY + ANGRY[:1]:
        start = time.perf_counter()
        classifier.score([text])
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def one(client, agent, manager, n: int, *, scores_only: bool, timeout: float) -> float | None:
    """Log one angry interaction; seconds until the manager's alert exists (None: no alert)."""
    from customers.models import Customer
    from interventions.models import Alert
    from moments.sentiment.classifier import Score
    from moments.sentiment.services import record_scores

    customer = Customer.objects.create(name=f"Bench customer {n}", owner=agent)
    start = time.perf_counter()
    response = client.post(
        "/api/v1/interactions/",
        {
            "customer": customer.pk,
            "channel": "email",
            "stage": "complaint",
            "subject": "Complaint",
            "body": ANGRY[n % len(ANGRY)],
        },
        format="json",
    )
    if response.status_code != 201:
        raise SystemExit(f"bench: the API refused the interaction: {response.content[:300]!r}")
    if scores_only:
        probabilities = {"negative": 0.95, "neutral": 0.04, "positive": 0.01}
        record_scores(
            version="bench-scores-only",
            scores={response.json()["id"]: Score.from_probabilities(probabilities)},
        )
    alert = Alert.objects.filter(recipient=manager, customer=customer)
    deadline = start + timeout
    while time.perf_counter() < deadline:
        if alert.exists():
            return time.perf_counter() - start
        time.sleep(0.02)
    return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    n = 10 if args.quick else args.n
    where = _setup.bench_database("interventions")

    from django.conf import settings

    model_path = None
    if not args.scores_only:
        import sentiment  # bench/sentiment.py: the same model lookup and registration

        model_path = sentiment.find_model(args.model)
        sentiment.register(model_path)
    client, agent, manager = people()
    poll = float(settings.Q_CLUSTER["poll"])
    batch = batch_time(model_path)
    budget = poll + batch + 1.0

    process = start_cluster()
    try:
        # Warm-up, not timed: the workers import Django, torch and load the model.
        if one(client, agent, manager, -1, scores_only=args.scores_only, timeout=600) is None:
            raise SystemExit("bench: no alert for the warm-up interaction (is the model sure?)")
        latencies, missed = [], 0
        for i in range(n):
            latency = one(
                client, agent, manager, i, scores_only=args.scores_only, timeout=args.timeout
            )
            if latency is None:
                missed += 1
            else:
                latencies.append(latency)
    finally:
        stop_cluster(process)

    if not latencies:
        raise SystemExit("bench: no alert at all")
    latencies.sort()
    median = statistics.median(latencies)
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    ratio = p95 / budget
    mode = "scores written by the bench (no model)" if args.scores_only else f"model {model_path}"
    print(f"interventions bench on {where}")
    print(f"{mode}; {settings.Q_CLUSTER['workers']} workers, ORM broker")
    print(
        f"interactions: {n}, alerts: {len(latencies)}, no alert within {args.timeout:.0f} s: "
        f"{missed}"
    )
    print(f"latency API POST -> manager's alert row: median {median:.3f} s, p95 {p95:.3f} s")
    print(f"broker poll {poll:.3f} s + sentiment batch {batch:.3f} s + 1 s = budget {budget:.3f} s")
    verdict = "PASS" if ratio <= TARGET and not missed else "FAIL"
    print(f"RESULT interventions p95_over_budget={ratio:.2f} target<={TARGET} {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
