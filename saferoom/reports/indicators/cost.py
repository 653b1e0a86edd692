"""Indicators of indicators.md (cost): registered with saferoom.reports.registry.indicator."""

from __future__ import annotations
