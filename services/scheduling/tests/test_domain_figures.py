"""The waiting list's figures, pure: the periods cut to the range on the host's clock, the median."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from jumelage.errors import Invalid
from scheduling.domain.figures import Granularity, days_waited, median, periods

ALGIERS = ZoneInfo("Africa/Algiers")


def test_periods_are_calendar_periods_cut_to_the_range_on_the_hosts_clock() -> None:
    got = periods(Granularity.quarter, date(2030, 2, 15), date(2031, 1, 10), ALGIERS)
    assert [p.label for p in got] == ["2030-02-15/2030-03-31", "2030-04-01/2030-06-30", "2030-07-01/2030-09-30",
                                      "2030-10-01/2030-12-31", "2031-01-01/2031-01-10"]
    assert got[0].starts_at == datetime(2030, 2, 14, 23, 0, tzinfo=UTC)  # midnight in Algiers (UTC+1)
    assert got[0].ends_at == datetime(2030, 3, 31, 23, 0, tzinfo=UTC) == got[1].starts_at
    months = periods(Granularity.month, date(2030, 11, 30), date(2031, 2, 1), ZoneInfo("UTC"))
    assert [p.label for p in months] == ["2030-11-30/2030-11-30", "2030-12-01/2030-12-31", "2031-01-01/2031-01-31",
                                         "2031-02-01/2031-02-01"]
    assert [p.label for p in periods(Granularity.year, date(2030, 6, 1), date(2031, 6, 1), ALGIERS)] == \
        ["2030-06-01/2030-12-31", "2031-01-01/2031-06-01"]
    assert len(periods(Granularity.month, date(2021, 1, 1), date(2030, 12, 31), ALGIERS)) == 120
    for first, last in [(date(2030, 2, 1), date(2030, 1, 31)), (date(2020, 1, 1), date(2030, 1, 31))]:
        with pytest.raises(Invalid) as refused:
            periods(Granularity.month, first, last, ALGIERS)
        assert refused.value.field == "query.to"


def test_median_and_days_waited() -> None:
    assert median([]) is None
    assert median([41, 22, 69]) == 41.0
    assert median([41, 22]) == 31.5
    assert median([5]) == 5.0
    # 30 April 23:30 UTC is 1 May in Algiers: 41 days to 11 June.
    assert days_waited(datetime(2030, 4, 30, 23, 30, tzinfo=UTC), datetime(2030, 6, 11, 9, tzinfo=UTC), ALGIERS) == 41
