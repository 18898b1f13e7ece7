import pytest
from django.core.exceptions import ValidationError

from interventions import conditions as cond
from interventions.models import Rule

SCORED = cond.INTERACTION_SCORED


def test_valid_conditions_have_no_errors():
    conditions = [
        {"field": "sentiment_label", "op": "eq", "value": "negative"},
        {"field": "sentiment_confidence", "op": "gte", "value": 0.8},
        {"field": "stage", "op": "in", "value": ["complaint", "delivery"]},
        {"field": "stage_is_critical", "op": "eq", "value": True},
    ]
    assert cond.condition_errors(conditions, SCORED) == []


def test_conditions_must_be_a_list():
    assert cond.condition_errors({"field": "channel"}, SCORED) == [
        "Conditions must be a list of {field, op, value} objects."
    ]


def test_unknown_field_is_refused():
    errors = cond.condition_errors([{"field": "__class__", "op": "eq", "value": "x"}], SCORED)
    assert "unknown field '__class__'" in errors[0]


def test_extra_or_missing_keys_are_refused():
    errors = cond.condition_errors(
        [{"field": "channel", "op": "eq"}, {"field": "channel", "op": "eq", "value": "x", "y": 1}],
        SCORED,
    )
    assert len(errors) == 2


def test_op_must_suit_the_field_type():
    errors = cond.condition_errors([{"field": "channel", "op": "gt", "value": "email"}], SCORED)
    assert "allows the ops" in errors[0]


def test_value_must_have_the_field_type():
    errors = cond.condition_errors(
        [{"field": "sentiment_score", "op": "lt", "value": "-0.5"}], SCORED
    )
    assert "compares with num values" in errors[0]


def test_booleans_are_not_numbers():
    errors = cond.condition_errors(
        [{"field": "sentiment_score", "op": "lt", "value": True}], SCORED
    )
    assert errors


def test_list_ops_need_a_non_empty_list():
    errors = cond.condition_errors([{"field": "stage", "op": "in", "value": "complaint"}], SCORED)
    assert "non-empty list" in errors[0]


def test_field_must_exist_for_the_event():
    errors = cond.condition_errors(
        [{"field": "moment_tags", "op": "contains_any", "value": ["empathy-win"]}], SCORED
    )
    assert "no value for the event" in errors[0]


def test_unknown_value_never_matches():
    class FakeFacts:
        def value(self, field):
            return None

    for op, value in [("eq", "x"), ("ne", "x"), ("not_in", ["x"])]:
        match = cond.evaluate([{"field": "stage", "op": op, "value": value}], FakeFacts())
        assert not match.matched


def test_evaluate_records_the_values_it_read():
    class FakeFacts:
        def value(self, field):
            return {"moment_tags": ["fast-resolution", "empathy-win"], "moment_impact": 2.5}[field]

    match = cond.evaluate(
        [
            {"field": "moment_tags", "op": "contains_any", "value": ["fast-resolution"]},
            {"field": "moment_impact", "op": "gt", "value": 2},
        ],
        FakeFacts(),
    )
    assert match.matched
    assert match.checked[1] == {"field": "moment_impact", "op": "gt", "value": 2, "actual": 2.5}


@pytest.mark.django_db
def test_rule_clean_reports_condition_and_config_errors():
    rule = Rule(
        name="Bad",
        slug="bad",
        event=SCORED,
        conditions=[{"field": "nope", "op": "eq", "value": 1}],
        action="webhook",
        action_config={"url": "ftp://example.com"},
    )
    with pytest.raises(ValidationError) as error:
        rule.full_clean()
    assert set(error.value.message_dict) == {"conditions", "action_config"}


@pytest.mark.django_db
def test_default_rules_are_valid_and_only_the_first_two_active():
    rules = {rule.slug: rule for rule in Rule.objects.all()}
    assert {slug for slug, rule in rules.items() if rule.active} == {
        "frustration-alert",
        "escalation-watch",
    }
    for rule in rules.values():
        rule.full_clean()  # the survey rule needs the surveys app's default survey


@pytest.mark.django_db
def test_admin_shows_condition_errors(admin_client):
    response = admin_client.post(
        "/admin/interventions/rule/add/",
        {
            "name": "Bad rule",
            "slug": "bad-rule",
            "event": SCORED,
            "conditions": '[{"field": "sentiment_label", "op": "gt", "value": "negative"}]',
            "still_true": "[]",
            "action": "alert",
            "action_config": "{}",
            "delay": "0",
            "episode": "once",
        },
    )
    assert response.status_code == 200
    assert "allows the ops" in response.content.decode()
    assert not Rule.objects.filter(slug="bad-rule").exists()
