"""Who may do what here (the README's access table, for this service).

A mission belongs to two institutions, its host and the visiting one, and is
hosted at one or more sites (the host first, each a beneficiary of its convention):

- the host's and the visiting institution's coordinators schedule it, change its
  team, dates and sites, plan it, and schedule its surgeries, consultations and
  training sessions at every site;
- each site's coordinators and clinicians read the mission and its team, and the
  surgeries, consultations and training sessions of their own site only: its coordinators and
  clinicians book them there, its clinicians record them (for a single-host
  mission the host is the only site: as before);
- clinicians of an institution record its patient cases (the only callers who see a
  patient's identity);
- a practitioner reads the missions they are on, and their activities;
- an institution's coordinators keep its rooms and resources, which its
  clinicians may read; anyone authenticated reads the institution directory.

Checks run as route dependencies, before the body is read, so a caller outside
the mission gets a 403 whatever it sends. A record that does not exist is a 404.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Path

from scheduling.domain.conventions import ConventionReplica
from scheduling.domain.missions import Mission
from scheduling.domain.values import CLINICAL_READINESS, ReadinessItem
from scheduling.store.unit_of_work import SchedulingUnitOfWork
from jumelage.auth import Caller, CallerDep, Role, deny
from jumelage.errors import Invalid, NotFound
from jumelage.service import unit_of_work

UoW = Annotated[SchedulingUnitOfWork, Depends(unit_of_work)]


@dataclass(frozen=True)
class MissionRule:
    what: str
    coordinators: bool = False       # coordinators of the host or the visiting institution: every site
    host_clinicians: bool = False    # clinicians of a host site: their own site
    site_coordinators: bool = False  # coordinators of a host site: their own site
    team: bool = False               # practitioners on the mission's team: every site

    def roles(self) -> tuple[Role, ...]:
        return tuple(r for r, on in ((Role.coordinator, self.coordinators or self.site_coordinators),
                                     (Role.clinician, self.host_clinicians), (Role.practitioner, self.team)) if on)

    def everywhere(self, caller: Caller, mission: Mission) -> bool:
        """The caller acts at every site of the mission under this rule."""
        return ((self.coordinators
                 and caller.acts_for((mission.host_institution_id, mission.visiting_institution_id), Role.coordinator))
                or (self.team and on_team(caller, mission)))

    def sites(self, caller: Caller, mission: Mission) -> frozenset[uuid.UUID] | None:
        """Where the caller acts under this rule: None for every site, else the (maybe empty) set of
        the sites whose coordinator or clinician it is, as the rule allows."""
        if self.everywhere(caller, mission):
            return None
        roles = [r for r, on in ((Role.coordinator, self.site_coordinators), (Role.clinician, self.host_clinicians))
                 if on]
        return frozenset(s for s in mission.site_ids if roles and caller.acts_for((s,), *roles))

    def allows(self, caller: Caller, mission: Mission) -> bool:
        return self.sites(caller, mission) != frozenset()

    def allows_at(self, caller: Caller, mission: Mission, site: uuid.UUID) -> bool:
        sites = self.sites(caller, mission)
        return sites is None or site in sites


def sees_patients(caller: Caller, mission: Mission) -> bool:
    """A patient's identity is the host's clinicians' alone (exports included)."""
    return caller.acts_for((mission.host_institution_id,), Role.clinician)


def on_team(caller: Caller, mission: Mission) -> bool:
    return (caller.has(Role.practitioner) and caller.practitioner_id is not None
            and mission.member(caller.practitioner_id) is not None)


MANAGE = MissionRule("manage missions", coordinators=True)
PLAN_ACTIVITIES = MissionRule("schedule surgeries and consultations", coordinators=True, host_clinicians=True,
                              site_coordinators=True)
# Training at a site: the mission's coordinators anywhere, a site's coordinators at their own site.
PLAN_TRAINING = MissionRule("plan and record training sessions", coordinators=True, site_coordinators=True)
RECORD_OUTCOMES = MissionRule("record what happened in the operating room", host_clinicians=True)
READ = MissionRule("read missions and their activities", coordinators=True, host_clinicians=True,
                   site_coordinators=True, team=True)


def _check(caller: Caller, rule: MissionRule) -> None:
    if not caller.has(*rule.roles()):
        raise deny(caller, f"{rule.what} (needs the role {' or '.join(rule.roles())})")


def _enforce(caller: Caller, rule: MissionRule, mission: Mission) -> Mission:
    if not rule.allows(caller, mission):
        raise deny(caller, f"{rule.what} of mission {mission.id}: not its host's, a host site's or visiting "
                           "institution's, nor on its team, as this needs")
    return mission


def _enforce_at(caller: Caller, rule: MissionRule, mission: Mission, site: uuid.UUID, what: str) -> Mission:
    """A record of one site: the caller acts there (or everywhere in the mission)."""
    _enforce(caller, rule, mission)
    if not rule.allows_at(caller, mission, site):
        raise deny(caller, f"{rule.what}: {what} takes place at institution {site}, another host site of mission "
                           f"{mission.id} than the caller's")
    return mission


def sites_for(caller: Caller, mission: Mission, rule: MissionRule) -> frozenset[uuid.UUID] | None:
    """The sites of ``mission`` the caller acts at under ``rule`` (None: every one)."""
    return rule.sites(caller, mission)


async def _mission(uow: SchedulingUnitOfWork, mission_id: uuid.UUID) -> Mission:
    async with uow:
        mission = await uow.missions.read(mission_id)  # Core rows: the check only reads
    if mission is None:
        raise NotFound(f"no mission {mission_id}")
    return mission


def mission(rule: MissionRule) -> Any:
    async def check(mission_id: uuid.UUID, caller: CallerDep, uow: UoW) -> Mission:
        _check(caller, rule)
        return _enforce(caller, rule, await _mission(uow, mission_id))

    return Depends(check)


def _of_a_mission(noun: str, repository: str) -> Callable[[MissionRule], Any]:
    """A check for a record that belongs to a mission: the rule applies to its mission."""
    param = f"{noun.replace(' ', '_')}_id"

    def for_rule(rule: MissionRule) -> Any:
        # A default, not Annotated: the alias is a local, which a postponed annotation cannot see.
        async def check(caller: CallerDep, uow: UoW, record_id: uuid.UUID = Path(alias=param)) -> Mission:
            _check(caller, rule)
            async with uow:
                found = await getattr(uow, repository).get(record_id)
            if found is None:
                raise NotFound(f"no {noun} {record_id}")
            mission = await _mission(uow, found.mission_id)
            site = getattr(found, "site_institution_id", None)
            if site is None:  # not tied to a site
                return _enforce(caller, rule, mission)
            return _enforce_at(caller, rule, mission, site, f"{noun} {record_id}")

        return Depends(check)

    return for_rule


surgery = _of_a_mission("surgery", "surgeries")
consultation = _of_a_mission("consultation", "consultations")
training_session = _of_a_mission("training session", "training_sessions")


def scheduling_mission(caller: Caller, host: uuid.UUID, visiting: uuid.UUID) -> None:
    """A new mission names its institutions in the body."""
    if not caller.acts_for((host, visiting), Role.coordinator):
        raise deny(caller, "schedule a mission its institution neither hosts nor sends")


def registering_patient(caller: Caller, host: uuid.UUID) -> None:
    """A patient's identity is given and seen by the host's clinicians only."""
    if not caller.acts_for((host,), Role.clinician):
        raise deny(caller, "register a new patient (needs the role clinician at the mission's host)")


def mission_scope(caller: Caller, host_institution_id: uuid.UUID | None) -> None:
    if not caller.has(*READ.roles()):
        raise deny(caller, f"{READ.what} (needs the role {' or '.join(READ.roles())})")
    if host_institution_id is not None and host_institution_id != caller.institution_id:
        raise deny(caller, f"list the missions hosted by institution {host_institution_id}")


def visible(caller: Caller, m: Mission) -> bool:
    return READ.allows(caller, m)


# -- an institution's own records -----------------------------------------------------------------

def institution(*roles: Role, to: str) -> Any:
    async def check(institution_id: uuid.UUID, caller: CallerDep) -> Caller:
        if not caller.has(*roles):
            raise deny(caller, f"{to} (needs the role {' or '.join(roles)})")
        if not caller.acts_for((institution_id,), *roles):
            raise deny(caller, f"{to} of institution {institution_id}")
        return caller

    return Depends(check)


async def _case_clinician(case_id: uuid.UUID, caller: CallerDep, uow: UoW) -> None:
    what = "read or change a patient case"
    if not caller.has(Role.clinician):
        raise deny(caller, f"{what} (needs the role clinician)")
    async with uow:
        case = await uow.cases.get(case_id)
    if case is None:
        raise NotFound(f"no patient case {case_id}")
    if not caller.acts_for((case.host_institution_id,), Role.clinician):
        raise deny(caller, f"{what} of another institution")


CASE_CLINICIAN = Depends(_case_clinician)


async def _visiting_institutions(uow: SchedulingUnitOfWork, case_id: uuid.UUID) -> set[uuid.UUID]:
    """The visiting institutions of the missions the case is in (a surgery or a consultation there)."""
    async with uow:
        missions = [await uow.missions.read(m) for m in await uow.surgeries.missions_of_case(case_id)]
    return {m.visiting_institution_id for m in missions if m is not None}


async def _case_reader(case_id: uuid.UUID, caller: CallerDep, uow: UoW) -> bool:
    """Who reads a case: the host's clinicians (with the patient's identity), and the clinicians of
    the visiting institution of a mission the case is in: its clinical facts, and the identity only
    if the family consented to share it with them (``sharing``). True: the identity is shown."""
    what = "read a patient case"
    if not caller.has(Role.clinician):
        raise deny(caller, f"{what} (needs the role clinician)")
    async with uow:
        case = await uow.cases.get(case_id)
    if case is None:
        raise NotFound(f"no patient case {case_id}")
    if caller.acts_for((case.host_institution_id,), Role.clinician):
        return True
    if not caller.acts_for(await _visiting_institutions(uow, case_id), Role.clinician):
        raise deny(caller, f"{what}: neither the case's host nor the visiting institution of a mission it is in")
    return case.shares_identity()


CASE_READER = Depends(_case_reader)
ShowIdentity = Annotated[bool, CASE_READER]


FAMILY_ROLES = (Role.clinician, Role.privacy_officer)


def _answering(caller: Caller, what: str) -> None:
    if not caller.has(*FAMILY_ROLES):
        raise deny(caller, f"{what} (needs the role clinician or privacy_officer)")


def _of_host(caller: Caller, host: uuid.UUID, what: str) -> None:
    if not caller.acts_for((host,), *FAMILY_ROLES):
        raise deny(caller, f"{what}: the case is another institution's")


async def _eraser(case_id: uuid.UUID, caller: CallerDep, uow: UoW) -> None:
    """A family's request to erase is carried out by the host's clinicians or its privacy officer."""
    what = "erase a patient's identity"
    _answering(caller, what)
    _of_host(caller, await _case_host(uow, case_id), what)


ERASER = Depends(_eraser)  # the same people answer the family's access request (its export)


async def _patient_answerer(caller: CallerDep, uow: UoW,
                            patient_ref: str = Path(min_length=1, max_length=40)) -> None:
    """The access request by the patient's reference (the privacy officer's page lists patients by
    it): the same people, the host's clinicians or its privacy officer."""
    what = "export a patient's data (the access request)"
    _answering(caller, what)
    async with uow:
        case = await uow.cases.by_patient_ref(patient_ref)
    if case is None:
        raise NotFound(f"no patient case for patient {patient_ref}")
    _of_host(caller, case.host_institution_id, what)


PATIENT_ANSWERER = Depends(_patient_answerer)


async def _case_host(uow: SchedulingUnitOfWork, case_id: uuid.UUID) -> uuid.UUID:
    async with uow:
        case = await uow.cases.get(case_id)
    if case is None:
        raise NotFound(f"no patient case {case_id}")
    return case.host_institution_id


async def _readiness_reader(case_id: uuid.UUID, caller: CallerDep, uow: UoW) -> None:
    what = "read a case's readiness"
    if not caller.has(Role.clinician, Role.coordinator):
        raise deny(caller, f"{what} (needs the role clinician or coordinator)")
    if not caller.acts_for((await _case_host(uow, case_id),), Role.clinician, Role.coordinator):
        raise deny(caller, f"{what} of another institution's case")


async def _readiness_keeper(case_id: uuid.UUID, item: ReadinessItem, caller: CallerDep, uow: UoW) -> None:
    """The host's clinicians check every item; its coordinators the ones that are not clinical."""
    roles = (Role.clinician,) if item in CLINICAL_READINESS else (Role.clinician, Role.coordinator)
    what = f"check or withdraw '{item.value}' on a case's readiness"
    if not caller.has(*roles):
        raise deny(caller, f"{what} (needs the role {' or '.join(roles)})")
    if not caller.acts_for((await _case_host(uow, case_id),), *roles):
        raise deny(caller, f"{what}: the case is on another institution's waiting list")


async def _screening_clinician(case_id: uuid.UUID, caller: CallerDep, uow: UoW) -> None:
    """The host's clinicians, and those of the visiting institution of a mission the case belongs to
    (a surgery or a consultation of it there)."""
    what = "read or write a case's screening notes"
    if not caller.has(Role.clinician):
        raise deny(caller, f"{what} (needs the role clinician)")
    host = await _case_host(uow, case_id)
    if caller.acts_for((host,), Role.clinician):
        return
    async with uow:
        missions = [await uow.missions.read(m) for m in await uow.surgeries.missions_of_case(case_id)]
    visiting = {m.visiting_institution_id for m in missions if m is not None}
    if not caller.acts_for(visiting, Role.clinician):
        raise deny(caller, f"{what}: neither the case's host nor the visiting institution of a mission it is in")


READINESS_READ = Depends(_readiness_reader)
READINESS = Depends(_readiness_keeper)
SCREENING = Depends(_screening_clinician)
CASES = institution(Role.clinician, to="read or record patient cases")
RESOURCES = institution(Role.coordinator, to="change rooms and resources")
RESOURCES_READ = institution(Role.coordinator, Role.clinician, to="read rooms and resources")


# -- the replica of conventions -----------------------------------------------------------------------

def convention_visible(caller: Caller, c: ConventionReplica) -> bool:
    # Administrators see every replica: one known only from a suspension has no parties yet.
    return caller.has(Role.administrator) or caller.acts_for({p.institution_id for p in c.parties}, Role.coordinator)


def conventions_reader(caller: Caller, party: uuid.UUID | None = None) -> None:
    if not caller.has(Role.coordinator, Role.administrator):
        raise deny(caller, "read conventions here (needs the role coordinator or administrator)")
    if party is not None and party != caller.institution_id and not caller.has(Role.administrator):
        raise deny(caller, f"list the conventions of institution {party}")


def convention_reader(caller: Caller, c: ConventionReplica) -> ConventionReplica:
    conventions_reader(caller)
    if not convention_visible(caller, c):
        raise deny(caller, f"read convention {c.id}: its institution is not a party to it")
    return c


# -- a host's waiting-list figures (counts only) ---------------------------------------------------

FIGURES = "read the waiting-list figures"
PROGRESS_READERS = (Role.coordinator, Role.funder, Role.supervisor, Role.administrator)


def progress_reader(caller: Caller, c: ConventionReplica) -> ConventionReplica:
    """Who reads a convention's progress here, as the convention service says it
    (``progress_reader``): whoever reads the replica (``convention_visible``: its parties'
    coordinators, administrators), its funder parties' funders and its supervisor parties'
    supervisors. (The replica keeps no cost bearers: a cost bearer that is not a funder party
    reads the progress there, not the waiting-list figures here.)"""
    if not caller.has(*PROGRESS_READERS):
        raise deny(caller, f"read the progress of convention {c.label} (needs the role coordinator, funder, "
                           "supervisor or administrator)")
    parties = {role: {p.institution_id for p in c.parties if p.role.value == role}
               for role in ("funder", "supervisor")}
    if not (convention_visible(caller, c) or caller.acts_for(parties["funder"], Role.funder)
            or caller.acts_for(parties["supervisor"], Role.supervisor)):
        raise deny(caller, f"read the progress of convention {c.label}: it is not a convention its institution "
                           "coordinates, funds or supervises")
    return c


async def _figures_reader(institution_id: uuid.UUID, caller: CallerDep, uow: UoW,
                          convention_id: uuid.UUID | None = None) -> None:
    """The host's coordinators and clinicians; with ``convention_id``, a convention the host is a
    beneficiary of, also whoever reads that convention's progress (``progress_reader``: its parties'
    coordinators, administrators, its funder parties' funders and supervisor parties' supervisors).
    Counts only: no identity is read, so no identity-access row is written."""
    own = caller.acts_for((institution_id,), Role.coordinator, Role.clinician)
    if convention_id is None:
        if not own:
            raise deny(caller, f"{FIGURES} of institution {institution_id} (needs the role coordinator or "
                               "clinician there; a convention's party: give convention_id)")
        return
    async with uow:
        convention = await uow.conventions.get(convention_id)
    if convention is None:
        raise NotFound(f"no convention {convention_id} known here (none of its events has arrived)")
    if not own:
        progress_reader(caller, convention)
    if not any(p.institution_id == institution_id and p.role.value == "beneficiary" for p in convention.parties):
        raise Invalid(f"institution {institution_id} is not a beneficiary of convention {convention.label}",
                      field="query.convention_id")


FIGURES_READ = Depends(_figures_reader)


# -- training placements (outside any mission) ----------------------------------------------------

PLACEMENTS = "plan and record training placements"


def placements_of(caller: Caller, c: ConventionReplica, *, change: bool = False) -> ConventionReplica:
    """The coordinators of the convention's provider and beneficiary parties plan and record its
    placements; they, its other parties' coordinators and administrators read them."""
    if change:
        if not caller.has(Role.coordinator):
            raise deny(caller, f"{PLACEMENTS} (needs the role coordinator)")
        parties = {p.institution_id for p in c.parties if p.role.value in ("provider", "beneficiary")}
        if not caller.acts_for(parties, Role.coordinator):
            raise deny(caller, f"{PLACEMENTS} of convention {c.id}: its institution is neither its provider "
                               "nor its beneficiary")
        return c
    return convention_reader(caller, c)


async def _placement_convention(placement_id: uuid.UUID, caller: Caller, uow: SchedulingUnitOfWork,
                                change: bool) -> None:
    async with uow:
        placement = await uow.placements.get(placement_id)
        if placement is None:
            raise NotFound(f"no training placement {placement_id}")
        convention = await uow.conventions.get(placement.convention_id)
    assert convention is not None  # a foreign key
    placements_of(caller, convention, change=change)


def convention_placements(*, change: bool) -> Any:
    """A convention's placements: decided before the body is read (the convention's replica)."""
    async def check(convention_id: uuid.UUID, caller: CallerDep, uow: UoW) -> None:
        if change and not caller.has(Role.coordinator):
            raise deny(caller, f"{PLACEMENTS} (needs the role coordinator)")
        conventions_reader(caller)
        async with uow:
            convention = await uow.conventions.get(convention_id)
        if convention is None:
            raise NotFound(f"no convention {convention_id} known here (none of its events has arrived)")
        placements_of(caller, convention, change=change)

    return Depends(check)


def placement(*, change: bool) -> Any:
    async def check(placement_id: uuid.UUID, caller: CallerDep, uow: UoW) -> None:
        await _placement_convention(placement_id, caller, uow, change)

    return Depends(check)
