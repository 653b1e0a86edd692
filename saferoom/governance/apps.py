"""Governance: the audit log as managers read it, and disclosures of identifiable data."""

from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "saferoom.governance"
    verbose_name = "Governance"
