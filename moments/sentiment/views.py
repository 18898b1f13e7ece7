"""Sentiment pages: the model status page, an interaction's badge, and the one-click correction."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from customers.access import interactions_visible_to
from customers.models import Interaction
from moments.memory.views import render_memory_changes
from moments.sentiment import eta, selectors, services
from moments.sentiment.forms import SentimentCorrectionForm


def _interaction_for_user(request: HttpRequest, pk: int) -> Interaction:
    """404 for interactions the user may not see (same rule as the customer's timeline)."""
    return get_object_or_404(interactions_visible_to(request.user), pk=pk)


@require_GET
@login_required
@permission_required("moments.view_sentimentmodel", raise_exception=True)
def sentiment_status(request: HttpRequest) -> HttpResponse:
    """Which model scores interactions, how good it is, and any training under way with the
    expected wait (the fragment polls itself while a training runs)."""
    template = "moments/sentiment_status.html"
    if request.htmx:
        template += "#sentiment-status"
    status = selectors.sentiment_status()
    expected = eta.forecast(
        active=status.active, runs=list(selectors.training_in_progress()), now=timezone.now()
    )
    return render(request, template, {"status": status, "expected": expected})


@require_GET
@login_required
@permission_required("customers.view_interaction", raise_exception=True)
def sentiment_badge(request: HttpRequest, pk: int) -> HttpResponse:
    """One interaction's badge; a pending badge polls this until the worker has scored it."""
    interaction = _interaction_for_user(request, pk)
    return render(request, "moments/_sentiment_badge.html", {"interaction": interaction})


@require_POST
@login_required
@permission_required("moments.add_sentimentcorrection", raise_exception=True)
def correct_sentiment(request: HttpRequest, pk: int) -> HttpResponse:
    """Store an agent's label (one click on the badge) and show the corrected badge; from HTMX
    the interaction's marker, the memory panel and the chart follow out-of-band (a corrected
    moment changes polarity and impact at once)."""
    interaction = _interaction_for_user(request, pk)
    form = SentimentCorrectionForm(request.POST)
    if form.is_valid():
        try:
            services.correct_sentiment(
                interaction=interaction, label=form.cleaned_data["label"], user=request.user
            )
        except ValidationError as exc:  # e.g. an agent's note: no customer sentiment
            form.add_error("label", exc.message_dict.get("label", exc.messages))
        interaction.refresh_from_db()
    if not request.htmx:
        return redirect(f"{interaction.customer.get_absolute_url()}#interaction-{pk}")
    context = {"interaction": interaction, "form_error": form.errors.get("label")}
    response = render(request, "moments/_sentiment_badge.html", context)
    if form.is_valid():
        response.write(render_memory_changes(request, interaction.customer, markers=[interaction]))
        # After the swap, so the sync reads the new badge and marker (and leaves them be).
        response["HX-Trigger-After-Settle"] = "memory-changed"
    return response
