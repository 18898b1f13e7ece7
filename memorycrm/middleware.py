"""A database that is briefly unreachable (a PostgreSQL restart or fail-over) answers 503 with
Retry-After, not a 500 page: the client, a proxy or an integrator's retry loop can tell "try
again in a moment" from "this request is broken", and nothing was stored by the failed request
(its transaction never committed).

The API gets the same answer as JSON from memorycrm.lib.api.exception_handler. Connections the
restart broke are not reused: Django's health checks (CONN_HEALTH_CHECKS, set in settings)
replace them at the start of the next request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
DATABASE_ERRORS = (OperationalError, InterfaceError)

# Standalone on purpose: rendering the site's templates could touch the database again (the
# logged-in user, the alert count).
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Back in a moment</title></head>
<body><h1>Back in a moment</h1>
<p>MemoryCRM cannot reach its database right now. Nothing was saved from this request;
please try again in a few seconds.</p></body></html>
"""


def database_unavailable(exception: Exception) -> bool:
    return isinstance(exception, DATABASE_ERRORS)


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not database_unavailable(exception):
            return None
        logger.warning(
            "Database unavailable for %s %s: %s", request.method, request.path, exception
        )
        response = HttpResponse(PAGE, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        response["Cache-Control"] = "no-store"
        return response
