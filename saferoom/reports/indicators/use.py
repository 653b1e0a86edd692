"""Indicators of indicators.md (use): registered with saferoom.reports.registry.indicator."""

from __future__ import annotations
