"""The test kit's pytest plugin (``pytest_plugins = ["jumelage.testkit.plugin"]``): the
broker and PostgreSQL (found by :mod:`jumelage.testkit.servers`; unreachable is a
failure, never a skip), a database per test on SQLite and on PostgreSQL (``database``
is parametrised), and a topology namespace per test: ``namespace``, fresh (nothing
declared in it yet), or ``declared_namespace``, with the services' test topology
already declared and every queue of it empty (see :class:`NamespacePool`)."""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import structlog

from jumelage.logging import console_renderer
from jumelage.testkit.servers import (
    Database, NamespacePool, ServerUnavailable, amqp_server, delete_namespace, execute, postgres_server,
    run_in_thread,
)


@pytest.fixture(autouse=True)
def _plain_tracebacks() -> None:
    """Unconfigured structlog (most tests never call ``configure_logging``) renders an
    exception as a rich traceback with every frame's locals: 5-35 s for each request
    that fails with a 500, far more on a loaded machine. Keep its defaults, with the
    service console's plain tracebacks (again after a test's ``structlog.reset_defaults``)."""
    if not structlog.is_configured():
        structlog.configure(processors=[*structlog.get_config()["processors"][:-1], console_renderer()])


@pytest.fixture(autouse=True)
def _identity_key_ring() -> None:
    """The tests' identity key ring (jumelage.sealing), as every service under test gets it
    from ``service_settings``: also for a test that migrates rows before a service is built."""
    from jumelage import sealing
    from jumelage.testkit.client import TEST_IDENTITY_KEYS, TEST_IDENTITY_SEARCH_KEY

    if sealing._ring is None:
        sealing.install(sealing.KeyRing.parse(TEST_IDENTITY_KEYS, TEST_IDENTITY_SEARCH_KEY))


@pytest.fixture(autouse=True)
def _no_process_in_the_fast_tier(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``fast`` test that starts a process fails, naming the fix: a process (an
    interpreter, a service, a CLI) costs seconds, which the fast tier cannot afford."""
    if request.node.get_closest_marker("fast") is None:
        return

    def refuse(self: subprocess.Popen[Any], args: Any, *_: Any, **__: Any) -> None:
        raise RuntimeError(f"{request.node.nodeid} starts a process ({args!r:.80}): mark it "
                           "@pytest.mark.system so that it leaves the fast tier")

    monkeypatch.setattr(subprocess.Popen, "_execute_child", refuse)


def _server(found: contextlib.AbstractContextManager[str]) -> Iterator[str]:
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(found)
        except ServerUnavailable as exc:
            pytest.fail(str(exc), pytrace=False)
        yield url


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    yield from _server(amqp_server())


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    yield from _server(postgres_server())


@contextlib.asynccontextmanager
async def _fresh_database(kind: str, folder: Path, request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    """A database of its own: a SQLite file in ``folder``, or a PostgreSQL schema (dropped after,
    with the schemas the services made beside it)."""
    if kind == "sqlite":
        yield Database("sqlite", f"sqlite+aiosqlite:///{folder / 'test.db'}")
        return
    base = request.getfixturevalue("postgres_url")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    await execute(base, f'CREATE SCHEMA "{schema}"')
    db = Database("postgresql", base, schema)
    try:
        yield db
    finally:
        names = ", ".join(f'"{name}"' for name in [schema, *db.children])
        await execute(base, f"DROP SCHEMA IF EXISTS {names} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with _fresh_database(request.param, tmp_path, request) as db:
        yield db


# A world seeded once for a module's tests, where they only read it or change what no other
# reads: ``module_database`` and ``module_namespace`` live as long as the module, on its
# event loop (mark the tests ``pytest.mark.asyncio(loop_scope="module")``). A test that needs
# a fresh database or changes what another asserts keeps ``database`` and ``namespace``.
@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["sqlite", "postgresql"])
async def module_database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                          ) -> AsyncIterator[Database]:
    """``database``, one per module and backend."""
    async with _fresh_database(request.param, tmp_path_factory.mktemp("module-db"), request) as db:
        yield db


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def module_namespace(request: pytest.FixtureRequest, _namespace_pool: NamespacePool) -> AsyncIterator[str]:
    """``declared_namespace``, one per module (reused after only if none of its tests failed)."""
    failed = request.session.testsfailed
    ns = await _namespace_pool.take()
    yield ns
    await _namespace_pool.give_back(ns, reusable=request.session.testsfailed == failed)


@pytest.fixture
async def namespace(amqp_url: str) -> AsyncIterator[str]:
    """A topology namespace of this test's own, nothing declared in it yet; its exchange
    and queues are deleted after."""
    ns = f"t{uuid.uuid4().hex[:10]}."
    yield ns
    await delete_namespace(amqp_url, ns)


@pytest.fixture(scope="session")
def _namespace_pool(amqp_url: str) -> Iterator[NamespacePool]:
    pool = NamespacePool(amqp_url)
    yield pool
    run_in_thread(pool.close())


@pytest.fixture
async def declared_namespace(request: pytest.FixtureRequest, _namespace_pool: NamespacePool) -> AsyncIterator[str]:
    """A topology namespace of this test's own, with the topology services under test
    declare (``service_settings``: every service's queues, ``TEST_RETRY_DELAYS``, quorum)
    already declared and every queue of it empty: declaring costs 0.2-0.4 s, deleting
    0.2 s. It was another test's before (its queues then purged); after this test it is
    another's, unless the test failed or left a consumer or a message it could not purge.

    For tests that start services and look at what they do, not at how the topology
    came to be: a test about declarations (what a service declares, passive
    declarations, other retry delays or queue types) uses ``namespace``. A test folder
    or module opts in by overriding ``namespace`` with this one."""
    ns = await _namespace_pool.take()
    yield ns
    report = getattr(request.node, "_jumelage_call_report", None)
    await _namespace_pool.give_back(ns, reusable=report is None or report.passed)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item._jumelage_call_report = report  # type: ignore[attr-defined]  # declared_namespace reads it
    return report


# What needs a server: a test whose fixtures reach one of these, or runs on PostgreSQL.
_SERVERS = {"amqp_url", "postgres_url", "namespace", "declared_namespace",
            "module_namespace", "module_database"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark ``fast`` each test that needs neither the broker nor PostgreSQL nor a process
    of its own, and is not marked ``slow`` (tens of seconds of computation): the domain and
    handler logic on SQLite (``make test-fast``). Whether a
    test starts a process cannot be seen from its fixtures: one that does, unmarked
    ``system``, fails (``_no_process_in_the_fast_tier``)."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        params = getattr(getattr(item, "callspec", None), "params", {})
        slow_marks = {"broker", "system", "fuzz", "slow"} & {m.name for m in item.iter_markers()}
        if fixtures & _SERVERS or params.get("database") == "postgresql" or slow_marks:
            continue
        item.add_marker(pytest.mark.fast)
    _heaviest_modules_first(items)


# A rough cost per test in seconds (a quiet machine), by what it needs; a test that
# costs far more (a whole programme played, a fuzz run) says so: ``pytest.mark.cost(s)``.
_SECONDS = {"slow": 20.0, "fuzz": 8.0, "system": 3.0, "fast": 0.02}
_SERVER_TEST = 0.3


def _seconds(item: pytest.Item) -> float:
    if (cost := item.get_closest_marker("cost")) is not None:
        return float(cost.args[0])
    marks = {m.name for m in item.iter_markers()}
    return max((s for name, s in _SECONDS.items() if name in marks), default=_SERVER_TEST)


def _heaviest_modules_first(items: list[pytest.Item]) -> None:
    """Order the modules by their rough cost, heaviest first, keeping each module's own order.

    The suite runs one module per worker (``--dist loadfile --no-loadscope-reorder``
    in scripts/test.sh), taken in this order as workers free up. Heaviest first is
    the classic longest-job-first schedule: the light modules fill the gaps at the
    end instead of one worker finishing a fuzz run alone while the others idle
    (xdist's own reorder, by number of tests, put the few long tests last). The
    order is a pure function of the collection, so every worker computes the same."""
    cost: dict[str, float] = {}
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        cost[module] = cost.get(module, 0.0) + _seconds(item)
    position = {module: i for i, module in enumerate(sorted(cost, key=lambda m: -cost[m]))}
    items.sort(key=lambda item: position[item.nodeid.split("::", 1)[0]])


@pytest.fixture
def oidc_provider() -> Iterator[Any]:
    """A real OpenID Connect provider on a free loopback port, in a thread
    (:class:`jumelage.testkit.oidc.OidcProvider`): PKCE enforced, RS256 JWT access
    tokens for the audience ``jumelage``; register clients and users on it."""
    from jumelage.testkit.oidc import OidcProvider

    with OidcProvider() as provider:
        yield provider


# The web app's browser tests (jumelage.testkit.browser): Debian's headless Chromium,
# launched once for the session on pytest-asyncio's session loop (mark the tests
# ``@pytest.mark.asyncio(loop_scope="session")``); each test gets a context (cookies,
# storage) of its own.
@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def chromium() -> AsyncIterator[Any]:
    from jumelage.testkit.browser import BrowserMissing, chromium as launch

    async with contextlib.AsyncExitStack() as stack:
        try:
            browser = await stack.enter_async_context(launch())
        except BrowserMissing as exc:
            pytest.fail(str(exc), pytrace=False)
        yield browser


@pytest_asyncio.fixture(loop_scope="session")
async def browser_context(chromium: Any) -> AsyncIterator[Any]:
    """A fresh browser context (no cookies, no storage), closed after the test; Playwright's
    ``expect`` and every locator wait up to ``TIMEOUT_MS`` (scaled)."""
    from playwright.async_api import expect

    from jumelage.testkit.browser import VIEWPORT, timeout_ms

    expect.set_options(timeout=timeout_ms())
    context = await chromium.new_context(viewport=VIEWPORT)
    context.set_default_timeout(timeout_ms())
    try:
        yield context
    finally:
        await context.close()
