"""The background jobs ``saferoom worker`` runs on every pass. Each is safe to run from several
workers at once and reports a count; none logs personal data.

This is the one place in ``core`` that reaches up to the apps whose chores it runs (sites and
floor); it imports them inside the job so that ``core`` itself still loads first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from saferoom.core import idempotency
from saferoom.core.models import JobRun

if TYPE_CHECKING:
    from saferoom.sites.models import Site

logger = logging.getLogger("saferoom.worker")

CLOSE_OPEN_VISITS = "close_open_visits"
RETENTION = "retention"
AUDIT_ANCHOR = "audit_anchor"
# How often the audit chain is anchored outside the database: a rollback of the log can only
# hide what was written since the last anchor. Every ten minutes is 144 lines a day.
AUDIT_ANCHOR_EVERY = timedelta(minutes=10)
# How far back the worker looks for closings it has not handled (a worker that was down for a
# while still closes each missed period at its own closing time).
CLOSING_LOOKBACK = timedelta(days=2)


@dataclass(frozen=True)
class JobResult:
    job: str
    count: int
    what: str

    def line(self) -> str:
        return f"{self.job}: {self.count} {self.what}"


def purge_idempotency_keys(now: datetime) -> JobResult:
    """Forget idempotency keys older than SAFEROOM_IDEMPOTENCY_TTL_HOURS."""
    return JobResult(
        "purge_idempotency_keys", idempotency.purge_expired(now), "expired keys deleted"
    )


def clear_expired_sessions(now: datetime) -> JobResult:
    """Delete sessions past their expiry, as ``manage.py clearsessions`` does."""
    engine = import_module(settings.SESSION_ENGINE)
    count = 0
    model_class = getattr(engine.SessionStore, "get_model_class", None)
    if model_class is not None:  # a database-backed engine (saferoom.accounts.sessions)
        count = model_class().objects.filter(expire_date__lt=now).count()
    engine.SessionStore.clear_expired()
    return JobResult("clear_expired_sessions", count, "expired sessions deleted")


def closings(
    site: Site, *, now: datetime, lookback: timedelta = CLOSING_LOOKBACK
) -> list[datetime]:
    """The ends of the site's opening periods in (now - lookback, now], oldest first. Periods
    may run past midnight, so each starts on a local date and may end on the next."""
    earliest = now - lookback
    first_day = site.local(earliest).date() - timedelta(days=1)
    last_day = site.local(now).date()
    ends = []
    day = first_day
    hours = list(site.opening_hours.all())
    while day <= last_day:
        for h in hours:
            if h.weekday != day.weekday():
                continue
            end_day = day if h.closes > h.opens else day + timedelta(days=1)
            end = datetime.combine(end_day, h.closes, site.tz)
            if earliest < end <= now:
                ends.append(end)
        day += timedelta(days=1)
    return sorted(ends)


def close_visits_after_closing(now: datetime) -> JobResult:
    """At each site whose opening period has ended, close the visits still open (left without
    check-out), once per site and closing. The JobRun row inserted in the same transaction is
    the claim: a second worker's insert fails on the unique constraint and it moves on."""
    from saferoom.floor.actions import close_open_visits
    from saferoom.sites.models import Site

    closed = 0
    periods = 0
    for site in Site.objects.filter(active=True).prefetch_related("opening_hours"):
        for end in closings(site, now=now):
            if JobRun.objects.filter(
                job=CLOSE_OPEN_VISITS, site_id=site.pk, period_end=end
            ).exists():
                continue
            try:
                with transaction.atomic():
                    claim = JobRun.objects.create(
                        job=CLOSE_OPEN_VISITS, site_id=site.pk, period_end=end, ran_at=now
                    )
                    count = close_open_visits(site=site, at=end, by=None)
                    if count:
                        JobRun.objects.filter(pk=claim.pk).update(count=count)
            except IntegrityError:
                continue  # another worker claimed this closing first
            periods += 1
            closed += count
    return JobResult(CLOSE_OPEN_VISITS, closed, f"open visits closed after {periods} closing(s)")


def escalate_overdue_checks(now: datetime) -> JobResult:
    """Pass every check-on missed for the site's escalation time to its shift lead. Each
    (session, due time) escalates once: the Escalation's unique constraint is the claim."""
    from saferoom.floor import board
    from saferoom.sites.models import Site

    escalated = sum(
        board.escalate_overdue_checks(site=site, at=now)
        for site in Site.objects.filter(active=True)
    )
    return JobResult("escalate_overdue_checks", escalated, "missed checks escalated")


def build_report_rollups(now: datetime) -> JobResult:
    """Keep the reports' rollups up to date (ADR 10): drop those that changed visits made
    stale, then build finished days, for at most a few seconds a pass (a first build of a
    long history goes faster with ``saferoom rollups``). Safe from several workers at once."""
    from saferoom.reports import rollups

    built = rollups.build(now=now, budget_seconds=rollups.WORKER_BUDGET_SECONDS)
    return JobResult(
        "build_report_rollups",
        built.days,
        f"site-days rolled up ({built.stale_days} stale dropped, {built.months} months)",
    )


def apply_retention_schedule(now: datetime) -> JobResult:
    """Pseudonymise clients unseen for years, clear old clinical free text and prune old audit
    events behind a checkpoint (``saferoom.core.retention``; docs/privacy/retention.md)."""
    from saferoom.core import retention

    # Once a day is enough, and the search for inactive clients reads every visit: the JobRun
    # row for the day (site 0: every site) is the claim, as for closings.
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if JobRun.objects.filter(job=RETENTION, site_id=0, period_end=day).exists():
        return JobResult("apply_retention_schedule", 0, "records past retention (done today)")
    try:
        with transaction.atomic():
            claim = JobRun.objects.create(job=RETENTION, site_id=0, period_end=day, ran_at=now)
            done = retention.apply(now)
            total = done.clients + done.incidents + done.referrals + done.audit_events
            JobRun.objects.filter(pk=claim.pk).update(count=total)
    except IntegrityError:
        return JobResult("apply_retention_schedule", 0, "records past retention (done today)")
    return JobResult(
        "apply_retention_schedule",
        done.clients + done.incidents + done.referrals + done.audit_events,
        f"records past retention ({done.clients} clients pseudonymised, {done.incidents} "
        f"incidents anonymised, {done.referrals} referrals anonymised, {done.audit_events} "
        "audit events pruned)",
    )


def anchor_audit_chain(now: datetime) -> JobResult:
    """Every ten minutes, write the audit chain's head outside the database (a log line and,
    with SAFEROOM_AUDIT_ANCHOR_FILE, a line of that file), so that ``saferoom audit-verify
    --anchor`` can tell if the log was rolled back (``saferoom.core.audit_anchor``).

    One row (``JobRun``, site 0) holds the last period anchored; moving it on with a conditional
    UPDATE is the claim, so several workers write one anchor a period. The anchor is written
    inside that transaction: if the file cannot be written, the claim is undone and the next
    pass tries again."""
    from saferoom.core import audit_anchor

    period = now - (now - datetime.fromtimestamp(0, UTC)) % AUDIT_ANCHOR_EVERY
    done = JobResult("anchor_audit_chain", 0, "audit chain anchors written (done this period)")
    try:
        with transaction.atomic():
            claimed = JobRun.objects.filter(
                job=AUDIT_ANCHOR, site_id=0, period_end__lt=period
            ).update(period_end=period, ran_at=now)
            if not claimed:
                if JobRun.objects.filter(job=AUDIT_ANCHOR, site_id=0).exists():
                    return done
                JobRun.objects.create(job=AUDIT_ANCHOR, site_id=0, period_end=period, ran_at=now)
            try:
                anchor = audit_anchor.current(now)
            except audit_anchor.AnchorError as error:
                audit_anchor.logger.error("%s No anchor written.", error)
                return JobResult(
                    "anchor_audit_chain",
                    0,
                    "audit chain anchors written (FAILED: the chain head's seal does not match)",
                )
            if anchor is None:
                return JobResult(
                    "anchor_audit_chain", 0, "audit chain anchors written (the log is empty)"
                )
            path = settings.AUDIT_ANCHOR_FILE
            audit_anchor.write(anchor, Path(path) if path else None)
    except IntegrityError:
        return done  # another worker made the row first
    return JobResult("anchor_audit_chain", 1, f"audit chain anchor written (event {anchor.event})")


JOBS: tuple[Callable[[datetime], JobResult], ...] = (
    escalate_overdue_checks,
    purge_idempotency_keys,
    clear_expired_sessions,
    close_visits_after_closing,
    apply_retention_schedule,
    # After retention: its audit event is in the anchor.
    anchor_audit_chain,
    # Last: it sees the visits the jobs above closed.
    build_report_rollups,
)


def run_pass(now: datetime | None = None) -> list[JobResult]:
    """Run every job once. A job that fails is logged (by name and error type only) and the
    others still run."""
    now = now or timezone.now()
    results = []
    for job in JOBS:
        try:
            results.append(job(now))
        except Exception as error:
            logger.error("Job %s failed: %s", job.__name__, type(error).__name__)
            results.append(JobResult(job.__name__, 0, f"FAILED ({type(error).__name__})"))
    return results
