"""Benchmark: are memory moments rare and earned? Detection against hand-labelled journeys.

On a throw-away database (on DATABASE_URL's server, else SQLite), through the REST API with an
agent's token, the way an integrator or a reviewer with a held-out set would:

1. The scenario file (bench/scenarios/moments.json by default; `--scenarios PATH` for any file
   in the same format, described in bench/scenarios/README.md) gives customer journeys whose
   every interaction is labelled by a person: would the customer still remember it a month
   later? Its timestamps are moved by whole days so that its `as_of` is today (the forecast
   and the ranking depend on "now"; the gaps between interactions are kept).
2. Customers and interactions are created with POST /api/v1/customers/ and
   /api/v1/interactions/, in the order they happened. The agents' tags in the file are put on
   afterwards with POST /api/v1/moments/ (today the API's only way to tag an interaction).
3. The queued tasks run as a django-q2 worker runs them (taken off the real ORM broker, in this
   process): scoring with the real flair model (by default the test suite's model, trained
   and cached by tests/moments/conftest.py; `--model PATH` for another), then moment
   detection, then whatever the rules queue.
4. Moments (GET /api/v1/moments/), scores (GET /api/v1/interactions/) and each customer's
   ranked "what they will remember" (GET /api/v1/customer-memory/{id}/) are read back.

Figures: share of interactions that became moments vs the labelled share (target ratio
<= 1.5); precision (>= 0.7), recall (>= 0.8) and F1 (>= 0.75) of detection against the labels;
top-1: the customer's top-ranked moment is a labelled one, or, for a customer with nothing
memorable, there is none (>= 0.8 of customers); which detection reason makes the false
positives. The same figures for a naive detector measured in the same run: every scored
interaction with |score| >= 0.6.

    python bench/moments.py                                       # bench/scenarios/moments.json
    python bench/moments.py --scenarios bench/scenarios/moments_holdout.json
    python bench/moments.py --details                             # every miss and false alarm
    python bench/moments.py --quick                               # 3 journeys (smoke test)

Last line: `RESULT moments f1=<F1> target>=0.75 PASS|FAIL`; PASS only when every target above
is met (F1, share ratio, precision, recall, top-1). Exit status 1 on FAIL.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import _setup

DEFAULT_SCENARIOS = Path(__file__).resolve().parent / "scenarios" / "moments.json"
NAIVE_THRESHOLD = 0.6
TARGETS = {  # name: (comparison, value)
    "f1": (">=", 0.75),
    "share ratio": ("<=", 1.5),
    "precision": (">=", 0.7),
    "recall": (">=", 0.8),
    "top-1": (">=", 0.8),
}
CHANNELS = {"email", "chat", "call", "meeting", "note"}
DIRECTIONS = {"inbound", "outbound", "internal"}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", type=Path, default=DEFAULT_SCENARIOS)
    parser.add_argument("--model", type=Path, help="model.pt (default: the test suite's model)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="3 journeys: the first with nothing memorable, the first two with something",
    )
    parser.add_argument("--details", action="store_true", help="list every miss and false alarm")
    parser.add_argument("--keep-db", action="store_true")
    return parser.parse_args(argv)


# --- The scenario file ------------------------------------------------------------------------


@dataclass
class Item:
    key: str
    occurred_at: datetime
    channel: str
    direction: str
    stage: str | None
    subject: str
    body: str
    tags: list[str]
    memorable: bool
    journey: str
    # Filled in by the run:
    id: int | None = None
    score: float | None = None
    confidence: float | None = None


@dataclass
class Journey:
    key: str
    customer: dict
    most_memorable: str | None
    items: list[Item]
    id: int | None = None
    top: list[int] = field(default_factory=list)  # ranked interaction ids ("will remember")


class BenchError(Exception):
    """Nothing to measure: a wrong scenario file, the API refused part of it, or an
    interaction was never scored (exit status 2, not a FAIL)."""


def load_scenarios(path: Path) -> tuple[dict, list[Journey]]:
    """The file's header and journeys, checked: a wrong file fails here with the place of the
    problem, not halfway through the run."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise BenchError(f"{path}: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("journeys"), list):
        raise BenchError(f'{path}: expected an object with a "journeys" list')
    journeys: list[Journey] = []
    keys: set[str] = set()
    for j, raw in enumerate(data["journeys"]):
        where = f"{path}: journey {j} ({raw.get('key', '?')})"
        try:
            customer = raw["customer"]
            items = [_item(i, raw["key"], keys) for i in raw["interactions"]]
            journey = Journey(raw["key"], customer, raw.get("most_memorable"), items)
        except KeyError as error:
            raise BenchError(f"{where}: missing {error.args[0]!r}") from None
        except (TypeError, ValueError, AttributeError) as error:
            raise BenchError(f"{where}: {error}") from None
        if not items:
            raise BenchError(f"{where}: no interactions")
        if not isinstance(customer, dict) or not customer.get("name"):
            raise BenchError(f"{where}: the customer needs a name")
        memorable = {i.key for i in items if i.memorable}
        if journey.most_memorable is None and memorable:
            raise BenchError(f"{where}: most_memorable is null but {sorted(memorable)} are")
        if journey.most_memorable is not None and journey.most_memorable not in memorable:
            raise BenchError(f"{where}: most_memorable must be one labelled memorable")
        journeys.append(journey)
    if not journeys:
        raise BenchError(f"{path}: no journeys")
    if data.get("as_of") is not None:
        try:
            _aware(data["as_of"], "as_of")
        except (TypeError, ValueError) as error:
            raise BenchError(f"{path}: {error}") from None
    return data, journeys


def _aware(value: str, name: str) -> datetime:
    at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if at.tzinfo is None:
        raise ValueError(f"{name}: {value} needs a time zone")
    return at


def _item(raw: dict, journey: str, keys: set[str]) -> Item:
    key = str(raw["key"])
    if key in keys:
        raise ValueError(f"interaction key {key} used twice")
    keys.add(key)
    at = _aware(raw["occurred_at"], f"{key}: occurred_at")
    if raw["channel"] not in CHANNELS or raw["direction"] not in DIRECTIONS:
        raise ValueError(f"{key}: unknown channel or direction")
    if not isinstance(raw["memorable"], bool):
        raise ValueError(f"{key}: memorable must be true or false")
    tags = raw.get("tags", [])
    if not isinstance(tags, list):
        raise ValueError(f"{key}: tags must be a list")
    return Item(
        key=key,
        occurred_at=at,
        channel=raw["channel"],
        direction=raw["direction"],
        stage=raw.get("stage"),
        subject=raw.get("subject", ""),
        body=raw.get("body", ""),
        tags=tags,
        memorable=raw["memorable"],
        journey=journey,
    )


def quick_subset(journeys: list[Journey]) -> list[Journey]:
    quiet = [j for j in journeys if j.most_memorable is None][:1]
    charged = [j for j in journeys if j.most_memorable is not None][:2]
    return [j for j in journeys if j in quiet or j in charged]


def day_shift(header: dict, journeys: list[Journey], now: datetime) -> timedelta:
    """Whole days that bring the file's `as_of` (default: a day after its last interaction) to
    today, never past now: the file keeps its times of day and its gaps."""
    last = max(i.occurred_at for j in journeys for i in j.items)
    as_of = header.get("as_of")
    anchor = max(_aware(as_of, "as_of") if as_of else last, last)
    shift = timedelta(days=math.floor((now - anchor).total_seconds() / 86400))
    try:
        for journey in journeys:
            for item in journey.items:
                item.occurred_at + shift  # noqa: B018 (only checks the range)
    except OverflowError:
        raise BenchError(
            f"moved {shift.days} days to today, some timestamps leave the calendar"
        ) from None
    return shift


# --- The run, through the API -----------------------------------------------------------------


class Api:
    """An agent's REST client with a token, failing loudly on any unexpected status."""

    def __init__(self, token: str):
        from rest_framework.test import APIClient

        self.client = APIClient()
        self.client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    def post(self, url: str, data: dict, expect: int = 201) -> dict:
        response = self.client.post(url, data, format="json")
        if response.status_code != expect:
            raise BenchError(f"POST {url} {data} -> {response.status_code}: {response.json()}")
        return response.json()

    def get(self, url: str, params: dict | None = None) -> dict | list:
        response = self.client.get(url, params or {})
        if response.status_code != 200:
            raise BenchError(f"GET {url} -> {response.status_code}: {response.json()}")
        return response.json()

    def get_all(self, url: str, params: dict) -> list[dict]:
        """Every row of a paginated list (page-number or cursor pages)."""
        rows: list[dict] = []
        page = self.get(url, params)
        while True:
            rows += page["results"]
            if not page.get("next"):
                return rows
            page = self.get(page["next"])


def make_agent() -> tuple[object, str]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from knox.models import AuthToken

    user = get_user_model().objects.create_user(username="bench-moments-agent")
    user.groups.add(Group.objects.get(name="Agent"))
    return user, AuthToken.objects.create(user=user)[1]


def run_tasks() -> dict[str, int]:
    """Run every queued task as a worker would, until the queue is empty (bench/sentiment.py's
    in-process worker: dequeue from the real broker, run, acknowledge)."""
    import sentiment  # bench/sentiment.py

    done, _ = sentiment.run_queue_in_process()
    return done


def check_slugs(api: Api, journeys: list[Journey]) -> None:
    """Stages and tags the file names must exist (the data migrations seed them): say so
    before anything is created."""
    stages = {s["slug"] for s in api.get_all("/api/v1/stages/", {})}
    tags = {t["slug"] for t in api.get("/api/v1/moment-tags/", {"active": "true"})}
    for journey in journeys:
        for item in journey.items:
            if item.stage is not None and item.stage not in stages:
                raise BenchError(f"{item.key}: no stage {item.stage!r} ({sorted(stages)})")
            unknown = set(item.tags) - tags
            if unknown:
                raise BenchError(f"{item.key}: no active tag {sorted(unknown)}")


def load(api: Api, user, journeys: list[Journey], shift: timedelta) -> None:
    """Customers, then every interaction in the order they happened across all journeys."""
    for journey in journeys:
        # Owned by the agent, so they see the customer whatever MEMORYCRM_CUSTOMER_VISIBILITY.
        customer = dict(journey.customer, owner=user.pk)
        journey.id = api.post("/api/v1/customers/", customer)["id"]
    items = sorted(
        ((i, j) for j in journeys for i in j.items), key=lambda pair: pair[0].occurred_at
    )
    for item, journey in items:
        created = api.post(
            "/api/v1/interactions/",
            {
                "customer": journey.id,
                "channel": item.channel,
                "direction": item.direction,
                "occurred_at": (item.occurred_at + shift).isoformat(),
                "stage": item.stage,
                "subject": item.subject,
                "body": item.body,
                "external_ref": item.key,
            },
        )
        item.id = created["id"]


def tag(api: Api, journeys: list[Journey]) -> int:
    """The agents' tags, as an agent puts them on from the timeline or the API."""
    count = 0
    for journey in journeys:
        for item in journey.items:
            if item.tags:
                api.post("/api/v1/moments/", {"interaction": item.id, "tags": item.tags})
                count += 1
    return count


@dataclass
class Moment:
    interaction: int
    reasons: list[str]
    polarity: str
    impact: float


def read_back(api: Api, journeys: list[Journey]) -> dict[int, Moment]:
    """Scores, moments and the "will remember" ranking, from the API."""
    moments: dict[int, Moment] = {}
    for journey in journeys:
        rows = api.get_all("/api/v1/interactions/", {"customer": journey.id, "page_size": 200})
        scored = {r["id"]: r for r in rows}
        for item in journey.items:
            row = scored[item.id]
            # Agents' replies and notes are never scored (customer words only): "not_scored".
            if row["sentiment_state"] == "pending":
                raise BenchError(f"interaction {item.key} was never scored (the model?)")
            item.score, item.confidence = row["sentiment_score"], row["sentiment_confidence"]
        for m in api.get_all("/api/v1/moments/", {"customer": journey.id, "dismissed": "false"}):
            if m["interaction"] is not None:
                moments[m["interaction"]] = Moment(
                    interaction=m["interaction"],
                    reasons=sorted({r["reason"] for r in m["reasons"]}),
                    polarity=m["polarity"],
                    impact=m["impact"],
                )
        summary = api.get(f"/api/v1/customer-memory/{journey.id}/")
        journey.top = [t["moment"]["interaction"] for t in summary["top"]]
    return moments


# --- Figures ------------------------------------------------------------------------------------


@dataclass
class Figures:
    name: str
    total: int
    labelled: int
    detected: int
    true_positives: int
    top1_right: int
    top1_strict: int  # the top is the journey's single most memorable interaction
    customers: int
    customers_labelled: int
    quiet_right: int  # customers with nothing memorable who were shown nothing
    quiet: int

    @property
    def share(self) -> float:
        return self.detected / self.total

    @property
    def labelled_share(self) -> float:
        return self.labelled / self.total

    @property
    def share_ratio(self) -> float:
        return self.share / self.labelled_share if self.labelled else math.inf

    @property
    def precision(self) -> float:
        return self.true_positives / self.detected if self.detected else 0.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.labelled if self.labelled else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def top1(self) -> float:
        return self.top1_right / self.customers

    def value(self, name: str) -> float:
        return {
            "f1": self.f1,
            "share ratio": self.share_ratio,
            "precision": self.precision,
            "recall": self.recall,
            "top-1": self.top1,
        }[name]


def figures(name: str, journeys: list[Journey], detected: set[int], top_of) -> Figures:
    """Detection `detected` (interaction ids) and ranking `top_of(journey)` (the interaction id
    ranked first, or None) scored against the labels."""
    items = [i for j in journeys for i in j.items]
    memorable = {i.id for i in items if i.memorable}
    f = Figures(
        name=name,
        total=len(items),
        labelled=len(memorable),
        detected=len(detected),
        true_positives=len(detected & memorable),
        top1_right=0,
        top1_strict=0,
        customers=len(journeys),
        customers_labelled=0,
        quiet_right=0,
        quiet=0,
    )
    for journey in journeys:
        top = top_of(journey)
        keys = {i.id: i.key for i in journey.items}
        if journey.most_memorable is None:
            f.quiet += 1
            if top is None:
                f.quiet_right += 1
                f.top1_right += 1
        else:
            f.customers_labelled += 1
            if top in memorable:
                f.top1_right += 1
            if top is not None and keys.get(top) == journey.most_memorable:
                f.top1_strict += 1
    return f


def _score(item: Item) -> str:
    if item.score is None:
        return "not scored (agent)"
    return f"score {item.score:+.2f} x {item.confidence:.2f}"


def naive_detection(journeys: list[Journey]) -> tuple[set[int], dict[str, int | None]]:
    """Every scored interaction (the customer's own words) with |score| >= 0.6; each
    customer's top: the strongest."""
    detected: set[int] = set()
    top: dict[str, int | None] = {}
    for journey in journeys:
        hits = [i for i in journey.items if i.score is not None and abs(i.score) >= NAIVE_THRESHOLD]
        detected |= {i.id for i in hits}
        best = max(hits, key=lambda i: (abs(i.score), i.occurred_at), default=None)
        top[journey.key] = best.id if best else None
    return detected, top


def reason_table(journeys: list[Journey], moments: dict[int, Moment]) -> list[list[object]]:
    """Per detection reason: moments carrying it, how many are labelled memorable, the false
    positives, and those it made on its own (the reason was the only one)."""
    memorable = {i.id for j in journeys for i in j.items if i.memorable}
    rows: dict[str, Counter] = defaultdict(Counter)
    for m in moments.values():
        right = m.interaction in memorable
        for reason in m.reasons:
            c = rows[reason]
            c["moments"] += 1
            c["tp"] += right
            c["fp"] += not right
            if len(m.reasons) == 1 and not right:
                c["fp alone"] += 1
    order = ["peak", "swing", "critical_stage", "tag_rule", "agent"]
    names = sorted(rows, key=lambda r: (order.index(r) if r in order else 99, r))
    return [
        [
            r,
            rows[r]["moments"],
            rows[r]["tp"],
            rows[r]["fp"],
            rows[r]["fp alone"],
            f"{rows[r]['tp'] / rows[r]['moments']:.2f}",
        ]
        for r in names
    ]


def false_positive_kinds(journeys: list[Journey], moments: dict[int, Moment]) -> Counter:
    """The false positives by who was speaking and the stage: an agent's note is never the
    customer's emotion; a critical stage is not an event."""
    kinds: Counter = Counter()
    for journey in journeys:
        for item in journey.items:
            if item.id in moments and not item.memorable:
                kinds[f"{item.direction} in {item.stage or 'no stage'}"] += 1
    return kinds


def fmt(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.2f}"


def report(args, header, journeys, moments, shift, model_version, tasks, tagged) -> bool:
    items = [i for j in journeys for i in j.items]
    by_id = {i.id: i for i in items}
    now_detected = set(moments)
    detection = figures(
        "MemoryCRM detection",
        journeys,
        now_detected,
        lambda j: j.top[0] if j.top else None,
    )
    naive_set, naive_top = naive_detection(journeys)
    naive = figures(
        f"naive |score| >= {NAIVE_THRESHOLD}", journeys, naive_set, lambda j: naive_top[j.key]
    )
    print(
        f"scenarios: {args.scenarios} ({header.get('name', '?')}): {len(journeys)} journeys, "
        f"{len(items)} interactions, {detection.labelled} labelled memorable "
        f"({detection.labelled_share:.1%}); timestamps moved {shift.days} days to today"
    )
    print(
        f"through the API: {len(journeys)} customers, {len(items)} interactions, "
        f"{tagged} agent taggings; model {model_version}"
    )
    print("tasks run by the in-process worker: " + ", ".join(f"{k} x{v}" for k, v in tasks.items()))
    print()
    rows = []
    for f in (detection, naive):
        rows.append(
            [
                f.name,
                f"{f.detected}/{f.total} = {f.share:.1%}",
                fmt(f.share_ratio),
                f"{f.precision:.2f}",
                f"{f.recall:.2f}",
                f"{f.f1:.2f}",
                f"{f.top1_right}/{f.customers} = {f.top1:.2f}",
                f"{f.top1_strict}/{f.customers_labelled}",
                f"{f.quiet_right}/{f.quiet}",
            ]
        )
    print(
        _setup.table(
            [
                "detector",
                "moments",
                "share ratio",
                "precision",
                "recall",
                "F1",
                "top-1",
                "top = most memorable",
                "quiet shown nothing",
            ],
            rows,
        )
    )
    print(
        f"labelled share {detection.labelled_share:.1%}; share ratio = moments share / labelled "
        "share. top-1: the customer's first 'will remember' moment is labelled memorable (for a "
        "customer with nothing memorable: no moment at all)."
    )
    ratio = detection.f1 / naive.f1 if naive.f1 else math.inf
    print(f"F1 ratio, MemoryCRM / naive baseline (same run): {fmt(ratio)}")
    print()
    print("false positives by detection reason (a moment may carry several reasons):")
    print(
        _setup.table(
            ["reason", "moments", "labelled", "false pos.", "false pos. alone", "precision"],
            reason_table(journeys, moments),
        )
    )
    kinds = false_positive_kinds(journeys, moments)
    print(
        "false positives by direction and stage: "
        + (", ".join(f"{k} {v}" for k, v in kinds.most_common()) or "none")
    )
    missed = [i for i in items if i.memorable and i.id not in moments]
    print(f"missed (labelled memorable, no moment): {len(missed)}")
    if args.details:
        print()
        for item in items:
            moment = moments.get(item.id)
            if bool(moment) == item.memorable:
                continue
            what = "FALSE POSITIVE" if moment else "MISSED"
            why = ",".join(moment.reasons) if moment else "-"
            text = " ".join(f"{item.subject} {item.body}".split())[:90]
            print(
                f"  {what:14} {item.key:7} {item.direction:8} {item.stage or '-':10} "
                f"{_score(item)}  [{why}]  {text}"
            )
        for journey in journeys:
            top = by_id.get(journey.top[0]).key if journey.top else "-"
            print(f"  top-1 {journey.key:28} shown {top:7} labelled {journey.most_memorable}")
    print()
    checks = []
    for name, (op, target) in TARGETS.items():
        value = detection.value(name)
        ok = value >= target if op == ">=" else value <= target
        checks.append([name, fmt(value), f"{op} {target}", "PASS" if ok else "FAIL"])
    print(_setup.table(["figure", "value", "target", ""], checks))
    passed = all(row[-1] == "PASS" for row in checks)
    print(
        f"RESULT moments f1={detection.f1:.2f} target>=0.75 {'PASS' if passed else 'FAIL'}",
    )
    return passed


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        header, journeys = load_scenarios(args.scenarios)
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 2
    if args.quick:
        journeys = quick_subset(journeys)
    # The bench owns its queue and its mail: the ORM broker in its own database, mail kept in
    # memory (rules may send some), whatever the shell says.
    os.environ.pop("Q_REDIS_URL", None)
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    where = _setup.bench_database("moments", keep=args.keep_db)
    print(f"database: {where}")

    import sentiment  # bench/sentiment.py: model registration

    if args.model:
        model_path = args.model.resolve()
    else:
        from tests.moments.conftest import cached_test_model

        model_path = cached_test_model()
    model = sentiment.register(model_path)

    from django.utils import timezone

    user, token = make_agent()
    api = Api(token)
    try:
        shift = day_shift(header, journeys, timezone.now().astimezone(UTC))
        check_slugs(api, journeys)
        load(api, user, journeys, shift)
        tasks = run_tasks()
        tagged = tag(api, journeys)
        for name, count in run_tasks().items():
            tasks[name] = tasks.get(name, 0) + count
        moments = read_back(api, journeys)
    except BenchError as error:
        print(f"bench: {args.scenarios}: {error}", file=sys.stderr)
        return 2
    passed = report(args, header, journeys, moments, shift, model.version, tasks, tagged)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
