"""The API docs read as a guide for integrators: operations grouped by resource, each with a
summary, and no developer note (class docstrings, setting names, file paths) leaking in."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db

# What a developer's note looks like, never what an integrator should read.
LEAKS = re.compile(
    r"TODO|FIXME|XXX|internal|\.py\b|``|\bservices?\b\.|selectors|moments\.\w+\."
    r"|[A-Z]{2,}_[A-Z_]{2,}|queryset|mixin|DjangoModelPermissions|\bGET /|\bPOST /",
)
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def _operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield f"{method.upper()} {path}", operation


@pytest.fixture
def schema(admin_client) -> dict:
    return admin_client.get("/api/schema/?format=json").json()


def test_every_operation_is_grouped_by_resource(schema):
    tags = {name: op.get("tags", []) for name, op in _operations(schema)}
    assert [name for name, t in tags.items() if not t or "v1" in t] == []
    used = {tag for t in tags.values() for tag in t}
    assert {"Customers", "Interactions", "Moments", "Tags", "Surveys", "Interventions"} <= used
    assert {"Alerts", "Tasks", "Sentiment", "Rules"} <= used
    # Each group is described once, at the top of the docs.
    described = {tag["name"] for tag in schema.get("tags", []) if tag.get("description")}
    assert used <= described


def test_every_operation_has_a_summary(schema):
    assert [name for name, op in _operations(schema) if not op.get("summary")] == []


def test_no_developer_note_leaks_into_the_docs(schema):
    leaks = {
        name: LEAKS.findall(op.get("description", "") + " " + op.get("summary", ""))
        for name, op in _operations(schema)
    }
    assert {name: found for name, found in leaks.items() if found} == {}
    for tag in schema.get("tags", []):
        assert not LEAKS.search(tag.get("description", "")), tag


def test_the_schema_validates_without_warnings():
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn"],
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
