"""Training placements at a provider's hospital, outside any mission: plan, complete, cancel; reading them."""

from __future__ import annotations

from scheduling.domain.commands import (
    CancelPlacement,
    CompletePlacement,
    ConventionPlacements,
    GetPlacement,
    PlanPlacement,
)
from scheduling.domain.placements import TrainingPlacement
from scheduling.handlers.common import convention_for_update
from scheduling.store.unit_of_work import SchedulingUnitOfWork
from jumelage.clock import Clock
from jumelage.errors import NotFound


async def plan_placement(cmd: PlanPlacement, uow: SchedulingUnitOfWork, *, clock: Clock) -> TrainingPlacement:
    async with uow:
        convention = await convention_for_update(uow, cmd.convention_id)
        placement = TrainingPlacement.plan(
            convention, kind=cmd.kind, specialty=cmd.specialty, provider_institution_id=cmd.provider_institution_id,
            beneficiary_institution_id=cmd.beneficiary_institution_id, starts_on=cmd.starts_on, ends_on=cmd.ends_on,
            trainees=cmd.trainees)
        placement.created_at = clock.now()
        await uow.placements.save(placement)
        await uow.commit()
    return placement


async def complete_placement(cmd: CompletePlacement, uow: SchedulingUnitOfWork, *,
                             clock: Clock) -> TrainingPlacement:
    async with uow:
        placement = await _placement(uow, cmd.placement_id, for_update=True)
        placement.complete(cmd.days_spent, clock.today())
        await uow.placements.save(placement)
        uow.record_from(placement)
        await uow.commit()
    return placement


async def cancel_placement(cmd: CancelPlacement, uow: SchedulingUnitOfWork, *, clock: Clock) -> TrainingPlacement:
    async with uow:
        placement = await _placement(uow, cmd.placement_id, for_update=True)
        placement.cancel(cmd.reason)
        await uow.placements.save(placement)
        await uow.commit()
    return placement


async def _placement(uow: SchedulingUnitOfWork, placement_id: object, *, for_update: bool = False
                     ) -> TrainingPlacement:
    placement = await uow.placements.get(placement_id, for_update=for_update)  # type: ignore[arg-type]
    if placement is None:
        raise NotFound(f"no training placement {placement_id}")
    return placement


# -- reads ---------------------------------------------------------------------------------------


async def convention_placements(query: ConventionPlacements, uow: SchedulingUnitOfWork) -> list[TrainingPlacement]:
    async with uow:
        return await uow.placements.of_convention(query.convention_id)


async def get_placement(query: GetPlacement, uow: SchedulingUnitOfWork) -> TrainingPlacement:
    async with uow:
        return await _placement(uow, query.placement_id)
