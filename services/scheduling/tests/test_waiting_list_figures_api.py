"""A host's waiting-list figures by month, quarter and year, over HTTP, on SQLite and PostgreSQL
(issue 21, "Waiting lists and periods"): a small waiting list across April-June 2030, every figure
against hand-counted expectations, the convention filter, the period ends on the host's clock, the
422s and the 403s."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from scheduling_testkit import CMCI, CNAS, CONVENTION, GSD, TIARET, Scheduling, signed

OTHER = uuid.UUID("9d3c1b2a-4e5f-4a6b-8c7d-0e1f2a3b4c5d")  # a second convention, CMCI its beneficiary too
URL = f"/institutions/{CMCI}/waiting-list/figures"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def waiting_list(s: Scheduling) -> None:
    """The host is in Algiers (UTC+1 all year): a month ends at 23:00 UTC of its last day.

    A  registered 20 Mar                                still waiting
    B  registered  5 Apr, cancelled 10 May
    G  registered 10 Apr, treated 18 Jun (a mission of OTHER)            69 days
    C  registered 30 Apr 23:30 UTC (1 May in Algiers), treated 11 Jun    41 days
    D  registered 15 May, referred elsewhere 31 May 23:00 UTC (1 Jun 00:00 in Algiers)
    E  registered 20 May, treated 11 Jun                                 22 days
    F  registered  5 Jun                                still waiting
    T  registered  2 May at EPH Tiaret: another host's list, never counted here
    """
    await s.deliver(signed(convention_id=OTHER, reference="GSD-CMCI-2030-02",
                           parties=[{"institution_id": GSD, "role": "provider"},
                                    {"institution_id": CMCI, "role": "beneficiary"}]))
    cases: dict[str, dict[str, Any]] = {}

    async def register(name: str, when: str, host: uuid.UUID = CMCI) -> None:
        s.clock.at = at(when)
        cases[name] = await s.case(host=host)

    async def close(name: str, how: str, when: str) -> None:
        s.clock.at = at(when)
        await s.ok("POST", f"/cases/{cases[name]['id']}/{how}", json={"reason": "La famille a choisi"})

    await register("A", "2030-03-20T10:00")
    await register("B", "2030-04-05T10:00")
    await register("G", "2030-04-10T10:00")
    await register("C", "2030-04-30T23:30")
    await register("T", "2030-05-02T10:00", host=TIARET)
    await close("B", "cancel", "2030-05-10T10:00")
    await register("D", "2030-05-15T10:00")
    await register("E", "2030-05-20T10:00")
    await close("D", "refer-elsewhere", "2030-05-31T23:00")
    await register("F", "2030-06-05T10:00")

    s.clock.at = at("2030-06-11T08:00")
    room = await s.room()
    first = await s.mission()
    second = await s.mission(convention_id=str(OTHER), starts_on="2030-06-17", ends_on="2030-06-19")
    with s.client.auth.acting("coordinator", "clinician", institution=CMCI):
        c = await s.surgery(first, cases["C"], room, start="2030-06-11T08:00:00+01:00")
        e = await s.surgery(first, cases["E"], room, start="2030-06-11T13:00:00+01:00")
        g = await s.surgery(second, cases["G"], room, start="2030-06-18T08:00:00+01:00")
        s.clock.at = at("2030-06-11T09:00")
        await s.ok("POST", f"/missions/{first['id']}/start")
        for surgery in (c, e):
            await s.ok("POST", f"/surgeries/{surgery['id']}/start")
            await s.ok("POST", f"/surgeries/{surgery['id']}/complete",
                       json={"outcome": "successful", "duration_minutes": 200})
        s.clock.at = at("2030-06-18T09:00")
        await s.ok("POST", f"/missions/{second['id']}/start")
        await s.ok("POST", f"/surgeries/{g['id']}/start")
        await s.ok("POST", f"/surgeries/{g['id']}/complete", json={"outcome": "successful", "duration_minutes": 200})


def figures(waiting: int, registered: int, treated: int, cancelled: int, referred: int,
            median: float | None) -> dict[str, Any]:
    return {"waiting_at_end": waiting, "registered": registered, "treated": treated,
            "left": {"cancelled": cancelled, "referred_elsewhere": referred}, "median_days_waited": median}


def periods(answer: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(p["period"], {k: v for k, v in p.items() if k not in ("period", "first_day", "last_day")})
            for p in answer["periods"]]


async def test_figures_by_month_quarter_and_year(programme: Scheduling) -> None:
    s = programme
    await waiting_list(s)
    monthly = await s.ok("GET", URL, params={"by": "month", "from": "2030-04-01", "to": "2030-06-30"})
    assert (monthly["by"], monthly["from"], monthly["to"], monthly["timezone"], monthly["convention_id"]) == \
        ("month", "2030-04-01", "2030-06-30", "Africa/Algiers", None)
    assert periods(monthly) == [
        # April: B and G registered (C's 23:30 UTC is already 1 May in Algiers); A, B, G wait at its end.
        ("2030-04-01/2030-04-30", figures(3, 2, 0, 0, 0, None)),
        # May: C, D, E registered; B cancelled; D referred at midnight of 1 June (June's): A, G, C, D, E wait.
        ("2030-05-01/2030-05-31", figures(5, 3, 0, 1, 0, None)),
        # June: F registered; D referred; C (41 days), E (22) and G (69) treated: the median 41; A and F wait.
        ("2030-06-01/2030-06-30", figures(2, 1, 3, 0, 1, 41.0)),
    ]
    assert monthly["total"] == {"first_day": "2030-04-01", "last_day": "2030-06-30", **figures(2, 6, 3, 1, 1, 41.0)}
    assert "neither treated nor left by then" in monthly["rule"] and "Africa/Algiers" in monthly["rule"]
    assert "patient" not in str(monthly).lower().replace("patient's", "")  # counts only

    quarterly = await s.ok("GET", URL, params={"by": "quarter", "from": "2030-03-15", "to": "2030-06-30"})
    assert periods(quarterly) == [
        ("2030-03-15/2030-03-31", figures(1, 1, 0, 0, 0, None)),  # the first quarter, cut to the range: A
        ("2030-04-01/2030-06-30", figures(2, 6, 3, 1, 1, 41.0)),
    ]
    assert quarterly["total"] == {"first_day": "2030-03-15", "last_day": "2030-06-30",
                                  **figures(2, 7, 3, 1, 1, 41.0)}
    yearly = await s.ok("GET", URL, params={"by": "year", "from": "2029-12-01", "to": "2030-05-31"})
    assert periods(yearly) == [("2029-12-01/2029-12-31", figures(0, 0, 0, 0, 0, None)),
                               ("2030-01-01/2030-05-31", figures(5, 6, 0, 1, 0, None))]
    # A period ending on 30 April in Algiers: C (30 April 23:30 UTC) is not in it yet.
    april = await s.ok("GET", URL, params={"by": "month", "from": "2030-04-30", "to": "2030-04-30"})
    assert periods(april) == [("2030-04-30/2030-04-30", figures(3, 0, 0, 0, 0, None))]


async def test_figures_of_one_convention(programme: Scheduling) -> None:
    s = programme
    await waiting_list(s)
    params = {"by": "month", "from": "2030-04-01", "to": "2030-06-30"}
    ours = await s.ok("GET", URL, params={**params, "convention_id": str(CONVENTION)})
    # Treated only in CONVENTION's mission: C (41) and E (22), median 31.5; the list itself is the host's.
    assert periods(ours)[2] == ("2030-06-01/2030-06-30", figures(2, 1, 2, 0, 1, 31.5))
    assert ours["total"]["treated"] == 2 and ours["total"]["median_days_waited"] == 31.5
    assert [p[1]["waiting_at_end"] for p in periods(ours)] == [3, 5, 2]
    assert str(CONVENTION) in ours["rule"] and "missions of" in ours["rule"]
    other = await s.ok("GET", URL, params={**params, "convention_id": str(OTHER)})
    assert periods(other)[2] == ("2030-06-01/2030-06-30", figures(2, 1, 1, 0, 1, 69.0))

    # The convention's funder (CNAS) reads its beneficiary's figures through the convention it funds, not
    # otherwise; its coordinators too (a party's), and the provider's coordinators (GSD).
    conv = {**params, "convention_id": str(CONVENTION)}
    for role, institution in [("funder", CNAS), ("coordinator", CNAS), ("coordinator", GSD)]:
        with s.client.auth.acting(role, institution=institution):
            assert (await s.ok("GET", URL, params=conv))["total"]["treated"] == 2, (role, institution)
    with s.client.auth.acting("funder", institution=CNAS):
        await s.refused("GET", URL, 403, "convention_id", params=params)  # the whole list: not without it
        await s.refused("GET", URL, 403, "funds or supervises", params={**params, "convention_id": str(OTHER)})
    with s.client.auth.acting("supervisor", institution=CNAS):  # CNAS funds it, it does not supervise it
        await s.refused("GET", URL, 403, "funds or supervises", params=conv)
    with s.client.auth.acting("clinician", institution=CNAS):  # not a role that reads a convention's progress
        await s.refused("GET", URL, 403, "needs the role", params=conv)
    with s.client.auth.acting("funder", institution=GSD):  # GSD is the provider, not a funder party
        await s.refused("GET", URL, 403, params=conv)
    with s.client.auth.acting("coordinator", institution=TIARET):  # party to nothing
        await s.refused("GET", URL, 403, params={**params, "convention_id": str(CONVENTION)})
        await s.refused("GET", URL, 403, params=params)
    with s.client.auth.acting("clinician", institution=CMCI):  # the host's clinicians
        assert (await s.ok("GET", URL, params=params))["total"]["registered"] == 6
    with s.client.auth.acting("coordinator", institution=GSD):  # GSD is the provider, not a beneficiary
        detail = await s.refused("GET", f"/institutions/{GSD}/waiting-list/figures", 422, "not a beneficiary",
                                 params={**params, "convention_id": str(CONVENTION)})
        assert detail[0]["loc"] == ["query", "convention_id"]
    await s.refused("GET", URL, 404, "no convention", params={**params, "convention_id": str(uuid.uuid4())})


async def test_bad_parameters_name_the_field(programme: Scheduling) -> None:
    s = programme
    for params, field in [
        ({"by": "week", "from": "2030-04-01", "to": "2030-06-30"}, "by"),
        ({"by": "month", "from": "2030-07-01"}, "to"),  # today (11 June) is before it
        ({"by": "month", "from": "2030-04-31", "to": "2030-06-30"}, "from"),
        ({"by": "month", "from": "2030-07-01", "to": "2030-06-30"}, "to"),
        ({"by": "month", "from": "2020-01-01", "to": "2030-01-31"}, "to"),  # more than ten years
        ({"by": "month", "from": "2030-04-01", "to": "2030-06-30", "convention_id": "x"}, "convention_id"),
    ]:
        detail = await s.refused("GET", URL, 422, params=params)
        assert ["query", field] in [e["loc"] for e in detail], (params, detail)
    default = await s.ok("GET", URL)  # this year by month, to today on the host's clock
    assert (default["by"], default["from"], default["to"]) == ("month", "2030-01-01", "2030-06-11")
    assert [p["period"] for p in default["periods"]][-1] == "2030-06-01/2030-06-11"
    ten = await s.ok("GET", URL, params={"by": "year", "from": "2021-01-01", "to": "2030-12-31"})
    assert len(ten["periods"]) == 10 and ten["total"]["registered"] == 0
    months = await s.ok("GET", URL, params={"by": "month", "from": "2021-01-01", "to": "2030-12-31"})
    assert len(months["periods"]) == 120 and months["total"]["waiting_at_end"] == 0  # 120 buckets, one query each
    await s.refused("GET", f"/institutions/{uuid.uuid4()}/waiting-list/figures", 403,
                    params={"from": "2030-04-01", "to": "2030-06-30"})
