"""Surgery plan optimiser for a mission: OR-Tools CP-SAT, and a greedy baseline.

Pure: input dataclasses in, a ``Plan`` (``scheduling.domain.planning``) out; no database, no HTTP, no clock.
Time is the host's wall clock as (day index of the mission, minute of the day),
on a grid of ``step_minutes`` (15 by default: durations are rounded *up* to it), refined to
the times the data fixes (rooms' hours, bookings, blocked slots, turnover: ``_grid``).

Model (see the service README, "Surgery plan optimiser"):

- one start variable per case on an axis ``day * 1440 + minute`` (in steps);
  one presence literal per (case, day, room) option with an optional interval
  of the case's duration plus that room's turnover (``Room.turnover_minutes``), so ``NoOverlap``
  per room keeps a turnover between consecutive cases (one ``NoOverlap`` per room and day); a case
  ends by the room's closing time (its turnover may run past it);
- one optional interval per (case, surgeon) and per (case, anaesthetist), the
  same span, ``NoOverlap`` per practitioner; exactly one of each when operated
  (a surgery already booked keeps its surgeon, and the anaesthetist recorded on it);
- each surgeon's operating minutes per day <= ``max_daily_minutes_per_surgeon``;
- a practitioner operates only on the days they are on site (``PlanRequest.away``);
- a practitioner works at one host site a day (``Room.site``; several sites only): one literal
  per (practitioner, day, site), at most one per day, implied by each case they take there;
- intensive-care beds: an optional interval per case over the days, of the
  length of stay of its risk category (``ICU_DAYS``), ``Cumulative`` <= beds;
  after the mission's last day, at most ``icu_beds_after_mission``;
- the visiting team leaves: a case is operated no later than the last day minus
  its post-operative days with the team (``POST_OPERATIVE_DAYS``, by risk);
- pins: pinned surgeries, and those on locked days, are fixed; nothing new on a locked day;
- objective, lexicographic: (1) priority-weighted count of cases operated
  (``PRIORITY_WEIGHT``), then (2) the moves' cost (a day's worth of steps per
  move plus its size); a second solve with (1) and (2) held at least as good
  breaks ties: higher-risk cases on earlier days, longer cases earlier in the day.
- the greedy plan is a complete hint (every variable); the status says what
  was proven (optimal, feasible with the solver's bound, heuristic).

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

from scheduling.domain.planning import (
    POST_OPERATIVE_DAYS,
    Assignment,
    Plan,
    PlanStatus,
    Unplanned,
    post_operative_days,
)
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
    # The host site it is at, for a mission at several sites (None: the one site): a practitioner
    # works at one site a day.
    site: Hashable | None = None


@dataclass(frozen=True)
class Case:
    id: Hashable
    ref: str  # what messages may name (the patient_ref)
    priority: int
    duration_minutes: int
    risk_scheme: str = "none"
    risk_category: int | None = None
    # Several host sites in one mission: the rooms and days of the case's site (None: any), and
    # the site whose intensive-care beds it holds (``PlanRequest.ward_beds``; None: ``icu_beds``).
    rooms: frozenset[Hashable] | None = None
    days: frozenset[int] | None = None
    ward: Hashable | None = None

    def may_use(self, day: int, room_id: Hashable) -> bool:
        return (self.days is None or day in self.days) and (self.rooms is None or room_id in self.rooms)

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
    # The visiting team leaves after the last day: a case is planned no later than the last day
    # minus its post-operative days with the team on site (by risk category).
    post_operative_days: Mapping[tuple[str, int | None], int] = field(
        default_factory=lambda: dict(POST_OPERATIVE_DAYS))
    # Intensive-care beds the host gives the mission's patients after the mission's end (None: all
    # of ``icu_beds``): stays running past the last day count against these.
    icu_beds_after_mission: int | None = None
    # A coordinator's pins: these surgeries (ids) never move, nor any on a locked day (day indices),
    # where nothing new is placed either.
    pinned: frozenset[Hashable] = frozenset()
    locked_days: frozenset[int] = frozenset()
    # Intensive-care beds per ward (a host site of the mission; None: not known there): a case
    # whose ``ward`` is listed holds one of these, any other one of ``icu_beds``.
    ward_beds: Mapping[Hashable, int | None] = field(default_factory=dict)

    def pool(self, case: Case) -> Hashable | None:
        """Whose beds the case holds: its ward's if listed, else the request's (None)."""
        return case.ward if case.ward is not None and case.ward in self.ward_beds else None

    def pool_beds(self, pool: Hashable | None) -> int | None:
        return self.icu_beds if pool is None else self.ward_beds[pool]

    # Decompose by day (an assignment relaxation, then the full model on its days): None, by the
    # model's size (``DECOMPOSE_OPTIONS``).
    decompose: bool | None = None


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

    def on_site(self, case: Case) -> int:
        return post_operative_days(self.req.post_operative_days, case.risk_scheme, case.risk_category)

    def last_day(self, case: Case) -> int:
        """The last day the case may be operated: its post-operative days fall while the team is there."""
        return self.req.days - 1 - self.on_site(case)

    def beds_on(self, t: int, pool: Hashable | None = None) -> int | None:
        """Intensive-care beds on day ``t`` of the mission (after its end: the host's limit), in
        ``pool`` (a ward's, or None: the request's ``icu_beds``)."""
        beds, after = self.req.pool_beds(pool), self.req.icu_beds_after_mission
        if t < self.req.days or after is None:
            return beds
        return after if beds is None else min(beds, after)

    @property
    def sites(self) -> list[Hashable | None]:
        """The host sites of the rooms, when there are several (else none: the rule is moot)."""
        sites = list(dict.fromkeys(r.site for r in self.req.rooms))
        return sites if len(sites) > 1 else []

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
    p = _Prepared(req, _grid(req), [], [b for b in req.bookings if not b.fixed and not _pinned(req, b)],
                  [b for b in req.bookings if b.fixed or _pinned(req, b)], [], reasons)
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
        elif (beds := req.pool_beds(req.pool(case))) is not None and case.icu_days > 0 and beds <= 0:
            why = (f"case {case.ref} needs an intensive-care bed for {case.icu_days} day(s) "
                   f"({case.risk_scheme} {case.risk_category}); the host has none")
        elif not any(case.may_use(d, r.id) for d in range(req.days) for r in req.rooms):
            why = f"case {case.ref}: no room of its site is open on the mission's days there"
        elif p.last_day(case) < max(0, req.earliest[0]):
            why = (f"case {case.ref} ({case.risk_scheme} {case.risk_category}) needs the team on site "
                   f"{p.on_site(case)} day(s) after its surgery; the team leaves before "
                   f"(the mission's last day is day {req.days})")
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


def _pinned(req: PlanRequest, b: Booking) -> bool:
    return b.surgery_id in req.pinned or b.day in req.locked_days


def _grid(req: PlanRequest) -> int:
    """The model's step: ``step_minutes``, refined so that every time the data fixes falls on it
    (rooms' hours, bookings' starts, blocked slots, the turnover): a surgery booked by hand at
    08:10 is modelled at 08:10, and the turnover after it is kept to the minute."""
    step = req.step_minutes
    times = [req.turnover_minutes, *(m for r in req.rooms for m in (r.opens_minute, r.closes_minute)),
             *(b.start_minute for b in req.bookings),
             *(m for b in req.blocked for m in (b.start_minute, b.end_minute))]
    for t in times:
        step = math.gcd(step, t % DAY)
    return step


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
    # A rival must be no longer in the room (slots) *and* for the surgeon's daily maximum (real minutes).
    key = {c.id: (-PRIORITY_WEIGHT[c.priority], p.slots(c.duration_minutes), c.duration_minutes, c.icu_days,
                  str(c.id)) for c in p.cases}
    kept, dropped = [], []
    for c in p.cases:
        w, d, icu = PRIORITY_WEIGHT[c.priority], p.slots(c.duration_minutes), c.icu_days
        count = sum(1 for o in p.cases if o is not c and PRIORITY_WEIGHT[o.priority] >= w
                    and p.slots(o.duration_minutes) <= d and o.duration_minutes <= c.duration_minutes
                    and o.icu_days <= icu and p.on_site(o) <= p.on_site(c) and key[o.id] < key[c.id]
                    and (o.rooms, o.days, req.pool(o)) == (c.rooms, c.days, req.pool(c)))
        (dropped if count >= most else kept).append(c)
    return kept, dropped


def _booked(b: Booking, p: _Prepared, *, anaesthetist: Hashable | None) -> Assignment:
    """A booking where it is."""
    return Assignment(b.case.id, b.case.ref, b.day, b.room_id, b.start_minute, b.case.duration_minutes,
                      b.surgeon_id, anaesthetist, b.case.icu_days, surgery_id=b.surgery_id, fixed=b.fixed,
                      pinned=not b.fixed and _pinned(p.req, b))


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
    unplanned = prepared.unplanned + [Unplanned(c.id, c.ref, _no_room_reason(prepared, c))
                                      for c in [*prepared.cases, *prepared.dominated] if c.id not in planned]
    return Plan(PlanStatus.feasible, score, sum(weights.values()), False, time.perf_counter() - started,
                assignments=assignments, unplanned=unplanned, reasons=prepared.reasons, solver="greedy",
                greedy_objective=score)


def _no_room_reason(p: _Prepared, c: Case) -> str:
    """What this case needs and is taken: beds only if it needs one and they count, the team's
    stay only if it narrows the case's days."""
    needs = ["rooms", "surgeons' time", "anaesthetists"]
    if c.icu_days and (p.req.pool_beds(p.req.pool(c)) is not None or p.req.icu_beds_after_mission is not None):
        needs.append(f"intensive-care beds ({c.icu_days} day(s))")
    why = f"{', '.join(needs[:-1])} or {needs[-1]} are taken"
    if p.on_site(c) and p.last_day(c) < p.req.days - 1:
        why += (f" on the mission's first {p.last_day(c) + 1} day(s), the only ones that leave its "
                f"{p.on_site(c)} post-operative day(s) before the team leaves")
    return f"case {c.ref} (priority {c.priority}, {c.duration_minutes} min) did not fit beside the cases chosen ({why})"


def _greedy(p: _Prepared, only: Mapping[Hashable, int] | None = None,
            ) -> tuple[list[Assignment], dict[Hashable, tuple[int, int, int, int, int]]]:
    """Returns assignments and, per case, (day, room index, start slot, surgeon index, anaesthetist index).
    ``only``: the waiting cases to place, each on its one day (the assignment's; a hint for its sequencing)."""
    req, per_day = p.req, DAY // p.step
    turn = p.turnover
    room_busy: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)  # (room, day) -> [a, b) slots
    surgeon_busy: dict[int, list[tuple[int, int]]] = defaultdict(list)  # absolute slots
    anaes_busy: dict[int, list[tuple[int, int]]] = defaultdict(list)
    surgeon_load: dict[tuple[int, int], int] = defaultdict(int)  # (surgeon, day) -> minutes
    beds: dict[tuple[Hashable | None, int], int] = defaultdict(int)  # (pool, day) -> beds held
    # (practitioner, day) -> the host sites they work at that day (one, unless booked by hand otherwise).
    works_at: dict[tuple[Hashable, int], set[Hashable | None]] = defaultdict(set)
    several = bool(p.sites)
    room_index = {r.id: i for i, r in enumerate(req.rooms)}
    site_of = {r.id: r.site for r in req.rooms}

    def at_site(person: Hashable, day: int, site: Hashable | None) -> bool:
        return not several or works_at[person, day] <= {site}
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
        works_at[b.surgeon_id, b.day].add(site_of.get(b.room_id))
        if b.anaesthetist_id is not None:
            works_at[b.anaesthetist_id, b.day].add(site_of.get(b.room_id))
        anaesthetist = anaesthetist_index.get(b.anaesthetist_id)
        if si is not None:
            surgeon_busy[si].append((absolute, absolute + length + turn))
            surgeon_load[si, b.day] += b.case.duration_minutes
        if anaesthetist is not None:
            anaes_busy[anaesthetist].append((absolute, absolute + length + turn))
        elif not b.fixed:
            for ai in range(len(req.anaesthetists)):
                if b.day not in req.away.get(req.anaesthetists[ai], ()) and free(
                        anaes_busy[ai], absolute, absolute + length + turn) and at_site(
                        req.anaesthetists[ai], b.day, site_of.get(b.room_id)):
                    anaes_busy[ai].append((absolute, absolute + length + turn))
                    works_at[req.anaesthetists[ai], b.day].add(site_of.get(b.room_id))
                    anaesthetist = ai
                    break
        for d in range(b.day, b.day + b.case.icu_days):
            beds[req.pool(b.case), d] += 1
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
    order = sorted([c for c in [*p.cases, *p.dominated] if only is None or c.id in only],
                   key=lambda c: (c.priority, -c.icu_days, -c.duration_minutes, str(c.ref)))
    for case in order:
        length = p.slots(case.duration_minutes)
        placed = False
        pool = req.pool(case)
        for day in range(min(req.days, p.last_day(case) + 1)):
            if day in req.locked_days or (only is not None and day != only[case.id]):
                continue
            if case.icu_days and any((cap := p.beds_on(d, pool)) is not None and beds[pool, d] >= cap
                                     for d in range(day, day + case.icu_days)):
                continue
            for ri, room in enumerate(req.rooms):
                if not case.may_use(day, room.id):
                    continue
                lo, hi = p.window(room)
                room_turn = p.room_turnover(room)
                for s0 in range(lo, hi - length + 1):
                    absolute = day * per_day + s0
                    if absolute < earliest or not free(room_busy[ri, day], s0, s0 + length + room_turn):
                        continue
                    span = (absolute, absolute + length + turn)
                    si = next((i for i in range(len(req.surgeons)) if free(surgeon_busy[i], *span)
                               and day not in req.away.get(req.surgeons[i], ())
                               and surgeon_load[i, day] + case.duration_minutes <= req.max_daily_minutes_per_surgeon
                               and at_site(req.surgeons[i], day, room.site)),
                              None)
                    ai = next((i for i in range(len(req.anaesthetists)) if free(anaes_busy[i], *span)
                               and day not in req.away.get(req.anaesthetists[i], ())
                               and at_site(req.anaesthetists[i], day, room.site)), None)
                    if si is None or ai is None:
                        continue
                    room_busy[ri, day].append((s0, s0 + length + room_turn))
                    surgeon_busy[si].append(span)
                    anaes_busy[ai].append(span)
                    surgeon_load[si, day] += case.duration_minutes
                    works_at[req.surgeons[si], day].add(room.site)
                    works_at[req.anaesthetists[ai], day].add(room.site)
                    for d in range(day, day + case.icu_days):
                        beds[pool, d] += 1
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
    limit = max(0.1, req.time_limit_seconds)
    reasons = list(p.reasons)

    relaxed: _Assignment | None = None
    if _decompose(p):
        # Decomposition by day: the assignment relaxation chooses the cases and their days (and
        # proves the bound), then the full model sequences them on those days.
        relaxed = _Assignment(p)
        relaxed.solve(0.6 * limit, phase_two=0.15 * limit)
        if relaxed.only is None:
            relaxed = None  # nothing found in time: the full model, from the greedy plan
        else:
            greedy_days = {c.id: where[0] for c, _ in relaxed.items if (where := hint.get(c.id)) is not None}
            days_from = "the assignment relaxation"
            if relaxed.primary_value < sum(weights[i] for i in greedy_days):
                days_from = "the greedy plan (the relaxation's best was not yet better)"
                # Its best assignment is not yet the greedy plan's: sequence the greedy plan's days
                # (an assignment too), under the relaxation's bound all the same.
                relaxed.only = greedy_days | {b.case.id: greedy_days.get(b.case.id, b.day) for b in p.movable}
            if _days_apart(p):
                return _sequence_by_day(p, relaxed, days_from, base, weights, greedy_score, started, reasons)
            hint = _greedy(p, relaxed.only)[1]
    m = _Model(p, hint, only=relaxed.only if relaxed is not None else None)

    solver = _solver(req)
    # Lexicographic: the priority-weighted count first, then the moves' cost (each move a day's
    # worth of slots plus its size: a 4-hour move costs more than a 15-minute one).
    solver.parameters.max_time_in_seconds = max(0.05, limit * 0.85 - (time.perf_counter() - started))
    weight = m.max_move_cost + 1
    m.model.maximize(m.primary * weight - m.move_cost)
    status = solver.solve(m.model)
    if status == cp_model.INFEASIBLE and relaxed is None:
        reasons.append(_infeasible_reason(p))
        return Plan(PlanStatus.infeasible, 0, 0, False, time.perf_counter() - started, reasons=reasons,
                    unplanned=p.unplanned + [Unplanned(c.id, c.ref, reasons[-1]) for c in p.cases],
                    greedy_objective=greedy_score)
    # The bound: the full model's own, or the assignment relaxation's (the sequencing model is a
    # restriction of the full one: its bound is none).
    relaxed_bound = relaxed.bound + m.fixed_score if relaxed is not None else None
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        # Stopped before a first solution: the solver proved nothing, its bound is not one.
        return _from_greedy(p, base, weights, greedy_score, relaxed_bound, started, reasons)
    primary, moves = int(solver.value(m.primary)), int(solver.value(m.moves))
    move_cost = int(solver.value(m.move_cost))
    if relaxed is None:
        bound = math.floor((solver.best_objective_bound + m.max_move_cost) / weight + 1e-6) + m.fixed_score
        optimal = status == cp_model.OPTIMAL
    else:
        bound = relaxed_bound
        # Proven: the relaxation's bound met, and no move (the least the moves can cost).
        optimal = primary + m.fixed_score >= bound and move_cost == 0
        reasons.append(f"decomposed by day: {len(relaxed.only)} case(s) given their days by {days_from}, then "
                       f"sequenced on those days; the bound ({bound}) is the assignment relaxation's"
                       f"{' optimum' if relaxed.optimal else ', proven by the solver'}")
    assignments = m.read(solver)
    primary_seconds = time.perf_counter() - started
    tiebreak_optimal = False
    remaining = min(limit - primary_seconds, max(0.5, 0.3 * limit))
    if remaining > 0.05:
        m.fix_hint(solver)
        m.model.add(m.primary >= primary)
        m.model.add(m.move_cost <= move_cost)
        m.model.minimize(m.tiebreak)
        solver.parameters.max_time_in_seconds = remaining
        status2 = solver.solve(m.model)
        if status2 in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            tiebreak_optimal = status2 == cp_model.OPTIMAL and relaxed is None
            assignments = m.read(solver)
    score = _score(assignments, weights)
    if (greedy_score, 0) > (score, -moves):
        return _from_greedy(p, base, weights, greedy_score, bound, started, reasons)
    planned = {a.case_id for a in assignments}
    unplanned = p.unplanned + [Unplanned(c.id, c.ref, _no_room_reason(p, c)) for c in [*p.cases, *p.dominated]
                                      if c.id not in planned]
    return Plan(PlanStatus.optimal if optimal else PlanStatus.feasible, score, max(bound, score), optimal,
                time.perf_counter() - started, moves=sum(a.moved for a in assignments), assignments=assignments,
                unplanned=unplanned, reasons=reasons, greedy_objective=greedy_score,
                tiebreak_optimal=tiebreak_optimal, primary_seconds=primary_seconds)


def _days_apart(p: _Prepared) -> bool:
    """Once each case has its day, the days are independent problems (the beds were the
    assignment's), unless a room's day, with its turnover, runs past midnight."""
    return all(0 <= r.opens_minute and r.closes_minute + p.room_turnover(r) * p.step <= DAY
               and r.closes_minute + p.turnover * p.step <= DAY for r in p.req.rooms)


def _sequence_by_day(p: _Prepared, relaxed: _Assignment, days_from: str, base: list[Assignment],
                     weights: dict[Hashable, int], greedy_score: int, started: float, reasons: list[str]) -> Plan:
    """The assignment's cases sequenced day by day: one full model per day (``_Model(only=...)``),
    each with its share of the time left (by its number of cases): first every day's priorities
    and moves, then every day's tie-break. The bound is the relaxation's (each day's model is a
    restriction)."""
    req = p.req
    limit = max(0.1, req.time_limit_seconds)
    days = sorted(set(relaxed.only.values()))
    count = {d: sum(1 for day in relaxed.only.values() if day == d) for d in days}
    hint = _greedy(p, relaxed.only)[1]
    assignments = [_booked(b, p, anaesthetist=b.anaesthetist_id) for b in p.fixed]
    primary = move_cost = 0
    primary_seconds = 0.0
    solved = []
    for i, d in enumerate(days):  # first every day's priorities and moves, to 85 % of the limit
        left = 0.85 * limit - (time.perf_counter() - started)
        m = _Model(p, hint, only={k: v for k, v in relaxed.only.items() if v == d})
        solver = _solver(req)
        solver.parameters.max_time_in_seconds = max(0.05, left * count[d] / sum(count[e] for e in days[i:]))
        weight = m.max_move_cost + 1
        m.model.maximize(m.primary * weight - m.move_cost)
        status = solver.solve(m.model)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            # A day that does not sequence (or nothing found in time): the greedy plan, under the bound.
            return _from_greedy(p, base, weights, greedy_score, relaxed.bound + m.fixed_score, started, reasons)
        day_primary, day_cost = int(solver.value(m.primary)), int(solver.value(m.move_cost))
        primary += day_primary
        move_cost += day_cost
        found = m.read(solver)
        m.fix_hint(solver)
        solved.append((d, m, day_primary, day_cost, found))
    primary_seconds = time.perf_counter() - started
    for i, (d, m, day_primary, day_cost, found) in enumerate(solved):  # then each day's tie-break
        left = limit - (time.perf_counter() - started)
        if left > 0.05:
            m.model.add(m.primary >= day_primary)
            m.model.add(m.move_cost <= day_cost)
            m.model.minimize(m.tiebreak)
            solver = _solver(req)
            solver.parameters.max_time_in_seconds = max(0.05, left * count[d] / sum(count[e] for e, *_ in solved[i:]))
            if solver.solve(m.model) in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                found = m.read(solver)
        assignments += [a for a in found if not a.fixed and not a.pinned]
    fixed_score = sum(PRIORITY_WEIGHT[b.case.priority] for b in p.fixed)
    bound = relaxed.bound + fixed_score
    # Proven: the relaxation's bound met, and no move (the least the moves can cost).
    optimal = primary + fixed_score >= bound and move_cost == 0
    reasons = [*reasons, f"decomposed by day: {len(relaxed.only)} case(s) given their days by {days_from}, then "
               f"sequenced day by day; the bound ({bound}) is the assignment relaxation's"
               f"{' optimum' if relaxed.optimal else ', proven by the solver'}"]
    assignments.sort(key=lambda a: (a.day, a.start_minute, str(a.room_id)))
    score = _score(assignments, weights)
    moves = sum(a.moved for a in assignments)
    if (greedy_score, 0) > (score, -moves):
        return _from_greedy(p, base, weights, greedy_score, bound, started, reasons)
    planned = {a.case_id for a in assignments}
    unplanned = p.unplanned + [Unplanned(c.id, c.ref, _no_room_reason(p, c)) for c in [*p.cases, *p.dominated]
                               if c.id not in planned]
    return Plan(PlanStatus.optimal if optimal else PlanStatus.feasible, score, max(bound, score), optimal,
                time.perf_counter() - started, moves=moves, assignments=assignments, unplanned=unplanned,
                reasons=reasons, greedy_objective=greedy_score, tiebreak_optimal=False,
                primary_seconds=primary_seconds)


DECOMPOSE_OPTIONS = 300
"""Above this many (case, day, room) options, ``solve`` decomposes by day (``PlanRequest.decompose``
None): the full model's LP bound stays far from its best plan on a 200-case, 10-day, 3-room
programme (19 % in 30 s), where the assignment relaxation's is tight; on 24- to 60-case cardiac
missions the decomposition proved the same optima in 0.3-0.8 s where the full model took 0.5-4.3 s
(README, "Benchmark"). Small instances keep the full model (its own proof, no sequencing loss)."""


def _decompose(p: _Prepared) -> bool:
    if p.req.decompose is not None:
        return p.req.decompose
    return sum(len(_options(p, c, None)) for c in p.cases) > DECOMPOSE_OPTIONS


def _solver(req: PlanRequest) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = max(1, req.workers)
    solver.parameters.random_seed = req.seed
    # Presolve's probing spent 11 of 12 s on a 120-case, 10-day, 3-room model (its NoOverlaps):
    # off, the search starts at once from the complete greedy hint (README, "Benchmark").
    solver.parameters.cp_model_probing_level = 0
    return solver


_FULL_SUBSOLVERS = ["default_lp", "max_lp", "pseudo_costs", "reduced_costs", "quick_restart", "core", "no_lp",
                    "fixed"]


class _Assignment:
    """The assignment relaxation: each case to one (day, room) or to none, under the rules a day
    decides (``_add_cuts``: each room-day's time beside what is fixed there, the surgeons' minutes
    and the practitioners' time per day, the beds per day; the team's stay, locked days, the
    earliest start, through ``_options``), without times. Every plan of the full model is one of
    its solutions, so the bound CP-SAT proves on it is a bound on the full problem's objective;
    a multiple knapsack's LP bound is tight where the full model's (its NoOverlaps) is not.
    Identical rooms (same hours and turnover, nothing fixed or booked in them) are interchangeable
    within a day, so their loads are ordered (symmetry breaking: the optimum is unchanged).
    Objective: the priority-weighted count, then the scheduled surgeries kept on their day and room;
    then (a second solve holding both) higher-risk cases on earlier days."""

    def __init__(self, p: _Prepared) -> None:
        self.p, req = p, p.req
        model = self.model = cp_model.CpModel()
        self.items: list[tuple[Case, Booking | None]] = [(c, None) for c in p.cases] + [
            (b.case, b) for b in p.movable]
        fixed_spans, held, fixed_load = _fixed_usage(p)
        room_index = {r.id: i for i, r in enumerate(req.rooms)}
        # Identical rooms (same hours and turnover, nothing fixed or booked in them) are
        # interchangeable within a day: in each group, their loads are ordered.
        booked_rooms = {room_index.get(b.room_id) for b in p.movable}
        groups: dict[tuple[int, int, int, frozenset[int]], list[int]] = defaultdict(list)
        for ri, room in enumerate(req.rooms):
            if ("room", ri) not in fixed_spans and ri not in booked_rooms:
                # Only rooms the same cases may use (one site's) are interchangeable.
                users = frozenset(i for i, (c, _) in enumerate(self.items) if c.rooms is None or room.id in c.rooms)
                groups[room.opens_minute, room.closes_minute, p.room_turnover(room), users].append(ri)
        entries = []
        primary_terms, kept_terms, tiebreak = [], [], []
        load: dict[tuple[int, int], list] = defaultdict(list)
        for case, booking in self.items:
            options = {(d, ri): model.new_bool_var("") for d, ri, _, _ in _options(p, case, booking)}
            # Operated on day d: the sum of its rooms' literals (no variable of its own: a smaller LP).
            day_of = {d: sum(x for (dd, _), x in options.items() if dd == d) for d in {d for d, _ in options}}
            model.add(sum(options.values()) == 1 if booking is not None else sum(options.values()) <= 1)
            entries.append((case, options, day_of))
            primary_terms.append(PRIORITY_WEIGHT[case.priority] * sum(options.values()))
            tiebreak.append(risk_rank(case.risk_scheme, case.risk_category) * sum(d * x for d, x in day_of.items()))
            for (d, ri), x in options.items():
                load[d, ri].append((p.slots(case.duration_minutes) + p.room_turnover(req.rooms[ri])) * x)
            if booking is not None:
                here = options.get((booking.day, room_index.get(booking.room_id, -1)))
                if here is not None:
                    kept_terms.append(here)
        _add_cuts(model, p, entries, fixed_spans, fixed_load, held)
        for group in groups.values():
            for ri, rj in zip(group, group[1:]):
                for d in range(req.days):
                    if load[d, ri] or load[d, rj]:
                        model.add(sum(load[d, ri]) >= sum(load[d, rj]))
        self.entries = entries
        self.primary = sum(primary_terms)
        self.kept = sum(kept_terms)
        self.kept_weight = len(p.movable) + 1
        self.tiebreak = sum(tiebreak)
        self.only: dict[Hashable, int] | None = None
        self.primary_value = 0
        self.bound = sum(PRIORITY_WEIGHT[c.priority] for c, _ in self.items)
        self.optimal = False

    def solve(self, seconds: float, phase_two: float) -> None:
        """Sets ``only`` (case id -> day, the cases chosen), ``bound`` (proven, on the priority-weighted
        count of the cases it decides: fixed surgeries not included) and ``optimal``. ``phase_two``:
        at most this long for the risk tie-break, when the first solve ends early."""
        started = time.perf_counter()
        req = self.p.req
        solver = _solver(req)
        solver.parameters.max_time_in_seconds = max(0.05, seconds)
        if req.workers >= 2:
            # Every worker a full search, the LP-driven ones first. Measured on the large family
            # (README, "Benchmark"): CP-SAT's default portfolio (its LNS workers) and the greedy
            # plan as a hint both held the search near the greedy plan for 10-20 s; without them,
            # the LP's dives reach within 1 % of the bound in 5-10 s.
            solver.parameters.num_full_subsolvers = req.workers
            solver.parameters.subsolvers.extend(_FULL_SUBSOLVERS[:req.workers])
        self.model.maximize(self.primary * self.kept_weight + self.kept)
        status = solver.solve(self.model)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return
        self.optimal = status == cp_model.OPTIMAL
        self.bound = min(self.bound, math.floor(solver.best_objective_bound / self.kept_weight + 1e-6))
        primary, kept = int(solver.value(self.primary)), int(solver.value(self.kept))
        self.primary_value = primary
        self._read(solver)
        remaining = min(phase_two, seconds - (time.perf_counter() - started))
        if self.optimal and remaining > 0.05:
            # Then higher-risk cases on earlier days, the first solve's plan as a complete hint.
            for _, options, _ in self.entries:
                for x in options.values():
                    self.model.add_hint(x, solver.value(x))
            self.model.add(self.primary >= primary)
            self.model.add(self.kept >= kept)
            self.model.minimize(self.tiebreak)
            solver = _solver(req)
            solver.parameters.max_time_in_seconds = remaining
            if solver.solve(self.model) in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                self._read(solver)

    def _read(self, solver: cp_model.CpSolver) -> None:
        self.only = {case.id: d for (case, _), (_, options, _) in zip(self.items, self.entries)
                     for (d, _), x in options.items() if solver.value(x)}


def _from_greedy(p: _Prepared, base: list[Assignment], weights: dict[Hashable, int], score: int,
                 bound: int | None, started: float, reasons: list[str]) -> Plan:
    """The greedy plan, status ``heuristic``. ``bound``: the solver's, when it proved one; else
    (None) the only true one, every case operated."""
    planned = {a.case_id for a in base}
    unplanned = p.unplanned + [Unplanned(c.id, c.ref, _no_room_reason(p, c)) for c in [*p.cases, *p.dominated]
                                      if c.id not in planned]
    if bound is None:
        bound = sum(weights.values())
        why = ("heuristic: the solver found no plan within the time limit, so nothing is proven; the bound is "
               "every case operated (raise the time limit for a real bound)")
    else:
        why = "heuristic: the solver found nothing better than the greedy plan within the time limit"
    bound = max(bound, score)
    # Every case operated (or the solver's bound met) at no move: that is proven optimal too.
    return Plan(PlanStatus.optimal if bound <= score else PlanStatus.heuristic, score, bound, bound <= score, time.perf_counter() - started,
                assignments=base, unplanned=unplanned, reasons=[*reasons, why], solver="greedy",
                greedy_objective=score)


def _covered(spans: Sequence[tuple[int, int]], lo: int, hi: int) -> int:
    """How much of [lo, hi) the union of ``spans`` covers."""
    out, reach = 0, lo
    for a, b in sorted(spans):
        a, b = max(a, reach), min(b, hi)
        if b > a:
            out += b - a
            reach = b
    return out


def _options(p: _Prepared, case: Case, booking: Booking | None) -> list[tuple[int, int, int, int]]:
    """Where a case may go: (day, room index, earliest start, latest start), in slots on the
    mission's axis. The same for the full model and the assignment relaxation."""
    req, per_day = p.req, DAY // p.step
    length, earliest = p.slots(case.duration_minutes), p.earliest_slot()
    out = []
    for d in range(req.days):
        if d > p.last_day(case) and (booking is None or d != booking.day):
            continue  # its post-operative days would fall after the team leaves
        if d in req.locked_days:
            continue  # locked by the coordinator: what is there stays, nothing comes
        for ri, room in enumerate(req.rooms):
            if not case.may_use(d, room.id):
                continue  # another site's room, or a day the mission is not at the case's site
            lo, hi = p.window(room)
            if hi - lo < length:
                continue
            lo_abs, hi_abs = d * per_day + lo, d * per_day + hi - length
            if booking is None and hi_abs < earliest:
                continue
            out.append((d, ri, lo_abs, hi_abs))
    return out


def _fixed_usage(p: _Prepared) -> tuple[dict[tuple[str, int], list[tuple[int, int]]],
                                        dict[tuple[Hashable | None, int], int], dict[tuple[int, int], int]]:
    """What stays where it is: spans (slots) per ("room" | "surgeon" | "anaesthetist", index), from
    fixed surgeries and rooms taken by others; beds held per (bed pool, day); operating minutes per
    (surgeon, day)."""
    req, per_day, step, turn = p.req, DAY // p.step, p.step, p.turnover
    room_index = {r.id: i for i, r in enumerate(req.rooms)}
    surgeon_index = {s: i for i, s in enumerate(req.surgeons)}
    anaesthetist_index = {a: i for i, a in enumerate(req.anaesthetists)}
    fixed_spans: dict[tuple[str, int], list[tuple[int, int]]] = defaultdict(list)
    held: dict[tuple[Hashable | None, int], int] = defaultdict(int)  # (pool, day) -> beds fixed
    fixed_load: dict[tuple[int, int], int] = defaultdict(int)
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
                fixed_load[si, b.day] += b.case.duration_minutes
        if b.anaesthetist_id in anaesthetist_index:
            fixed_spans["anaesthetist", anaesthetist_index[b.anaesthetist_id]].append((a, a + length + turn))
        for t in range(b.day, b.day + b.case.icu_days):
            held[req.pool(b.case), t] += 1
    for blocked in req.blocked:
        if blocked.room_id in room_index:
            s0 = blocked.day * per_day + blocked.start_minute // step
            e0 = blocked.day * per_day + p.slots(blocked.end_minute) + p.room_turnover(
                req.rooms[room_index[blocked.room_id]])
            fixed_spans["room", room_index[blocked.room_id]].append((s0, e0))
    return fixed_spans, held, fixed_load


def _add_cuts(model: cp_model.CpModel, p: _Prepared, entries: Sequence[tuple[Case, Mapping, Mapping]],
              fixed_spans: Mapping[tuple[str, int], list[tuple[int, int]]], fixed_load: Mapping[tuple[int, int], int],
              held: Mapping[tuple[Hashable | None, int], int]) -> None:
    """Linear constraints every plan meets, on the literals ``entries`` give per case ((day, room)
    -> placed there, day -> operated that day, a literal or a sum of literals; a day missing: never): room-days, practitioners' days, intensive-care
    beds per day, as knapsacks the LP relaxation sees. In the full model they are redundant cuts;
    they *are* the assignment relaxation (``_Assignment``). Each must hold for every plan: a wrong
    cut proves a wrong bound."""
    req, per_day, turn = p.req, DAY // p.step, p.turnover
    for d in range(req.days):
        for ri, room in enumerate(req.rooms):
            lo, hi = p.window(room)
            room_turn = p.room_turnover(room)
            terms = [(p.slots(c.duration_minutes) + room_turn) * options[d, ri]
                     for c, options, _ in entries if (d, ri) in options]
            if terms:
                # New intervals lie in [opening, closing + turnover], beside what is fixed there.
                window = (d * per_day + lo, d * per_day + hi + room_turn)
                taken = _covered(fixed_spans.get(("room", ri), []), *window)
                model.add(sum(terms) <= max(0, hi - lo + room_turn - taken))
        day_terms = [(p.slots(c.duration_minutes) + turn) * day_of[d] for c, _, day_of in entries if d in day_of]
        if not day_terms:
            continue
        # Every case operated has one surgeon on site that day: a day's operating minutes fit in
        # what the present surgeons' maxima leave beside the fixed surgeries (each surgeon's own).
        present = {kind: [i for i, person in enumerate(people) if d not in req.away.get(person, ())]
                   for kind, people in (("surgeon", req.surgeons), ("anaesthetist", req.anaesthetists))}
        surgeons_left = sum(max(0, req.max_daily_minutes_per_surgeon - fixed_load.get((si, d), 0))
                            for si in present["surgeon"])
        model.add(sum(c.duration_minutes * day_of[d] for c, _, day_of in entries if d in day_of) <= surgeons_left)
        # A practitioner's cases of a day lie between the earliest opening and the latest
        # closing (and its turnover) over the rooms: rooms need not open at the same hour.
        first = min(p.window(r)[0] for r in req.rooms)
        last = max(p.window(r)[1] for r in req.rooms) + turn
        for kind in ("surgeon", "anaesthetist"):
            model.add(sum(day_terms) <= len(present[kind]) * (last - first))
        if p.sites:
            _add_site_cuts(model, p, entries, d, present, first, last)
    # Beds per day and bed pool (a site's ward, or the request's), exact (and after the mission's
    # end, the host's limit there).
    pools = {req.pool(c) for c, _, _ in entries} | {pool for pool, _ in held}
    for pool in pools:
        for t in range(req.days + max((c.icu_days for c, _, _ in entries), default=0)):
            cap = p.beds_on(t, pool)
            if cap is None:
                continue
            in_bed = [day_of[d] for c, _, day_of in entries if req.pool(c) == pool
                      for d in day_of if d <= t < d + c.icu_days]
            if in_bed:
                model.add(sum(in_bed) <= max(0, cap - held.get((pool, t), 0)))


def _add_site_cuts(model: cp_model.CpModel, p: _Prepared, entries: Sequence[tuple[Case, Mapping, Mapping]], d: int,
                   present: Mapping[str, list[int]], first: int, last: int) -> None:
    """Several host sites, day ``d``: each present practitioner works at one site, so an integer
    count of each kind per site shares the day's practitioners; a site's operating minutes fit in
    its surgeons' maxima, its cases' time (with the break) in its practitioners' day. A surgery fixed
    at a site holds its practitioners there. Valid for every plan (the rule), so a sound bound."""
    req, turn = p.req, p.turnover
    sites = p.sites
    here: dict[Hashable | None, list] = defaultdict(list)  # site -> [(case, literal at a room of it)]
    for c, options, _ in entries:
        for (dd, ri), x in options.items():
            if dd == d:
                here[req.rooms[ri].site].append((c, x))
    if not here:
        return
    site_of = {r.id: r.site for r in req.rooms}
    fixed_at: dict[Hashable, set[Hashable | None]] = defaultdict(set)
    for b in p.fixed:
        if b.day == d:
            for person in (b.surgeon_id, b.anaesthetist_id):
                if person is not None:
                    fixed_at[person].add(site_of.get(b.room_id))
    for kind, people in (("surgeon", req.surgeons), ("anaesthetist", req.anaesthetists)):
        count = {s: model.new_int_var(0, len(present[kind]), "") for s in sites}
        model.add(sum(count.values()) <= len(present[kind]))
        for s in sites:
            held = sum(1 for i in present[kind] if fixed_at.get(people[i]) == {s})
            if held:
                model.add(count[s] >= held)
            cases = here.get(s, [])
            if not cases:
                continue
            model.add(sum((p.slots(c.duration_minutes) + turn) * x for c, x in cases) <= count[s] * (last - first))
            if kind == "surgeon":
                model.add(sum(c.duration_minutes * x for c, x in cases)
                          <= count[s] * req.max_daily_minutes_per_surgeon)


def _infeasible_reason(p: _Prepared) -> str:
    if p.movable:
        return ("the surgeries already scheduled cannot all keep a place under these constraints (turnover, "
                "surgeons' daily maximum, anaesthetists, intensive-care beds): relax them or cancel one")
    return "the fixed surgeries already break these constraints"


class _Model:
    """The full model. ``only``: case id -> the one day it may take (the decomposition's
    sequencing: the cases of the assignment, on their days; the rest left out)."""

    def __init__(self, p: _Prepared, hint: dict[Hashable, tuple[int, int, int, int, int]],
                 only: Mapping[Hashable, int] | None = None) -> None:
        self.p = p
        req = p.req
        per_day, turn, step = DAY // p.step, p.turnover, p.step
        model = self.model = cp_model.CpModel()
        horizon = req.days * per_day
        earliest = p.earliest_slot()
        room_iv: dict[tuple[int, int], list] = defaultdict(list)  # (room, day): a room's days apart
        surgeon_iv: dict[int, list] = defaultdict(list)
        anaes_iv: dict[int, list] = defaultdict(list)
        load: dict[tuple[int, int], list] = defaultdict(list)  # (surgeon, day) -> [(minutes, literal)]
        icu_iv: dict[Hashable | None, list] = defaultdict(list)  # per bed pool (a ward, or None)
        icu_demand: dict[Hashable | None, list[int]] = defaultdict(list)
        weights_terms = []
        self.items: list[tuple[Case, Booking | None]] = [
            (c, None) for c in p.cases if only is None or c.id in only] + [
            (b.case, b) for b in p.movable if only is None or b.case.id in only]
        self.vars: list[dict] = []
        move_terms = []
        cost_terms = []
        hinted_primary = 0
        tiebreak = []
        room_index = {r.id: i for i, r in enumerate(req.rooms)}
        surgeon_index = {s: i for i, s in enumerate(req.surgeons)}
        anaesthetist_index = {a: i for i, a in enumerate(req.anaesthetists)}
        # Several host sites: (practitioner, day, site) -> works there that day (at most one site a
        # day); forced by what is fixed there.
        several = bool(p.sites)
        works: dict[tuple[Hashable, int, Hashable | None], cp_model.IntVar] = {}
        forced: dict[tuple[Hashable, int], set[Hashable | None]] = defaultdict(set)

        def works_at(person: Hashable, d: int, site: Hashable | None) -> cp_model.IntVar:
            key = (person, d, site)
            if key not in works:
                works[key] = model.new_bool_var("")
            return works[key]

        if several:
            site_of = {r.id: r.site for r in req.rooms}
            for b in p.fixed:
                if 0 <= b.day < req.days:
                    for person in (b.surgeon_id, b.anaesthetist_id):
                        if person is not None:
                            forced[person, b.day].add(site_of.get(b.room_id))

        # Fixed: surgeries that stay where they are; rooms taken by others. Spans on one room or
        # surgeon are merged: fixed surgeries booked back to back by hand (no turnover) stay legal.
        fixed_spans, held, fixed_load = _fixed_usage(p)
        for key, minutes in fixed_load.items():
            load[key].append((minutes, 1))
        intervals = {"room": room_iv, "surgeon": surgeon_iv, "anaesthetist": anaes_iv}
        for (kind, i), spans in fixed_spans.items():
            merged: list[list[int]] = []
            for a, b_ in sorted(spans):
                if merged and a <= merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], b_)
                else:
                    merged.append([a, b_])
            for a, b_ in merged:
                iv = model.new_fixed_size_interval_var(a, b_ - a, "")
                if kind == "room":  # in the NoOverlap of each day it touches
                    for d in range(max(0, a // per_day), min(req.days - 1, (b_ - 1) // per_day) + 1):
                        room_iv[i, d].append(iv)
                else:
                    intervals[kind][i].append(iv)
        # Beds held by fixed surgeries, per day (a demand of that many on that day).
        for (pool, t), n in held.items():
            icu_iv[pool].append(model.new_fixed_size_interval_var(t, 1, ""))
            icu_demand[pool].append(min(n, req.pool_beds(pool) or n))

        for case, booking in self.items:
            length = p.slots(case.duration_minutes)
            start = model.new_int_var(0, horizon, "")
            end = model.new_int_var(0, horizon + length + turn, "")
            model.add(end == start + length + turn)
            options: dict[tuple[int, int], object] = {}
            for d, ri, lo_abs, hi_abs in _options(p, case, booking):
                if only is not None and d != only[case.id]:
                    continue
                room = req.rooms[ri]
                x = model.new_bool_var("")
                model.add(start >= max(lo_abs, earliest if booking is None else lo_abs)).only_enforce_if(x)
                model.add(start <= hi_abs).only_enforce_if(x)
                room_turn = p.room_turnover(room)
                room_iv[ri, d].append(model.new_optional_interval_var(start, length + room_turn,
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
            ws = {}
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
                    ws[si, d] = w
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
            if several:
                # At a site on a day: the case's options there (one literal), which its
                # practitioners then work at that day.
                by_site: dict[tuple[int, Hashable | None], list] = defaultdict(list)
                for (d, ri), x in options.items():
                    by_site[d, req.rooms[ri].site].append(x)
                for (d, site), xs in by_site.items():
                    if len(xs) == 1:
                        here = xs[0]
                    else:
                        here = model.new_bool_var("")
                        model.add(sum(xs) == here)
                    for person, lit in [*((req.surgeons[k], y) for k, y in ys.items()),
                                        *((req.anaesthetists[k], z) for k, z in zs.items())]:
                        model.add_bool_or([lit.Not(), here.Not(), works_at(person, d, site)])
            day_var = model.new_int_var(0, max(0, req.days - 1), "")
            model.add(day_var == sum(d * lit for d, lit in day_of.items()))
            if case.icu_days:
                icu_iv[req.pool(case)].append(model.new_optional_interval_var(
                    day_var, case.icu_days, day_var + case.icu_days, performed, ""))
                icu_demand[req.pool(case)].append(1)
            weights_terms.append(PRIORITY_WEIGHT[case.priority] * performed)
            # Tie-break: higher risk earlier in the mission, longer cases earlier in the day.
            minute_of_day = model.new_int_var(0, per_day, "")
            model.add(minute_of_day == start - per_day * day_var).only_enforce_if(performed)
            model.add(minute_of_day == 0).only_enforce_if(performed.Not())
            tiebreak.append(risk_rank(case.risk_scheme, case.risk_category) * 20 * day_var)
            tiebreak.append(max(1, round(case.duration_minutes / 60)) * minute_of_day)
            stays = size = None
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
                at = booking.day * per_day + booking.start_minute // step
                size = model.new_int_var(0, horizon, "")
                model.add_abs_equality(size, start - at)
                cost_terms.append(per_day * stays.Not() + size)
            self.vars.append(dict(start=start, options=options, performed=performed, ys=ys, zs=zs,
                                  day=day_var, day_of=day_of))
            # Hint: the greedy placement, complete (every variable), so that CP-SAT starts from a
            # solution instead of searching for a first one.
            placed = hint.get(case.id)
            d, ri, s0, si, ai = placed if placed is not None else (-1, -1, 0, -1, -1)
            at_start = d * per_day + s0 if placed is not None else 0
            model.add_hint(start, at_start)
            model.add_hint(end, at_start + length + turn)
            model.add_hint(performed, placed is not None)
            model.add_hint(day_var, max(d, 0))
            model.add_hint(minute_of_day, s0 if placed is not None else 0)
            for dd, lit in day_of.items():
                model.add_hint(lit, dd == d)
            for key, x in options.items():
                model.add_hint(x, key == (d, ri))
            for k, y in ys.items():
                model.add_hint(y, k == si)
            for k, w in ws.items():
                model.add_hint(w, k == (si, d))
            for k, z in zs.items():
                model.add_hint(z, k == ai)
            if stays is not None and size is not None:
                at = booking.day * per_day + booking.start_minute // step
                model.add_hint(stays, placed is not None and at_start == at and (d, ri) == (
                    booking.day, room_index.get(booking.room_id, -1)))
                model.add_hint(size, abs(at_start - at))
            hinted_primary += PRIORITY_WEIGHT[case.priority] * (placed is not None)

        _add_cuts(model, p, [(c, v["options"], v["day_of"]) for (c, _), v in zip(self.items, self.vars)],
                  fixed_spans, fixed_load, held)
        for (person, d), sites in forced.items():
            for site in sites:
                model.add(works_at(person, d, site) == 1)
        # The hint stays complete: each practitioner where the greedy plan (and what is fixed) puts them.
        hinted = {(person, d, site) for (person, d), sites in forced.items() for site in sites}
        for case, _ in self.items:
            if (placed := hint.get(case.id)) is not None:
                d, ri, _, si, ai = placed
                hinted |= {(req.surgeons[si], d, req.rooms[ri].site)} if si >= 0 else set()
                hinted |= {(req.anaesthetists[ai], d, req.rooms[ri].site)} if ai >= 0 else set()
        for key, lit in works.items():
            model.add_hint(lit, key in hinted)
        per_person_day: dict[tuple[Hashable, int], list] = defaultdict(list)
        for (person, d, site), lit in works.items():
            if forced.get((person, d)):
                # Where what is fixed puts them (several sites only if booked so by hand before): no other.
                if site not in forced[person, d]:
                    model.add(lit == 0)
            else:
                per_person_day[person, d].append(lit)
        for lits in per_person_day.values():
            model.add(sum(lits) <= 1)  # one site a day
        for ivs in [*room_iv.values(), *surgeon_iv.values(), *anaes_iv.values()]:
            if len(ivs) > 1:
                model.add_no_overlap(ivs)
        for (si, d), terms in load.items():
            already = sum(minutes for minutes, lit in terms if isinstance(lit, int))  # fixed surgeries
            model.add(sum(minutes * lit for minutes, lit in terms) <= max(req.max_daily_minutes_per_surgeon, already))
        for pool, ivs in icu_iv.items():
            if (cap := req.pool_beds(pool)) is not None and ivs:
                model.add_cumulative(ivs, icu_demand[pool], cap)
        self.primary = model.new_int_var(0, sum(PRIORITY_WEIGHT[c.priority] for c, _ in self.items), "primary")
        model.add(self.primary == sum(weights_terms))
        self.moves = model.new_int_var(0, len(p.movable), "moves")
        model.add(self.moves == sum(move_terms))
        self.max_move_cost = len(p.movable) * (per_day + horizon)
        self.move_cost = model.new_int_var(0, self.max_move_cost, "move_cost")
        model.add(self.move_cost == sum(cost_terms))
        model.add_hint(self.primary, hinted_primary)
        self.tiebreak = sum(tiebreak)
        self.fixed_score = sum(PRIORITY_WEIGHT[b.case.priority] for b in p.fixed)

    def fix_hint(self, solver: cp_model.CpSolver) -> None:
        """Hint the next solve with the solution just found, every variable."""
        self.model.clear_hints()
        for i in range(len(self.model.proto.variables)):
            var = self.model.get_int_var_from_proto_index(i)
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
                start = booking.start_minute if same else minute
                out.append(Assignment(case.id, case.ref, d, room.id, start,
                                      case.duration_minutes, booking.surgeon_id, req.anaesthetists[ai],
                                      case.icu_days, surgery_id=booking.surgery_id, moved=not same,
                                      moved_minutes=abs((d - booking.day) * DAY + start - booking.start_minute)))
            else:
                out.append(Assignment(case.id, case.ref, d, room.id, minute, case.duration_minutes,
                                      req.surgeons[si], req.anaesthetists[ai], case.icu_days))
        return sorted(out, key=lambda a: (a.day, a.start_minute, str(a.room_id)))


__all__ = ["Assignment", "Blocked", "Booking", "Case", "ICU_DAYS", "PRIORITY_WEIGHT", "Plan", "PlanRequest",
           "PlanStatus", "Room", "Unplanned", "greedy", "icu_days", "solve"]
