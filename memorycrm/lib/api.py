from datetime import UTC, datetime
from typing import TYPE_CHECKING

import django_filters
from django import forms
from django.core.exceptions import FieldDoesNotExist, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, models
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views import defaults
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import force_instance
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.filters import OrderingFilter
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from memorycrm.lib import api_docs
from memorycrm.middleware import RETRY_AFTER_SECONDS, database_unavailable


def exception_handler(exc, context):
    """DRF's handler, plus the errors our services and Django raise, as JSON instead of a 500:

    - a Django ValidationError (full_clean, a constraint) → 400 with field messages;
    - an IntegrityError (two identical creates racing past full_clean) → 409, nothing stored;
    - a body larger than DATA_UPLOAD_MAX_MEMORY_SIZE → 413;
    - the database unreachable (a restart, a fail-over) → 503 with Retry-After, nothing stored.
    """
    if database_unavailable(exc):
        return Response(
            {"detail": "The database is unavailable; nothing was stored. Retry shortly."},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, IntegrityError):
        return Response(
            {"detail": "This conflicts with a record that already exists; fetch it and retry."},
            status=status.HTTP_409_CONFLICT,
        )
    elif isinstance(exc, RequestDataTooBig):
        return Response(
            {"detail": "The request body is too large."},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    return drf_exception_handler(exc, context)


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, for a person to read.")


VALIDATION_ERROR = OpenApiResponse(
    response={
        "type": "object",
        "additionalProperties": {},
        "description": "Field name (`non_field_errors` for the whole input, `detail` for a body "
        "that cannot be parsed) → its messages.",
    },
    description="Invalid input: nothing was changed.",
)
ERRORS = {
    "401": OpenApiResponse(ErrorSerializer, description="No valid token or session."),
    "403": OpenApiResponse(ErrorSerializer, description="Your role does not allow this."),
    "404": OpenApiResponse(
        ErrorSerializer, description="No such object among those you may see, or no such page."
    ),
    "409": OpenApiResponse(
        ErrorSerializer, description="Conflicts with a record that already exists; retry."
    ),
    "429": OpenApiResponse(
        ErrorSerializer, description="Too many requests: retry after Retry-After seconds."
    ),
}


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema, plus the error answers each operation can give, so that the
    schema describes every status a client sees (clients and the fuzz test rely on it):

    - 400 (field messages) where the input is validated: a body, filters, query parameters;
    - 401 and 403 where a login is required;
    - 404 where a path names an object, or a list is paginated (a page that does not exist);
    - 409 on writes (memorycrm.lib.api.exception_handler's IntegrityError);
    - 429 where the view is throttled.

    An operation's own `@extend_schema(responses=…)` for the same status wins.

    Read-only fields of a model serializer are also documented as null or blank when the model
    allows it: DRF drops `allow_blank` from read-only fields and knows nothing of a declared
    field's source (`SlugRelatedField(read_only=True)` on a nullable foreign key), yet it
    answers `null` and `""` all the same.
    """

    # Docs for integrators (memorycrm.lib.api_docs), never the viewsets' docstrings.
    def _resource(self) -> tuple[str, str]:
        """(URL prefix under /api/v1/, viewset action or HTTP method)."""
        parts = self.path.strip("/").split("/")
        prefix = parts[2] if len(parts) > 2 and parts[:2] == ["api", "v1"] else ""
        return prefix, getattr(self.view, "action", None) or self.method.lower()

    def get_tags(self) -> list[str]:
        tag = api_docs.tag_for(self._resource()[0])
        return [tag] if tag else super().get_tags()

    def get_summary(self) -> str | None:
        return api_docs.summary_for(*self._resource())

    # drf-spectacular's AutoSchema takes no arguments here (it does the same ignore itself);
    # djangorestframework-stubs type DRF's ViewInspector.get_description(path, method).
    def get_description(self) -> str:  # type: ignore[override]
        return api_docs.description_for(*self._resource())

    def _map_basic_serializer(self, serializer, direction):
        serializer = force_instance(serializer)
        if isinstance(serializer, serializers.ModelSerializer):
            for field in serializer.fields.values():
                if field.read_only and field.source != "*":
                    _allow_what_the_model_allows(field, serializer.Meta.model)
        return super()._map_basic_serializer(serializer, direction)

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, response in self._error_responses().items():
            if code not in responses:
                responses[code] = self._get_response_for_code(response, code, direction=direction)
        return responses

    def _error_responses(self) -> dict[str, OpenApiResponse]:
        codes = []
        if self._validates_input():
            codes.append("400")
        if any(
            # A composed permission (IsAuthenticated & X) is an operand holder, not a class.
            isinstance(p, type) and issubclass(p, IsAuthenticated)
            for p in self.view.permission_classes
        ):
            codes += ["401", "403"]
        if self._names_an_object() or (self._is_list_view() and self._get_paginator()):
            codes.append("404")
        if self.method not in ("GET", "HEAD", "OPTIONS"):
            codes.append("409")
        if self.view.throttle_classes:
            codes.append("429")
        return {code: VALIDATION_ERROR if code == "400" else ERRORS[code] for code in codes}

    def _validates_input(self) -> bool:
        if self.method in ("POST", "PUT", "PATCH"):
            return True
        filtered = self._is_list_view() and any(
            getattr(self.view, name, None) for name in ("filterset_class", "filterset_fields")
        )
        return filtered or any(
            isinstance(p, OpenApiParameter) and p.location == OpenApiParameter.QUERY
            for p in self.get_override_parameters()
        )

    def _names_an_object(self) -> bool:
        return "{" in self.path


def _allow_what_the_model_allows(field: serializers.Field, model: type[models.Model]) -> None:
    """Mark a read-only serializer field nullable (blank) if the model field(s) its source goes
    through may be null (the last one may be blank). Only the schema reads these flags: a
    read-only field answers None or "" whatever they say."""
    if not isinstance(field.source, str):
        return  # not bound yet (a bound field's source is always its dotted path)
    path = []
    for name in field.source.split("."):
        try:
            model_field = model._meta.get_field(name)  # also takes "customer_id"
        except FieldDoesNotExist:
            return  # a property or a method: nothing to learn from the model
        path.append(model_field)
        related = model_field.related_model  # None: not a relation ("self" is resolved by now)
        if not isinstance(related, type):
            break
        model = related
    if any(getattr(f, "null", False) for f in path):
        field.allow_null = True
    if hasattr(field, "allow_blank") and getattr(path[-1], "blank", False):
        field.allow_blank = True


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: under /api/ a URL that matches no route (an id like `1.5`, which the
    router's patterns refuse) is a JSON 404 like any other API 404, not the HTML page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


class UtcIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 date-time, converted to UTC. Python takes offsets up to ±23:59 but
    PostgreSQL only up to ±15:59 (`+17:00` was a 500), and a date at the edge of the calendar
    moved to UTC leaves it (`9999-12-31T23:59-01:00`): such a value is invalid, a 400."""

    def to_python(self, value) -> datetime | None:
        parsed = super().to_python(value)
        if parsed is None or timezone.is_naive(parsed):  # naive: only with USE_TZ off
            return parsed
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise DjangoValidationError(self.error_messages["invalid"], code="invalid") from None


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """django-filter's IsoDateTimeFilter, safe for any offset (see UtcIsoDateTimeField)."""

    field_class = UtcIsoDateTimeField


class IdFilter(django_filters.NumberFilter):
    """A row's id in a query string: a whole number within 64 bits. A plain NumberFilter takes
    any decimal (`1.5` matched row 1) and passed ids beyond 64 bits on to SQLite, a 500."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", -(2**63))
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


if TYPE_CHECKING:
    _ViewMixin = APIView  # to the type checker, a mixin of API views is one
else:
    _ViewMixin = object  # at run time a plain mixin: the views' MRO is unchanged


class MethodBeforePermissionMixin(_ViewMixin):
    """Answer 405 for a method the route does not serve before checking model permissions.

    DjangoModelPermissions maps PUT to `change_…`, so without this an agent would get 403 for
    a PUT on an interaction and a manager 405; everyone should get 405.
    """

    def check_permissions(self, request) -> None:
        if not hasattr(self, request.method.lower()):
            raise MethodNotAllowed(request.method)
        super().check_permissions(request)


class StableOrderingFilter(OrderingFilter):
    """`?ordering=` on the declared fields, with `id` appended so rows that tie on the chosen
    field keep one order from page to page."""

    def get_ordering(self, request, queryset, view) -> list[str]:
        ordering = list(super().get_ordering(request, queryset, view) or [])
        if not any(field.lstrip("-") == "id" for field in ordering):
            descending = bool(ordering) and ordering[-1].startswith("-")
            ordering.append("-id" if descending else "id")
        return ordering

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        fields = ", ".join(f"`{field}`" for field in getattr(view, "ordering_fields", []))
        parameters[0]["description"] = (
            f"Order by {fields}; prefix `-` for descending, separate several with commas."
        )
        return parameters


def needs(*perms: str) -> type[BasePermission]:
    """A permission class granting the users who hold every one of ``perms``, for the routes that
    DjangoModelPermissions does not cover (an action, a view over no model)."""

    class HasPerms(BasePermission):
        def has_permission(self, request, view) -> bool:
            return request.user.has_perms(perms)

    HasPerms.__name__ = "Has_" + "_and_".join(perm.replace(".", "_") for perm in perms)
    return HasPerms
