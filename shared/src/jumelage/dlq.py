"""The dead-letter desk: what waits in a service queue's ``<queue>.dlq``, and why.

    python -m jumelage.dlq list    --service notification
    python -m jumelage.dlq show    --service notification EVENT_ID
    python -m jumelage.dlq retry   --service notification EVENT_ID | --all   --by ops-jdoe
    python -m jumelage.dlq discard --service notification EVENT_ID --reason "..." --by ops-jdoe

Run it where the service runs (its environment: ``AMQP_URL``, ``TOPOLOGY_NAMESPACE``,
``DATABASE_URL``, ``DATABASE_SCHEMA``). A dead letter is named by its event id (the
message id the relay gives it), or ``sha256:<16 hex>`` of its body when it has none
(a poison message).

* ``list`` and ``show`` read without removing: each message is taken unacknowledged
  and given back when the desk's channel closes, in its order.
* ``retry`` re-publishes the message unchanged (body, message id: the event id, so
  the inbox still deduplicates it) through the queue's forward exchange to its first
  retry queue, whose TTL hands it back to the service queue; its attempt count and
  error are dropped, so it has its full retries again. The dead letter is acked only
  once the broker confirmed the copy.
* ``discard`` removes one, after writing an audit row (who, why, which event) in the
  service's audit trail.

``queue_depth`` is what the ``jumelage_dlq_depth`` gauge reads at each scrape.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Annotated, Any

import aio_pika
from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField

from jumelage.api import Command
from jumelage.auth import CallerDep, Role, require
from jumelage.errors import Invalid, NotFound
from jumelage.messaging.consumer import ATTEMPTS_HEADER, ERROR_HEADER, ROUTING_KEY_HEADER
from jumelage.messaging.topology import ServiceQueue, Topology
from jumelage.subscriptions import Uow

RETRIED_HEADER = "x-dlq-retried"
"""How many times the desk has retried this message (a header it adds)."""

MAX_READ = 10_000
"""Dead letters one command reads at most (they are all held unacked meanwhile)."""


async def queue_depth(broker: Any, name: str) -> int:
    """Messages ready in queue ``name`` (a passive declare on a channel of its own:
    a missing queue closes that channel only)."""
    connection = broker._connection  # FastStream's aio-pika connection (robust, reconnecting)
    if connection is None:
        raise ConnectionError("broker not connected")
    async with connection.channel() as channel:
        queue = await channel.declare_queue(name, passive=True)
        return int(queue.declaration_result.message_count or 0)


@dataclass
class DeadLetter:
    key: str  # the event id, or sha256:<16 hex> of the body
    event_type: str
    reason: str
    attempts: int
    routing_key: str | None
    correlation_id: str | None
    subject: str | None
    dead_since: datetime | None
    headers: dict[str, Any] = field(repr=False)
    body: bytes = field(repr=False)

    def summary(self) -> dict[str, Any]:
        return {"event_id": self.key, "type": self.event_type, "attempts": self.attempts, "reason": self.reason,
                "routing_key": self.routing_key, "correlation_id": self.correlation_id,
                "dead_since": self.dead_since.isoformat() if self.dead_since else None}


def _read(message: aio_pika.abc.AbstractIncomingMessage) -> DeadLetter:
    headers = dict(message.headers or {})
    try:
        body = json.loads(message.body)
        envelope = body if isinstance(body, dict) else {}
    except ValueError:
        envelope = {}
    key = message.message_id or str(envelope.get("id") or "") or \
        f"sha256:{hashlib.sha256(message.body).hexdigest()[:16]}"
    attempts = headers.get(ATTEMPTS_HEADER)
    timestamp = message.timestamp
    return DeadLetter(
        key=key, event_type=str(envelope.get("type") or message.type or "unparsable"),
        reason=str(headers.get(ERROR_HEADER) or "(no reason recorded)"),
        attempts=int(attempts) if isinstance(attempts, int | str) and str(attempts).isdigit() else 0,
        routing_key=_text(headers.get(ROUTING_KEY_HEADER)) or message.routing_key,
        correlation_id=message.correlation_id or envelope.get("correlationid"),
        subject=envelope.get("subject"),
        dead_since=timestamp.replace(tzinfo=UTC) if timestamp and timestamp.tzinfo is None else timestamp,
        headers=headers, body=message.body,
    )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


class Desk:
    """One service queue's dead letters, over a connection of its own."""

    def __init__(self, amqp_url: str, queue: ServiceQueue, *, audit: Callable[..., Any] | None = None) -> None:
        self.amqp_url = amqp_url
        self.queue = queue
        self.audit = audit  # async (action, letter, by, reason) -> None: the service's audit trail
        self._connection: aio_pika.abc.AbstractConnection | None = None

    async def __aenter__(self) -> Desk:
        self._connection = await aio_pika.connect(self.amqp_url)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._connection is not None:
            await self._connection.close()

    async def _held(self, channel: aio_pika.abc.AbstractChannel) -> list[tuple[DeadLetter, Any]]:
        """Every dead letter, taken unacked (given back when ``channel`` closes)."""
        dlq = await channel.declare_queue(self.queue.dlq_name, passive=True)
        held = []
        while len(held) < MAX_READ:
            message = await dlq.get(no_ack=False, fail=False)
            if message is None:
                break
            held.append((_read(message), message))
        return held

    async def list(self) -> list[DeadLetter]:
        assert self._connection is not None
        async with self._connection.channel() as channel:
            return [letter for letter, _ in await self._held(channel)]

    async def show(self, key: str) -> DeadLetter:
        for letter in await self.list():
            if letter.key == key:
                return letter
        raise LookupError(f"no dead letter {key} in {self.queue.dlq_name}")

    async def retry(self, key: str | None, *, by: str) -> list[DeadLetter]:
        """Re-publish one (``key``) or every dead letter (``None``) to its queue; the retried ones."""
        assert self._connection is not None
        async with self._connection.channel(publisher_confirms=True, on_return_raises=True) as channel:
            held = await self._held(channel)
            chosen = [(letter, m) for letter, m in held if key is None or letter.key == key]
            if key is not None and not chosen:
                raise LookupError(f"no dead letter {key} in {self.queue.dlq_name}")
            forward = await channel.get_exchange(self.queue.forward_exchange_name, ensure=True)
            first_retry = self.queue.retry_name(1)
            for letter, message in chosen:
                headers = {k: v for k, v in letter.headers.items()
                           if k not in (ATTEMPTS_HEADER, ERROR_HEADER, "x-death")}
                headers[RETRIED_HEADER] = int(letter.headers.get(RETRIED_HEADER) or 0) + 1
                await forward.publish(
                    aio_pika.Message(letter.body, headers=headers, message_id=message.message_id,
                                     correlation_id=message.correlation_id, content_type=message.content_type,
                                     type=message.type, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                    routing_key=first_retry, mandatory=True, timeout=10)  # confirmed, or it raises
                if self.audit is not None:
                    await self.audit("retry", letter, by, None)
                await message.ack()
            return [letter for letter, _ in chosen]

    async def discard(self, key: str, *, reason: str, by: str) -> DeadLetter:
        """Remove one dead letter, its audit row written first."""
        if not reason.strip():
            raise ValueError("a discard needs a reason (--reason): it goes into the audit trail")
        assert self._connection is not None
        async with self._connection.channel() as channel:
            for letter, message in await self._held(channel):
                if letter.key == key:
                    if self.audit is not None:
                        await self.audit("discard", letter, by, reason.strip()[:2000])
                    await message.ack()
                    return letter
        raise LookupError(f"no dead letter {key} in {self.queue.dlq_name}")


def audit_values(*, subject: str, institution_id: Any, roles: tuple[str, ...], dlq_name: str, action: str,
                 letter: DeadLetter, reason: str | None) -> dict[str, Any]:
    """The audit row of one retry or discard, for the command line and the HTTP desk alike."""
    from jumelage.audit import AuditActor, record_for

    target = f"{letter.key}" + (f" reason: {reason}" if reason else "")
    actor = AuditActor(subject=subject, institution_id=institution_id, roles=roles,
                       action=f"DLQ {action} {dlq_name}", target=target)
    event = SimpleNamespace(type=letter.event_type, id=letter.key, subject=letter.subject)
    return record_for(actor, datetime.now(UTC), [event], letter.correlation_id)


def audit_trail(settings: Any) -> Callable[..., Any]:
    """An ``audit`` for :class:`Desk`: one row in the service's audit table per change."""
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from jumelage.audit import AUDIT_INSERT
    from jumelage.db import create_engine

    async def write(action: str, letter: DeadLetter, by: str, reason: str | None) -> None:
        engine = create_engine(settings.sqlalchemy_url(), schema=settings.database_schema)
        try:
            values = audit_values(subject=by, institution_id=None, roles=("operator",), action=action, letter=letter,
                                  reason=reason,
                                  dlq_name=f"{settings.topology_namespace}{settings.service_name}.events.dlq")
            async with async_sessionmaker(engine)() as session, session.begin():
                await session.execute(AUDIT_INSERT, values)
        finally:
            await engine.dispose()

    return write


# -- the HTTP desk (administrators; the web app's dead-letter page calls it) -------------------------

Key = Annotated[str, Path(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9:._-]+$",
                          description="the dead letter's event id (or sha256:<16 hex> of its body)")]


class DeadLetterOut(BaseModel):
    event_id: str
    type: str
    attempts: int
    reason: str
    routing_key: str | None
    correlation_id: str | None
    dead_since: datetime | None

class DeadLetters(BaseModel):
    queue: str
    dlq: str
    items: list[DeadLetterOut]
    total: int

class DeadLetterShown(DeadLetterOut):
    headers: dict[str, Any]
    event: Any = PydanticField(description="the message's body: the CloudEvent, or its text if it is none")

class Retried(BaseModel):
    retried: list[DeadLetterOut]

class Discard(Command):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "a test message, never an event"}]})
    reason: str = PydanticField(min_length=1, max_length=2000, description="why: written to the audit trail")

def dead_letters_router() -> APIRouter:
    """``/dead-letters`` on a service: its queue's dead letters, the same :class:`Desk` as the
    command line, over ``DLQ_AMQP_URL`` (default ``AMQP_URL``: deployed, a service's own broker
    user may not read its DLQ). Each retry and discard is audited as the administrator."""
    from jumelage.audit import AUDIT_INSERT

    router = APIRouter(prefix="/dead-letters", tags=["dead letters"],
                       dependencies=[require(Role.administrator, to="run the dead-letter desk")])
    def out(letter: DeadLetter) -> DeadLetterOut:
        return DeadLetterOut(**letter.summary())

    def desk_for(request: Request, caller: Any, uow: Any) -> Desk:
        runtime = request.app.state.runtime
        settings = runtime.settings
        if runtime.queue is None:
            raise NotFound(f"the {runtime.name} service has no queue, so no dead letters")

        async def audit(action: str, letter: DeadLetter, by: str, reason: str | None) -> None:
            uow.actor = None  # this row, not the route's generic one
            async with uow:
                await uow.session.execute(AUDIT_INSERT, audit_values(
                    subject=caller.subject, institution_id=caller.institution_id,
                    roles=tuple(sorted(r.value for r in caller.roles)), action=action, letter=letter, reason=reason,
                    dlq_name=runtime.queue.dlq_name))
                await uow.commit()

        url = settings.dlq_amqp_url.get_secret_value() if settings.dlq_amqp_url else settings.amqp_url
        return Desk(url, runtime.queue, audit=audit)

    async def at_desk(desk: Desk, work: Callable[[Desk], Any]) -> Any:
        try:
            async with desk:
                return await work(desk)
        except LookupError as exc:
            raise NotFound(str(exc).strip("'\"")) from None
        except (ValueError, NotFound):
            raise
        except Exception as exc:  # the broker away, or its user refused
            raise HTTPException(503, f"the broker did not answer the dead-letter desk ({type(exc).__name__}): "
                                     "try again; deployed, DLQ_AMQP_URL names a user that may read the DLQ",
                                headers={"Retry-After": "5"}) from None

    @router.get("", response_model=DeadLetters, summary="The service queue's dead letters: reason and attempts")
    async def listed(request: Request, caller: CallerDep) -> DeadLetters:
        desk = desk_for(request, caller, None)
        letters = await at_desk(desk, lambda d: d.list())
        return DeadLetters(queue=desk.queue.name, dlq=desk.queue.dlq_name, items=[out(x) for x in letters],
                           total=len(letters))

    @router.get("/{key}", response_model=DeadLetterShown, summary="One dead letter, its headers and its event")
    async def shown(request: Request, caller: CallerDep, key: Key) -> DeadLetterShown:
        letter = await at_desk(desk_for(request, caller, None), lambda d: d.show(key))
        try:
            event: Any = json.loads(letter.body)
        except ValueError:
            event = letter.body.decode("utf-8", "backslashreplace")
        headers = {k: _text(v) if isinstance(v, bytes) else v for k, v in letter.headers.items() if k != "x-death"}
        return DeadLetterShown(**letter.summary(), headers=json.loads(json.dumps(headers, default=str)), event=event)

    @router.post("/retry", response_model=Retried, summary="Re-publish every dead letter to the service queue")
    async def retry_all(request: Request, caller: CallerDep, uow: Uow) -> Retried:
        done = await at_desk(desk_for(request, caller, uow), lambda d: d.retry(None, by=caller.subject))
        return Retried(retried=[out(x) for x in done])

    @router.post("/{key}/retry", response_model=Retried, summary="Re-publish one dead letter, same event id")
    async def retry_one(request: Request, caller: CallerDep, key: Key, uow: Uow) -> Retried:
        done = await at_desk(desk_for(request, caller, uow), lambda d: d.retry(key, by=caller.subject))
        return Retried(retried=[out(x) for x in done])

    @router.post("/{key}/discard", response_model=DeadLetterOut,
                 summary="Remove one dead letter, with a reason written to the audit trail")
    async def discard(request: Request, caller: CallerDep, key: Key, body: Discard, uow: Uow) -> DeadLetterOut:
        try:
            letter = await at_desk(desk_for(request, caller, uow),
                                   lambda d: d.discard(key, reason=body.reason, by=caller.subject))
        except ValueError as exc:
            raise Invalid(str(exc), field="reason") from None
        return out(letter)

    return router


# -- the command line ------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    from jumelage.arguments import ArgumentParser
    from jumelage.messaging.topology import BINDINGS
    from jumelage.settings import ServiceSettings

    parser = ArgumentParser(prog="python -m jumelage.dlq", description="the dead letters of a service's queue")
    sub = parser.add_subparsers(dest="command", required=True)
    commands = {name: sub.add_parser(name, help=text) for name, text in [
        ("list", "every dead letter: event id, type, attempts, reason"),
        ("show", "one dead letter: its reason, attempts, headers and event"),
        ("retry", "re-publish one dead letter (or --all) to its queue, with the same event id"),
        ("discard", "remove one dead letter, with a reason written to the audit trail")]}
    for name, command in commands.items():
        command.add_argument("--service", required=True, choices=sorted(BINDINGS), help="whose queue")
        command.add_argument("--json", action="store_true", help="JSON output")
        if name != "list":
            command.add_argument("event_id", nargs="?" if name == "retry" else None,
                                 help="the dead letter's event id (list shows them)")
        if name in ("retry", "discard"):
            command.add_argument("--by", required=True, help="who does it (the audit trail's subject)")
    commands["retry"].add_argument("--all", action="store_true", help="every dead letter of the queue")
    commands["discard"].add_argument("--reason", required=True, help="why: written to the audit trail")
    args = parser.parse_args(argv)
    if args.command == "retry" and bool(args.all) == bool(args.event_id):
        parser.error("retry: name one event id, or --all")

    settings = ServiceSettings(service_name=args.service)
    topology = Topology(namespace=settings.topology_namespace, queue_type=settings.queue_type,
                        retry_delays=tuple(settings.retry_delays))
    desk = Desk(settings.amqp_url, topology.service_queue(args.service), audit=audit_trail(settings))
    try:
        out = asyncio.run(_run(desk, args))
    except LookupError as exc:
        print(str(exc).strip("'\""), file=sys.stderr)
        return 1
    print(out)
    return 0


async def _run(desk: Desk, args: Any) -> str:
    async with desk:
        if args.command == "list":
            letters = await desk.list()
            if args.json:
                return json.dumps([letter.summary() for letter in letters], indent=2)
            lines = [f"{len(letters)} dead letter(s) in {desk.queue.dlq_name}"]
            lines += [f"{x.key}  {x.event_type}  attempts={x.attempts}  {x.reason[:160]}" for x in letters]
            return "\n".join(lines)
        if args.command == "show":
            letter = await desk.show(args.event_id)
            try:
                event: Any = json.loads(letter.body)
            except ValueError:
                event = letter.body.decode("utf-8", "backslashreplace")
            shown = {**letter.summary(), "headers": {k: _text(v) if isinstance(v, bytes) else v
                                                     for k, v in letter.headers.items() if k != "x-death"},
                     "event": event}
            return json.dumps(shown, indent=2, default=str)
        if args.command == "retry":
            retried = await desk.retry(None if args.all else args.event_id, by=args.by)
            if args.json:
                return json.dumps([letter.summary() for letter in retried], indent=2)
            return f"{len(retried)} dead letter(s) re-published to {desk.queue.name}"
        letter = await desk.discard(args.event_id, reason=args.reason, by=args.by)
        return json.dumps(letter.summary(), indent=2) if args.json else f"discarded {letter.key}"


if __name__ == "__main__":
    sys.exit(main())
