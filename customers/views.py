"""HTML pages for agents. Each view renders its full page, or only the named partial for HTMX."""

from __future__ import annotations

import itertools

from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from customers import exports, imports, selectors, services
from customers.access import customers_visible_to, get_customer_for_user, interactions_visible_to
from customers.forms import CustomerForm, CustomerSearchForm, ImportUploadForm, InteractionForm
from customers.models import Customer, ImportJob


def _apply_errors(form, error: ValidationError) -> None:
    """Show a service's ValidationError on the form (fields it names, else the whole form)."""
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("customer-list")


@require_GET
@login_required
@permission_required("customers.view_customer", raise_exception=True)
def customer_list(request: HttpRequest) -> HttpResponse:
    search = CustomerSearchForm(request.GET)
    query, cursor = "", None
    if search.is_valid():
        query, cursor = search.cleaned_data["q"], search.cleaned_data["cursor"] or None
    page = selectors.customer_page(user=request.user, query=query, cursor=cursor)
    context = {"search": search, "query": query, "page": page, "paged": bool(cursor)}
    template = "customers/customer_list.html"
    if request.htmx and not request.htmx.boosted:
        # The search box and the "more" link both ask for the list alone.
        template += "#customer-list"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("customers.add_customer", raise_exception=True)
def customer_create(request: HttpRequest) -> HttpResponse:
    form = CustomerForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            customer = services.create_customer(created_by=request.user, **form.cleaned_data)
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            return _redirect(request, customer)
    return _render_customer_form(request, form, customer=None)


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("customers.change_customer", raise_exception=True)
def customer_edit(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_customer_for_user(request.user, pk)
    form = CustomerForm(request.POST or None, instance=customer, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_customer(customer=customer, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            return _redirect(request, customer)
    return _render_customer_form(request, form, customer=customer)


def _render_customer_form(
    request: HttpRequest, form: CustomerForm, *, customer: Customer | None
) -> HttpResponse:
    template = "customers/customer_form.html"
    if request.htmx:
        template += "#customer-form"
    return render(request, template, {"form": form, "customer": customer})


def _redirect(request: HttpRequest, customer: Customer) -> HttpResponse:
    if request.htmx:
        return HttpResponseClientRedirect(customer.get_absolute_url())
    return redirect(customer)


@require_GET
@login_required
@permission_required("customers.view_customer", raise_exception=True)
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The customer page; with `?cursor=` from HTMX, only the next page of the timeline."""
    customer = get_customer_for_user(request.user, pk)
    if request.htmx and "after" in request.GET:
        return _timeline_arrivals(request, customer)
    cursor = request.GET.get("cursor") or None
    page = selectors.timeline_page(customer=customer, cursor=cursor)
    context = {"customer": customer, "page": page, "cursor": cursor}
    context["newest_id"] = selectors.newest_interaction_id(customer)
    context["live_seconds"] = settings.MEMORY_LIVE_SECONDS
    if request.htmx and cursor:
        return render(request, "customers/customer_detail.html#timeline-page", context)
    context["form"] = InteractionForm()
    context["can_log"] = request.user.has_perm("customers.add_interaction")
    return render(request, "customers/customer_detail.html", context)


def _timeline_arrivals(request: HttpRequest, customer: Customer) -> HttpResponse:
    """The open page's live refresh: interactions stored since it last asked (an email, a
    webhook, the API, another agent) go to the top of its timeline without a reload. `after`
    is the newest id it knows; `logged`, the items it added itself (not sent again).
    Nothing new: 204, no swap."""
    try:
        after = int(request.GET["after"])
        logged = {int(pk) for pk in request.GET.getlist("logged")}
    except ValueError:
        return HttpResponse("after and logged are interaction ids.", status=400)
    arrivals = selectors.timeline_arrivals(customer=customer, after=after, shown=logged)
    if not arrivals and not logged:
        return HttpResponse(status=204)
    newest = max([after, *logged, *(i.pk for i in arrivals)])
    context = {
        "customer": customer,
        "arrivals": arrivals,
        "newest_id": newest,
        "was_empty": after == 0 and not logged,  # the page shows "No interactions yet."
        "live_seconds": settings.MEMORY_LIVE_SECONDS,
    }
    return render(request, "customers/_timeline_arrivals.html", context)


@require_POST
@login_required
@permission_required("customers.add_interaction", raise_exception=True)
def interaction_create(request: HttpRequest, pk: int) -> HttpResponse:
    """Log an interaction. From HTMX: a fresh form plus the new item for the top of the timeline
    (out-of-band); on invalid input, the form again with its errors and what was typed."""
    customer = get_customer_for_user(request.user, pk)
    form = InteractionForm(request.POST)
    interaction = None
    if form.is_valid():
        try:
            interaction = services.log_interaction(
                customer=customer, agent=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            _apply_errors(form, error)
    if not request.htmx:
        if interaction is not None:
            return redirect(customer)
        page = selectors.timeline_page(customer=customer)
        context = {"customer": customer, "page": page, "form": form, "can_log": True}
        return render(request, "customers/customer_detail.html", context)
    context = {"customer": customer, "form": form, "new_interaction": interaction, "can_log": True}
    if interaction is not None:
        # A fresh form that keeps the channel, direction and stage: agents log series.
        context["form"] = InteractionForm(
            initial={
                "channel": interaction.channel,
                "direction": interaction.direction,
                "stage": interaction.stage_id,
            }
        )
        context["first_interaction"] = not customer.interactions.exclude(pk=interaction.pk).exists()
    return render(request, "customers/_interaction_logged.html", context)


# --- CSV import and export (managers) -----------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("customers.import_customers", raise_exception=True)
def import_list(request: HttpRequest) -> HttpResponse:
    """The upload form, the file formats and the recent imports. A valid upload becomes a queued
    ImportJob (run by django-q2 once committed) and the browser goes to its progress page."""
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        job = imports.start_import(
            kind=form.cleaned_data["kind"],
            filename=form.cleaned_data["file"].name,
            text=form.cleaned_data["text"],
            user=request.user,
        )
        return redirect("import-detail", pk=job.pk)
    jobs = ImportJob.objects.select_related("created_by").defer("content", "errors")[:20]
    context = {
        "form": form,
        "jobs": jobs,
        "customer_columns": imports.CUSTOMER_COLUMNS,
        "interaction_columns": imports.INTERACTION_COLUMNS,
        "can_export": request.user.has_perm("customers.export_customers"),
        "time_zone": settings.TIME_ZONE,
    }
    return render(request, "customers/import_list.html", context)


@require_GET
@login_required
@permission_required("customers.import_customers", raise_exception=True)
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A job's progress and, once finished, its summary and bad rows. HTMX polls the
    `import-job` partial every second while the job runs."""
    job = get_object_or_404(ImportJob.objects.defer("content"), pk=pk)
    template = "customers/import_detail.html"
    if request.htmx:
        template += "#import-job"
    return render(request, template, {"job": job})


@require_GET
@login_required
@permission_required("customers.export_customers", raise_exception=True)
def export_download(request: HttpRequest, kind: str) -> StreamingHttpResponse:
    """customers.csv or interactions.csv, streamed, in the import format."""
    if kind not in ImportJob.Kind.values:
        raise Http404("No such export.")
    lines = exports.export_csv(
        kind=kind,
        customers=customers_visible_to(request.user),
        interactions=interactions_visible_to(request.user),
    )
    # The byte-order mark makes spreadsheets read the file as UTF-8; the import skips it.
    response = StreamingHttpResponse(
        itertools.chain(["\ufeff"], lines), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{kind}.csv"'
    return response
