"""The reports app's records: operating costs a manager enters (C1), and the rollups that
keep network reports fast (``rollups``)."""

from saferoom.reports.models.costs import OperatingCost

__all__ = ["OperatingCost"]
