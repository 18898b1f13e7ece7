"""The rule condition language: small, declarative, validated — no code in the database.

A rule's conditions are a JSON list; every item must hold (AND):

    [{"field": "sentiment_label", "op": "eq", "value": "negative"},
     {"field": "sentiment_confidence", "op": "gte", "value": 0.8},
     {"field": "stage_is_critical", "op": "eq", "value": true}]

`field` comes from the whitelist in FIELDS (each field says what type it is and for which events
it has a value); `op` must suit the field's type (OPS_BY_KIND); `value` must have the field's type
(a list for `in` / `not_in` / `contains_any` / `contains_none`). A field whose value is unknown
(no stage, not scored yet, no memory balance) matches no condition: a rule never fires on a guess.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from customers.models import Customer, Interaction
from moments.models import CustomerMemory, Moment
from surveys.models import Response

# --- Events -------------------------------------------------------------------------------

INTERACTION_LOGGED = "interaction.logged"
INTERACTION_SCORED = "interaction.scored"
MOMENT_CREATED = "moment.created"
SURVEY_ANSWERED = "survey.answered"
MEMORY_AT_RISK = "memory.at_risk"
STAGE_REACHED = "stage.reached"
DAILY = "schedule.daily"

EVENTS = {
    INTERACTION_LOGGED: "Interaction logged",
    INTERACTION_SCORED: "Interaction scored (sentiment known)",
    MOMENT_CREATED: "Memory moment created (or tagged later by an agent)",
    SURVEY_ANSWERED: "Survey answered",
    MEMORY_AT_RISK: "Customer memory at risk (daily check)",
    STAGE_REACHED: "Journey stage reached (first interaction in a new stage)",
    DAILY: "Daily, for each customer awaiting a reply",
}
INTERACTION_EVENTS = frozenset({INTERACTION_LOGGED, INTERACTION_SCORED, STAGE_REACHED})
CUSTOMER_EVENTS = frozenset({MEMORY_AT_RISK, DAILY})
ALL_EVENTS = frozenset(EVENTS)
# Events whose subject has (or may have) an interaction.
WITH_INTERACTION = INTERACTION_EVENTS | {MOMENT_CREATED, SURVEY_ANSWERED}


# --- Facts: what an event carries, computed lazily ----------------------------------------


class Facts:
    """The values conditions read, for one event. Only the fields a rule names are computed
    (each may cost a query), and each at most once per event."""

    def __init__(self, *, event: str, subject: Any, payload: dict | None = None) -> None:
        self.event = event
        self.subject = subject
        self.payload = payload or {}
        self.now = timezone.now()

    @cached_property
    def moment(self) -> Moment | None:
        return self.subject if isinstance(self.subject, Moment) else None

    @cached_property
    def response(self) -> Response | None:
        return self.subject if isinstance(self.subject, Response) else None

    @cached_property
    def interaction(self) -> Interaction | None:
        if isinstance(self.subject, Interaction):
            return self.subject
        if self.moment is not None:
            return self.moment.interaction
        if self.response is not None:
            return self.response.invitation.interaction
        return None

    @cached_property
    def customer(self) -> Customer:
        if isinstance(self.subject, Customer):
            return self.subject
        return self.subject.customer

    @cached_property
    def memory(self) -> CustomerMemory | None:
        return CustomerMemory.objects.filter(customer_id=self.customer.pk).first()

    def value(self, field: str) -> Any:
        return FIELDS[field].get(self)


def _stage(f: Facts):
    if f.moment is not None and f.moment.stage_id:
        return f.moment.stage
    return f.interaction.stage if f.interaction is not None else None


def _sentiment(attr: str) -> Callable[[Facts], Any]:
    def get(f: Facts):
        source = f.response if f.response is not None else f.interaction
        if source is None and f.moment is not None:
            # A survey answer's moment has no interaction: the answer's own sentiment.
            source = getattr(f.moment, "source_response", None)
        if source is None:
            return None
        if isinstance(source, Interaction) and not source.is_customer_words:
            return None  # an agent's reply or note: no customer sentiment, whatever it holds
        value = getattr(source, f"sentiment_{attr}")
        return None if value == "" else value  # "" = not scored yet

    return get


def _negative_7d(f: Facts) -> int:
    since = f.now - timedelta(days=7)
    return (
        Interaction.objects.customer_words()
        .filter(customer_id=f.customer.pk, sentiment_label="negative", occurred_at__gte=since)
        .count()
    )


def _hours_unanswered(f: Facts) -> float:
    """Hours since the customer's latest inbound contact when we have not answered since."""
    last = (
        Interaction.objects.filter(customer_id=f.customer.pk)
        .exclude(direction=Interaction.Direction.INTERNAL)
        .order_by("-occurred_at", "-id")
        .values("direction", "occurred_at")
        .first()
    )
    if not last or last["direction"] != Interaction.Direction.INBOUND:
        return 0.0
    return round((f.now - last["occurred_at"]).total_seconds() / 3600, 2)


def _positive_moment_since(f: Facts) -> bool | None:
    if f.moment is None:
        return None
    return (
        Moment.objects.live()
        .filter(
            customer_id=f.customer.pk, polarity="positive", occurred_at__gt=f.moment.occurred_at
        )
        .exists()
    )


def _moment(attr: str) -> Callable[[Facts], Any]:
    return lambda f: getattr(f.moment, attr) if f.moment is not None else None


def _interaction(attr: str) -> Callable[[Facts], Any]:
    return lambda f: getattr(f.interaction, attr) if f.interaction is not None else None


def _memory(attr: str) -> Callable[[Facts], Any]:
    return lambda f: getattr(f.memory, attr) if f.memory is not None else None


@dataclass(frozen=True)
class Field:
    kind: str  # "str" | "num" | "bool" | "list"
    get: Callable[[Facts], Any]
    help: str
    events: frozenset[str] = ALL_EVENTS


FIELDS: dict[str, Field] = {
    "channel": Field("str", _interaction("channel"), "email, chat, call, …", WITH_INTERACTION),
    "direction": Field("str", _interaction("direction"), "inbound / outbound", WITH_INTERACTION),
    "stage": Field(
        "str", lambda f: getattr(_stage(f), "slug", None), "journey stage slug", WITH_INTERACTION
    ),
    "stage_is_critical": Field(
        "bool",
        lambda f: getattr(_stage(f), "is_critical", None),
        "the stage is marked critical",
        WITH_INTERACTION,
    ),
    "sentiment_label": Field(
        "str", _sentiment("label"), "negative / neutral / positive", WITH_INTERACTION
    ),
    "sentiment_score": Field("num", _sentiment("score"), "-1 … 1", WITH_INTERACTION),
    "sentiment_confidence": Field("num", _sentiment("confidence"), "0 … 1", WITH_INTERACTION),
    "moment_polarity": Field(
        "str", _moment("polarity"), "positive / negative / neutral", frozenset({MOMENT_CREATED})
    ),
    "moment_tags": Field(
        "list",
        lambda f: sorted(f.moment.tags.values_list("slug", flat=True)) if f.moment else None,
        "tag slugs on the moment",
        frozenset({MOMENT_CREATED}),
    ),
    "moment_impact": Field("num", _moment("impact"), "signed impact", frozenset({MOMENT_CREATED})),
    "moment_intensity": Field("num", _moment("intensity"), "0 … 1", frozenset({MOMENT_CREATED})),
    "positive_moment_since": Field(
        "bool",
        _positive_moment_since,
        "a positive moment came after this one (use in 'still true' conditions)",
        frozenset({MOMENT_CREATED}),
    ),
    "survey_rating": Field(
        "num",
        lambda f: f.response.rating if f.response is not None else None,
        "the answer's rating",
        frozenset({SURVEY_ANSWERED}),
    ),
    "customer_has_owner": Field(
        "bool", lambda f: f.customer.owner_id is not None, "the customer has an owner"
    ),
    "customer_company": Field("str", lambda f: f.customer.company, "company name"),
    "customer_timezone": Field("str", lambda f: f.customer.timezone, "IANA time zone"),
    "memory_balance": Field("num", _memory("balance"), "the customer's memory balance"),
    "memory_trend": Field("num", _memory("trend"), "balance change over the trend window"),
    "memory_at_risk": Field("bool", _memory("at_risk"), "memory at risk"),
    "negative_interactions_7d": Field(
        "num", _negative_7d, "negative interactions of the customer in the last 7 days"
    ),
    "hours_without_reply": Field(
        "num", _hours_unanswered, "hours since an inbound contact we have not answered"
    ),
}

OPS_BY_KIND = {
    "str": {"eq", "ne", "in", "not_in"},
    "num": {"eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in"},
    "bool": {"eq", "ne"},
    "list": {"contains_any", "contains_none"},
}
LIST_OPS = {"in", "not_in", "contains_any", "contains_none"}


def _compare(op: str, actual: Any, expected: Any) -> bool:
    if actual is None:
        return False
    if op == "eq":
        return actual == expected
    if op == "ne":
        return actual != expected
    if op == "gt":
        return actual > expected
    if op == "gte":
        return actual >= expected
    if op == "lt":
        return actual < expected
    if op == "lte":
        return actual <= expected
    if op == "in":
        return actual in expected
    if op == "not_in":
        return actual not in expected
    if op == "contains_any":
        return bool(set(actual) & set(expected))
    if op == "contains_none":
        return not set(actual) & set(expected)
    raise ValueError(f"unknown op {op}")


def _type_ok(kind: str, value: Any) -> bool:
    if kind == "num":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    return isinstance(value, str)  # "str", and the items of a "list" field


def condition_errors(conditions: Any, event: str) -> list[str]:
    """Every problem in a condition list, as messages an admin can act on ([] when valid)."""
    if not isinstance(conditions, list):
        return ["Conditions must be a list of {field, op, value} objects."]
    errors = []
    for n, item in enumerate(conditions, start=1):
        where = f"Condition {n}"
        if not isinstance(item, dict) or set(item) != {"field", "op", "value"}:
            errors.append(f"{where}: must be an object with exactly field, op and value.")
            continue
        name, op, value = item["field"], item["op"], item["value"]
        field = FIELDS.get(name) if isinstance(name, str) else None
        if field is None:
            errors.append(f"{where}: unknown field {name!r}. Known: {', '.join(sorted(FIELDS))}.")
            continue
        if event and event not in field.events:
            errors.append(f"{where}: {name!r} has no value for the event {event!r}.")
        if op not in OPS_BY_KIND[field.kind]:
            allowed = ", ".join(sorted(OPS_BY_KIND[field.kind]))
            errors.append(f"{where}: {name!r} allows the ops {allowed}, not {op!r}.")
            continue
        if op in LIST_OPS:
            if not isinstance(value, list) or not value:
                errors.append(f"{where}: {op!r} needs a non-empty list of values.")
                continue
            items = value
        else:
            items = [value]
        item_kind = "str" if field.kind == "list" else field.kind
        if not all(_type_ok(item_kind, v) for v in items):
            errors.append(f"{where}: {name!r} compares with {item_kind} values, got {value!r}.")
    return errors


def validate_conditions(conditions: Any, event: str) -> None:
    errors = condition_errors(conditions, event)
    if errors:
        raise ValidationError(errors)


@dataclass
class Match:
    matched: bool
    # [{"field", "op", "value", "actual"}] — the values read, for "why it fired"
    checked: list[dict]


def evaluate(conditions: list[dict], facts: Facts) -> Match:
    """Check conditions in order; stop at the first that fails."""
    checked = []
    for item in conditions:
        actual = facts.value(item["field"])
        ok = _compare(item["op"], actual, item["value"])
        checked.append({**item, "actual": actual})
        if not ok:
            return Match(False, checked)
    return Match(True, checked)
