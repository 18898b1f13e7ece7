"""The journey map's daily rollup stays exactly what the moments say: after detection, agents'
tags, dismissals, restores, deletions, admin edits and the scheduled refresh; its days are
TIME_ZONE days; the rebuild command; concurrent refreshes of a day (PostgreSQL)."""

import importlib
import threading
from collections import defaultdict
from datetime import date, datetime, timedelta
from io import StringIO
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.apps import apps as django_apps
from django.core.management import call_command
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from moments.memory import rollup as memory_rollup
from moments.memory import selectors_journey
from moments.memory import services as memory_services
from moments.memory import tasks as memory_tasks
from moments.models import JourneyRollup, Moment, MomentTagging
from tests.factories import CustomerFactory
from tests.moments.factories import ScoredInteractionFactory, long_text, stage, tag

pytestmark = pytest.mark.django_db

Key = tuple[date, int | None, int | None, str]


def expected() -> dict[Key, tuple[int, float, float]]:
    """The rollup computed here, in Python, from every live moment and its tags."""
    tags = defaultdict(list)
    for moment_id, tag_id in MomentTagging.objects.values_list("moment_id", "tag_id"):
        tags[moment_id].append(tag_id)
    zone = timezone.get_default_timezone()
    sums: dict[Key, list] = defaultdict(lambda: [0, 0.0, 0.0])
    for m in Moment.objects.filter(dismissed=False):
        day = timezone.localtime(m.occurred_at, zone).date()
        for tag_id in tags[m.pk] or [None]:
            cell = sums[(day, m.stage_id, tag_id, m.polarity)]
            cell[0] += 1
            cell[1] += m.impact
            cell[2] += m.impact * m.recall_now
    return {key: tuple(value) for key, value in sums.items()}


def stored() -> dict[Key, tuple[int, float, float]]:
    rows = JourneyRollup.objects.values_list(
        "day", "stage_id", "tag_id", "polarity", "moment_count", "impact_sum", "remembered_sum"
    )
    result = {}
    for day, stage_id, tag_id, polarity, *values in rows:
        key = (day, stage_id, tag_id, polarity)
        assert key not in result, f"two rows for {key}"
        result[key] = tuple(values)
    return result


def assert_consistent() -> None:
    want, have = expected(), stored()
    assert set(have) == set(want)
    for key, (count, impact, remembered) in want.items():
        assert have[key][0] == count, key
        assert have[key][1] == pytest.approx(impact, rel=1e-9, abs=1e-12), key
        assert have[key][2] == pytest.approx(remembered, rel=1e-9, abs=1e-12), key


def _interaction(customer=None, *, score=-0.9, days_ago=1, **kwargs):
    if "body" in kwargs:
        kwargs["body"] = long_text(kwargs["body"])
    return ScoredInteractionFactory(
        customer=customer or CustomerFactory(),
        sentiment_score=score,
        occurred_at=timezone.now() - timedelta(days=days_ago),
        **kwargs,
    )


def _detect(*interactions):
    return memory_services.detect_moments(interaction_ids=[i.pk for i in interactions])


def test_detection_and_promotion_fill_the_rollup(agent):
    customer = CustomerFactory()
    _detect(
        _interaction(customer, body="Charged twice", stage=stage("complaint")),
        _interaction(customer, days_ago=3, body="Still waiting", stage=stage("complaint")),
        _interaction(score=0.95, days_ago=3, stage=stage("delivery")),
    )
    memory_services.promote_interaction(
        interaction=_interaction(score=0.0, days_ago=40), user=agent, tags=[tag("empathy-win")]
    )
    assert JourneyRollup.objects.count() == 4
    assert_consistent()


def test_tags_added_removed_and_set_move_the_counts(agent):
    (moment,) = _detect(_interaction(body="Charged twice", stage=stage("complaint")))
    memory_services.add_tag(moment=moment, tag=tag("long-wait"), user=agent)
    assert_consistent()
    memory_services.remove_tag(moment=moment, tag=tag("billing-shock"), user=agent)
    assert_consistent()
    memory_services.set_tags(moment=moment, tags=[], user=agent)
    assert_consistent()
    assert set(JourneyRollup.objects.values_list("tag_id", flat=True)) == {None}
    memory_services.set_tags(moment=moment, tags=[tag("broken-promise")], user=agent)
    assert_consistent()


def test_dismissed_moments_leave_and_restored_ones_come_back(agent):
    customer = CustomerFactory()
    first, second = _detect(
        _interaction(customer, body="Charged twice", stage=stage("complaint")),
        _interaction(customer, body="Charged twice", stage=stage("complaint"), days_ago=2),
    )
    memory_services.dismiss_moment(moment=first, user=agent, reason="test call")
    assert_consistent()
    assert JourneyRollup.objects.get().moment_count == 1
    memory_services.dismiss_moment(moment=second, user=agent, reason="test call")
    assert not JourneyRollup.objects.exists()
    memory_services.promote_interaction(interaction=first.interaction, user=agent)
    assert_consistent()
    assert JourneyRollup.objects.count() == 1


def test_another_customers_change_keeps_the_shared_day_whole(agent):
    mine = _detect(_interaction(body="Charged twice", stage=stage("complaint")))[0]
    _detect(_interaction(body="Charged twice", stage=stage("complaint")))
    memory_services.dismiss_moment(moment=mine, user=agent, reason="test call")
    assert JourneyRollup.objects.get().moment_count == 1
    assert_consistent()


def test_deleted_moments_leave_once_the_deletion_commits(django_capture_on_commit_callbacks):
    customer = CustomerFactory()
    kept = _interaction(score=0.95, stage=stage("delivery"))
    gone = _interaction(customer, body="Charged twice", stage=stage("complaint"))
    _detect(kept, gone, _interaction(customer, days_ago=5, body="Still waiting"))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        gone.delete()
    assert len(callbacks) == 1
    assert_consistent()
    with django_capture_on_commit_callbacks(execute=True):
        customer.delete()  # a cascade: its other moment goes too
    assert_consistent()
    assert list(JourneyRollup.objects.values_list("stage_id", flat=True)) == [stage("delivery").pk]


def test_admin_edit_moving_a_moment_refreshes_both_days(admin_user, client):
    (moment,) = _detect(_interaction(body="Charged twice", stage=stage("complaint"), days_ago=9))
    client.force_login(admin_user)
    url = reverse("admin:moments_moment_change", args=[moment.pk])
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "reasons"}
    moved = timezone.localtime(timezone.now() - timedelta(days=2))
    data.update(
        {
            "customer": moment.customer_id,
            "interaction": moment.interaction_id,
            "stage": stage("delivery").pk,
            "reasons": "[]",
            "occurred_at_0": moved.date().isoformat(),
            "occurred_at_1": moved.time().replace(microsecond=0).isoformat(),
            "taggings-TOTAL_FORMS": 0,
            "taggings-INITIAL_FORMS": 0,
        }
    )
    data = {k: v for k, v in data.items() if k not in ("occurred_at", "created_by", "dismissed_by")}
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    moment.refresh_from_db()
    assert moment.stage == stage("delivery")
    assert_consistent()
    assert list(JourneyRollup.objects.values_list("day", flat=True)) == [moved.date()]


def test_scheduled_refresh_rebuilds_it_as_recall_fades():
    _detect(_interaction(body="Charged twice", stage=stage("complaint"), days_ago=0))
    before = JourneyRollup.objects.get().remembered_sum
    with time_machine.travel(timezone.now() + timedelta(days=60), tick=False):
        assert memory_tasks.refresh_all_memory() == {"customers": 1}
    assert_consistent()
    assert before < JourneyRollup.objects.get().remembered_sum < 0  # closer to 0: fading


def test_rebuild_command_restores_it():
    _detect(
        _interaction(body="Charged twice", stage=stage("complaint")),
        _interaction(score=0.95, days_ago=100, stage=stage("delivery")),
    )
    JourneyRollup.objects.filter(stage=stage("complaint")).update(moment_count=99)
    JourneyRollup.objects.filter(stage=stage("delivery")).delete()
    JourneyRollup.objects.create(
        day=date(2001, 1, 1),
        polarity="neutral",
        moment_count=1,
        impact_sum=0,
        remembered_sum=0,
        refreshed_at=timezone.now(),
    )
    out = StringIO()
    call_command("rebuild_journey_rollup", stdout=out)
    assert_consistent()
    assert "journey rollup rebuilt: 2 rows over" in out.getvalue()


def test_migration_fills_it_from_the_moments_already_there():
    fill = importlib.import_module("moments.migrations.0006_journey_rollup").fill
    _detect(
        _interaction(body="Charged twice", stage=stage("complaint")),
        _interaction(score=0.95, days_ago=100, stage=stage("delivery")),
    )
    JourneyRollup.objects.all().delete()
    fill(django_apps, SimpleNamespace(connection=connection))
    assert JourneyRollup.objects.count() == 2
    assert_consistent()


def test_days_are_time_zone_days(settings, manager):
    settings.TIME_ZONE = "Pacific/Auckland"  # UTC+12 or +13: the local day is a day ahead
    zone = ZoneInfo("Pacific/Auckland")
    late = datetime(2025, 3, 3, 23, 30, tzinfo=zone)  # 10:30 UTC the same day
    early = datetime(2025, 3, 4, 0, 30, tzinfo=zone)  # 11:30 UTC on the 3rd
    _detect(
        ScoredInteractionFactory(
            sentiment_score=-0.9, occurred_at=late, body=long_text("Charged twice")
        ),
        ScoredInteractionFactory(
            sentiment_score=-0.9, occurred_at=early, body=long_text("Charged twice")
        ),
    )
    assert sorted(JourneyRollup.objects.values_list("day", flat=True)) == [
        date(2025, 3, 3),
        date(2025, 3, 4),
    ]
    assert_consistent()
    only_4th = selectors_journey.HeatmapFilter(date_from=date(2025, 3, 4), date_to=date(2025, 3, 4))
    heatmap = selectors_journey.journey_heatmap(only_4th, user=manager)
    assert sum(c.count for c in heatmap.cells.values()) == 1


def test_heatmap_from_the_rollup_equals_the_live_aggregate(manager, agent):
    for i, (slug, score, body) in enumerate(
        [
            ("complaint", -0.9, "Charged twice"),
            ("complaint", -0.95, "Charged twice. Still waiting"),
            ("delivery", 0.95, ""),
            ("onboarding", -0.85, "You promised"),
            ("delivery", 0.9, "Arrived early"),
        ]
        * 3
    ):
        _detect(_interaction(score=score, days_ago=i * 11, body=body or "Fine", stage=stage(slug)))
    memory_services.promote_interaction(
        interaction=_interaction(score=0.0), user=agent, tags=[tag("empathy-win")]
    )
    for flt in [
        selectors_journey.HeatmapFilter(),
        selectors_journey.HeatmapFilter(polarity="negative"),
        selectors_journey.HeatmapFilter(date_from=date.today() - timedelta(days=90)),
        selectors_journey.HeatmapFilter(
            date_from=date.today() - timedelta(days=100),
            date_to=date.today() - timedelta(days=30),
            polarity="positive",
        ),
    ]:
        live = _live_cells(flt)
        cells = selectors_journey.journey_heatmap(flt, user=manager).cells
        assert set(cells) == set(live)
        for key, cell in cells.items():
            count, mean, remembered = live[key]
            assert cell.count == count
            assert cell.mean_impact == pytest.approx(mean, rel=1e-9)
            assert cell.remembered_impact == pytest.approx(remembered, rel=1e-9)


def _live_cells(flt) -> dict:
    cells: dict = defaultdict(lambda: [0, 0.0, 0.0])
    for m in Moment.objects.filter(**flt.moment_filter()).prefetch_related("taggings"):
        for tag_id in [t.tag_id for t in m.taggings.all()] or [None]:
            cell = cells[(m.stage_id, tag_id)]
            cell[0] += 1
            cell[1] += m.impact
            cell[2] += m.impact * m.recall_now
    return {k: (n, i / n, r / n) for k, (n, i, r) in cells.items()}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite serialises all writers")
@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_of_a_day_wait_for_each_other():
    """A second refresh of a day waits for the first to commit, then recomputes it: without the
    lock its insert would collide with the first's uncommitted rows."""
    (moment,) = _detect(_interaction(body="Charged twice", stage=stage("complaint")))
    day = memory_rollup.local_day(moment.occurred_at)
    first_done = threading.Event()
    errors: list[BaseException] = []

    def second() -> None:
        try:
            first_done.wait(5)
            memory_rollup.refresh_days([day])
        except BaseException as error:  # noqa: BLE001  (reported by the test below)
            errors.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=second)
    thread.start()
    with transaction.atomic():
        memory_rollup.refresh_days([day])
        first_done.set()
        thread.join(0.5)
        assert thread.is_alive()  # waiting for our lock
    thread.join(10)
    assert not thread.is_alive() and not errors, errors
    assert_consistent()
