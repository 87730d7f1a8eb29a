"""Running the services, and the pieces of the test kit ``make run`` uses, needs no
test-only package: each is imported in a fresh interpreter where importing pytest,
testcontainers, schemathesis and the rest of the ``test`` extras raises ImportError."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.system  # fresh interpreters importing every service: not the fast tier

# The shared package's test extras (test, kit) and what they bring with them.
TEST_ONLY = ["pytest", "_pytest", "pytest_asyncio", "testcontainers", "docker", "schemathesis", "hypothesis",
             "jsonschema", "yaml", "aiosmtpd", "playwright"]

RUN_NEEDS = [
    "convention.app", "scheduling.app", "notification.app",
    "jumelage.testkit.waiting", "jumelage.testkit.ports", "jumelage.testkit.servers", "jumelage.testkit.client",
    "jumelage.testkit.mail", "jumelage.testkit.processes", "jumelage.testkit.tap", "jumelage.testkit.services",
    "jumelage.testkit.schema", "jumelage.testkit.templates",
    "run", "demo", "faults", "bench",  # scripts/
]


def import_without_test_packages(modules: list[str]) -> subprocess.CompletedProcess[str]:
    program = textwrap.dedent(f"""
        import importlib, importlib.abc, sys
        blocked = {TEST_ONLY!r}

        class Blocker(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in blocked:
                    raise ImportError(f"test-only package imported: {{name}}")
                return None

        for name in list(sys.modules):
            if name.split(".")[0] in blocked:
                del sys.modules[name]
        sys.meta_path.insert(0, Blocker())
        sys.path.insert(0, {str(ROOT / "scripts")!r})
        for module in {modules!r}:
            importlib.import_module(module)
        print("imported", len({modules!r}))
    """)
    return subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_the_services_and_make_run_import_no_test_only_package() -> None:
    done = import_without_test_packages(RUN_NEEDS)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"imported {len(RUN_NEEDS)}" in done.stdout


def test_the_check_sees_a_test_only_import() -> None:
    """The pytest plugin imports pytest: the same check refuses it (so the one above can fail)."""
    done = import_without_test_packages(["jumelage.testkit.plugin"])
    assert done.returncode != 0
    assert "test-only package imported: pytest" in done.stderr
