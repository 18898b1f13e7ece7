"""The claimer and daily schedules (created by `manage.py setup_schedules`) and the daily
events they fire."""

import pytest
from django.core.management import call_command
from django_q.models import Schedule

from interventions import conditions as cond
from interventions import tasks
from interventions.models import Intervention
from moments.models import CustomerMemory
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_setup_schedules_is_idempotent():
    call_command("setup_schedules")
    call_command("setup_schedules")
    schedules = {s.name: s for s in Schedule.objects.filter(name__startswith="interventions-")}
    assert set(schedules) == {tasks.DISPATCH_SCHEDULE, tasks.DAILY_SCHEDULE}
    dispatch = schedules[tasks.DISPATCH_SCHEDULE]
    assert (dispatch.func, dispatch.schedule_type, dispatch.minutes) == (
        "interventions.tasks.dispatch_due",
        Schedule.MINUTES,
        1,
    )
    assert schedules[tasks.DAILY_SCHEDULE].schedule_type == Schedule.DAILY


def test_daily_memory_at_risk_fires_for_at_risk_customers(rule):
    rule(
        "recovery-follow-up",
        event=cond.MEMORY_AT_RISK,
        conditions=[{"field": "memory_balance", "op": "lt", "value": -0.5}],
        still_true=[],
        active=True,
    )
    at_risk = CustomerFactory()
    CustomerMemory.objects.create(customer=at_risk, balance=-1.2, trend=-0.4, at_risk=True)
    fine = CustomerFactory()
    CustomerMemory.objects.create(customer=fine, balance=0.8, at_risk=False)
    assert tasks.daily_events()[cond.MEMORY_AT_RISK] == 1
    intervention = Intervention.objects.get()
    assert intervention.customer == at_risk
    assert intervention.why_fired["conditions"][0]["actual"] == -1.2
    assert tasks.daily_events()[cond.MEMORY_AT_RISK] == 0  # once per customer ("once" episode)
