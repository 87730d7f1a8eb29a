"""Written apart from the optimiser, to judge it (issue 20): ``check_plan`` validates a plan
against its request, rule by rule, on real minutes; ``exact_optimum`` is an independent exact
model (time-indexed: one literal per case, day, room, start, surgeon and anaesthetist) of the
same rules, for small instances on the request's grid. Neither imports the optimiser's model."""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations

from ortools.sat.python import cp_model

from scheduling.adapters.optimiser import Booking, Plan, PlanRequest, PlanStatus

WEIGHT = {1: 16, 2: 8, 3: 4, 4: 2, 5: 1}
DAY = 24 * 60


def icu_days(scheme: str, category: int | None) -> int:
    """The stay by risk category, as the README's table says (STAT n: n days; RACHS-1 n: n, at most 5)."""
    if scheme == "none" or category is None:
        return 0
    return min(category, 5)


def on_site(req: PlanRequest, scheme: str, category: int | None) -> int:
    """Post-operative days with the team on site: the request's table (a category missing: 0)."""
    return req.post_operative_days.get((scheme, category), 0)


def beds_on(req: PlanRequest, t: int) -> int | None:
    if t < req.days or req.icu_beds_after_mission is None:
        return req.icu_beds
    return min(x for x in (req.icu_beds, req.icu_beds_after_mission) if x is not None)


def check_plan(plan: Plan, req: PlanRequest) -> None:
    """Every hard rule of the README, on real minutes. Surgeries fixed in the request are taken as
    they are (booked by hand, they may break a rule between themselves); nothing the plan adds or
    moves may break one, against them or anything else."""
    if plan.status in (PlanStatus.infeasible,) or (plan.status is PlanStatus.empty and not req.bookings):
        assert plan.assignments == [], plan
        return
    rooms = {r.id: r for r in req.rooms}
    bookings = {b.case.id: b for b in req.bookings}
    cases = {c.id: c for c in req.cases} | {b.case.id: b.case for b in req.bookings}
    turn = req.turnover_minutes
    ids = [a.case_id for a in plan.assignments]
    assert len(ids) == len(set(ids)), "a case planned twice"
    assert set(bookings) <= set(ids), "a surgery already booked is dropped"
    assert set(ids).isdisjoint(u.case_id for u in plan.unplanned), "planned and unplanned"
    assert set(ids) | {u.case_id for u in plan.unplanned} == set(cases), "a case neither planned nor explained"
    earliest = req.earliest[0] * DAY + req.earliest[1]
    moved = 0
    for a in plan.assignments:
        case = cases[a.case_id]
        assert a.duration_minutes == case.duration_minutes and a.icu_days == icu_days(
            case.risk_scheme, case.risk_category), a
        b = bookings.get(a.case_id)
        at = (a.day, a.room_id, a.start_minute)
        if b is not None:
            assert a.surgery_id == b.surgery_id and a.surgeon_id == b.surgeon_id, ("a booking's surgeon", a)
            if b.anaesthetist_id is not None and b.anaesthetist_id in req.anaesthetists:
                assert a.anaesthetist_id == b.anaesthetist_id, ("a booking's anaesthetist", a)
            same = at == (b.day, b.room_id, b.start_minute)
            if b.surgery_id in req.pinned or b.day in req.locked_days:
                assert same and not a.moved, ("a pinned surgery (or on a locked day) moved", a)
            if b.fixed:
                assert same and a.fixed and not a.moved, ("a fixed surgery moved", a)
                continue
            assert a.moved == (not same), a
            assert a.moved_minutes == abs((a.day - b.day) * DAY + a.start_minute - b.start_minute), a
            moved += not same
            if same:
                continue
        assert not a.fixed
        room = rooms[a.room_id]
        assert 0 <= a.day < req.days and a.day not in req.locked_days, ("a locked day", a)
        assert room.opens_minute <= a.start_minute and a.end_minute <= room.closes_minute, ("room hours", a)
        assert a.day * DAY + a.start_minute >= earliest, ("before the earliest start", a)
        assert a.surgeon_id in req.surgeons and a.anaesthetist_id in req.anaesthetists, a
        assert a.day + on_site(req, case.risk_scheme, case.risk_category) <= req.days - 1, (
            "its post-operative days fall after the team leaves", a)
    assert plan.moves == moved
    # Rooms, surgeons, anaesthetists: never two at once, the turnover between (both ways).
    fixed = {a.case_id for a in plan.assignments if a.fixed}
    spans: dict[tuple[str, object], list] = defaultdict(list)
    for a in plan.assignments:
        for kind, who in (("room", a.room_id), ("surgeon", a.surgeon_id), ("anaesthetist", a.anaesthetist_id)):
            if who is not None:
                spans[kind, who].append((a.day * DAY + a.start_minute, a.day * DAY + a.end_minute, a.case_id))
    for blocked in req.blocked:
        spans["room", blocked.room_id].append((blocked.day * DAY + blocked.start_minute,
                                               blocked.day * DAY + blocked.end_minute, None))
    for key, items in spans.items():
        for (s1, e1, c1), (s2, e2, c2) in combinations(items, 2):
            if (c1 is None or c1 in fixed) and (c2 is None or c2 in fixed):
                continue
            assert s2 >= e1 + turn or s1 >= e2 + turn, (key, c1, c2, "overlap or short turnover")
    # The surgeon's daily maximum (what is fixed may be over it: then nothing more that day).
    load: dict[tuple[object, int], list] = defaultdict(list)
    for a in plan.assignments:
        load[a.surgeon_id, a.day].append(a)
    for key, items in load.items():
        if any(a.case_id not in fixed for a in items):
            assert sum(a.duration_minutes for a in items) <= req.max_daily_minutes_per_surgeon, key
    # A practitioner works at one host site a day (rooms of several sites only; what is fixed may
    # break it, booked by hand before: then nothing new at another site that day).
    worked: dict[tuple[object, int], list] = defaultdict(list)
    for a in plan.assignments:
        for who in (a.surgeon_id, a.anaesthetist_id):
            if who is not None:
                worked[who, a.day].append(a)
    for key, items in worked.items():
        new_sites = {rooms[a.room_id].site for a in items if a.case_id not in fixed}
        fixed_sites = {rooms[a.room_id].site for a in items if a.case_id in fixed}
        if new_sites:
            assert len(new_sites | fixed_sites) <= max(1, len(fixed_sites)) and (
                not fixed_sites or new_sites <= fixed_sites), ("at two sites the same day", key)
    # Intensive-care beds, each day of each stay.
    in_bed: dict[int, list] = defaultdict(list)
    for a in plan.assignments:
        for t in range(a.day, a.day + a.icu_days):
            in_bed[t].append(a)
    for t, items in in_bed.items():
        if any(a.case_id not in fixed for a in items) and beds_on(req, t) is not None:
            assert len(items) <= beds_on(req, t), ("beds", t)
    # What it claims.
    assert plan.objective == sum(WEIGHT[cases[i].priority] for i in ids)
    assert plan.bound >= plan.objective
    if plan.status is PlanStatus.optimal:
        assert plan.optimal and plan.bound == plan.objective


def exact_optimum(req: PlanRequest, *, seconds: float = 20.0) -> int:
    """The best priority-weighted count, by a time-indexed model of the same rules. For small
    instances whose times and durations lie on ``req.step_minutes``; no bookings."""
    step, turn = req.step_minutes, req.turnover_minutes
    assert not req.bookings and not req.blocked and turn % step == 0
    model = cp_model.CpModel()
    x: dict[tuple, cp_model.IntVar] = {}
    for c in req.cases:
        assert c.duration_minutes % step == 0
        if c.priority not in WEIGHT or c.duration_minutes > req.max_daily_minutes_per_surgeon:
            continue
        icu = icu_days(c.risk_scheme, c.risk_category)
        if icu and req.icu_beds is not None and req.icu_beds <= 0:
            continue
        for d in range(req.days - on_site(req, c.risk_scheme, c.risk_category)):
            for r in req.rooms:
                for t in range(r.opens_minute, r.closes_minute - c.duration_minutes + 1, step):
                    if d * DAY + t < req.earliest[0] * DAY + req.earliest[1]:
                        continue
                    for s in req.surgeons:
                        for a in req.anaesthetists:
                            x[c.id, d, r.id, t, s, a] = model.new_bool_var("")
    by_case: dict[object, list] = defaultdict(list)
    for key, v in x.items():
        by_case[key[0]].append(v)
    for vs in by_case.values():
        model.add(sum(vs) <= 1)
    durations = {c.id: c.duration_minutes for c in req.cases}
    # Occupancy per minute step: the case and its turnover.
    busy: dict[tuple, list] = defaultdict(list)
    for (c, d, r, t, s, a), v in x.items():
        for u in range(t, t + durations[c] + turn, step):
            busy["room", r, d * DAY + u].append(v)
            busy["surgeon", s, d * DAY + u].append(v)
            busy["anaesthetist", a, d * DAY + u].append(v)
    for vs in busy.values():
        if len(vs) > 1:
            model.add(sum(vs) <= 1)
    load: dict[tuple, list] = defaultdict(list)
    for (c, d, r, t, s, a), v in x.items():
        load[s, d].append(durations[c] * v)
    for terms in load.values():
        model.add(sum(terms) <= req.max_daily_minutes_per_surgeon)
    stays = {c.id: icu_days(c.risk_scheme, c.risk_category) for c in req.cases}
    beds: dict[int, list] = defaultdict(list)
    for (c, d, *_), v in x.items():
        for t in range(d, d + stays[c]):
            beds[t].append(v)
    for t, vs in beds.items():
        if beds_on(req, t) is not None:
            model.add(sum(vs) <= beds_on(req, t))
    weight = {c.id: WEIGHT.get(c.priority, 0) for c in req.cases}
    model.maximize(sum(weight[key[0]] * v for key, v in x.items()))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 2
    solver.parameters.max_time_in_seconds = seconds
    assert solver.solve(model) == cp_model.OPTIMAL, "the exact model was not solved: make the instance smaller"
    return round(solver.objective_value)
