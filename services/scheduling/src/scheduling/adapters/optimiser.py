"""Surgery plan optimiser for a mission: OR-Tools CP-SAT, and a greedy baseline.

Pure: input dataclasses in, a ``Plan`` (``scheduling.domain.planning``) out; no database, no HTTP, no clock.
Time is the host's wall clock as (day index of the mission, minute of the day),
on a grid of ``step_minutes`` (15 by default: durations are rounded *up* to it).

Model (see the service README, "Surgery plan optimiser"):

- one start variable per case on an axis ``day * 1440 + minute`` (in steps);
  one presence literal per (case, day, room) option with an optional interval
  of the case's duration plus that room's turnover (``Room.turnover_minutes``), so ``NoOverlap`` per room keeps a
  turnover between consecutive cases; a case ends by the room's closing time
  (its turnover may run past it);
- one optional interval per (case, surgeon) and per (case, anaesthetist), the
  same span, ``NoOverlap`` per practitioner; exactly one of each when operated
  (a surgery already booked keeps its surgeon, and the anaesthetist recorded on it);
- each surgeon's operating minutes per day <= ``max_daily_minutes_per_surgeon``;
- a practitioner operates only on the days they are on site (``PlanRequest.away``);
- intensive-care beds: an optional interval per case over the days, of the
  length of stay of its risk category (``ICU_DAYS``), ``Cumulative`` <= beds;
- objective, lexicographic: (1) priority-weighted count of cases operated
  (``PRIORITY_WEIGHT``), then (2) fewest already scheduled surgeries moved; a
  second solve with (1) and (2) held at least as good breaks ties: higher-risk
  cases on earlier days, longer cases earlier in the day.

Surgeries already started or completed (and scheduled ones whose slot has
begun) are fixed; scheduled ones are inputs that may move (same surgeon) but
stay in the plan.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from scheduling.domain.planning import Assignment, Plan, PlanStatus, Unplanned
# The intensive-care rule is the domain's: the optimiser and the booking handlers apply the same one.
from scheduling.domain.surgeries import ICU_DAYS, icu_days

DAY = 24 * 60

PRIORITY_WEIGHT = {1: 16, 2: 8, 3: 4, 4: 2, 5: 1}
"""Priority 1 (most urgent) weighs as much as two priority-2 cases, and so on down."""

def risk_rank(scheme: str, category: int | None) -> int:
    """0 (none) .. 5: higher-risk cases go earlier in the mission (the tie-break)."""
    return icu_days(scheme, category)


# -- input -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Room:
    id: Hashable
    name: str
    opens_minute: int  # host wall clock, minutes after midnight
    closes_minute: int
    turnover_minutes: int | None = None  # between two cases here; None: the request's ``turnover_minutes``


@dataclass(frozen=True)
class Case:
    id: Hashable
    ref: str  # what messages may name (the patient_ref)
    priority: int
    duration_minutes: int
    risk_scheme: str = "none"
    risk_category: int | None = None

    @property
    def icu_days(self) -> int:
        return icu_days(self.risk_scheme, self.risk_category)


@dataclass(frozen=True)
class Booking:
    """A surgery already in the mission. ``fixed``: started, completed or begun (it stays);
    else scheduled (it may move, with its surgeon, but stays in the plan). ``anaesthetist_id``:
    the anaesthetist recorded on it, if any: busy there, and it keeps them when it moves."""

    case: Case
    surgery_id: Hashable
    day: int
    room_id: Hashable
    start_minute: int
    surgeon_id: Hashable
    fixed: bool = False
    anaesthetist_id: Hashable | None = None


@dataclass(frozen=True)
class Blocked:
    """A room taken on a day by something outside the mission (another mission's surgery)."""

    room_id: Hashable
    day: int
    start_minute: int
    end_minute: int


@dataclass(frozen=True)
class PlanRequest:
    days: int
    rooms: Sequence[Room]
    surgeons: Sequence[Hashable]
    anaesthetists: Sequence[Hashable]
    cases: Sequence[Case]  # waiting cases to consider
    icu_beds: int | None = None  # None: not known, not a constraint
    bookings: Sequence[Booking] = ()
    blocked: Sequence[Blocked] = ()
    earliest: tuple[int, int] = (0, 0)  # (day, minute): nothing new or moved starts before
    turnover_minutes: int = 30
    max_daily_minutes_per_surgeon: int = 8 * 60
    # Practitioner -> the days of the mission they are not on site (arriving later, leaving earlier).
    away: Mapping[Hashable, frozenset[int]] = field(default_factory=dict)
    time_limit_seconds: float = 10.0
    step_minutes: int = 15
    workers: int = 2  # CP-SAT workers (the machine's cores; see the README's benchmark)
    seed: int = 0


# -- output: scheduling.domain.planning (the plan is the domain's; this adapter only computes it) --


# -- shared preparation -------------------------------------------------------------------------


@dataclass
class _Prepared:
    req: PlanRequest
    step: int
    cases: list[Case]  # plannable waiting cases
    movable: list[Booking]
    fixed: list[Booking]
    unplanned: list[Unplanned]
    reasons: list[str]
    dominated: list[Case] = field(default_factory=list)

    def slots(self, minutes: int) -> int:
        return -(-minutes // self.step)

    @property
    def turnover(self) -> int:
        """The practitioners' break between two cases (and the cuts' turnover): the shortest of the rooms'."""
        return min((self.room_turnover(r) for r in self.req.rooms), default=self.slots(self.req.turnover_minutes))

    def room_turnover(self, room: Room) -> int:
        """Slots a room keeps between two cases: its own turnover, else the request's."""
        minutes = self.req.turnover_minutes if room.turnover_minutes is None else room.turnover_minutes
        return self.slots(minutes)

    def window(self, room: Room) -> tuple[int, int]:
        """A room's day as slots: earliest start, latest end."""
        return -(-room.opens_minute // self.step), room.closes_minute // self.step

    def earliest_slot(self) -> int:
        d, m = self.req.earliest
        return d * (DAY // self.step) + -(-m // self.step)


def _prepare(req: PlanRequest) -> _Prepared | Plan:
    started = time.perf_counter()
    reasons: list[str] = []
    if req.step_minutes <= 0 or DAY % req.step_minutes:
        raise ValueError("step_minutes must divide a day")
    if req.days <= 0:
        reasons.append("the mission has no day")
    if not req.rooms:
        reasons.append("the host has no operating room")
    if not req.surgeons:
        reasons.append("no surgeon on the mission's team")
    if not req.anaesthetists:
        reasons.append("no anaesthetist on the mission's team")
    if reasons:
        return Plan(PlanStatus.infeasible, 0, 0, False, time.perf_counter() - started, reasons=reasons,
                    unplanned=[Unplanned(c.id, c.ref, "; ".join(reasons)) for c in req.cases], solver="none")
    p = _Prepared(req, req.step_minutes, [], [b for b in req.bookings if not b.fixed],
                  [b for b in req.bookings if b.fixed], [], reasons)
    longest = max(req.rooms, key=lambda r: r.closes_minute - r.opens_minute)
    longest_day = (p.window(longest)[1] - p.window(longest)[0]) * p.step
    cap = req.max_daily_minutes_per_surgeon
    for case in req.cases:
        dur = p.slots(case.duration_minutes) * p.step
        why = None
        if case.priority not in PRIORITY_WEIGHT:
            why = f"case {case.ref}: priority {case.priority} is not 1 to 5"
        elif case.duration_minutes <= 0:
            why = f"case {case.ref}: no positive expected duration"
        elif dur > longest_day:
            why = (f"case {case.ref} lasts {case.duration_minutes} min, longer than any room's day (the longest: "
                   f"{longest.name!r}, {longest_day} min)")
        elif dur > cap:
            why = (f"case {case.ref} lasts {case.duration_minutes} min, more than a surgeon's daily maximum "
                   f"({cap} min)")
        elif req.icu_beds is not None and case.icu_days > 0 and req.icu_beds <= 0:
            why = (f"case {case.ref} needs an intensive-care bed for {case.icu_days} day(s) "
                   f"({case.risk_scheme} {case.risk_category}); the host has none")
        if why:
            p.unplanned.append(Unplanned(case.id, case.ref, why))
        else:
            p.cases.append(case)
    p.cases, p.dominated = _undominated(p)
    if not p.cases and not p.movable:
        if not req.cases:
            reasons.append("no waiting case to plan")
        elif not reasons:
            reasons.append("no waiting case can be operated in this mission (see each case)")
        booked = sum(PRIORITY_WEIGHT.get(b.case.priority, 0) for b in req.bookings)
        return Plan(PlanStatus.empty, booked, booked, True,
                    time.perf_counter() - started, unplanned=p.unplanned, reasons=reasons, solver="none",
                    assignments=[_booked(b, p, anaesthetist=b.anaesthetist_id) for b in req.bookings])
    return p


def _undominated(p: _Prepared) -> tuple[list[Case], list[Case]]:
    """Drop the cases that no optimal plan needs: a case is *dominated* by another that weighs
    at least as much, is no longer and holds an intensive-care bed no longer (ties broken by a
    fixed order). A case with as many dominators as any plan can hold cases is never needed:
    in a plan that operates it, one dominator is left out and can take its slot."""
    req, turn = p.req, p.turnover
    if not p.cases:
        return [], []
    # The most cases any plan holds: the k shortest must fit in the rooms' time and the surgeons'.
    room_time = sum(p.window(r)[1] - p.window(r)[0] + p.room_turnover(r) for r in req.rooms) * req.days
    surgeon_time = len(req.surgeons) * req.days * req.max_daily_minutes_per_surgeon
    most, rooms_used, surgeons_used = 0, 0, 0
    for c in sorted(p.cases, key=lambda c: c.duration_minutes):
        rooms_used += p.slots(c.duration_minutes) + turn
        surgeons_used += c.duration_minutes
        if rooms_used > room_time or surgeons_used > surgeon_time:
            break
        most += 1
    most = max(most, 1)
    key = {c.id: (-PRIORITY_WEIGHT[c.priority], p.slots(c.duration_minutes), c.icu_days, str(c.id))
           for c in p.cases}
    kept, dropped = [], []
    for c in p.cases:
        w, d, icu = PRIORITY_WEIGHT[c.priority], p.slots(c.duration_minutes), c.icu_days
        count = sum(1 for o in p.cases if o is not c and PRIORITY_WEIGHT[o.priority] >= w
                    and p.slots(o.duration_minutes) <= d and o.icu_days <= icu and key[o.id] < key[c.id])
        (dropped if count >= most else kept).append(c)
    return kept, dropped


def _booked(b: Booking, p: _Prepared, *, anaesthetist: Hashable | None) -> Assignment:
    """A booking where it is."""
    return Assignment(b.case.id, b.case.ref, b.day, b.room_id, b.start_minute, b.case.duration_minutes,
                      b.surgeon_id, anaesthetist, b.case.icu_days, surgery_id=b.surgery_id, fixed=b.fixed)


def _score(assignments: Sequence[Assignment], weights: dict[Hashable, int]) -> int:
    return sum(weights[a.case_id] for a in assignments)


# -- greedy baseline ----------------------------------------------------------------------------


def greedy(req: PlanRequest) -> Plan:
    """Priority order (then higher risk, then longer), each case at the first slot that fits
    (day, room, time, surgeon, anaesthetist, ICU beds). Bookings stay where they are."""
    prepared = _prepare(req)
    if isinstance(prepared, Plan):
        return prepared
    started = time.perf_counter()
    assignments, _ = _greedy(prepared)
    weights = {c.id: PRIORITY_WEIGHT[c.priority]
               for c in [*prepared.cases, *prepared.dominated, *(b.case for b in req.bookings)]}
    score = _score(assignments, weights)
    planned = {a.case_id for a in assignments}
    unplanned = prepared.unplanned + [Unplanned(c.id, c.ref, _no_room_reason(c))
                                      for c in [*prepared.cases, *prepared.dominated] if c.id not in planned]
    return Plan(PlanStatus.feasible, score, sum(weights.values()), False, time.perf_counter() - started,
                assignments=assignments, unplanned=unplanned, reasons=prepared.reasons, solver="greedy",
                greedy_objective=score)


def _no_room_reason(c: Case) -> str:
    return (f"case {c.ref} (priority {c.priority}, {c.duration_minutes} min) did not fit beside the cases chosen "
            "(rooms, surgeons, anaesthetists or intensive-care beds are taken)")


def _greedy(p: _Prepared) -> tuple[list[Assignment], dict[Hashable, tuple[int, int, int, int, int]]]:
    """Returns assignments and, per case, (day, room index, start slot, surgeon index, anaesthetist index)."""
    req, per_day = p.req, DAY // p.step
    turn = p.turnover
    room_busy: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)  # (room, day) -> [a, b) slots
    surgeon_busy: dict[int, list[tuple[int, int]]] = defaultdict(list)  # absolute slots
    anaes_busy: dict[int, list[tuple[int, int]]] = defaultdict(list)
    surgeon_load: dict[tuple[int, int], int] = defaultdict(int)  # (surgeon, day) -> minutes
    beds: dict[int, int] = defaultdict(int)
    room_index = {r.id: i for i, r in enumerate(req.rooms)}
    surgeon_index = {s: i for i, s in enumerate(req.surgeons)}
    anaesthetist_index = {a: i for i, a in enumerate(req.anaesthetists)}

    def free(busy: list[tuple[int, int]], a: int, b: int) -> bool:
        return all(b <= x or y <= a for x, y in busy)

    out: list[Assignment] = []
    where: dict[Hashable, tuple[int, int, int, int, int]] = {}
    for b in [*p.fixed, *p.movable]:
        ri, si = room_index.get(b.room_id), surgeon_index.get(b.surgeon_id)
        s0 = b.start_minute // p.step
        length = p.slots(b.case.duration_minutes)
        absolute = b.day * per_day + s0
        if ri is not None:
            room_busy[ri, b.day].append((s0, s0 + length + p.room_turnover(req.rooms[ri])))
        anaesthetist = anaesthetist_index.get(b.anaesthetist_id)
        if si is not None:
            surgeon_busy[si].append((absolute, absolute + length + turn))
            surgeon_load[si, b.day] += b.case.duration_minutes
        if anaesthetist is not None:
            anaes_busy[anaesthetist].append((absolute, absolute + length + turn))
        elif not b.fixed:
            for ai in range(len(req.anaesthetists)):
                if b.day not in req.away.get(req.anaesthetists[ai], ()) and free(
                        anaes_busy[ai], absolute, absolute + length + turn):
                    anaes_busy[ai].append((absolute, absolute + length + turn))
                    anaesthetist = ai
                    break
        for d in range(b.day, b.day + b.case.icu_days):
            beds[d] += 1
        out.append(_booked(b, p, anaesthetist=b.anaesthetist_id if anaesthetist is None
                           else req.anaesthetists[anaesthetist]))
        if ri is not None and si is not None:
            where[b.case.id] = (b.day, ri, s0, si, -1 if anaesthetist is None else anaesthetist)
    for blocked in req.blocked:
        if blocked.room_id in room_index:
            ri = room_index[blocked.room_id]
            room_busy[ri, blocked.day].append(
                (blocked.start_minute // p.step, p.slots(blocked.end_minute) + p.room_turnover(req.rooms[ri])))
    earliest = p.earliest_slot()
    order = sorted([*p.cases, *p.dominated], key=lambda c: (c.priority, -c.icu_days, -c.duration_minutes, str(c.ref)))
    for case in order:
        length = p.slots(case.duration_minutes)
        placed = False
        for day in range(req.days):
            if req.icu_beds is not None and case.icu_days and any(
                    beds[d] >= req.icu_beds for d in range(day, day + case.icu_days)):
                continue
            for ri, room in enumerate(req.rooms):
                lo, hi = p.window(room)
                room_turn = p.room_turnover(room)
                for s0 in range(lo, hi - length + 1):
                    absolute = day * per_day + s0
                    if absolute < earliest or not free(room_busy[ri, day], s0, s0 + length + room_turn):
                        continue
                    span = (absolute, absolute + length + turn)
                    si = next((i for i in range(len(req.surgeons)) if free(surgeon_busy[i], *span)
                               and day not in req.away.get(req.surgeons[i], ())
                               and surgeon_load[i, day] + case.duration_minutes <= req.max_daily_minutes_per_surgeon),
                              None)
                    ai = next((i for i in range(len(req.anaesthetists)) if free(anaes_busy[i], *span)
                               and day not in req.away.get(req.anaesthetists[i], ())), None)
                    if si is None or ai is None:
                        continue
                    room_busy[ri, day].append((s0, s0 + length + room_turn))
                    surgeon_busy[si].append(span)
                    anaes_busy[ai].append(span)
                    surgeon_load[si, day] += case.duration_minutes
                    for d in range(day, day + case.icu_days):
                        beds[d] += 1
                    out.append(Assignment(case.id, case.ref, day, room.id, s0 * p.step, case.duration_minutes,
                                          req.surgeons[si], req.anaesthetists[ai], case.icu_days))
                    where[case.id] = (day, ri, s0, si, ai)
                    placed = True
                    break
                if placed:
                    break
            if placed:
                break
    return out, where


# -- CP-SAT -----------------------------------------------------------------------------------


def solve(req: PlanRequest) -> Plan:
    """The best plan CP-SAT finds within ``req.time_limit_seconds`` (never worse than greedy)."""
    prepared = _prepare(req)
    if isinstance(prepared, Plan):
        return prepared
    started = time.perf_counter()
    p = prepared
    base, hint = _greedy(p)
    weights = {c.id: PRIORITY_WEIGHT[c.priority] for c in [*p.cases, *p.dominated, *(b.case for b in req.bookings)]}
    greedy_score = _score(base, weights)
    m = _Model(p, hint)

    solver = cp_model.CpSolver()
    solver.parameters.num_workers = max(1, req.workers)
    solver.parameters.random_seed = req.seed
    limit = max(0.1, req.time_limit_seconds)
    solver.parameters.max_time_in_seconds = limit * 0.85
    m.model.maximize(m.primary * (len(p.movable) + 1) - m.moves)
    status = solver.solve(m.model)
    reasons = list(p.reasons)
    if status == cp_model.INFEASIBLE:
        reasons.append(_infeasible_reason(p))
        return Plan(PlanStatus.infeasible, 0, 0, False, time.perf_counter() - started, reasons=reasons,
                    unplanned=p.unplanned + [Unplanned(c.id, c.ref, reasons[-1]) for c in p.cases],
                    greedy_objective=greedy_score)
    bound_full = solver.best_objective_bound
    bound = math.floor((bound_full + len(p.movable)) / (len(p.movable) + 1) + 1e-6) + m.fixed_score
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return _from_greedy(p, base, weights, greedy_score, bound, started, reasons)
    optimal = status == cp_model.OPTIMAL
    primary, moves = int(solver.value(m.primary)), int(solver.value(m.moves))
    assignments = m.read(solver)
    primary_seconds = time.perf_counter() - started
    tiebreak_optimal = False
    remaining = min(limit - primary_seconds, max(0.5, 0.3 * limit))
    if remaining > 0.05:
        m.fix_hint(solver)
        m.model.add(m.primary >= primary)
        m.model.add(m.moves <= moves)
        m.model.minimize(m.tiebreak)
        solver.parameters.max_time_in_seconds = remaining
        status2 = solver.solve(m.model)
        if status2 in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            tiebreak_optimal = status2 == cp_model.OPTIMAL
            assignments = m.read(solver)
    score = _score(assignments, weights)
    if (greedy_score, 0) > (score, -moves):
        return _from_greedy(p, base, weights, greedy_score, bound, started, reasons)
    planned = {a.case_id for a in assignments}
    unplanned = p.unplanned + [Unplanned(c.id, c.ref, _no_room_reason(c)) for c in [*p.cases, *p.dominated]
                                      if c.id not in planned]
    return Plan(PlanStatus.optimal if optimal else PlanStatus.feasible, score, max(bound, score), optimal,
                time.perf_counter() - started, moves=sum(a.moved for a in assignments), assignments=assignments,
                unplanned=unplanned, reasons=reasons, greedy_objective=greedy_score,
                tiebreak_optimal=tiebreak_optimal, primary_seconds=primary_seconds)


def _from_greedy(p: _Prepared, base: list[Assignment], weights: dict[Hashable, int], score: int, bound: int,
                 started: float, reasons: list[str]) -> Plan:
    planned = {a.case_id for a in base}
    unplanned = p.unplanned + [Unplanned(c.id, c.ref, _no_room_reason(c)) for c in [*p.cases, *p.dominated]
                                      if c.id not in planned]
    return Plan(PlanStatus.greedy, score, max(bound, score), bound <= score, time.perf_counter() - started,
                assignments=base, unplanned=unplanned,
                reasons=[*reasons, "the solver found nothing better than the greedy plan within the time limit"],
                solver="greedy", greedy_objective=score)


def _infeasible_reason(p: _Prepared) -> str:
    if p.movable:
        return ("the surgeries already scheduled cannot all keep a place under these constraints (turnover, "
                "surgeons' daily maximum, anaesthetists, intensive-care beds): relax them or cancel one")
    return "the fixed surgeries already break these constraints"


class _Model:
    def __init__(self, p: _Prepared, hint: dict[Hashable, tuple[int, int, int, int, int]]) -> None:
        self.p = p
        req = p.req
        per_day, turn, step = DAY // p.step, p.turnover, p.step
        model = self.model = cp_model.CpModel()
        horizon = req.days * per_day
        earliest = p.earliest_slot()
        room_iv: dict[int, list] = defaultdict(list)
        surgeon_iv: dict[int, list] = defaultdict(list)
        anaes_iv: dict[int, list] = defaultdict(list)
        load: dict[tuple[int, int], list] = defaultdict(list)  # (surgeon, day) -> [(minutes, literal)]
        icu_iv: list = []
        icu_demand: list[int] = []
        weights_terms = []
        self.items: list[tuple[Case, Booking | None]] = [(c, None) for c in p.cases] + [
            (b.case, b) for b in p.movable]
        self.vars: list[dict] = []
        move_terms = []
        tiebreak = []
        room_index = {r.id: i for i, r in enumerate(req.rooms)}
        surgeon_index = {s: i for i, s in enumerate(req.surgeons)}
        anaesthetist_index = {a: i for i, a in enumerate(req.anaesthetists)}

        # Fixed: surgeries that stay where they are; rooms taken by others. Spans on one room or
        # surgeon are merged: fixed surgeries booked back to back by hand (no turnover) stay legal.
        fixed_spans: dict[tuple[str, int], list[tuple[int, int]]] = defaultdict(list)
        held: dict[int, int] = defaultdict(int)
        for b in p.fixed:
            s0, length = b.start_minute // step, p.slots(b.case.duration_minutes)
            a = b.day * per_day + s0
            if b.room_id in room_index:
                ri = room_index[b.room_id]
                fixed_spans["room", ri].append((a, a + length + p.room_turnover(req.rooms[ri])))
            if b.surgeon_id in surgeon_index:
                si = surgeon_index[b.surgeon_id]
                fixed_spans["surgeon", si].append((a, a + length + turn))
                if 0 <= b.day < req.days:
                    load[si, b.day].append((b.case.duration_minutes, 1))
            if b.anaesthetist_id in anaesthetist_index:
                fixed_spans["anaesthetist", anaesthetist_index[b.anaesthetist_id]].append((a, a + length + turn))
            for t in range(b.day, b.day + b.case.icu_days):
                held[t] += 1
        for blocked in req.blocked:
            if blocked.room_id in room_index:
                s0 = blocked.day * per_day + blocked.start_minute // step
                e0 = blocked.day * per_day + p.slots(blocked.end_minute) + p.room_turnover(
                    req.rooms[room_index[blocked.room_id]])
                fixed_spans["room", room_index[blocked.room_id]].append((s0, e0))
        intervals = {"room": room_iv, "surgeon": surgeon_iv, "anaesthetist": anaes_iv}
        for (kind, i), spans in fixed_spans.items():
            merged: list[list[int]] = []
            for a, b_ in sorted(spans):
                if merged and a <= merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], b_)
                else:
                    merged.append([a, b_])
            for a, b_ in merged:
                intervals[kind][i].append(model.new_fixed_size_interval_var(a, b_ - a, ""))
        # Beds held by fixed surgeries, per day (a demand of that many on that day).
        for t, n in held.items():
            icu_iv.append(model.new_fixed_size_interval_var(t, 1, ""))
            icu_demand.append(min(n, req.icu_beds or n))

        for case, booking in self.items:
            length = p.slots(case.duration_minutes)
            start = model.new_int_var(0, horizon, "")
            end = model.new_int_var(0, horizon + length + turn, "")
            model.add(end == start + length + turn)
            options: dict[tuple[int, int], object] = {}
            for d in range(req.days):
                for ri, room in enumerate(req.rooms):
                    lo, hi = p.window(room)
                    if hi - lo < length:
                        continue
                    lo_abs, hi_abs = d * per_day + lo, d * per_day + hi - length
                    if booking is None and hi_abs < earliest:
                        continue
                    x = model.new_bool_var("")
                    model.add(start >= max(lo_abs, earliest if booking is None else lo_abs)).only_enforce_if(x)
                    model.add(start <= hi_abs).only_enforce_if(x)
                    room_turn = p.room_turnover(room)
                    room_iv[ri].append(model.new_optional_interval_var(start, length + room_turn,
                                                                       start + length + room_turn, x, ""))
                    options[d, ri] = x
            performed = model.new_bool_var("")
            model.add(sum(options.values()) == performed)
            day_of = {d: model.new_bool_var("") for d in range(req.days)}
            for d in range(req.days):
                model.add(sum(x for (dd, _), x in options.items() if dd == d) == day_of[d])
            # Surgeon: any of the team, or the booking's own.
            surgeons = ([surgeon_index[booking.surgeon_id]] if booking is not None and booking.surgeon_id in
                        surgeon_index else list(range(len(req.surgeons))))
            ys = {}
            for si in surgeons:
                y = model.new_bool_var("")
                surgeon_iv[si].append(model.new_optional_interval_var(start, length + turn, end, y, ""))
                ys[si] = y
                away = req.away.get(req.surgeons[si], frozenset())
                for d in range(req.days):
                    if d in away:  # not on site that day: never this case's surgeon on it
                        model.add_bool_or([y.Not(), day_of[d].Not()])
                        continue
                    w = model.new_bool_var("")
                    model.add_bool_and([y, day_of[d]]).only_enforce_if(w)
                    model.add_bool_or([y.Not(), day_of[d].Not(), w])
                    load[si, d].append((case.duration_minutes, w))
            model.add(sum(ys.values()) == performed)
            # Anaesthetist: any of the team, or the one recorded on the booking.
            anaesthetists = ([anaesthetist_index[booking.anaesthetist_id]] if booking is not None
                             and booking.anaesthetist_id in anaesthetist_index else range(len(req.anaesthetists)))
            zs = {}
            for ai in anaesthetists:
                z = model.new_bool_var("")
                anaes_iv[ai].append(model.new_optional_interval_var(start, length + turn, end, z, ""))
                zs[ai] = z
                for d in req.away.get(req.anaesthetists[ai], ()):
                    if d in day_of:
                        model.add_bool_or([z.Not(), day_of[d].Not()])
            model.add(sum(zs.values()) == performed)
            day_var = model.new_int_var(0, max(0, req.days - 1), "")
            model.add(day_var == sum(d * lit for d, lit in day_of.items()))
            if case.icu_days:
                icu_iv.append(model.new_optional_interval_var(day_var, case.icu_days, day_var + case.icu_days,
                                                              performed, ""))
                icu_demand.append(1)
            weights_terms.append(PRIORITY_WEIGHT[case.priority] * performed)
            # Tie-break: higher risk earlier in the mission, longer cases earlier in the day.
            minute_of_day = model.new_int_var(0, per_day, "")
            model.add(minute_of_day == start - per_day * day_var).only_enforce_if(performed)
            model.add(minute_of_day == 0).only_enforce_if(performed.Not())
            tiebreak.append(risk_rank(case.risk_scheme, case.risk_category) * 20 * day_var)
            tiebreak.append(max(1, round(case.duration_minutes / 60)) * minute_of_day)
            if booking is not None:
                model.add(performed == 1)
                here = options.get((booking.day, room_index.get(booking.room_id, -1)))
                stays = model.new_bool_var("")
                if here is None:
                    model.add(stays == 0)
                else:
                    at = booking.day * per_day + booking.start_minute // step
                    model.add(start == at).only_enforce_if(stays)
                    model.add_implication(stays, here)
                    # Moving means a start at or after the earliest time.
                    model.add(start >= earliest).only_enforce_if(stays.Not())
                move_terms.append(stays.Not())
            self.vars.append(dict(start=start, options=options, performed=performed, ys=ys, zs=zs,
                                  day=day_var, day_of=day_of))
            # Hint: the greedy placement.
            placed = hint.get(case.id)
            if placed is not None:
                d, ri, s0, si, ai = placed
                model.add_hint(start, d * per_day + s0)
                model.add_hint(performed, 1)
                for key, x in options.items():
                    model.add_hint(x, key == (d, ri))
                for k, y in ys.items():
                    model.add_hint(y, k == si)
                for k, z in zs.items():
                    model.add_hint(z, k == ai)
            else:
                model.add_hint(performed, 0)
                for x in options.values():
                    model.add_hint(x, False)

        # Redundant linear cuts (the same rules, as knapsacks the LP relaxation sees): room-days,
        # practitioners' days, intensive-care beds per day.
        fixed_room: dict[tuple[int, int], int] = defaultdict(int)
        for b in p.fixed:
            if b.room_id in room_index:
                ri = room_index[b.room_id]
                fixed_room[ri, b.day] += p.slots(b.case.duration_minutes) + p.room_turnover(req.rooms[ri])
        for d in range(req.days):
            for ri, room in enumerate(req.rooms):
                lo, hi = p.window(room)
                room_turn = p.room_turnover(room)
                terms = [(p.slots(c.duration_minutes) + room_turn) * v["options"][d, ri]
                         for (c, _), v in zip(self.items, self.vars) if (d, ri) in v["options"]]
                if terms:
                    model.add(sum(terms) <= max(0, hi - lo + room_turn - fixed_room[ri, d]))
            day_terms = [(p.slots(c.duration_minutes) + turn) * v["day_of"][d]
                         for (c, _), v in zip(self.items, self.vars)]
            # Every case operated has one surgeon: a day's operating minutes fit in the surgeons' maxima.
            fixed_load = sum(b.case.duration_minutes for b in p.fixed if b.day == d)
            model.add(sum(c.duration_minutes * v["day_of"][d] for (c, _), v in zip(self.items, self.vars))
                      <= max(0, len(req.surgeons) * req.max_daily_minutes_per_surgeon - fixed_load))
            for people in (req.surgeons, req.anaesthetists):
                longest = max(hi - lo for lo, hi in map(p.window, req.rooms)) + turn
                model.add(sum(day_terms) <= len(people) * min(longest, per_day))
        if req.icu_beds is not None:
            for t in range(req.days + 6):
                in_bed = [v["day_of"][d] for (c, _), v in zip(self.items, self.vars)
                          for d in range(req.days) if d <= t < d + c.icu_days]
                if in_bed:
                    model.add(sum(in_bed) <= max(0, req.icu_beds - held.get(t, 0)))
        for ivs in [*room_iv.values(), *surgeon_iv.values(), *anaes_iv.values()]:
            if len(ivs) > 1:
                model.add_no_overlap(ivs)
        for (si, d), terms in load.items():
            already = sum(minutes for minutes, lit in terms if isinstance(lit, int))  # fixed surgeries
            model.add(sum(minutes * lit for minutes, lit in terms) <= max(req.max_daily_minutes_per_surgeon, already))
        if req.icu_beds is not None and icu_iv:
            model.add_cumulative(icu_iv, icu_demand, req.icu_beds)
        self.primary = model.new_int_var(0, sum(PRIORITY_WEIGHT[c.priority] for c, _ in self.items), "primary")
        model.add(self.primary == sum(weights_terms))
        self.moves = model.new_int_var(0, len(p.movable), "moves")
        model.add(self.moves == sum(move_terms))
        self.tiebreak = sum(tiebreak)
        self.fixed_score = sum(PRIORITY_WEIGHT[b.case.priority] for b in p.fixed)

    def fix_hint(self, solver: cp_model.CpSolver) -> None:
        """Hint the next solve with the solution just found."""
        self.model.clear_hints()
        for v in self.vars:
            for var in [v["start"], v["performed"], *v["options"].values(), *v["ys"].values(), *v["zs"].values()]:
                self.model.add_hint(var, solver.value(var))

    def read(self, solver: cp_model.CpSolver) -> list[Assignment]:
        p, req = self.p, self.p.req
        per_day = DAY // p.step
        out = [_booked(b, p, anaesthetist=b.anaesthetist_id) for b in p.fixed]
        for (case, booking), v in zip(self.items, self.vars):
            if not solver.value(v["performed"]):
                continue
            (d, ri), = [k for k, x in v["options"].items() if solver.value(x)]
            si = next(k for k, y in v["ys"].items() if solver.value(y))
            ai = next(k for k, z in v["zs"].items() if solver.value(z))
            minute = (solver.value(v["start"]) - d * per_day) * p.step
            room = req.rooms[ri]
            if booking is not None:
                same = (d, room.id, minute) == (booking.day, booking.room_id, booking.start_minute // p.step * p.step)
                out.append(Assignment(case.id, case.ref, d, room.id, booking.start_minute if same else minute,
                                      case.duration_minutes, booking.surgeon_id, req.anaesthetists[ai],
                                      case.icu_days, surgery_id=booking.surgery_id, moved=not same))
            else:
                out.append(Assignment(case.id, case.ref, d, room.id, minute, case.duration_minutes,
                                      req.surgeons[si], req.anaesthetists[ai], case.icu_days))
        return sorted(out, key=lambda a: (a.day, a.start_minute, str(a.room_id)))


__all__ = ["Assignment", "Blocked", "Booking", "Case", "ICU_DAYS", "PRIORITY_WEIGHT", "Plan", "PlanRequest",
           "PlanStatus", "Room", "Unplanned", "greedy", "icu_days", "solve"]
