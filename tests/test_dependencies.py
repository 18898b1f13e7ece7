"""The apps depend on each other one way (docs: DESIGN.md, STYLE.md):

    customers <- moments <- surveys <- interventions

An app may use the apps to its left, never those to its right. This reads every module of the
four apps (migrations included) without importing them and fails on any use of an app to the
right: a Python import (at the top or inside a function), a model relation named by a string
("surveys.Response"), an ``apps.get_model("surveys", …)``, a django-q2 task path
(``async_task("surveys.tasks.…")``) and a migration dependency.

Templates too: an app's templates, and the project's (``templates/``, which stand with
``customers``), may not ``{% load %}`` a template tag library of an app to their right nor
``{% include %}`` or ``{% extends %}`` its templates. Pages that show what apps to the right
add (the nav, the customer page) name a slot that those apps fill (memorycrm/lib/slots.py).

Within an app, task bodies (``tasks`` modules) are imported by no one but the worker (and the
commands that set up their schedules): services, receivers and views queue them through the
app's ``enqueue.py`` by dotted path, so no services <-> tasks cycle can form; and every dotted
path queued or scheduled names a function that exists. An import of our own code inside a
function says why (a comment: the cycle it breaks, or the cost it defers).
"""

from __future__ import annotations

import ast
import pydoc
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ORDER = ["customers", "moments", "surveys", "interventions"]
RELATIONS = {"ForeignKey", "OneToOneField", "ManyToManyField"}
TASK_CALLS = {"async_task", "enqueue", "schedule"}  # enqueue: memorycrm/lib/queue.py


def _app(dotted: str) -> str | None:
    head = dotted.split(".", 1)[0]
    return head if head in ORDER else None


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _string(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def uses(path: Path) -> list[tuple[int, str, str]]:
    """(line, app used, how) for every use of one of the four apps in a module."""
    found: list[tuple[int, str, str]] = []
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, _app(a.name), f"import {a.name}") for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, _app(node.module), f"from {node.module} import …"))
        elif isinstance(node, ast.Call):
            name = _name(node.func)
            if name in RELATIONS:
                target = _string(node.args[0]) if node.args else None
                target = target or next(
                    (_string(k.value) for k in node.keywords if k.arg == "to"), None
                )
                if target and "." in target:
                    found.append((node.lineno, _app(target), f'{name}("{target}")'))
            elif name == "get_model" and node.args:
                label = _string(node.args[0])
                if label:
                    found.append((node.lineno, _app(label), f'get_model("{label}", …)'))
            elif name in TASK_CALLS and node.args:
                func = _string(node.args[0])
                if func:
                    found.append((node.lineno, _app(func), f'{name}("{func}")'))
        elif isinstance(node, ast.Assign) and "migrations" in path.parts:
            found += _migration_dependencies(node)
    return [(line, app, how) for line, app, how in found if app]


def _migration_dependencies(node: ast.Assign) -> list[tuple[int, str | None, str]]:
    """A migration's ``dependencies = [("app", "0001_name"), …]``."""
    named = any(isinstance(t, ast.Name) and t.id == "dependencies" for t in node.targets)
    if not named or not isinstance(node.value, ast.List):
        return []
    found = []
    for item in node.value.elts:
        label = _string(item.elts[0]) if isinstance(item, ast.Tuple) and item.elts else None
        if label:
            dep = f"{label}.{_string(item.elts[1]) or '?'}"
            found.append((node.lineno, _app(label), f"migration needs {dep}"))
    return found


def violations() -> list[str]:
    bad = []
    for rank, app in enumerate(ORDER):
        right = set(ORDER[rank + 1 :])
        for path in sorted((ROOT / app).rglob("*.py")):
            for line, used, how in uses(path):
                if used in right:
                    bad.append(f"{path.relative_to(ROOT)}:{line}: {app} uses {used} ({how})")
    return bad


def test_apps_depend_only_on_apps_to_their_left():
    assert violations() == []


def _modules() -> list[Path]:
    return [
        path
        for app in ORDER
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.parts
    ]


def imported(source: str, module: str) -> list[tuple[int, str]]:
    """(line, dotted name) of every module or name the module ``module`` imports, relative
    imports resolved (``from moments import tasks`` gives "moments" and "moments.tasks")."""
    package = module.split(".")[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            name = ".".join([*base, *([node.module] if node.module else [])])
            found.append((node.lineno, name))
            found += [(node.lineno, f"{name}.{alias.name}") for alias in node.names]
    return found


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _is_task_body(dotted: str) -> bool:
    return _app(dotted) is not None and dotted.rsplit(".", 1)[-1] == "tasks"


def test_only_the_worker_and_schedule_commands_import_task_bodies():
    importers = [
        f"{path.relative_to(ROOT)}:{line}: imports {name}"
        for path in _modules()
        if "commands" not in path.parts
        for line, name in imported(path.read_text(), _module(path))
        if _is_task_body(name)
    ]
    assert importers == []


def queued_paths(path: Path) -> list[tuple[int, str]]:
    """(line, dotted path) of every task a module queues (``async_task("…")``) or schedules
    (``schedule("…")``, ``"func": "…"`` in a Schedule's fields)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Call) and _name(node.func) in TASK_CALLS and node.args:
            func = _string(node.args[0])
            if func:
                found.append((node.lineno, func))
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                func = _string(value)
                if key is not None and _string(key) == "func" and func:
                    found.append((node.lineno, func))
    return found


def test_every_queued_or_scheduled_task_path_names_a_function():
    paths = [(path, line, func) for path in _modules() for line, func in queued_paths(path)]
    assert len(paths) >= 15  # the check sees them (every app queues and schedules tasks)
    broken = [
        f"{path.relative_to(ROOT)}:{line}: {func}"
        for path, line, func in paths
        if not callable(pydoc.locate(func))
    ]
    assert broken == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import surveys.models", ["surveys"]),
        ("def f():\n    from surveys.models import Response", ["surveys"]),
        ('x = models.OneToOneField("surveys.Response", on_delete=None)', ["surveys"]),
        ('x = models.ForeignKey(to="interventions.Rule", on_delete=None)', ["interventions"]),
        ('M = apps.get_model("surveys", "Response")', ["surveys"]),
        ('async_task("surveys.tasks.score_responses", [1])', ["surveys"]),
        ("from customers.models import Customer\nimport django", ["customers"]),
        ("from . import models", []),
    ],
)
def test_the_check_sees_each_kind_of_use(tmp_path, source, expected):
    path = tmp_path / "module.py"
    path.write_text(source)
    assert [app for _, app, _ in uses(path)] == expected


FIRST_PARTY = {*ORDER, "memorycrm"}


def unexplained_local_imports(source: str) -> list[tuple[int, str]]:
    """(line, module) of the imports of our own code inside functions that carry no comment on
    their line or the line above."""
    lines = source.splitlines()
    found = []
    for function in ast.walk(ast.parse(source)):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            if not any(name.split(".")[0] in FIRST_PARTY for name in names):
                continue
            said = lines[max(0, node.lineno - 2) : node.end_lineno]
            if not any("#" in line for line in said):
                found.append((node.lineno, names[0]))
    return found


def test_every_import_of_our_code_inside_a_function_says_why():
    unexplained = [
        f"{path.relative_to(ROOT)}:{line}: {module}"
        for app in sorted(FIRST_PARTY)
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.parts
        for line, module in unexplained_local_imports(path.read_text())
    ]
    assert unexplained == []


@pytest.mark.parametrize(
    ("source", "unexplained"),
    [
        ("def f():\n    from surveys.models import Response", ["surveys.models"]),
        ("def f():\n    from surveys.models import Response  # cycle: x", []),
        ("def f():\n    # cycle: x\n    import surveys.models", []),
        ("def f():\n    import flair", []),
        ("from surveys.models import Response", []),
    ],
)
def test_the_check_sees_an_unexplained_local_import(source, unexplained):
    assert [module for _, module in unexplained_local_imports(source)] == unexplained


def test_the_check_sees_a_migration_dependency(tmp_path):
    path = tmp_path / "migrations" / "0001_x.py"
    path.parent.mkdir()
    path.write_text('dependencies = [("moments", "0004"), ("surveys", "0005_roles")]')
    assert [how for _, _, how in uses(path)] == [
        "migration needs moments.0004",
        "migration needs surveys.0005_roles",
    ]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from moments import tasks", True),
        ("from moments.memory import tasks as memory_tasks", True),
        ("from .tasks import score_pending", True),
        ("from . import tasks", True),
        ("def f():\n    import surveys.tasks", True),
        ("from moments import enqueue", False),
        ("from django_q import tasks", False),
    ],
)
def test_the_check_sees_an_import_of_a_task_body(source, expected):
    names = [name for _, name in imported(source, "moments.sentiment.services")]
    assert any(_is_task_body(name) for name in names) is expected


# --- Templates ------------------------------------------------------------------------------

TAG = re.compile(r"{%\s*(load|include|extends)\s+(.*?)\s*%}", re.S)


def tag_libraries() -> dict[str, str]:
    """Template tag library name -> the app that defines it (``<app>/templatetags/<name>.py``)."""
    return {
        path.stem: app
        for app in ORDER
        for path in (ROOT / app / "templatetags").glob("*.py")
        if path.stem != "__init__"
    }


def _template_app(name: str) -> str | None:
    """The app whose ``templates/`` directory holds the template ``name`` (``#partial`` cut)."""
    name = name.split("#", 1)[0]
    return next((app for app in ORDER if (ROOT / app / "templates" / name).is_file()), None)


def template_uses(source: str, libraries: dict[str, str]) -> list[tuple[int, str, str]]:
    """(line, app used, how) for every ``{% load %}`` of an app's tag library and every
    ``{% include %}`` / ``{% extends %}`` of an app's template in a template's source."""
    found: list[tuple[int, str | None, str]] = []
    for match in TAG.finditer(source):
        line = source.count("\n", 0, match.start()) + 1
        kind, args = match.group(1), match.group(2).split()
        if kind == "load":
            names = args[args.index("from") + 1 :] if "from" in args else args
            found += [(line, libraries.get(name), f"{{% load {name} %}}") for name in names]
        elif args and args[0][:1] in "'\"":
            name = args[0].strip("'\"")
            found.append((line, _template_app(name), f'{{% {kind} "{name}" %}}'))
    return [(line, app, how) for line, app, how in found if app]


def _templates(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix in {".html", ".txt"} and p.is_file())


def template_violations() -> list[str]:
    libraries = tag_libraries()
    scanned = [(ROOT / "templates", 0)] + [
        (ROOT / app / "templates", rank) for rank, app in enumerate(ORDER)
    ]
    bad = []
    for root, rank in scanned:
        right = set(ORDER[rank + 1 :])
        for path in _templates(root):
            for line, used, how in template_uses(path.read_text(), libraries):
                if used in right:
                    owner = ORDER[rank] if root.parent != ROOT else "the project"
                    bad.append(f"{path.relative_to(ROOT)}:{line}: {owner} uses {used} ({how})")
    return bad


def test_templates_depend_only_on_apps_to_their_left():
    assert template_violations() == []


def test_the_template_check_knows_every_apps_tag_libraries():
    libraries = tag_libraries()
    assert libraries["memory"] == libraries["sentiment"] == "moments"
    assert (libraries["surveys"], libraries["interventions"]) == ("surveys", "interventions")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{% load surveys %}{% survey_invite interaction %}", ["surveys"]),
        ("{% load static partials memory interventions %}", ["moments", "interventions"]),
        ("{% load survey_answers from surveys %}", ["surveys"]),
        ('{% include "moments/_sentiment_badge.html" %}', ["moments"]),
        ("{% include 'interventions/_why.html' with x=1 %}", ["interventions"]),
        ('{% include "moments/_memory_panel.html#memory-panel-body" %}', ["moments"]),
        ('{% extends "surveys/report.html" %}', ["surveys"]),
        ('{% include "customers/_interaction.html" %}{% load slots %}', ["customers"]),
        ('{% include "_field.html" %}{% include template_name %}', []),
    ],
)
def test_the_template_check_sees_each_kind_of_use(source, expected):
    assert [app for _, app, _ in template_uses(source, tag_libraries())] == expected
