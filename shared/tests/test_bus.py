from dataclasses import dataclass

import pytest

from jumelage.bus import MessageBus


@dataclass
class Ping:
    n: int


async def ping(cmd: Ping, uow: list, clock: str, renderer: str = "default") -> tuple:
    uow.append(cmd.n)
    return clock, renderer


async def test_handles_with_the_dependencies_it_names():
    bus = MessageBus({Ping: ping}, clock="now", unused=1)
    seen: list = []
    assert await bus.handle(Ping(3), seen) == ("now", "default")
    assert seen == [3]


def test_a_dependency_nobody_provides_fails_at_start():
    with pytest.raises(TypeError, match="needs clock"):
        MessageBus({Ping: ping})


async def test_an_unregistered_message_is_named():
    with pytest.raises(LookupError, match="no handler for Ping"):
        await MessageBus({}).handle(Ping(1), [])


def test_an_aggregate_hands_over_what_happened_once():
    from jumelage.domain import Aggregate

    @dataclass
    class Thing(Aggregate):
        name: str

    t = Thing("a")
    t.happened(1)
    t.happened(2)
    assert t == Thing("a")  # what happened is not part of its state
    assert t.pull_events() == [1, 2]
    assert t.pull_events() == []
