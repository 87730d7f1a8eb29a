"""The broker definitions ops load at boot, loaded into a real RabbitMQ: the
services run with their own users and only declare their own queues
(``DECLARE_TOPOLOGY=own``), events still cross, and a service's user cannot
touch another service's queue.

Loaded into a vhost of the test's own with ``rabbitmqctl import_definitions``
(the broker's own loader). Users are global in RabbitMQ: the test's users get
a unique prefix and are deleted afterwards.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import uuid
from pathlib import Path

import aio_pika
import aiormq
import pytest
from yarl import URL

import convention.app
import scheduling.app
from jumelage.testing import ActingAs, Database, eventually, running, scaled, service_settings, wait_until

DEFINITIONS = Path(__file__).parent.parent / "deploy" / "rabbitmq" / "definitions.json"


def rabbitmqctl(*args: str, stdin: str | None = None) -> str:
    if shutil.which("rabbitmqctl") is None:
        pytest.fail("this test loads definitions with rabbitmqctl, which is not on PATH", pytrace=False)
    done = subprocess.run(["rabbitmqctl", "-q", *args], input=stdin, capture_output=True, text=True,
                          timeout=scaled(120))
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def broker_as_deployed(amqp_url: str):
    """definitions.json in a fresh vhost, users renamed <prefix>-<name> (passwords unchanged)."""
    vhost, prefix = f"jumelage-{uuid.uuid4().hex[:8]}", f"t{uuid.uuid4().hex[:6]}"
    definitions = json.loads(DEFINITIONS.read_text())
    users = {u["name"] for u in definitions["users"]}
    for user in definitions["users"]:
        user["name"] = f"{prefix}-{user['name']}"
    for permission in definitions["permissions"]:
        permission["user"] = f"{prefix}-{permission['user']}"
        permission["vhost"] = vhost
    definitions["vhosts"] = [{"name": vhost}]
    for key in ("exchanges", "queues", "bindings"):
        for item in definitions[key]:
            item["vhost"] = vhost
    # Through stdin: rabbitmqctl may run as the broker's user, who cannot read our tmp files.
    rabbitmqctl("import_definitions", "--format", "json", stdin=json.dumps(definitions))
    base = URL(amqp_url)

    def url_for(service: str) -> str:
        # Passwords in definitions.json equal the service's name (local use only).
        return str(base.with_user(f"{prefix}-{service}").with_password(service).with_path(f"/{vhost}"))

    # The import is asynchronous: wait until the service users can log in.
    wait_until(lambda: f"{prefix}-scheduling" in rabbitmqctl("list_users"), what="the imported users listed")
    try:
        yield url_for
    finally:
        with contextlib.suppress(AssertionError):
            rabbitmqctl("delete_vhost", vhost)
        for user in users:
            with contextlib.suppress(AssertionError):
                rabbitmqctl("delete_user", f"{prefix}-{user}")


async def test_services_run_with_their_own_users_on_the_deployed_topology(
    broker_as_deployed, database: Database
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        clients = {}
        for module in (convention.app, scheduling.app):
            name = module.Settings().service_name
            settings = service_settings(
                module.Settings, amqp_url=broker_as_deployed(name), namespace="",
                database=await database.for_service(name), declare_topology="own", retry_delays=[1, 5, 30],
            )
            clients[name] = await stack.enter_async_context(running(module.create_app(settings), module.MIGRATIONS,
                                                                               acting_as=ActingAs("administrator")))
        r = await clients["convention"].post("/institutions", json={
            "name": "EPH Tiaret", "kind": "hospital", "country": "DZ", "city": "Tiaret"})
        assert r.status_code == 201, r.text
        institution_id = r.json()["id"]
        await eventually(lambda: _known(clients["scheduling"], institution_id))


async def _known(client, institution_id: str) -> bool:
    return (await client.get(f"/institutions/{institution_id}")).status_code == 200


async def test_a_service_user_cannot_read_another_services_queue(broker_as_deployed) -> None:
    conn = await aio_pika.connect(broker_as_deployed("scheduling"))
    try:
        channel = await conn.channel()
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
            queue = await channel.get_queue("convention.events")
            await queue.get(fail=False)
    finally:
        await conn.close()
