"""The reports app's records: operating costs a manager enters (C1), and the rollups that
keep network reports fast (``rollups``)."""

from saferoom.reports.models.costs import OperatingCost
from saferoom.reports.models.rollups import (
    RollupClientMonth,
    RollupClientYear,
    RollupCount,
    RollupDay,
    RollupFirstVisit,
    RollupMonth,
    RollupMonthSum,
    RollupMonthSummed,
    RollupWatermark,
    RollupYear,
)

__all__ = [
    "OperatingCost",
    "RollupClientMonth",
    "RollupClientYear",
    "RollupCount",
    "RollupDay",
    "RollupFirstVisit",
    "RollupMonth",
    "RollupMonthSum",
    "RollupMonthSummed",
    "RollupWatermark",
    "RollupYear",
]
