"""Every service keeps the one shape (README, "One shape for every service").

What a reviewer would otherwise check by hand: the same folders and files in
every service, no wire event built outside the domain's mappers, settings read
through typed fields, and the domain free of frameworks and I/O.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from jumelage.events import registry

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("convention", "scheduling", "notification", "web")
NO_DATABASE = {"web"}  # owns no data: its store/ is the session cookie, no tables, repositories or unit of work
DATABASE_PARTS = ("store/tables.py", "store/repositories.py", "store/unit_of_work.py")
SHAPE = ("domain/__init__.py", "domain/commands.py", "domain/events.py", "handlers/__init__.py",
         "api/__init__.py", "store/__init__.py", "store/tables.py", "store/repositories.py",
         "store/unit_of_work.py", "adapters/__init__.py", "access.py", "subscribers.py", "app.py")
DOMAIN_MAY_IMPORT = ("__future__", "jumelage.domain", "jumelage.errors", "jumelage.events", "jumelage.clock",
                     "jumelage.versions", "jumelage.fhir")
FRAMEWORKS = ("fastapi", "sqlalchemy", "sqlmodel", "faststream", "aio_pika", "httpx", "starlette", "ortools")


def package(service: str) -> Path:
    return ROOT / "services" / service / "src" / service


def modules(service: str, *folders: str) -> list[Path]:
    return sorted(p for f in folders for p in (package(service) / f).rglob("*.py"))


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_the_one_layout(service: str) -> None:
    missing = [part for part in SHAPE if not (package(service) / part).is_file()
               and not (service in NO_DATABASE and part in DATABASE_PARTS)]
    assert not missing, f"{service} lacks {missing}"
    assert not (package(service) / "store.py").exists() and not (package(service) / "api.py").exists()


@pytest.mark.parametrize("service", SERVICES)
def test_no_wire_event_is_built_outside_the_domain_mappers(service: str) -> None:
    built = re.compile(r"\b(" + "|".join(t.__name__ for t in registry) + r")\(")
    found = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
             for p in modules(service, "handlers", "api", "adapters", "store") + [package(service) / "app.py"]
             for n, line in enumerate(p.read_text().splitlines(), 1) if built.search(line)]
    assert not found, "wire events are built by domain/events.py alone:\n" + "\n".join(found)


@pytest.mark.parametrize("service", SERVICES)
def test_settings_are_read_through_typed_fields(service: str) -> None:
    found = [f"{p.relative_to(ROOT)}:{n}" for p in modules(service, ".")
             for n, line in enumerate(p.read_text().splitlines(), 1) if re.search(r"getattr\(\s*settings", line)]
    assert not found, f"settings read with getattr defaults: {found}"


@pytest.mark.parametrize("service", SERVICES)
def test_the_domain_imports_no_framework_and_nothing_of_the_service_outside_it(service: str) -> None:
    wrong = {}
    for path in modules(service, "domain"):
        bad = {m for m in imported(path)
               if m.split(".")[0] in FRAMEWORKS
               or (m.startswith("jumelage") and not m.startswith(DOMAIN_MAY_IMPORT))
               or (m.startswith(f"{service}.") and not m.startswith(f"{service}.domain"))}
        if bad:
            wrong[str(path.relative_to(ROOT))] = sorted(bad)
    assert not wrong, f"the domain is pure (no I/O, no framework): {wrong}"


@pytest.mark.parametrize("service", SERVICES)
def test_the_api_reaches_no_repository_and_no_handler_module(service: str) -> None:
    wrong = {str(p.relative_to(ROOT)): sorted(m for m in imported(p)
                                            if m.startswith((f"{service}.store", f"{service}.handlers")))
             for p in modules(service, "api")}
    wrong = {k: v for k, v in wrong.items() if v}
    assert not wrong, f"routes go through the bus: {wrong}"
