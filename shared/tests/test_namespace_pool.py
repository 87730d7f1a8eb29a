"""``NamespacePool`` (the ``declared_namespace`` fixture), over the real broker: a namespace
comes declared, and comes back to the next test only as a fresh one would be, every
queue empty and nobody consuming; otherwise it is deleted."""

from __future__ import annotations

import aio_pika
import aiormq
import pytest

from jumelage.messaging.topology import Topology
from jumelage.testkit.servers import TEST_RETRY_DELAYS, NamespacePool

pytestmark = pytest.mark.broker


async def depths(amqp_url: str, names: list[str]) -> dict[str, int]:
    conn = await aio_pika.connect(amqp_url)
    try:
        ch = await conn.channel()
        return {n: (await ch.declare_queue(n, passive=True)).declaration_result.message_count or 0 for n in names}
    finally:
        await conn.close()


async def exists(amqp_url: str, exchange: str) -> bool:
    conn = await aio_pika.connect(amqp_url)
    try:
        await (await conn.channel()).get_exchange(exchange, ensure=True)
        return True
    except aiormq.exceptions.ChannelNotFoundEntity:
        return False
    finally:
        await conn.close()


async def test_a_namespace_comes_declared_and_back_empty(amqp_url: str) -> None:
    pool = NamespacePool(amqp_url)
    try:
        ns = await pool.take()
        topology = Topology(namespace=ns, retry_delays=TEST_RETRY_DELAYS)
        scheduling = topology.service_queue("scheduling")
        conn = await aio_pika.connect(amqp_url)
        try:
            ch = await conn.channel()
            exchange = await ch.get_exchange(topology.exchange_name)
            await exchange.publish(aio_pika.Message(b"{}"), routing_key="institution.registered")  # bound
            default = ch.default_exchange
            for name in (scheduling.dlq_name, scheduling.retry_name(2)):
                await default.publish(aio_pika.Message(b"{}"), routing_key=name)
        finally:
            await conn.close()
        names = [scheduling.name, scheduling.dlq_name, scheduling.retry_name(2)]
        assert await depths(amqp_url, names) == dict.fromkeys(names, 1)

        await pool.give_back(ns)
        assert await pool.take() == ns  # the same one, emptied
        assert await depths(amqp_url, pool._queues(ns)) == dict.fromkeys(pool._queues(ns), 0)
    finally:
        await pool.close()
    assert not await exists(amqp_url, f"{ns}jumelage.events")


async def test_a_namespace_still_consumed_or_of_a_failed_test_is_deleted(amqp_url: str) -> None:
    pool = NamespacePool(amqp_url)
    try:
        consumed = await pool.take()
        conn = await aio_pika.connect(amqp_url)
        try:
            queue = await (await conn.channel()).declare_queue(f"{consumed}notification.events", passive=True)
            async def still_running(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                await message.ack()

            await queue.consume(still_running)  # something of the test still runs
            await pool.give_back(consumed)
        finally:
            await conn.close()
        assert not await exists(amqp_url, f"{consumed}jumelage.events")

        failed = await pool.take()
        assert failed != consumed
        await pool.give_back(failed, reusable=False)
        assert not await exists(amqp_url, f"{failed}jumelage.events")
        assert await pool.take() not in (consumed, failed)
    finally:
        await pool.close()
