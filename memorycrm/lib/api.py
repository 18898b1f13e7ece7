from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    """DRF's handler, plus the errors our services and Django raise, as JSON instead of a 500:

    - a Django ValidationError (full_clean, a constraint) → 400 with field messages;
    - an IntegrityError (two identical creates racing past full_clean) → 409, nothing stored;
    - a body larger than DATA_UPLOAD_MAX_MEMORY_SIZE → 413.
    """
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
