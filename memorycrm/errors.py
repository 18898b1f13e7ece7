"""handler403: a refused page is a page of the app, saying which role it needs."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import Group
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler403. Under /api/ a refusal is JSON, like the API's own (DRF answers most of them
    itself); elsewhere the base layout with the roles that may open the page and a way back."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"detail": "You do not have permission to perform this action."}, status=403
        )
    roles = _roles_with(_required_permissions(request))
    user_roles = (
        list(request.user.groups.order_by("name").values_list("name", flat=True))
        if request.user.is_authenticated
        else []
    )
    context = {"roles": [f"{name}s" for name in roles], "user_roles": user_roles}
    return render(request, "403.html", context, status=403)


def _required_permissions(request: HttpRequest) -> tuple[str, ...]:
    """The permissions the refused view asked for, when it used Django's
    ``permission_required``: that decorator keeps them in its ``check_perms`` closure, which
    we read down the chain of wrapped views. () when unknown (then the page says less)."""
    try:
        view: Callable | None = resolve(request.path_info).func
    except Resolver404:
        return ()
    while view is not None:
        for cell in getattr(view, "__closure__", None) or ():
            test = cell.cell_contents
            if callable(test) and getattr(test, "__name__", "") == "check_perms":
                for inner in test.__closure__ or ():
                    perms = inner.cell_contents
                    if isinstance(perms, tuple) and all(isinstance(p, str) for p in perms):
                        return perms
        view = getattr(view, "__wrapped__", None)
    return ()


def _roles_with(perms: tuple[str, ...]) -> list[str]:
    """Names of the roles (groups) holding every one of ``perms``, in the order of access
    (fewest permissions first: Agent, Manager, Admin)."""
    if not perms:
        return []
    groups = Group.objects.all()
    for perm in perms:
        app_label, codename = perm.split(".", 1)
        groups = groups.filter(
            Q(permissions__content_type__app_label=app_label, permissions__codename=codename)
        )
    return [g.name for g in sorted(groups.distinct(), key=lambda g: g.permissions.count())]
