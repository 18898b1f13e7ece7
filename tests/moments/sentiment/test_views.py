"""Sentiment in the web UI: status page, badge, one-click correction, chart."""

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.models import Interaction
from moments.models import SentimentCorrection
from tests.factories import CustomerFactory, InteractionFactory, UserFactory


def _scored(customer, label="positive", score=0.8, when=None):
    interaction = InteractionFactory(customer=customer, occurred_at=when or timezone.now())
    Interaction.objects.filter(pk=interaction.pk).update(
        sentiment_label=label,
        sentiment_score=score,
        sentiment_confidence=0.9,
        sentiment_model="20260101T000000Z-full-minilm",
        scored_at=timezone.now(),
    )
    interaction.refresh_from_db()
    return interaction


def test_status_page_shows_the_active_model_and_its_metrics(agent_client, sentiment_model):
    response = agent_client.get(reverse("sentiment-status"))
    assert response.status_code == 200
    body = response.content.decode()
    assert sentiment_model.version in body
    assert "hutto3_test" in body and "VADER" in body


def test_status_page_shows_training_progress(agent_client, db):
    from moments.models import SentimentModel

    SentimentModel.objects.create(
        kind="quick", status="training", progress=0.42, message="training epoch 1/10"
    )
    response = agent_client.get(reverse("sentiment-status"), headers={"HX-Request": "true"})
    body = response.content.decode()
    assert 'id="sentiment-status"' in body and "<html" not in body
    assert "training epoch 1/10" in body and 'value="42"' in body


def test_status_page_needs_login(client):
    response = client.get(reverse("sentiment-status"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_status_page_needs_a_role(client, no_role_user):
    client.force_login(no_role_user)
    assert client.get(reverse("sentiment-status")).status_code == 403


def test_badge_shows_pending_then_label(agent_client, customer):
    interaction = InteractionFactory(customer=customer)
    pending = agent_client.get(reverse("sentiment-badge", args=[interaction.pk])).content.decode()
    assert "sentiment pending" in pending and 'hx-trigger="every 10s"' in pending

    scored = _scored(customer, label="negative", score=-0.7)
    body = agent_client.get(reverse("sentiment-badge", args=[scored.pk])).content.decode()
    assert "Negative" in body and "90%" in body and "hx-trigger" not in body


def test_correction_in_one_click_returns_the_corrected_badge(agent_client, agent, customer):
    interaction = _scored(customer, label="positive")
    response = agent_client.post(
        reverse("sentiment-correct", args=[interaction.pk]),
        {"label": "negative"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert f'id="sentiment-{interaction.pk}"' in response.content.decode()
    assert "(corrected)" in response.content.decode()
    correction = SentimentCorrection.objects.get(interaction=interaction)
    assert (correction.label, correction.previous_label, correction.corrected_by) == (
        "negative",
        "positive",
        agent,
    )


def test_correction_without_htmx_redirects_to_the_timeline(agent_client, customer):
    interaction = _scored(customer)
    response = agent_client.post(
        reverse("sentiment-correct", args=[interaction.pk]), {"label": "neutral"}
    )
    assert response.status_code == 302
    assert response["Location"].endswith(f"#interaction-{interaction.pk}")


def test_correction_with_a_bad_label_changes_nothing(agent_client, customer):
    interaction = _scored(customer)
    response = agent_client.post(
        reverse("sentiment-correct", args=[interaction.pk]),
        {"label": "furious"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200 and 'role="alert"' in response.content.decode()
    assert not SentimentCorrection.objects.exists()


def test_correction_is_post_only(agent_client, customer):
    interaction = _scored(customer)
    assert agent_client.get(reverse("sentiment-correct", args=[interaction.pk])).status_code == 405


def test_correction_of_an_invisible_interaction_is_404(client, owned_visibility, customer):
    other_agent = UserFactory(username="other", role="Agent")
    client.force_login(other_agent)
    interaction = _scored(CustomerFactory(owner=None))
    response = client.post(
        reverse("sentiment-correct", args=[interaction.pk]), {"label": "neutral"}
    )
    assert response.status_code == 404


def test_correction_needs_login(client, customer):
    interaction = _scored(customer)
    response = client.post(
        reverse("sentiment-correct", args=[interaction.pk]), {"label": "neutral"}
    )
    assert response.status_code == 302


def test_chart_marks_spikes(agent_client, customer):
    from datetime import timedelta

    start = timezone.now() - timedelta(days=30)
    for day in range(8):
        _scored(customer, label="neutral", score=0.1, when=start + timedelta(days=day))
    spike = _scored(customer, label="negative", score=-0.95, when=start + timedelta(days=9))

    from django.template import Context, Template

    html = Template("{% load sentiment %}{% sentiment_chart customer %}").render(
        Context({"customer": customer})
    )
    assert "<svg" in html
    assert html.count('class="sentiment-spike"') == 1
    assert f"#interaction-{spike.pk}" in html


@pytest.mark.parametrize("n", [0, 1])
def test_chart_handles_few_points(customer, n):
    from django.template import Context, Template

    for _ in range(n):
        _scored(customer)
    html = Template("{% load sentiment %}{% sentiment_chart customer %}").render(
        Context({"customer": customer})
    )
    assert ("No scored interactions yet." in html) == (n == 0)


def test_chart_rings_memory_moments_but_not_dismissed_ones(customer):
    from datetime import timedelta

    from django.template import Context, Template

    from tests.moments.factories import MomentFactory

    start = timezone.now() - timedelta(days=10)
    _scored(customer, label="neutral", score=0.0, when=start)  # an ordinary point
    remembered = _scored(customer, label="negative", score=-0.9, when=start + timedelta(days=1))
    dismissed = _scored(customer, label="positive", score=0.9, when=start + timedelta(days=2))
    MomentFactory(interaction=remembered)
    MomentFactory(interaction=dismissed, dismissed=True, dismissed_reason="not memorable")

    html = Template("{% load sentiment %}{% sentiment_chart customer %}").render(
        Context({"customer": customer})
    )
    assert html.count('class="moment-mark"') == 1
    ring_at = html.index('class="moment-mark"')
    assert html.index(f"#interaction-{remembered.pk}") < ring_at
    assert "Memory moment: " in html
    assert "1 memory moment marked" in html


def _cx(html: str) -> list[float]:
    import re

    return [float(x) for x in re.findall(r'<circle cx="([\d.]+)"', html)]


@pytest.mark.parametrize("absurd_year", [1, 9999])
def test_chart_leaves_out_absurd_dates_and_says_so(customer, absurd_year):
    from datetime import UTC, datetime, timedelta

    from django.template import Context, Template

    start = timezone.now() - timedelta(days=30)
    for day in range(0, 30, 3):
        _scored(customer, label="neutral", score=0.1, when=start + timedelta(days=day))
    _scored(customer, when=datetime(absurd_year, 6, 1, tzinfo=UTC))
    html = Template("{% load sentiment %}{% sentiment_chart customer %}").render(
        Context({"customer": customer})
    )
    xs = _cx(html)
    assert len(xs) == 10  # the ten sane points, not the absurd one
    # They spread over the chart's width instead of collapsing onto one pixel column.
    assert max(xs) - min(xs) > 400
    assert "1 point with a date outside" in html


def test_chart_keeps_an_old_but_plausible_history(customer):
    from datetime import timedelta

    from django.template import Context, Template

    _scored(customer, when=timezone.now() - timedelta(days=365 * 5))
    _scored(customer, when=timezone.now())
    html = Template("{% load sentiment %}{% sentiment_chart customer %}").render(
        Context({"customer": customer})
    )
    assert len(_cx(html)) == 2
    assert "outside" not in html


@pytest.mark.django_db
def test_customer_page_shows_the_chart_despite_an_absurd_date(agent_client, customer):
    from datetime import UTC, datetime

    _scored(customer)
    _scored(customer, when=datetime(1, 1, 1, tzinfo=UTC))
    response = agent_client.get(reverse("customer-detail", args=[customer.pk]))
    assert response.status_code == 200
    assert "1 point with a date outside" in response.content.decode()
