"""Supplies given out and stock held per site; services given on site.

Stock is a ledger: every change is a :class:`StockMovement` (received, given out, returned,
counted, adjusted) and :class:`StockLevel` holds the running quantity per site and item, updated
in the same transaction with a conditional UPDATE. The database refuses a negative level, so two
devices giving the last item leave exactly one winner. Nothing is deleted: a give-out recorded in
error is reversed by a "returned" movement that names it, a service by marking it void."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from saferoom.clients.models import Client
from saferoom.core.versioning import version_field
from saferoom.floor.models import Visit
from saferoom.sites.models import CatalogueItem, Site


class StockLevel(models.Model):
    """How many of one supply a site holds now, and when to warn that it is running low."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="stock_levels")
    item = models.ForeignKey(CatalogueItem, on_delete=models.PROTECT, related_name="stock_levels")
    quantity = models.IntegerField(_("in stock"), default=0)
    # Warn when the quantity is at or below this; empty means no warning for this item.
    low_threshold = models.PositiveIntegerField(_("warn when at or below"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Changes of the warning are version-checked (saferoom.core.versioning); the quantity,
    # moved by every give-out, does not move it.
    version = version_field()

    class Meta:
        db_table = "supplies_stocklevel"
        constraints = [
            models.UniqueConstraint(fields=["site", "item"], name="stocklevel_one_per_site_item"),
            # The last line of defence: a give-out that would go below zero fails here even if
            # two devices raced past every check above it.
            models.CheckConstraint(condition=Q(quantity__gte=0), name="stocklevel_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.item} at {self.site}: {self.quantity}"

    def audit_label(self) -> str:
        return f"stock {self.item.code}"

    @property
    def is_low(self) -> bool:
        return self.low_threshold is not None and self.quantity <= self.low_threshold


class StockMovement(models.Model):
    """One change to a site's stock of one item. ``quantity`` is signed: what the change did to
    the level; ``balance_after`` is the level it left."""

    class Kind(models.TextChoices):
        RECEIVED = "received", _("Received")
        GIVEN = "given", _("Given out")
        RETURNED = "returned", _("Give-out reversed")
        COUNTED = "counted", _("Counted")
        ADJUSTED = "adjusted", _("Adjusted")

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="stock_movements")
    item = models.ForeignKey(CatalogueItem, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    quantity = models.IntegerField(_("change"))
    balance_after = models.IntegerField(_("in stock after"))
    at = models.DateTimeField(_("when"))
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    # A give-out to a visit, or to a walk-in (no visit; a client only if they showed a card).
    visit = models.ForeignKey(
        Visit, on_delete=models.PROTECT, null=True, blank=True, related_name="supplies_given"
    )
    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # A "returned" movement reverses exactly one give-out, once.
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by"
    )
    # The server's clock when it was written (``at`` may be history written by the simulator).
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "supplies_stockmovement"
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["site", "item", "at"], name="movement_site_item_at_idx"),
            models.Index(fields=["site", "kind", "at"], name="movement_site_kind_at_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(balance_after__gte=0), name="movement_balance_not_negative"
            ),
            # The sign says what happened: in for deliveries and reversals, out for give-outs;
            # a count may find no difference; an adjustment always changes something.
            models.CheckConstraint(
                condition=Q(kind="received", quantity__gt=0)
                | Q(kind="given", quantity__lt=0)
                | Q(kind="returned", quantity__gt=0)
                | Q(kind="counted")
                | (Q(kind="adjusted") & ~Q(quantity=0)),
                name="movement_sign_matches_kind",
            ),
            models.CheckConstraint(
                condition=Q(kind="returned", reverses__isnull=False)
                | (~Q(kind="returned") & Q(reverses__isnull=True)),
                name="movement_reversal_names_give_out",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["returned", "adjusted"]) | ~Q(reason=""),
                name="movement_correction_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(kind="given") | Q(visit__isnull=True, client__isnull=True),
                name="movement_only_give_out_names_visit",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.quantity} {self.item}"

    def audit_label(self) -> str:
        return f"stock movement {self.pk} ({self.kind} {self.item.code})"

    @property
    def amount(self) -> int:
        """How many, without the sign (a give-out of 5 is stored as -5)."""
        return abs(self.quantity)


class ServiceGiven(models.Model):
    """A service given on site (wound care, a test, a shower …) to a visit or a walk-in."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="services_given")
    item = models.ForeignKey(CatalogueItem, on_delete=models.PROTECT, related_name="+")
    visit = models.ForeignKey(
        Visit, on_delete=models.PROTECT, null=True, blank=True, related_name="services_given"
    )
    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(_("when"))
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    void_reason = models.CharField(_("why it was recorded in error"), max_length=200, blank=True)

    class Meta:
        db_table = "supplies_servicegiven"
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["site", "at"], name="service_site_at_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(voided_at__isnull=True, voided_by__isnull=True, void_reason="")
                | (Q(voided_at__isnull=False, voided_by__isnull=False) & ~Q(void_reason="")),
                name="service_void_fields_paired",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item} at {self.site}"

    def audit_label(self) -> str:
        return f"service {self.pk} ({self.item.code})"
