"""HTML pages: the customer's public answer page (no login) and the agents' and managers' pages
(invite from the timeline, bulk invite, report). Each view renders its full page, or only the
named partial for HTMX."""

from __future__ import annotations

import csv
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from customers.access import customers_visible_to
from memorycrm.lib import charts
from surveys import access, forecast, ratelimit, selectors, selectors_report, services
from surveys.forms import AnswerForm, BulkInviteForm, ReportFilterForm
from surveys.models import Invitation

# --- Public answer page (the token in the URL is the credential) ----------------------------


def _public(response: HttpResponse) -> HttpResponse:
    # The URL holds the credential: never leak it in a Referer, never cache the page, and keep
    # it out of search engines.
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _unavailable(request: HttpRequest) -> HttpResponse:
    """One page and one status for unknown, malformed, expired, used and skipped links, so the
    page gives no hint whether a token exists."""
    return _public(render(request, "surveys/public/unavailable.html", status=404))


def _too_many(request: HttpRequest) -> HttpResponse:
    response = render(request, "surveys/public/too_many.html", status=429)
    response["Retry-After"] = "60"
    return _public(response)


def _recently_answered(invitation: Invitation) -> bool:
    grace = timedelta(minutes=settings.SURVEY_RESUBMIT_GRACE_MINUTES)
    return invitation.answered_at is not None and invitation.answered_at > timezone.now() - grace


def _thanks(request: HttpRequest, invitation: Invitation) -> HttpResponse:
    template = "surveys/public/answer.html"
    if request.htmx:
        template += "#answer-form"
    context = {"survey": invitation.survey, "done": True}
    return _public(render(request, template, context))


# csrf_exempt: this page has no session and no login; the unguessable, single-use token in the
# URL is what authorises the POST (a forged cross-site post would need the token, and then it
# could as well post directly). Requiring a CSRF cookie would only make a customer who left the
# tab open overnight, or whose browser blocks cookies, lose their answer.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def answer(request: HttpRequest, token: str) -> HttpResponse:
    if ratelimit.too_many(request):
        return _too_many(request)
    invitation = selectors.invitation_for_token(token)
    if invitation is None or invitation.skipped_reason:
        return _unavailable(request)
    if invitation.answered_at is not None:
        # A double click, a refresh or a second tab right after answering: say thanks again.
        if request.method == "POST" and _recently_answered(invitation):
            return _thanks(request, invitation)
        return _unavailable(request)
    if invitation.is_expired:
        return _unavailable(request)
    survey = invitation.survey
    choices = selectors.moment_choices(invitation)
    data = request.POST if request.method == "POST" else None
    form = AnswerForm(data, survey=survey, moment_choices=choices)
    if request.method == "POST" and form.is_valid():
        try:
            services.submit_response(
                invitation=invitation,
                rating=form.cleaned_data["rating"],
                answer=form.cleaned_data["answer"],
                moment_ids=form.cleaned_data.get("moments", []),
            )
        except services.InvitationUnavailable:
            return _unavailable(request)
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            if request.htmx:
                return _thanks(request, invitation)
            return _public(redirect("survey-thanks", token=token))
    template = "surveys/public/answer.html"
    if request.htmx and request.method == "POST":
        template += "#answer-form"
    context = {"survey": survey, "form": form, "token": token, "done": False}
    return _public(render(request, template, context))


@require_GET
def thanks(request: HttpRequest, token: str) -> HttpResponse:
    """Where a non-JavaScript submit lands (post/redirect/get)."""
    if ratelimit.too_many(request):
        return _too_many(request)
    invitation = selectors.invitation_for_token(token)
    if invitation is None or not _recently_answered(invitation):
        return _unavailable(request)
    return _thanks(request, invitation)


# Same reasoning as `answer` for csrf_exempt: the token in the URL authorises the post, and a
# mail client's one-click unsubscribe (RFC 8058) posts without any cookie.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def opt_out(request: HttpRequest, token: str) -> HttpResponse:
    """The customer stops all survey emails. Unlike answering, this works for every link that
    was ever emailed to them (answered or expired too): an unsubscribe must keep working. GET
    only asks for confirmation, so link scanners that prefetch URLs opt nobody out."""
    if ratelimit.too_many(request):
        return _too_many(request)
    invitation = selectors.invitation_for_token(token)
    if invitation is None or invitation.skipped_reason:
        return _unavailable(request)
    done = request.method == "POST"
    if done:
        services.opt_out(invitation=invitation)
    context = {"token": token, "done": done}
    return _public(render(request, "surveys/public/opt_out.html", context))


# --- Agents: invite from the timeline ----------------------------------------------------------


@require_POST
@login_required
@permission_required("surveys.add_invitation", raise_exception=True)
def invite_interaction(request: HttpRequest, pk: int) -> HttpResponse:
    """Invite the customer to the default survey about this interaction. From HTMX: the
    button's new state (sent, or skipped and why)."""
    interaction = access.get_interaction_for_user(request.user, pk)
    survey = selectors.default_survey()
    invitation, link = None, None
    if survey is not None:
        result = services.create_invitation(
            survey=survey,
            customer=interaction.customer,
            interaction=interaction,
            created_by=request.user,
        )
        invitation = result.invitation
        # The raw token exists only now (only its hash is stored): show the link to copy.
        link = services.answer_url(result.token) if result.token else None
    context = {
        "interaction": interaction,
        "invitation": invitation,
        "no_survey": not survey,
        "link": link,
    }
    if request.htmx:
        return render(request, "surveys/_invite.html", context)
    if invitation is None:
        messages.error(request, "No active survey: ask an admin to create one.")
    elif invitation.skipped_reason:
        messages.warning(request, f"Survey not sent: {invitation.get_skipped_reason_display()}.")
    else:
        # Not a redirect: the link cannot be shown again later.
        return render(request, "surveys/invite_sent.html", context)
    return redirect(interaction.customer)


# --- Managers: bulk invite ---------------------------------------------------------------------


BULK_PREVIEW_ROWS = 20  # customers listed by the preview; the rest are counted


def _bulk_customers(user, data: dict):
    customers = customers_visible_to(user)
    if data.get("q"):
        customers = customers.search(data["q"])
    interaction_filter = {}
    if data.get("stage"):
        interaction_filter["interactions__stage"] = data["stage"]
    if data.get("since"):
        interaction_filter["interactions__occurred_at__date__gte"] = data["since"]
    if data.get("channel"):
        interaction_filter["interactions__channel"] = data["channel"]
    if interaction_filter:
        customers = customers.filter(**interaction_filter).distinct()
    return customers.order_by("id")


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("surveys.bulk_invite", raise_exception=True)
def bulk_invite(request: HttpRequest) -> HttpResponse:
    """Filter customers, see how many match, invite them; then a summary of who was invited and
    who was skipped, and why. At most SURVEY_BULK_MAX customers per run."""
    form = BulkInviteForm(request.POST or request.GET or None)
    context: dict = {"form": form, "limit": settings.SURVEY_BULK_MAX}
    if form.is_bound and form.is_valid():
        customers = _bulk_customers(request.user, form.cleaned_data)
        context["matching"] = customers.count()
        if request.method == "GET":  # the preview: who would be invited
            context["preview"] = list(
                customers.only("pk", "name", "email", "company")[:BULK_PREVIEW_ROWS]
            )
            context["more"] = max(0, context["matching"] - BULK_PREVIEW_ROWS)
            # The invite form repeats the filters, so the POST invites what was previewed.
            context["filters"] = [
                (name, value) for name, value in form.data.items() if name in form.fields and value
            ]
        else:
            chosen = list(customers[: settings.SURVEY_BULK_MAX])
            context["summary"] = services.bulk_invite(
                survey=form.cleaned_data["survey"], customers=chosen, created_by=request.user
            )
            context["capped"] = context["matching"] > len(chosen)
    template = "surveys/bulk_invite.html"
    if request.htmx:
        template += "#bulk-result"
    return render(request, template, context)


# --- Managers: report --------------------------------------------------------------------------

REPORT_PAGE_SIZE = 50


def _tone(sentiment: float | None) -> str:
    if sentiment is None or abs(sentiment) < THEME_NEUTRAL:
        return "neutral"
    return "positive" if sentiment > 0 else "negative"


# Themes whose answers' mean sentiment is within this of 0 are drawn grey, not red or green.
THEME_NEUTRAL = 0.2


def theme_bars(themes: list[dict]) -> list[charts.Bar]:
    """The report's "what stood out" themes as bars: answers per stage and tag, coloured by the
    answers' mean sentiment; the figures are in the bar's text (and the table under it)."""
    items = []
    for stage in themes:
        for theme in stage["themes"]:
            n, feel = theme["n"], theme["mean_sentiment"]
            note = f"{n} answer{'s' if n != 1 else ''} · mean rating {theme['mean_rating']}"
            if feel is not None:
                note += f" · sentiment {feel:+.2f}".replace("-", "−")
            items.append((f"{stage['stage']} · {theme['tag']}", n, note, _tone(feel)))
    items.sort(key=lambda item: -item[1])
    return charts.bars(items)


@require_GET
@login_required
@permission_required("surveys.view_report", raise_exception=True)
def report(request: HttpRequest) -> HttpResponse:
    form = ReportFilterForm(request.GET)
    filters = form.filters()
    page = (form.cleaned_data.get("page") if form.is_valid() else None) or 1
    offset = (page - 1) * REPORT_PAGE_SIZE
    rows = list(
        selectors_report.report_rows(request.user, filters).prefetch_related(
            "moments__interaction"
        )[offset : offset + REPORT_PAGE_SIZE + 1]
    )
    gaps = selectors.memory_gaps(rows[:REPORT_PAGE_SIZE])
    query = request.GET.copy()
    query.pop("page", None)
    data = selectors_report.report(request.user, filters)
    context = {
        "form": form,
        "data": data,
        "theme_bars": theme_bars(data.get("themes") or []),
        "rows": [(r, gaps[r.pk]) for r in rows[:REPORT_PAGE_SIZE]],
        "gaps": [gap for gap in gaps.values() if gap.any],
        "page": page,
        "has_next": len(rows) > REPORT_PAGE_SIZE,
        "query": query.urlencode(),
    }
    template = "surveys/report.html"
    if request.htmx and not request.htmx.boosted:
        template += "#report-body"
    return render(request, template, context)


class _Echo:
    def write(self, value: str) -> str:
        return value


CSV_HEADER = [
    "response_id",
    "created_at",
    "survey",
    "customer_id",
    "customer",
    "interaction_id",
    "stage",
    "rating",
    "answer",
    "sentiment_label",
    "sentiment_score",
]


def _csv_cell(value) -> str:
    # Spreadsheets run cells starting with = + - @ as formulas: neutralise customer text.
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@require_GET
@login_required
@permission_required("surveys.view_report", raise_exception=True)
def report_csv(request: HttpRequest) -> StreamingHttpResponse:
    """The filtered answers as CSV, streamed in chunks (constant memory whatever the size)."""
    filters = ReportFilterForm(request.GET).filters()
    rows = selectors_report.report_rows(request.user, filters)
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(CSV_HEADER)
        for r in rows.iterator(chunk_size=1000):
            interaction = r.invitation.interaction
            yield writer.writerow(
                [
                    r.pk,
                    r.created_at.isoformat(),
                    _csv_cell(r.survey.name),
                    r.customer_id,
                    _csv_cell(r.customer.name),
                    interaction.pk if interaction else "",
                    _csv_cell(interaction.stage.name if interaction and interaction.stage else ""),
                    r.rating,
                    _csv_cell(r.answer),
                    r.sentiment_label,
                    "" if r.sentiment_score is None else r.sentiment_score,
                ]
            )

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="survey-answers.csv"'
    return response


@require_GET
@login_required
@permission_required("surveys.view_report", raise_exception=True)
def forecast_quality(request: HttpRequest) -> HttpResponse:
    """How well the memory forecast predicts what customers pick (managers): AUC and the
    calibration by decile over the answers the user may see, or why there is no verdict yet."""
    return render(
        request, "surveys/forecast_quality.html", {"quality": forecast.quality(request.user)}
    )
