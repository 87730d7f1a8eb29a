"""The broker topology, declared in one place.

Every service queue, its retry queues, its dead-letter queue, the exchange its
consumer forwards retries and dead letters through, and its bindings are
described here. Locally (``DECLARE_TOPOLOGY=all``) each service declares the
*whole* topology at start-up (the declarations are idempotent): whichever
service starts first creates the queues of the others, so an event published
before a consumer ever ran is kept for it.

Deployed (``own``), ``deploy/rabbitmq/definitions.json`` has created all of it
at broker boot, with the queue settings as policies, and a service's user may
configure nothing: the service then only declares its own exchange and queues
*passively* (it checks they exist, and fails at start-up if they do not) and
binds nothing. A passive declaration needs no permission and ignores
arguments, so the policies ops change never clash with the code. A test holds
the definitions and this module together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from faststream.rabbit import ExchangeType, QueueType, RabbitExchange, RabbitQueue

if TYPE_CHECKING:
    from faststream.rabbit import RabbitBroker

EXCHANGE_NAME = "jumelage.events"


def topic_exchange(name: str = EXCHANGE_NAME, *, passive: bool = False) -> RabbitExchange:
    return RabbitExchange(name, type=ExchangeType.TOPIC, durable=True, declare=not passive)


EXCHANGE = topic_exchange()

DEFAULT_RETRY_DELAYS: tuple[float, ...] = (1.0, 5.0, 30.0)
DELIVERY_LIMIT = 20
"""Backstop only: bounded retries are done with retry queues (see ``consumer``),
because from RabbitMQ 4.3 a requeue no longer counts toward this limit."""


def delay_label(seconds: float) -> str:
    ms = round(seconds * 1000)
    if ms % 60_000 == 0:
        return f"{ms // 60_000}m"
    if ms % 1000 == 0:
        return f"{ms // 1000}s"
    return f"{ms}ms"


@dataclass(frozen=True)
class ServiceQueue:
    """A consuming service's durable queue with its retry and dead-letter queues."""

    name: str
    bindings: tuple[str, ...]
    retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS
    queue_type: str = "quorum"
    exchange: str = EXCHANGE_NAME
    delivery_limit: int = DELIVERY_LIMIT
    extra: dict[str, Any] = field(default_factory=dict)
    passive: bool = False
    """The broker's definitions made these queues: declare them passively, bind nothing."""

    @property
    def dlq_name(self) -> str:
        return f"{self.name}.dlq"

    @property
    def forward_exchange_name(self) -> str:
        return f"{self.name}.forward"

    def forward_exchange(self) -> RabbitExchange:
        """The direct exchange the consumer re-publishes retries and dead letters
        through (routing key: the queue's name), bound to this service's retry
        queues and DLQ only. Not the default exchange: a user allowed to write
        there could write into any queue of the vhost."""
        return RabbitExchange(self.forward_exchange_name, type=ExchangeType.DIRECT, durable=True,
                              declare=not self.passive)

    def forwarded_queues(self) -> list[RabbitQueue]:
        """The queues reached through the forward exchange: the DLQ and the retry queues."""
        return [self.dead_letter_queue(), *self.retry_queues()]

    def retry_name(self, attempt: int) -> str:
        """Queue holding a message before its ``attempt``-th redelivery (1-based)."""
        return f"{self.name}.retry.{delay_label(self.retry_delays[attempt - 1])}"

    @property
    def max_attempts(self) -> int:
        """Deliveries in all: the first, then one per retry delay."""
        return 1 + len(self.retry_delays)

    def _quorum(self) -> bool:
        return self.queue_type == "quorum"

    def _rabbit_queue(self, name: str, arguments: dict[str, Any], routing_key: str = "") -> RabbitQueue:
        declare = not self.passive  # passive: FastStream neither declares nor binds it
        if self._quorum():
            return RabbitQueue(
                name, queue_type=QueueType.QUORUM, arguments=arguments, routing_key=routing_key,
                declare=declare,
            )
        return RabbitQueue(name, durable=True, arguments=arguments, routing_key=routing_key, declare=declare)

    def queue(self) -> RabbitQueue:
        args: dict[str, Any] = {
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": self.dlq_name,
        }
        if self._quorum():
            args["x-delivery-limit"] = self.delivery_limit
        return self._rabbit_queue(self.name, args, routing_key=self.bindings[0])

    def dead_letter_queue(self) -> RabbitQueue:
        return self._rabbit_queue(self.dlq_name, {})

    def retry_queues(self) -> list[RabbitQueue]:
        queues = []
        for attempt, delay in enumerate(self.retry_delays, start=1):
            # Expired messages go back to the service's own queue only (default
            # exchange), not to every subscriber of the topic.
            args: dict[str, Any] = {
                "x-message-ttl": round(delay * 1000),
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": self.name,
            }
            if self._quorum():
                args["x-dead-letter-strategy"] = "at-least-once"
                args["x-overflow"] = "reject-publish"
            queues.append(self._rabbit_queue(self.retry_name(attempt), args))
        return queues

    def all_queues(self) -> list[RabbitQueue]:
        return [self.queue(), self.dead_letter_queue(), *self.retry_queues()]


# What each service listens to. Patterns, so a new event type of a family
# reaches its consumers without a topology change.
BINDINGS: dict[str, tuple[str, ...]] = {
    "convention": (
        "surgery.completed",
        "consultation.held",
        "training_session.held",
        "training_placement.completed",
        "mission.completed",
        "surgery_followed.up",
    ),
    "scheduling": ("institution.*", "convention.*"),
    "notification": (
        "institution.*",
        "convention.*",
        "mission.*",
        "mission_team.*",  # a team changed: the member concerned is told
        "mission_sites.*",  # a mission's host sites changed: the replica follows them
        "surgery.*",
        "surgery_lead.*",  # a surgery's lead surgeon changed: the new and the old are told
        "consultation.*",
        "training_session.*",
        "surgery_followed.up",
        "patient_identity.erased",  # a family's contact details go with the patient's identity
    ),
}


@dataclass(frozen=True)
class Topology:
    """The exchange and service queues, optionally under a namespace prefix.

    Production uses no namespace; each test run uses its own, so tests never
    see each other's messages on a shared broker.
    """

    namespace: str = ""
    queue_type: str = "quorum"
    retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS
    passive: bool = False
    """``DECLARE_TOPOLOGY=own``: the broker's definitions made the exchanges, queues
    and bindings; the code only checks that its own are there."""

    @property
    def exchange_name(self) -> str:
        return f"{self.namespace}{EXCHANGE_NAME}"

    @property
    def exchange(self) -> RabbitExchange:
        # Passive too for the relay: after a reconnection FastStream declares it again,
        # and exchange.declare needs configure permission even on an existing exchange.
        return topic_exchange(self.exchange_name, passive=self.passive)

    def service_queue(self, service: str, bindings: tuple[str, ...] | None = None) -> ServiceQueue:
        return ServiceQueue(
            name=f"{self.namespace}{service}.events",
            bindings=bindings if bindings is not None else BINDINGS[service],
            retry_delays=tuple(self.retry_delays),
            queue_type=self.queue_type,
            exchange=self.exchange_name,
            passive=self.passive,
        )

    def service_queues(self) -> list[ServiceQueue]:
        return [self.service_queue(s) for s in BINDINGS]

    async def declare(self, broker: RabbitBroker, queues: list[ServiceQueue] | None = None) -> None:
        """Declare the exchange and each queue with its retry/DLQ queues, its forward
        exchange and the bindings. Passive: only check that they exist (a missing one
        fails with NOT_FOUND), bind nothing."""
        ex = await broker.declare_exchange(self.exchange)
        for sq in self.service_queues() if queues is None else queues:
            forward = await broker.declare_exchange(sq.forward_exchange())
            declared = {rq.name: await broker.declare_queue(rq) for rq in sq.all_queues()}
            if self.passive or sq.passive:
                continue
            for pattern in sq.bindings:
                await declared[sq.name].bind(ex, routing_key=pattern)
            for rq in sq.forwarded_queues():
                await declared[rq.name].bind(forward, routing_key=rq.name)
