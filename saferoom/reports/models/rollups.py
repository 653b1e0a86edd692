"""Rollups: what the use indicators read instead of every visit, kept by the worker
(``saferoom.reports.rollups``; ADR 10). Nothing here is a record of its own: every row can be
thrown away and built again from the visits and sessions (``saferoom rollups --rebuild``).

- :class:`RollupCount`: the count rows of ``facts.raw_counts`` for one site and finished local
  day, exactly as the raw tables give them (``facts.CountRow``).
- :class:`RollupDay`: that a site's day has been rolled up, when, and from what
  (``source_version``); a day without one, or with an older version, is read raw.
- :class:`RollupMonthSum`: a site's count rows of one local calendar month added up by the
  database, at the grains the reports read (``rollups.MONTH_GRAINS``), with
  :class:`RollupMonthSummed` as its marker; thrown away whenever a day of the month is.
- :class:`RollupClientMonth`: each registered client's admitted visits at a site in a local
  calendar month (distinct clients are not additive across days, so U3 and U5 for whole
  months are counted from these), with :class:`RollupMonth` as its marker.
- :class:`RollupClientYear`: a site's client months of one local calendar year added up per
  client (visits and months), with :class:`RollupYear` as its marker: a network's year is a
  few rows per client instead of up to twelve per site; thrown away whenever one of the
  year's client months is.
- :class:`RollupFirstVisit`: each client's first admitted visit at any site (U4).
- :class:`RollupWatermark`: per site, the ``Visit.changed_at`` up to which changes have been
  looked at (later changes are looked at by the reader itself), and the site's earliest arrival.
"""

from __future__ import annotations

from django.db import models

from saferoom.clients.models import Client
from saferoom.sites.models import Site


class RollupCount(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    hour = models.PositiveSmallIntegerField()
    measure = models.CharField(max_length=24)
    dim = models.CharField(max_length=48, blank=True)
    value = models.BigIntegerField()

    class Meta:
        db_table = "reports_rollupcount"
        constraints = [
            # Measure before day: a report reads some measures over a range of days.
            models.UniqueConstraint(
                fields=["site", "measure", "day", "hour", "dim"], name="rollupcount_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.site_id} {self.day} {self.hour:02d} {self.measure}[{self.dim}]={self.value}"


class RollupMonthSum(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+", db_index=False)
    month = models.DateField()  # its first day
    # What the value is added up by besides measure and dim: "month" (nothing, part 0),
    # "day" (part: day of the month), "weekday_hour" (part: weekday × 24 + hour, Monday 0),
    # "hour" (part: hour).
    grain = models.CharField(max_length=16)
    part = models.PositiveSmallIntegerField()
    measure = models.CharField(max_length=24)
    dim = models.CharField(max_length=48, blank=True)
    value = models.BigIntegerField()

    class Meta:
        db_table = "reports_rollupmonthsum"
        constraints = [
            models.UniqueConstraint(
                fields=["site", "grain", "month", "measure", "part", "dim"],
                name="rollupmonthsum_unique",
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.site_id} {self.month:%Y-%m} {self.grain}:{self.part} {self.measure}[{self.dim}]"
        )


class RollupMonthSummed(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+", db_index=False)
    month = models.DateField()
    built_at = models.DateTimeField()

    class Meta:
        db_table = "reports_rollupmonthsummed"
        constraints = [
            models.UniqueConstraint(fields=["site", "month"], name="rollupmonthsummed_unique")
        ]

    def __str__(self) -> str:
        return f"count sums of site {self.site_id} in {self.month:%Y-%m}"


class RollupDay(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    built_at = models.DateTimeField()
    source_version = models.CharField(max_length=64)

    class Meta:
        db_table = "reports_rollupday"
        constraints = [models.UniqueConstraint(fields=["site", "day"], name="rollupday_unique")]

    def __str__(self) -> str:
        return f"rollup of site {self.site_id} on {self.day}"


class RollupClientMonth(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+", db_index=False)
    month = models.DateField()  # its first day
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    visits = models.PositiveIntegerField()

    class Meta:
        db_table = "reports_rollupclientmonth"
        constraints = [
            models.UniqueConstraint(
                fields=["site", "month", "client"], name="rollupclientmonth_unique"
            )
        ]

    def __str__(self) -> str:
        return f"client {self.client_id} at site {self.site_id} in {self.month:%Y-%m}"


class RollupMonth(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+", db_index=False)
    month = models.DateField()
    built_at = models.DateTimeField()
    source_version = models.CharField(max_length=64)

    class Meta:
        db_table = "reports_rollupmonth"
        constraints = [models.UniqueConstraint(fields=["site", "month"], name="rollupmonth_unique")]

    def __str__(self) -> str:
        return f"client months of site {self.site_id} in {self.month:%Y-%m}"


class RollupClientYear(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+", db_index=False)
    year = models.DateField()  # its first day
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    visits = models.PositiveIntegerField()  # the client's admitted visits in the year
    months = models.PositiveSmallIntegerField()  # the months of the year with one or more

    class Meta:
        db_table = "reports_rollupclientyear"
        constraints = [
            models.UniqueConstraint(
                fields=["site", "year", "client"], name="rollupclientyear_unique"
            )
        ]

    def __str__(self) -> str:
        return f"client {self.client_id} at site {self.site_id} in {self.year:%Y}"


class RollupYear(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+", db_index=False)
    year = models.DateField()
    built_at = models.DateTimeField()

    class Meta:
        db_table = "reports_rollupyear"
        constraints = [models.UniqueConstraint(fields=["site", "year"], name="rollupyear_unique")]

    def __str__(self) -> str:
        return f"client year of site {self.site_id} in {self.year:%Y}"


class RollupFirstVisit(models.Model):
    client = models.OneToOneField(
        Client, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    visit_id = models.BigIntegerField()
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+", db_index=False)
    arrived_at = models.DateTimeField()

    class Meta:
        db_table = "reports_rollupfirstvisit"
        indexes = [models.Index(fields=["site", "arrived_at"], name="rollupfirst_site_arrived_idx")]

    def __str__(self) -> str:
        return f"first visit of client {self.client_id}"


class RollupWatermark(models.Model):
    site = models.OneToOneField(Site, on_delete=models.CASCADE, primary_key=True, related_name="+")
    # Changes to visits (``Visit.changed_at``) up to here have been looked at: the rollups
    # they made stale are gone and the first visits include them.
    scanned_to = models.DateTimeField()
    # The site's earliest arrival when last looked (None: no visits yet): the local days
    # before it have nothing to count.
    first_arrival = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "reports_rollupwatermark"

    def __str__(self) -> str:
        return f"rollups of site {self.site_id} looked at changes to {self.scanned_to}"
