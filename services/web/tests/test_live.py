"""Live updates: an event on the exchange reaches the pages listening for the record it names."""

from __future__ import annotations

import asyncio
import json
from datetime import date

import pytest
from web_testkit import Stack, programme

from jumelage.testkit.waiting import eventually
from web.adapters.live import LiveEvent, LiveHub
from web.subscribers import live_event


async def test_an_event_naming_the_open_convention_reaches_its_page(stack: Stack) -> None:
    draft = await programme(stack)
    hub: LiveHub = stack.web_app.state.web.hub
    lines: list[str] = []

    async def page_open() -> None:
        async for line in hub.listen([draft["id"]]):
            lines.append(line)

    listening = asyncio.create_task(page_open())
    try:
        await eventually(lambda: hub.listeners == 1)
        await stack.as_coordinator("cmci", "POST", "convention", f"/conventions/{draft['id']}/sign",
                                   json={"signed_on": date.today().isoformat(), "signed_at": "Alger"})
        await eventually(lambda: any("ConventionSigned" in line for line in lines))
    finally:
        listening.cancel()
    sent = next(line for line in lines if "ConventionSigned" in line)
    data = json.loads(sent.split("data: ", 1)[1])
    assert set(data) == {"id", "type", "time"}  # what a page may learn: no field of the event's data


def test_a_page_learns_only_the_type_time_and_the_records_named() -> None:
    event = live_event({"id": "e1", "type": "SurgeryScheduled", "time": "2026-12-02T10:00:00Z",
                        "subject": "surgeries/s1",
                        "data": {"surgery_id": "s1", "mission_id": "m1", "team": [{"practitioner_id": "p1"}],
                                 "patient_ref": "P-7"}})
    assert event == LiveEvent("e1", "SurgeryScheduled", "2026-12-02T10:00:00Z", frozenset({"s1", "m1", "p1"}))
    assert live_event({"no": "type"}) is None


async def test_a_page_that_stops_reading_is_told_to_reload_and_holds_no_one_up() -> None:
    hub = LiveHub()
    slow, quick = hub.listen(["m1"]), hub.listen(["m1"])
    assert "listening" in await anext(slow) and "listening" in await anext(quick)
    for i in range(80):
        assert hub.publish(LiveEvent(str(i), "SurgeryScheduled", "t", frozenset({"m1"}))) >= 1
        assert (await anext(quick)).startswith("event: changed")
    assert (await anext(slow)).startswith("event: reload")  # what it missed is read again with the page
    with pytest.raises(StopAsyncIteration):
        await anext(slow)
    assert hub.listeners == 1
