"""Issue #7's fault scenarios, small: real service processes, the real RabbitMQ and PostgreSQL.

Each test runs one scenario of ``scripts/faults.py`` with 200 events and asserts
0 lost and 0 duplicated effects (and every other check of the scenario). The
broker-restart scenario stops the shared broker, so it is run only by the script
(`.venv/bin/python scripts/faults.py`), never here.
"""

from __future__ import annotations

import importlib.util
import sys
import uuid
from pathlib import Path
from types import ModuleType

import asyncpg
import pytest

from jumelage.testkit.waiting import scaled

ROOT = Path(__file__).resolve().parent.parent
EVENTS = 200


def load_faults() -> ModuleType:
    name = "jumelage_faults_script"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "faults.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


faults = load_faults()


async def run(name: str, amqp_url: str, postgres_url: str, **kw: object) -> object:
    result = await faults.run_scenario(name, EVENTS, amqp_url=amqp_url, postgres_url=postgres_url,
                                       timeout=scaled(120), **kw)
    summary = (f"{result.name}: sent {result.sent}, effects {result.effects}, lost {result.lost}, "
               f"duplicated {result.duplicated}, recovered {result.recovered!r}, "
               f"failures {result.failures}, details {result.details}")
    assert result.sent == EVENTS, summary
    assert result.lost == 0, summary
    assert result.duplicated == 0, summary
    assert result.effects == EVENTS, summary
    assert result.verdict == "PASS", summary
    return result


@pytest.mark.system
@pytest.mark.broker
@pytest.mark.cost(20)
async def test_kill_9_consumer_while_events_are_in_flight(amqp_url: str, postgres_url: str) -> None:
    result = await run("kill-consumer", amqp_url, postgres_url)
    assert 0 < result.details["handled before kill -9"] < EVENTS


@pytest.mark.system
@pytest.mark.broker
@pytest.mark.cost(20)
async def test_kill_9_one_of_two_replicas_mid_stream(amqp_url: str, postgres_url: str) -> None:
    result = await run("kill-replica", amqp_url, postgres_url)
    assert 0 < result.details["handled before kill -9 (both replicas)"] < EVENTS
    killed, survivor = (int(n) for n in result.details["handled by each replica (killed / survivor)"].split(" / "))
    assert killed > 0 and survivor > 0, result.details


@pytest.mark.system
@pytest.mark.broker
@pytest.mark.cost(20)
async def test_consumer_database_unavailable_for_a_while(amqp_url: str, postgres_url: str) -> None:
    result = await run("database-outage", amqp_url, postgres_url, outage=3.0)
    before, _during = (int(x) for x in result.details["handled before cut / during cut"].split(" / "))
    assert before < EVENTS, "the database was cut while events were still flowing"


@pytest.mark.system
@pytest.mark.broker
@pytest.mark.cost(20)
async def test_duplicates_and_poison_messages(amqp_url: str, postgres_url: str) -> None:
    result = await run("duplicates-poison", amqp_url, postgres_url)
    assert f"{faults.POISON_COUNT} poison in DLQ with x-error" in result.recovered
    assert f"{EVENTS} duplicates ignored" in result.recovered


async def test_the_count_sees_a_lost_and_a_doubled_effect(postgres_url: str) -> None:
    """The scoring is not blind: an effect missing, or rewritten after its inbox
    transaction (what a second application does), is counted."""
    world = faults.World("amqp://unused/", postgres_url, Path("/nonexistent"))
    schema = await world.schema("convention")
    try:
        conn = await asyncpg.connect(faults.pg_plain(postgres_url))
        try:
            await conn.execute(f'SET search_path TO "{schema}"')
            await conn.execute("CREATE TABLE inbox (consumer text, event_id uuid, PRIMARY KEY (consumer, event_id))")
            await conn.execute("CREATE TABLE progress_surgery (surgery_id uuid PRIMARY KEY, convention_id uuid, "
                               "outcome text)")
            convention, queue = uuid.uuid4(), world.topology.service_queue("convention").name
            sent = {str(uuid.uuid4()): str(uuid.uuid4()) for _ in range(3)}
            for surgery, event in sent.items():
                async with conn.transaction():
                    await conn.execute("INSERT INTO inbox VALUES ($1, $2)", queue, uuid.UUID(event))
                    await conn.execute("INSERT INTO progress_surgery VALUES ($1, $2, 'successful')",
                                       uuid.UUID(surgery), convention)
            first, second, third = sent
            await conn.execute("UPDATE progress_surgery SET outcome = 'deceased' WHERE surgery_id = $1",
                               uuid.UUID(second))
            await conn.execute("DELETE FROM progress_surgery WHERE surgery_id = $1", uuid.UUID(third))
        finally:
            await conn.close()
        result = faults.Result("scoring")
        logs = faults.LogCounts(handled=faults.Counter(), messages=faults.Counter(), events={})
        await faults.score_effects(result, world, schema, "convention", sent, faults.SURGERY_EFFECTS, convention,
                                   logs=logs)
        assert (result.sent, result.effects, result.lost, result.duplicated) == (3, 2, 1, 1)
        assert result.verdict == "FAIL"
    finally:
        await world.sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
