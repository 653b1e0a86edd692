"""Indicators of indicators.md (engagement): registered with saferoom.reports.registry.indicator."""

from __future__ import annotations
