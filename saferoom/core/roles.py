"""The roles a member of staff can hold at a site, and what each may see."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    DESK = "desk", _("Front desk")
    FLOOR = "floor", _("Floor (nurse or harm-reduction worker)")
    MANAGER = "manager", _("Manager")
    EVALUATOR = "evaluator", _("Evaluator (aggregates only)")
    ADMIN = "admin", _("Administrator")


# Roles that may see client-level records. Evaluators never do.
CLIENT_LEVEL_ROLES = frozenset({Role.DESK, Role.FLOOR, Role.MANAGER, Role.ADMIN})
STAFF_ROLES = frozenset({Role.DESK, Role.FLOOR, Role.MANAGER})
ALL_ROLES = frozenset(Role)
