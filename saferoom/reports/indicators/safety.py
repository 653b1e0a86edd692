"""Indicators of indicators.md (safety): registered with saferoom.reports.registry.indicator."""

from __future__ import annotations
