"""The nav's sentiment link is readable on every page: its text against the top bar's colour
has a contrast of at least 4.5:1 (WCAG AA), including on the interventions pages, whose
stylesheet colours status chips; and it says in words what the model is doing."""

from __future__ import annotations

import pytest
from django.utils import timezone

from moments.models import SentimentModel
from tests.browser.helpers import login, new_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The link's text colour and the first non-transparent background behind it, as computed.
COLOURS = """el => {
  const rgb = s => s.match(/[\\d.]+/g).map(Number);
  let bg = null;
  for (let n = el; n && !bg; n = n.parentElement) {
    const c = rgb(getComputedStyle(n).backgroundColor);
    if (c.length < 4 || c[3] > 0) bg = c.slice(0, 3);
  }
  return {fg: rgb(getComputedStyle(el).color).slice(0, 3), bg: bg || [255, 255, 255]};
}"""


def contrast(fg: list[float], bg: list[float]) -> float:
    def luminance(rgb: list[float]) -> float:
        def channel(c: float) -> float:
            c /= 255
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

        r, g, b = (channel(c) for c in rgb)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light, dark = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.mark.parametrize("state", ["training", "ready", "failed"])
def test_sentiment_nav_link_is_readable_on_every_page(
    browser, contexts, live_server, manager, state
):
    now = timezone.now()
    if state == "training":
        SentimentModel.objects.create(
            kind="quick", status="training", progress=0.08, started_at=now
        )
    elif state == "ready":
        SentimentModel.objects.create(
            kind="quick", status="ready", path="v1/model.pt", activated_at=now
        )
    else:
        SentimentModel.objects.create(kind="quick", status="failed", message="disk full")
    errors: list[str] = []
    page = new_page(browser, errors)
    contexts.append(page)
    login(page, live_server, "manager")
    for path in ("/customers/", "/alerts/", "/tasks/", "/interventions/", "/rules/"):
        page.goto(f"{live_server.url}{path}")
        link = page.locator(".topbar a.sentiment-model-status")
        colours = link.evaluate(COLOURS)
        ratio = contrast(colours["fg"], colours["bg"])
        assert ratio >= 4.5, f"{path}: {colours} contrast {ratio:.2f}"
    assert errors == []


def test_sentiment_nav_link_says_when_the_first_model_is_ready(
    browser, contexts, live_server, manager
):
    SentimentModel.objects.create(
        kind="quick", status="training", progress=0.5, started_at=timezone.now()
    )
    page = new_page(browser, [])
    contexts.append(page)
    login(page, live_server, "manager")
    text = page.locator(".topbar a.sentiment-model-status").inner_text()
    assert text.startswith("Sentiment: first model in about ")
    assert "%" not in text


def test_sentiment_nav_link_says_ready_while_a_better_model_trains(
    browser, contexts, live_server, manager
):
    now = timezone.now()
    SentimentModel.objects.create(
        kind="quick", status="ready", path="v1/model.pt", activated_at=now
    )
    SentimentModel.objects.create(kind="full", status="training", progress=0.08, started_at=now)
    page = new_page(browser, [])
    contexts.append(page)
    login(page, live_server, "manager")
    assert page.locator(".topbar a.sentiment-model-status").inner_text() == "Sentiment: ready"
