"""The reports app's records: operating costs a manager enters (C1), and the rollups that
keep network reports fast (``rollups``)."""

from saferoom.reports.models.costs import OperatingCost
from saferoom.reports.models.rollups import (
    RollupClientMonth,
    RollupCount,
    RollupDay,
    RollupFirstVisit,
    RollupMonth,
    RollupMonthSum,
    RollupMonthSummed,
    RollupWatermark,
)

__all__ = [
    "OperatingCost",
    "RollupClientMonth",
    "RollupCount",
    "RollupDay",
    "RollupFirstVisit",
    "RollupMonth",
    "RollupMonthSum",
    "RollupMonthSummed",
    "RollupWatermark",
]
