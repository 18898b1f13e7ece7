"""`make lint` and CI type-check memorycrm/ and every app's services, selectors and access
modules (README): the globs in pyproject.toml's [tool.mypy] `files` must cover each of them,
including a module or package added later."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("customers", "moments", "surveys", "interventions")
ROOMS = ("services", "selectors", "access")


def _checked() -> set[Path]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    checked: set[Path] = set()
    for pattern in config["files"]:
        for match in ROOT.glob(pattern):
            checked |= {match} if match.is_file() else set(match.rglob("*.py"))
    return checked


def _rooms() -> list[Path]:
    found = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            parts = path.relative_to(ROOT / app).parts
            if "migrations" in parts:
                continue
            if any(part.removesuffix(".py") in ROOMS for part in parts):
                found.append(path)
    return found


def test_every_services_selectors_and_access_module_is_type_checked():
    rooms = _rooms()
    assert len(rooms) > 10  # the walk found them
    missing = sorted(str(p.relative_to(ROOT)) for p in set(rooms) - _checked())
    assert missing == []


def test_the_project_package_is_type_checked_and_tests_are_not():
    checked = _checked()
    assert ROOT / "memorycrm" / "settings.py" in checked
    assert ROOT / "memorycrm" / "lib" / "api.py" in checked
    assert not any("tests" in p.relative_to(ROOT).parts for p in checked)
