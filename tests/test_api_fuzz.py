"""Property-based fuzzing of the REST API against its own OpenAPI schema (schemathesis).

Every operation of /api/schema/ is called, as an agent and as a manager (API tokens), with
inputs generated from the schema, valid and invalid: no answer may be a 5xx, and every answer
must be documented (status code, content type, body schema, headers). Nothing is excluded:
no operation trains a model or reaches outside the process (emails and tasks are queued on
commit, and the test's transaction never commits).

The app runs as WSGI in the test's own thread, so every request shares the test's database
connection and transaction: fuzzed writes are rolled back with the test, on PostgreSQL and
SQLite alike. Generation is derandomized with a fixed seed and bounded (the coverage phase's
boundary cases plus 20 random examples per operation): about 8,400 requests for the two
users, the same ones on every run over the same data, a minute or so per backend.

Below the fuzz test: focused regression tests for what it found that concerns the API as a
whole (app-specific ones are in tests/<app>/test_api.py).
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
import schemathesis
from django.contrib.contenttypes.models import ContentType
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.urls import Resolver404, resolve
from django.utils import timezone
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from customers.models import Customer
from interventions.models import Alert, FollowUpTask, Intervention, Rule
from memorycrm.wsgi import application
from moments.memory import services as memory_services
from moments.models import MomentTag
from surveys import services as survey_services
from surveys.models import Survey
from tests.factories import CustomerFactory, api_token
from tests.moments.conftest import sentiment_model, trained_model_path  # noqa: F401 (fixtures)
from tests.moments.factories import ScoredInteractionFactory

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20240607,
        "generation": {
            "mode": "all",  # valid inputs and invalid ones
            "max-examples": 20,
            "deterministic": True,  # Hypothesis' derandomize: the same cases every run
            "database": "none",  # nothing written to .hypothesis/
        },
        # Methods a path does not serve (405) are the permission matrix's business.
        "phases": {"coverage": {"unexpected-methods": []}},
    }
)


@pytest.fixture
def world(request, agent, manager):
    """A little of everything, so that ids in generated paths sometimes exist: customers of
    each user and of nobody, scored interactions, moments, invitations (one answered each), an
    intervention, alerts and follow-up tasks for both users, and a ready sentiment model (the
    scoring endpoint answers 503 without one). Rules, surveys, journey stages and the tag
    taxonomy come from the data migrations."""
    request.getfixturevalue("sentiment_model")
    survey = Survey.objects.get(name="What stood out?")
    tag = MomentTag.objects.filter(active=True).order_by("pk").first()
    rule = Rule.objects.order_by("pk").first()
    for owner in (agent, manager, None):
        customer = CustomerFactory(owner=owner)
        for score in (-0.8, 0.1, 0.7):
            interaction = ScoredInteractionFactory(customer=customer, sentiment_score=score)
        memory_services.promote_interaction(interaction=interaction, user=agent, tags=[tag])
        survey_services.create_invitation(
            survey=survey, customer=customer, interaction=interaction, send=False
        )
        answered = survey_services.create_invitation(
            survey=Survey.objects.create(name=f"Second {customer.pk}", frequency_limit_days=0),
            customer=customer,
            send=False,
        )
        survey_services.submit_response(invitation=answered.invitation, rating=4)
        Intervention.objects.create(
            rule=rule,
            event="interaction.scored",
            subject_type=ContentType.objects.get_for_model(interaction),
            subject_id=interaction.pk,
            customer=customer,
            interaction=interaction,
            scheduled_for=timezone.now() + timedelta(hours=1),
        )
        for user in (agent, manager):
            Alert.objects.create(recipient=user, customer=customer, text="Frustrated customer")
            FollowUpTask.objects.create(
                assignee=user, customer=customer, title="Call back", due=timezone.now()
            )
    return Customer.objects.all()


@pytest.fixture(params=["agent", "manager"])
def token(request, world) -> str:
    user = request.getfixturevalue(request.param)
    return api_token(user)


@pytest.fixture
def same_connection():
    """What the Django test client does too: the end of a request must not close the test's
    connection, and with it the transaction that holds the data and rolls the fuzzing back."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _resolve_any(path: str):
    """The route of an OpenAPI path, its parameters filled with an integer or a UUID."""
    for placeholder in ("1", str(uuid.UUID(int=1))):
        try:
            return resolve(re.sub(r"{\w+}", placeholder, path))
        except Resolver404:
            continue
    raise AssertionError(f"no route for {path}")


def seeded_path_values(path: str) -> tuple[str, list]:
    """The path parameter of an operation (`/api/v1/customers/{id}/`) and its values that name
    a row in the database: the lookup field of the route's viewset, over its model."""
    name = re.search(r"{(\w+)}", path).group(1)
    viewset = _resolve_any(path).func.cls
    queryset = getattr(viewset, "queryset", None)
    if queryset is None and not hasattr(getattr(viewset, "serializer_class", None), "Meta"):
        return name, []  # no model behind the route (ad-hoc scoring results, by UUID)
    model = queryset.model if queryset is not None else viewset.serializer_class.Meta.model
    lookup = getattr(viewset, "lookup_field", "pk")
    return name, list(model.objects.order_by("pk").values_list(lookup, flat=True))


@pytest.fixture
def api_schema(request, token, same_connection):
    # schemathesis 4.32 names each operation's report by setting the node's `_nodeid`, which
    # pytest 9.2 no longer has (node ids live in `_id`): give it one to overwrite.
    request.node._nodeid = request.node.nodeid
    loaded = schemathesis.openapi.from_wsgi(
        "/api/schema/?format=json",
        application,
        config=CONFIG,
        headers={"Authorization": f"Token {token}"},
    )

    # Taken once, before any request: a strategy must not change as fuzzed deletes remove rows.
    seeded = {path: seeded_path_values(path) for path in loaded.raw_schema["paths"] if "{" in path}

    @loaded.hook
    def before_generate_path_parameters(context, strategy):
        # Generated ids almost never exist: half the time, take one that does (visible to
        # this user or not), so that retrieve, update and actions reach a real object.
        name, values = seeded.get(context.operation.path, (None, []))
        if not values:
            return strategy
        return st.one_of(strategy, st.sampled_from(values).map(lambda value: {name: value}))

    return loaded


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_api_matches_its_schema(case, token):
    headers = {"Authorization": f"Token {token}"}
    # Each request in a savepoint, as if in its own transaction: a query PostgreSQL refuses
    # (the 500 being reported) must not abort the test's transaction for every later request.
    savepoint = transaction.savepoint()
    response = case.call(headers=headers)
    if response.status_code >= 500:
        transaction.savepoint_rollback(savepoint)
    else:
        transaction.savepoint_commit(savepoint)
    case.validate_response(response, checks=CHECKS, headers=headers)


# --- Regressions: the API as a whole --------------------------------------------------------


def openapi(client) -> dict:
    return client.get("/api/schema/?format=json").json()


def test_the_schema_documents_the_error_answers(agent_api):
    paths = openapi(agent_api)["paths"]

    def codes(path: str, method: str) -> set[str]:
        return set(paths[path][method]["responses"])

    assert codes("/api/v1/customers/", "get") == {"200", "400", "401", "403", "404"}
    assert codes("/api/v1/customers/", "post") == {"201", "400", "401", "403", "409"}
    assert codes("/api/v1/customers/{id}/", "get") == {"200", "401", "403", "404"}
    assert codes("/api/v1/tag-categories/", "get") == {"200", "401", "403"}
    not_found = paths["/api/v1/customers/{id}/"]["get"]["responses"]["404"]
    assert not_found["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert set(agent_api.get("/api/v1/customers/0/").json()) == {"detail"}


def test_an_api_url_no_route_matches_is_a_json_404(agent_api, client):
    # The router's id pattern refuses `1.5`: Django's HTML 404 page, not the documented JSON.
    response = agent_api.get("/api/v1/customers/1.5/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
    assert client.get("/no-such-page/")["Content-Type"].startswith("text/html")


DATETIME_FILTERS = [
    ("/api/v1/customers/", "created_after"),
    ("/api/v1/interactions/", "occurred_before"),
    ("/api/v1/moments/", "occurred_after"),
    ("/api/v1/survey-invitations/", "created_before"),
    ("/api/v1/survey-responses/", "created_after"),
    ("/api/v1/interventions/", "scheduled_after"),
]


@pytest.mark.parametrize(("url", "name"), DATETIME_FILTERS)
def test_datetime_filters_take_any_offset_python_takes(manager_api, url, name):
    # PostgreSQL takes offsets up to ±15:59 only: +17:00 was a 500 there.
    assert manager_api.get(url, {name: "2020-01-01T00:00:00+17:00"}).status_code == 200
    # Moved to UTC, this one leaves the calendar: invalid input, not a 500.
    response = manager_api.get(url, {name: "9999-12-31T23:59:59-23:59"})
    assert response.status_code == 400
    assert name in response.json()


def test_a_deeply_nested_json_body_is_a_400(agent_api):
    body = "[" * 50_000 + "]" * 50_000
    response = agent_api.post("/api/v1/interactions/", body, content_type="application/json")
    assert response.status_code == 400
    assert "nested" in response.json()["detail"]


def test_a_json_body_over_the_upload_limit_is_a_413(agent_api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = '{"subject": "' + "x" * 20_000 + '"}'
    response = agent_api.post("/api/v1/interactions/", body, content_type="application/json")
    assert response.status_code == 413


@pytest.mark.parametrize("url", ["/api/v1/customers/", "/api/v1/survey-responses/"])
def test_a_page_number_beyond_every_page_is_a_404_not_a_500(manager_api, url):
    assert manager_api.get(url, {"page": "9" * 30}).status_code == 404
